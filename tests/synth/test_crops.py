"""Detector-style crops and paired boxes."""

from __future__ import annotations

import numpy as np

from synth.crops import crop_image, paired_crops, person_boxes, to_crop


def _standing(t=5, height=120.0, cx=160.0, cy=120.0):
    kp = np.zeros((t, 14, 2), np.float32)
    kp[:, :, 0] = cx + np.linspace(-20, 20, 14)
    kp[:, :, 1] = cy + np.linspace(-height / 2, height / 2, 14)
    return kp


def test_person_is_centred_and_150px_tall_without_jitter():
    kp = _standing()
    boxes = person_boxes(kp)
    crop_kp = to_crop(kp, boxes)
    height = crop_kp[..., 1].max(1) - crop_kp[..., 1].min(1)
    np.testing.assert_allclose(height, 150.0, rtol=1e-5)
    centre = 0.5 * (crop_kp.min(1) + crop_kp.max(1))
    np.testing.assert_allclose(centre, 111.5, atol=1e-3)


def test_jitter_is_bounded_and_seeded():
    kp = _standing(t=200)
    a = person_boxes(kp, np.random.default_rng(1))
    b = person_boxes(kp, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    height = np.ptp(to_crop(kp, a)[..., 1], axis=1)
    assert 150 / 1.08 - 1e-3 <= height.min() and height.max() <= 150 / 0.92 + 1e-3
    assert height.std() > 3  # it does jitter


def test_crop_image_maps_points_like_to_crop():
    img = np.zeros((240, 320, 3), np.uint8)
    img[100, 200] = 255
    box = np.array([190.0, 110.0, 100.0], np.float32)
    crop = crop_image(img, box)
    assert crop.shape == (224, 224, 3)
    y, x = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    expect = to_crop(np.array([[[200.0, 100.0]]], np.float32), box[None])[0, 0]
    assert abs(x - expect[0]) <= 1.5 and abs(y - expect[1]) <= 1.5


def test_outside_the_frame_is_zero_padded():
    img = np.full((240, 320, 3), 200, np.uint8)
    crop = crop_image(img, np.array([10.0, 10.0, 100.0]))
    assert crop[0, 0].sum() == 0 and crop[-1, -1].sum() > 0


def test_paired_boxes_use_box_t_for_both_frames():
    frames = np.random.default_rng(0).integers(0, 255, (3, 240, 320, 3), dtype=np.uint8)
    boxes = np.array([[160, 120, 200], [100, 100, 150], [50, 50, 100]], np.float32)
    pairs = paired_crops(frames, boxes)
    assert pairs.shape == (2, 2, 224, 224, 3)
    np.testing.assert_array_equal(pairs[1, 0], crop_image(frames[1], boxes[1]))
    np.testing.assert_array_equal(pairs[1, 1], crop_image(frames[2], boxes[1]))  # box 1, not box 2
