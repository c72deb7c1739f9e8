"""Detector-style crops and paired boxes."""

from __future__ import annotations

import numpy as np

from synth.crops import centre_box, crop_image, detector_boxes, paired_crops, person_boxes, to_crop


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


def test_detector_boxes_frame_only_the_reported_keypoints():
    """One box rule, train and test: a hidden keypoint does not stretch the box (the
    schema-1 generator boxed all 14, so a hidden leg framed the person differently from
    the test-time detector)."""
    kp = _standing(t=4, height=120.0)
    visible = np.ones((4, 14), bool)
    visible[:, 12:] = False  # the top two keypoints hidden: the box frames the other 12
    boxes = detector_boxes(kp, visible, (240, 320))
    np.testing.assert_allclose(boxes, person_boxes(kp[:, :12], None), rtol=1e-6)
    assert not np.allclose(boxes, person_boxes(kp, None))


def test_detector_boxes_interpolate_frames_with_too_few_keypoints():
    kp = _standing(t=5)
    kp[:, :, 0] += np.arange(5)[:, None] * 10.0  # walking right, 10 px a frame
    visible = np.ones((5, 14), bool)
    visible[2, :8] = False  # 6 reported: below MIN_VISIBLE, so no box of its own
    visible[4] = False
    kp[2, :8] = np.nan  # a detector's unknown positions must not matter
    boxes = detector_boxes(kp, visible, (240, 320))
    full = person_boxes(_standing(t=5), None)
    np.testing.assert_allclose(boxes[2], 0.5 * (boxes[1] + boxes[3]), rtol=1e-6)  # in time
    np.testing.assert_allclose(boxes[4], boxes[3], rtol=1e-6)  # held at the end
    np.testing.assert_allclose(boxes[0, 2], full[0, 2], rtol=1e-6)
    none = detector_boxes(kp, np.zeros((5, 14), bool), (240, 320))
    np.testing.assert_allclose(none, np.tile(centre_box(240, 320), (5, 1)))


def test_detector_boxes_jitter_is_person_boxes_jitter():
    kp = _standing(t=50)
    a = detector_boxes(kp, np.ones((50, 14), bool), (240, 320), rng=np.random.default_rng(4),
                       center_jitter=0.05, scale_jitter=0.08)  # fmt: skip
    b = person_boxes(kp, np.random.default_rng(4))
    np.testing.assert_allclose(a, b, rtol=1e-6)
