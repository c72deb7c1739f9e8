"""Tests for synth.occluders: camera-compensated video superpixels and the occluder rules."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from synth.errors import InputError
from synth.occluders import (
    DOES_NOT_TOUCH,
    OccluderConfig,
    Occlusion,
    choose_occluder,
    random_occlusion,
    refine_mask,
    video_superpixels,
)

T, H, W, J = 31, 240, 320, 14


def pan(image: np.ndarray, velocity=(5.0, 2.0), T: int = T, H: int = H, W: int = W):
    """A camera panning over a still photo: uint8 ``[T, H, W, 3]`` and the true ``camera_xy``.

    Frame t shows the photo translated so that a scene point at (x, y) in the centre frame
    appears at (x, y) - velocity * (t - T // 2), i.e. ``camera_xy[t] = -velocity * (t - c)``.
    """
    c = T // 2
    v = np.asarray(velocity, float)
    origin = np.array([(image.shape[1] - W) / 2, (image.shape[0] - H) / 2])
    frames, camera_xy = [], np.zeros((T, 2))
    for t in range(T):
        o = origin + v * (t - c)
        M = np.float32([[1, 0, -o[0]], [0, 1, -o[1]]])
        frames.append(cv2.warpAffine(image, M, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        camera_xy[t] = -v * (t - c)
    return np.stack(frames), camera_xy


def follow_iou(labels: np.ndarray, camera_xy: np.ndarray) -> float:
    """How well labels follow the scene: mean IoU over (frame t, label of the centre frame).

    Frame t's label masks are shifted back by ``camera_xy[t]`` (rounded) and compared with
    the same label's mask in the centre frame, inside the field of view both frames share.
    A label missing from frame t counts as IoU 0.
    """
    T, H, W = labels.shape
    c = T // 2
    ious = []
    for t in range(T):
        if t == c:
            continue
        dx, dy = np.rint(camera_xy[t]).astype(int)
        x0, x1, y0, y1 = max(0, -dx), min(W, W - dx), max(0, -dy), min(H, H - dy)
        centre = labels[c, y0:y1, x0:x1]
        moved = labels[t, y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        for lab in np.unique(centre):
            a, b = centre == lab, moved == lab
            ious.append((a & b).sum() / (a | b).sum())
    return float(np.mean(ious))


@pytest.fixture(scope="module")
def rocket_pan():
    return pan(data.rocket())


@pytest.fixture(scope="module")
def rocket_labels(rocket_pan):
    frames, camera_xy = rocket_pan
    return video_superpixels(frames, camera_xy, np.random.default_rng(0))


# ---------------------------------------------------------------- video_superpixels


def test_labels_shape_dtype_and_range(rocket_pan, rocket_labels):
    frames, _ = rocket_pan
    labels = rocket_labels
    assert labels.shape == frames.shape[:3]
    assert labels.dtype == np.int32
    # 0..K-1 with every label used.
    assert labels.min() == 0
    assert np.array_equal(np.unique(labels), np.arange(labels.max() + 1))


def test_deterministic_for_the_same_seed(rocket_pan, rocket_labels):
    frames, camera_xy = rocket_pan
    again = video_superpixels(frames, camera_xy, np.random.default_rng(0))
    assert np.array_equal(again, rocket_labels)


@pytest.mark.parametrize("k", [10, 30])
def test_about_k_superpixels_per_frame_shared_over_time(rocket_pan, k):
    """Superpixels are tubes through the clip, ~k per frame ("10-30 segments per image").

    So the per-frame count is within [k/2, 2k] and the whole clip has far fewer labels
    than T * k (each label appears in most frames), rather than T * k one-frame labels.
    """
    frames, camera_xy = rocket_pan
    labels = video_superpixels(frames, camera_xy, np.random.default_rng(1), n_segments_per_frame=(k, k))
    per_frame = np.mean([len(np.unique(f)) for f in labels])
    assert k / 2 <= per_frame <= 2 * k
    n_labels = labels.max() + 1
    assert n_labels <= 3 * k
    frames_per_label = np.mean([np.any(labels == lab, axis=(1, 2)).sum() for lab in range(n_labels)])
    assert frames_per_label >= 0.8 * T


def test_labels_follow_the_camera(rocket_pan, rocket_labels):
    """On a pan over a real photo the labels move with the scene, and only thanks to camera_xy.

    The rocket photo has a large smooth sky, where colour alone cannot place superpixel
    boundaries: without compensation they stay put in the image while the scene moves.
    """
    frames, camera_xy = rocket_pan
    compensated = follow_iou(rocket_labels, camera_xy)
    uncompensated = follow_iou(video_superpixels(frames, np.zeros_like(camera_xy), np.random.default_rng(0)), camera_xy)
    assert compensated > 0.7
    assert compensated > uncompensated + 0.1


def test_work_size_none_runs_at_full_size():
    frames, camera_xy = pan(data.coffee(), T=5, H=48, W=64)
    labels = video_superpixels(frames, camera_xy, np.random.default_rng(0), work_size=None)
    assert labels.shape == (5, 48, 64) and labels.dtype == np.int32


@pytest.mark.parametrize(
    "frames, camera_xy",
    [
        (np.zeros((4, 8, 8), np.uint8), np.zeros((4, 2))),  # no colour axis
        (np.zeros((4, 8, 8, 3), np.float32), np.zeros((4, 2))),  # not uint8
        (np.zeros((4, 8, 8, 3), np.uint8), np.zeros((3, 2))),  # camera_xy length
        (np.zeros((4, 8, 8, 3), np.uint8), np.full((4, 2), np.nan)),  # not finite
    ],
)
def test_video_superpixels_rejects_bad_inputs(frames, camera_xy):
    with pytest.raises(ValueError):
        video_superpixels(frames, camera_xy, np.random.default_rng(0))


# ---------------------------------------------------------------- choose_occluder


def quadrant_scene(T: int = 4, H: int = 40, W: int = 60):
    """Hand-made labels and person.

    Labels: 0 = the left half (x < 30), 1 = top-right quadrant, 2 = bottom-right quadrant,
    3 = a 4x4 patch in the far top-left corner inside label 0's half (x, y < 4), carved out
    so it never meets the person. The person occupies x in [30, 50), y in [5, 35):
    it touches labels 1 and 2 only. 14 keypoints, all visible, in a column at x = 40:
    2 in the top quadrant's person part (y = 6, 8), 12 in the bottom one (y = 21..32).
    """
    labels = np.zeros((T, H, W), np.int32)
    labels[:, : H // 2, W // 2 :] = 1
    labels[:, H // 2 :, W // 2 :] = 2
    labels[:, :4, :4] = 3
    person = np.zeros((T, H, W), bool)
    person[:, 5:35, 30:50] = True
    ys = np.array([6.0, 8.2] + list(np.arange(21.0, 33.0)))
    kp = np.zeros((T, J, 2))
    kp[..., 0] = 40.3
    kp[..., 1] = ys
    visible = np.ones((T, J), bool)
    return labels, person, kp, visible


def test_discards_a_superpixel_that_does_not_touch_the_person():
    labels, person, kp, visible = quadrant_scene()
    occ = choose_occluder(labels, person, kp, visible, np.random.default_rng(0), label=3)
    assert not occ.kept
    assert occ.reason == DOES_NOT_TOUCH
    assert occ.label == 3
    assert not occ.mask.any()
    assert np.array_equal(occ.visible_after, visible)


def test_discards_a_superpixel_that_hides_too_many_keypoints():
    labels, person, kp, visible = quadrant_scene()
    occ = choose_occluder(labels, person, kp, visible, np.random.default_rng(0), label=2)
    assert not occ.kept
    assert occ.reason == "leaves 2 < 7 keypoints visible"  # 12 of 14 hidden in every frame
    assert not occ.mask.any()
    assert np.array_equal(occ.visible_after, visible)


def test_keeps_a_superpixel_that_hides_a_couple_of_keypoints():
    labels, person, kp, visible = quadrant_scene()
    visible[1, 5] = False  # already hidden (e.g. self-occluded) in frame 1
    occ = choose_occluder(labels, person, kp, visible, np.random.default_rng(0), label=1)
    assert occ.kept and occ.reason == "" and occ.label == 1
    assert np.array_equal(occ.mask, labels == 1)
    expected = visible.copy()
    expected[:, :2] = False  # the two keypoints at y = 6, 8 lie in the top-right quadrant
    assert np.array_equal(occ.visible_after, expected)
    # The person is cut exactly where the superpixel overlaps it.
    assert np.array_equal(occ.cut(person), person & (labels != 1))


def test_keypoint_visibility_uses_rounded_clipped_pixels():
    labels, person, kp, visible = quadrant_scene()
    kp[:, 0] = (29.4, 10.0)  # rounds to x = 29, the left half (label 0): not hidden by label 1
    kp[:, 1] = (29.6, 10.0)  # rounds to x = 30: hidden
    kp[:, 2] = (500.0, -7.0)  # clipped to (59, 0): top-right corner, label 1: hidden
    occ = choose_occluder(labels, person, kp, visible, np.random.default_rng(0), label=1)
    assert occ.kept
    assert occ.visible_after[:, 0].all()
    assert not occ.visible_after[:, 1].any()
    assert not occ.visible_after[:, 2].any()


def test_random_choice_is_uniform_over_present_labels_and_seeded():
    labels, person, kp, visible = quadrant_scene()
    labels[labels == 3] = 7  # labels need not be contiguous: 0, 1, 2, 7
    picks = [choose_occluder(labels, person, kp, visible, np.random.default_rng(s)).label for s in range(200)]
    counts = {lab: picks.count(lab) for lab in (0, 1, 2, 7)}
    assert set(picks) == {0, 1, 2, 7} and min(counts.values()) > 25
    a = choose_occluder(labels, person, kp, visible, np.random.default_rng(5))
    b = choose_occluder(labels, person, kp, visible, np.random.default_rng(5))
    assert a.label == b.label and a.kept == b.kept and np.array_equal(a.mask, b.mask)


def test_choose_occluder_rejects_an_absent_label_and_bad_shapes():
    labels, person, kp, visible = quadrant_scene()
    with pytest.raises(ValueError, match="does not occur"):
        choose_occluder(labels, person, kp, visible, np.random.default_rng(0), label=9)
    with pytest.raises(ValueError, match="person_masks"):
        choose_occluder(labels, person[:, :, :-1], kp, visible, np.random.default_rng(0))
    with pytest.raises(ValueError, match="keypoints_visible"):
        choose_occluder(labels, person, kp, visible[:, :-1], np.random.default_rng(0))


def test_apply_pastes_the_background_over_the_person():
    labels, person, kp, visible = quadrant_scene()
    occ = choose_occluder(labels, person, kp, visible, np.random.default_rng(0), label=1)
    background = np.full(labels.shape + (3,), 10, np.uint8)
    composite = np.where(person[..., None], np.uint8(200), background)
    out = occ.apply(composite, background)
    assert np.array_equal(out[..., 0] == 200, person & ~occ.mask)


# ---------------------------------------------------------------- random_occlusion


@pytest.fixture(scope="module")
def small_clip():
    """A short pan over a real photo with a person-sized box in the middle."""
    frames, camera_xy = pan(data.astronaut(), T=9, H=120, W=160)
    person = np.zeros(frames.shape[:3], bool)
    person[:, 20:110, 60:100] = True
    kp = np.stack(np.broadcast_arrays(np.linspace(62, 98, J), np.linspace(22, 108, J)), -1)
    kp = np.broadcast_to(kp, (9, J, 2)).copy()
    return frames, camera_xy, person, kp, np.ones((9, J), bool)


def test_disabled_returns_an_empty_non_kept_occlusion(small_clip):
    frames, camera_xy, person, kp, visible = small_clip
    cfg = OccluderConfig(enabled=False)
    occ = random_occlusion(frames, camera_xy, person, kp, visible, np.random.default_rng(0), cfg)
    assert isinstance(occ, Occlusion)
    assert not occ.kept and occ.label == -1 and occ.reason
    assert occ.mask.shape == person.shape and occ.mask.dtype == bool and not occ.mask.any()
    assert np.array_equal(occ.visible_after, visible)


def test_probability_zero_never_occludes(small_clip):
    frames, camera_xy, person, kp, visible = small_clip
    cfg = OccluderConfig(probability=0.0)
    occ = random_occlusion(frames, camera_xy, person, kp, visible, np.random.default_rng(0), cfg)
    assert not occ.kept and not occ.mask.any() and occ.reason.startswith("not drawn")


def test_random_occlusion_follows_the_rules_and_is_seeded(small_clip):
    frames, camera_xy, person, kp, visible = small_clip
    cfg = OccluderConfig(probability=1.0)
    rngs = [np.random.default_rng(s) for s in range(6)]
    results = [random_occlusion(frames, camera_xy, person, kp, visible, r, cfg) for r in rngs]
    assert any(o.kept for o in results)
    for o in results:
        if o.kept:
            assert (o.mask & person).any()
            assert o.visible_after.sum(1).mean() >= cfg.min_visible
            assert not (o.visible_after & ~visible).any()
        else:
            assert o.reason == DOES_NOT_TOUCH or o.reason.startswith("leaves")
    again = random_occlusion(frames, camera_xy, person, kp, visible, np.random.default_rng(3), cfg)
    assert again.label == results[3].label and np.array_equal(again.mask, results[3].mask)


@pytest.mark.parametrize(
    "override",
    [
        {"probability": 1.5},
        {"coord_scale": (6e-4, 4e-4)},
        {"segments_per_frame": (0, 10)},
        {"compactness": 0.0},
        {"work_size": 2},
    ],
)
def test_config_rejects_bad_values(override):
    with pytest.raises(InputError):
        OccluderConfig(**override)


@pytest.mark.parametrize("offset", [-3, -2, -1, 1, 2, 3])
def test_refine_mask_snaps_a_staircase_outline_to_the_image_edge(offset):
    """A label outline 1-3 px off a real colour edge (4x nearest upsampling leaves up to
    2 px) moves onto the edge; empty frames stay empty."""
    photo = data.astronaut()[:H, :W]
    frames = np.repeat(photo[None], 2, axis=0).copy()
    frames[:, :, 163:] = frames[:, :, 163:] // 4  # a vertical edge at x = 163 over real texture
    mask = np.zeros((2, H, W), bool)
    mask[0, :, 163 + offset :] = True
    refined = refine_mask(mask, frames, radius=8)
    first = refined[0, 60:180].argmax(axis=1)  # first masked column per row
    assert np.abs(first - 163).mean() < 0.6 * abs(offset), np.bincount(first)
    if abs(offset) <= 2:
        assert np.median(first) == 163
    assert not refined[1].any()
    assert refined.dtype == bool and refined.shape == mask.shape


def test_refined_occluders_stay_seeded_and_follow_the_rules(small_clip):
    frames, camera_xy, person, kp, vis = small_clip
    cfg = OccluderConfig(probability=1.0)
    a = random_occlusion(frames, camera_xy, person, kp, vis, np.random.default_rng(3), cfg)
    b = random_occlusion(frames, camera_xy, person, kp, vis, np.random.default_rng(3), cfg)
    np.testing.assert_array_equal(a.mask, b.mask)
    raw = random_occlusion(frames, camera_xy, person, kp, vis, np.random.default_rng(3),
                           OccluderConfig(probability=1.0, refine=False))  # fmt: skip
    assert a.label == raw.label  # the same superpixel; only its outline moved
    if a.kept:
        assert (a.mask & person).any() and a.visible_after.sum(axis=1).mean() >= cfg.min_visible
