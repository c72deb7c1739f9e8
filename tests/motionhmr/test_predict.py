"""``motionhmr predict``: projection maths, the overlay's camera, the agreement measure, and
end-to-end runs of an untrained tiny network on sports2d's real demo video and on a keypoint
file (the outputs' contract, occluded frames, errors)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from motionhmr import checkpoint
from motionhmr.cli import main
from motionhmr.inference import FrameBodies
from motionhmr.losses import normalised_to_px, project_weak
from motionhmr.predict import (
    SIDE_BACKGROUND,
    agreement,
    crop_to_image_affines,
    drawable,
    image_keypoints,
    overlay_frames,
    perspective_camera,
    predict_keypoints,
    predict_video,
    resize_affine,
    write_bodies,
)
from motionhmr.realvideo import read_video
from synth.backgrounds import embedded_videos
from synth.crops import box_affine, to_crop
from synth.errors import InputError

torch.set_num_threads(1)

TINY = ["model.lstm_hidden=16", "model.head_hidden=16", "model.dann_hidden=16"]
N_FRAMES = 12
HIDDEN = (6, 7)  # frames where the test's detector "finds nobody"
UPRIGHT = np.diag([1.0, -1.0, -1.0])  # body Y-up, facing +Z -> camera y-down, facing the camera


def _demo():
    found = [p for p in embedded_videos() if p.name == "demo.mp4"]
    assert found, "sports2d is not installed (jobs/setup.sh installs it)"
    return found[0]


def _tiny_checkpoint(path, inputs: str, contract: dict | None = None, *overrides: str):
    from motionhmr.config import load_train_config, to_dict
    from motionhmr.train import build, make_optimizer

    torch.manual_seed(0)
    cfg = load_train_config([*TINY, f"inputs={inputs}", *overrides])
    model, _ = build(cfg, torch.device("cpu"))
    optimizer, scheduler = make_optimizer(cfg, model)
    return checkpoint.save(path, model, optimizer, scheduler, 0, to_dict(cfg), contract)


def _rest_bodies(body, n: int, cam) -> FrameBodies:
    """``n`` frames of the body at rest, upright and facing the camera, with weak camera ``cam``."""
    rot = torch.eye(3).repeat(n, body.skeleton.num_joints, 1, 1)
    rot[:, 0] = torch.as_tensor(UPRIGHT, dtype=torch.float32)
    shape = torch.as_tensor(body.default_shape(n), dtype=torch.float32)
    with torch.no_grad():
        posed = body(rot[:, 1:], shape, rot[:, 0], torch.zeros(n, 3))
    joints = (posed.eval_joints - posed.joints[:, :1]).numpy()
    cam = np.asarray(cam, np.float32)
    uv = normalised_to_px(project_weak(torch.as_tensor(joints), torch.as_tensor(cam))).numpy()
    return FrameBodies(joints3d=joints, rotmat=rot.numpy(), shape=shape.numpy(), cam=cam, kp2d_crop=uv)


# -- geometry ----------------------------------------------------------------------------------
def test_crop_to_image_affines_invert_the_crop_boxes(rng):
    boxes = np.column_stack([rng.uniform(50, 350, 5), rng.uniform(50, 200, 5), rng.uniform(60, 300, 5)])
    points = rng.uniform(0, 400, (5, 14, 2)).astype(np.float32)
    to_image = crop_to_image_affines(boxes)
    back = image_keypoints(to_crop(points, boxes), to_image)
    np.testing.assert_allclose(back, points, atol=2e-3)
    for box, a in zip(boxes, to_image):
        forward = np.vstack([box_affine(box), [0, 0, 1]])
        np.testing.assert_allclose(np.vstack([a, [0, 0, 1]]) @ forward, np.eye(3), atol=1e-5)


def test_projected_crop_keypoints_land_on_the_given_image_points(rng):
    """A FrameBodies whose weak-perspective keypoints are chosen crop points maps to the image
    px those points have in the frame's box, and the overlay's perspective camera agrees."""
    n = 4
    boxes = np.array([[200, 120, 180], [210, 118, 190], [60, 40, 100], [300, 200, 260]], np.float32)
    joints = rng.uniform(-0.8, 0.8, (n, 14, 3)).astype(np.float32)
    joints[..., 2] *= 0.3  # a body is ~30 cm deep
    cam = np.column_stack([rng.uniform(0.6, 1.2, n), rng.uniform(-0.2, 0.2, (n, 2))]).astype(np.float32)
    # the crop points the weak camera produces, and where they are in the image by hand
    crop_px = 112.0 * cam[:, None, :1] * (joints[..., :2] + cam[:, None, 1:]) + 111.5
    side = boxes[:, 2:3, None]
    expected = (crop_px - 111.5) * side / 224 + boxes[:, None, :2]
    bodies = FrameBodies(joints3d=joints, rotmat=np.zeros((n, 2, 3, 3)), shape=np.zeros((n, 1)), cam=cam,
                         kp2d_crop=crop_px)  # fmt: skip
    to_image = crop_to_image_affines(boxes)
    got = image_keypoints(bodies.kp2d_crop, to_image)
    np.testing.assert_allclose(got, expected, atol=1e-3)

    for t in range(n):
        camera, scale = perspective_camera(cam[t], to_image[t], 640, 480)
        flat = joints[t] * [1, 1, 0]  # on the root's depth plane perspective = weak perspective
        np.testing.assert_allclose(camera.project(flat * scale)[0], got[t], atol=1e-3)
        deep, _ = camera.project(joints[t] * scale)  # off it, the long focal length keeps them close
        assert np.abs(deep - got[t]).max() < 0.01 * boxes[t, 2]
        # the scene is scaled into the renderer's clip range without changing the picture
        assert camera.t[2] == pytest.approx(10.0)
        far, far_scale = perspective_camera(cam[t], to_image[t], 640, 480, depth=50.0)
        np.testing.assert_allclose(far.project(flat * far_scale)[0], got[t], atol=1e-3)


def test_display_resize_and_undrawable_cameras():
    a = resize_affine((240, 427), (480, 854))
    # pixel centres: the first and last pixels' outer edges stay the frame's edges
    np.testing.assert_allclose(a @ [-0.5, -0.5, 1], [-0.5, -0.5])
    np.testing.assert_allclose(a @ [426.5, 239.5, 1], [853.5, 479.5])
    ok = drawable(np.array([[0.9, 0, 0], [0.0, 0, 0], [-0.5, 0, 0], [np.nan, 0, 0]]))
    assert ok.tolist() == [True, False, False, False]
    with pytest.raises(InputError, match="no perspective equivalent"):
        perspective_camera(np.array([-0.5, 0, 0]), np.eye(2, 3), 64, 64)


def test_rendered_silhouette_sits_on_the_projected_body(anny_body):
    """The overlay draws the mesh where the weak camera puts the joints: the silhouette's
    centroid is near the projected pelvis, its box holds the projected joints; the side
    panel shows the body at its centre; a frame not drawn is the video untouched."""
    n, h, w = 3, 240, 320
    cam = np.array([[0.9, 0.0, 0.0], [0.7, 0.3, -0.1], [0.9, 0.0, 0.0]], np.float32)
    bodies = _rest_bodies(anny_body, n, cam)
    boxes = np.array([[160, 120, 220], [100, 130, 200], [160, 120, 220]], np.float32)
    to_image = crop_to_image_affines(boxes)
    display = np.full((n, h, w, 3), 20, np.uint8)
    rendered = np.array([True, True, False])
    panels = overlay_frames(display, (h, w), bodies, to_image, rendered, anny_body)
    assert panels.shape == (n, h, 2 * w, 3)
    left, right = panels[..., :w, :], panels[..., w:, :]
    joints_image = image_keypoints(bodies.kp2d_crop, to_image)
    pelvis = image_keypoints(normalised_to_px(torch.as_tensor(cam[:, None, 0:1] * cam[:, None, 1:])).numpy(), to_image)
    for t in (0, 1):
        mask = np.abs(left[t].astype(int) - 20).sum(-1) > 30
        mask[:20, :110] = False  # the panel's label
        ys, xs = np.nonzero(mask)
        assert mask.sum() > 500
        centroid = np.array([xs.mean(), ys.mean()])
        assert np.linalg.norm(centroid - pelvis[t, 0]) < 0.06 * boxes[t, 2], (centroid, pelvis[t, 0])
        lo, hi = joints_image[t].min(0), joints_image[t].max(0)
        assert xs.min() <= lo[0] + 2 and xs.max() >= hi[0] - 2 and ys.min() <= lo[1] + 2 and ys.max() >= hi[1] - 2
        # the right size: the skin reaches ~15 % past the joints (scalp above the head joint, soles, hands)
        assert 1.05 < (ys.max() - ys.min()) / (hi[1] - lo[1]) < 1.25
        side = np.abs(right[t].astype(int) - SIDE_BACKGROUND).sum(-1) > 30
        side[:20, :110] = False
        sy, sx = np.nonzero(side)
        assert abs(sx.mean() - w / 2) < 0.1 * w and sy.min() < h / 2 < sy.max()
    label = slice(0, 20), slice(0, 110)
    mask2 = np.abs(left[2].astype(int) - 20).sum(-1) > 0
    mask2[label] = False
    assert not mask2.any()  # not drawn: the video untouched (the label aside)
    side2 = np.abs(right[2].astype(int) - SIDE_BACKGROUND).sum(-1) > 0
    side2[label] = False
    assert not side2.any()


# -- agreement ---------------------------------------------------------------------------------
def test_agreement_counts_only_seen_joints_of_unoccluded_frames():
    n = 3
    ref = np.zeros((n, 14, 2))
    pred = ref.copy()
    pred[0, :, 0] = 3.0  # frame 0: every joint 3 px off
    pred[1, :, 1] = 4.0  # frame 1: 4 px, but only joints 0..3 seen
    pred[2] = 1000.0  # occluded: ignored
    conf = np.full((n, 14), 0.9)
    conf[1, 4:] = 0.2
    ref[0, 13] = np.nan  # the detector gave no head in frame 0
    boxes = np.array([[0, 0, 100.0]] * n)
    a = agreement(pred, ref, conf, np.array([False, False, True]), boxes, threshold=0.5)
    assert a["joints"] == 13 + 4 and a["frames"] == 2
    assert a["median_px"] == pytest.approx(3.0) and a["median_box"] == pytest.approx(0.03)
    assert a["per_joint_median_px"]["r_ankle"] == pytest.approx(3.5)
    assert a["per_joint_median_px"]["head"] is None
    assert a["constant_pose_median_px"] == pytest.approx(0.0, abs=1e-4)  # ref holds still: its mean is exact
    # a pose-blind guess (the mean pose in each box) is off by half the motion of the joints
    moving = np.zeros((2, 14, 2))
    moving[1, :, 0] = 10.0
    b = agreement(moving, moving, np.ones((2, 14)), np.zeros(2, bool), boxes[:2])
    assert b["median_px"] == 0.0 and b["constant_pose_median_px"] == pytest.approx(5.0, abs=1e-3)
    none = agreement(pred, ref, np.zeros((n, 14)), np.zeros(n, bool), boxes)
    assert none["median_px"] is None and none["constant_pose_median_px"] is None and none["joints"] == 0


def test_bodies_json_writes_nan_as_null(tmp_path):
    arrays = {"kp": np.array([[1.0, np.nan]], np.float32), "flag": np.array([True, False])}
    write_bodies(tmp_path, arrays, {"video": "v.mp4"}, {"median_px": None})
    doc = json.loads((tmp_path / "bodies.json").read_text())
    assert doc["kp"] == [[1.0, None]] and doc["flag"] == [True, False] and doc["meta"]["video"] == "v.mp4"
    with np.load(tmp_path / "bodies.npz") as npz:
        assert np.isnan(npz["kp"][0, 1])


# -- end to end --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def flow_kp_ckpt(tmp_path_factory):
    return _tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "flow_kp.pt", "flow+kp")


@pytest.fixture(scope="module")
def demo_run(flow_kp_ckpt, tmp_path_factory):
    """predict on 12 real frames; the detector finds nobody on HIDDEN frames."""
    from motionhmr.detect import MediaPipePose

    mediapipe = MediaPipePose()

    def detector(frames):
        kp, conf, found = mediapipe(frames)
        kp[list(HIDDEN)], conf[list(HIDDEN)], found[list(HIDDEN)] = np.nan, 0.0, False
        return kp, conf, found

    out = tmp_path_factory.mktemp("demo")
    result = predict_video(flow_kp_ckpt, _demo(), out, max_frames=N_FRAMES, device="cpu",
                           overlay_height=None, detector=detector)  # fmt: skip
    return result, out


@pytest.mark.slow
def test_predict_video_writes_bodies_and_agreement(demo_run):
    result, out = demo_run
    assert (out / "bodies.npz").is_file() and (out / "bodies.json").is_file()
    with np.load(out / "bodies.npz") as npz:
        arr = {k: npz[k] for k in npz.files}
    n = N_FRAMES
    assert arr["joints3d"].shape == (n, 14, 3) and arr["kp2d_image"].shape == (n, 14, 2)
    assert arr["cam"].shape == (n, 3) and arr["rotmat"].shape[0] == n and arr["rotmat"].shape[2:] == (3, 3)
    assert arr["boxes"].shape == (n, 3) and arr["to_image"].shape == (n, 2, 3)
    assert arr["detector_kp2d"].shape == (n, 14, 2) and arr["detector_conf"].shape == (n, 14)
    assert np.isfinite(arr["joints3d"]).all() and np.isfinite(arr["kp2d_image"]).all()
    np.testing.assert_allclose(arr["kp2d_image"], image_keypoints(arr["kp2d_crop"], arr["to_image"]), atol=1e-4)
    doc = json.loads((out / "bodies.json").read_text())
    assert doc["meta"]["frames"] == n and doc["meta"]["inputs"] == "flow+kp" and doc["meta"]["image_size"] == [427, 240]
    assert doc["meta"]["fps"] == pytest.approx(30.0, rel=0.05)
    np.testing.assert_allclose(np.array(doc["joints3d"]), arr["joints3d"], atol=1e-5)
    again = agreement(arr["kp2d_image"], arr["detector_kp2d"], arr["detector_conf"], arr["occluded"], arr["boxes"])
    assert doc["agreement"]["median_px"] == pytest.approx(again["median_px"]) and again["joints"] > 40
    assert result.agreement["median_px"] == pytest.approx(again["median_px"])
    assert "median" in result.summary() and "px" in result.summary()


@pytest.mark.slow
def test_frames_without_a_person_are_occlusions_shown_without_mesh(demo_run):
    import imageio.v3 as iio

    _result, out = demo_run
    with np.load(out / "bodies.npz") as npz:
        occluded, rendered, found, boxes = npz["occluded"], npz["rendered"], npz["detector_found"], npz["boxes"]
    assert occluded[list(HIDDEN)].all() and not found[list(HIDDEN)].any()
    assert not rendered[occluded].any() and rendered[~occluded].all()
    video = iio.imread(out / "overlay.mp4", plugin="pyav")
    assert video.shape == (N_FRAMES, 240, 2 * 428, 3)
    frames = read_video(_demo(), count=N_FRAMES)
    seen = int(np.flatnonzero(rendered)[0])
    cx, cy, half = boxes[seen, 0], boxes[seen, 1], boxes[seen, 2] / 2
    rows = slice(max(0, int(cy - half)), int(cy + half))
    cols = slice(max(0, int(cx - half)), min(427, int(cx + half)))
    changed = (np.abs(video[:, rows, cols].astype(int) - frames[:, rows, cols]).sum(-1) > 60).mean(axis=(1, 2))
    assert changed[list(HIDDEN)].max() < 0.01  # the video, up to H.264
    assert changed[seen] > 0.05  # the mesh covers part of the person's box
    side = video[:, 30:, 428:].astype(int)  # below the label
    assert np.abs(side[list(HIDDEN)] - SIDE_BACKGROUND).max() < 12
    assert np.abs(side[seen] - SIDE_BACKGROUND).max() > 60


@pytest.fixture(scope="module")
def coco_file(tmp_path_factory):
    """10 frames of a COCO-17 figure walking right in a 640x480 video; frame 4 has nobody."""
    xy = np.array([
        [0, 0.08], [0.02, 0.06], [-0.02, 0.06], [0.05, 0.07], [-0.05, 0.07], [0.12, 0.2], [-0.12, 0.2],
        [0.2, 0.35], [-0.2, 0.35], [0.25, 0.5], [-0.25, 0.5], [0.07, 0.5], [-0.07, 0.5], [0.08, 0.75],
        [-0.08, 0.75], [0.1, 1.0], [-0.1, 1.0],
    ]) * 300 + [200, 100]  # fmt: skip
    kp = np.stack([xy + [6 * t, 0] for t in range(10)])
    scores = np.full((10, 17), 0.8)
    scores[4] = 0.0
    path = tmp_path_factory.mktemp("kp") / "track.npz"
    np.savez(path, keypoints=kp, scores=scores, image_size=np.array([640, 480]))
    return path


def test_predict_keypoints_with_a_kp_checkpoint(coco_file, tmp_path):
    ckpt = _tiny_checkpoint(tmp_path / "kp.pt", "kp")
    out = tmp_path / "out"
    result = predict_keypoints(ckpt, coco_file, out, device="cpu")
    with np.load(out / "bodies.npz") as npz:
        joints, occluded, kp_image = npz["joints3d"], npz["occluded"], npz["kp2d_image"]
        boxes = npz["boxes"]
    assert joints.shape == (10, 14, 3) and np.isfinite(joints).all()
    assert occluded.tolist() == [t == 4 for t in range(10)]
    assert kp_image.shape == (10, 14, 2)
    # the boxes follow the figure (frame 4 interpolated between its neighbours)
    assert boxes[5, 0] - boxes[3, 0] == pytest.approx(12.0, abs=0.01)
    assert boxes[4, 0] == pytest.approx(boxes[3, 0] + 6, abs=0.01)
    doc = json.loads((out / "bodies.json").read_text())
    assert doc["meta"]["layout"] == "coco17" and doc["meta"]["inputs"] == "kp"
    assert doc["meta"]["image_size"] == [640, 480]
    assert doc["agreement"]["reference"] == "the keypoint file" and doc["agreement"]["frames"] == 9
    assert result.frames == 10 and result.occluded == 1


# -- errors ------------------------------------------------------------------------------------
def test_missing_video_is_a_one_line_error(tmp_path, capsys):
    fake = tmp_path / "c.pt"
    torch.save({"format": checkpoint.FORMAT, "inputs": "flow+kp", "config": {"inputs": "flow+kp"}}, fake)
    with pytest.raises(InputError, match="does not exist"):
        predict_video(fake, tmp_path / "nope.mp4", tmp_path / "out")
    assert main(["predict", str(tmp_path / "nope.mp4"), "--ckpt", str(fake), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nope.mp4 does not exist" in err and len(err.splitlines()) == 1


def test_keypoints_need_a_kp_checkpoint(coco_file, tmp_path, capsys):
    fake = tmp_path / "rgb.pt"  # only what the inputs check reads: it fails before any network is built
    torch.save({"format": checkpoint.FORMAT, "inputs": "rgb", "config": {"inputs": "rgb"}}, fake)
    assert main(["predict", "--keypoints", str(coco_file), "--ckpt", str(fake), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "inputs=kp" in err and "inputs=rgb" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()
    with pytest.raises(InputError, match="is not readable|not a motionhmr checkpoint"):
        predict_keypoints(coco_file, coco_file, tmp_path / "o")


def test_a_video_without_anybody_still_writes_its_outputs(flow_kp_ckpt, tmp_path):
    from motionhmr.inference import Predictor

    def nobody(frames):
        n = len(frames)
        return np.full((n, 14, 2), np.nan, np.float32), np.zeros((n, 14), np.float32), np.zeros(n, bool)

    predictor = Predictor.from_checkpoint(flow_kp_ckpt, "cpu")
    result = predict_video(predictor, _demo(), tmp_path, max_frames=4, overlay_height=None, detector=nobody)
    assert result.occluded == 4 and result.agreement["median_px"] is None
    assert (tmp_path / "overlay.mp4").is_file()
    with np.load(tmp_path / "bodies.npz") as npz:
        assert npz["occluded"].all() and not npz["rendered"].any() and np.isfinite(npz["joints3d"]).all()


# -- the data contract ---------------------------------------------------------------------------
def _contract(**fields) -> dict:
    from motionhmr.contract import ASSUMED

    return {**ASSUMED.to_dict(), "source": "generate.yaml", "unknown": [], **fields}


def _figure(frames):
    """A stand-in detector: the same upright 14-keypoint figure in the middle of every frame."""
    n, h, w = frames.shape[:3]
    xy = np.column_stack([w / 2 + np.tile([-0.06, 0.06], 7) * h, np.linspace(0.9, 0.15, 14) * h])
    return np.repeat(xy[None], n, 0).astype(np.float32), np.full((n, 14), 0.9, np.float32), np.ones(n, bool)


def test_predict_follows_the_checkpoints_data_contract(tmp_path, monkeypatch):
    """By default the video is decoded at the training frame height and its flow computed
    with the training backend (here farneback on 120-px frames, not DIS on 240-px ones)."""
    import flow.registry

    ckpt = _tiny_checkpoint(tmp_path / "farneback.pt", "flow+kp", _contract(flow="farneback", frame_height=120),
                            "model.input_size=64")  # fmt: skip
    built, build = [], flow.registry.build_backend
    monkeypatch.setattr(flow.registry, "build_backend", lambda cfg: built.append(cfg) or build(cfg))
    predict_video(ckpt, _demo(), tmp_path / "out", max_frames=3, device="cpu", overlay=False, detector=_figure)
    meta = json.loads((tmp_path / "out" / "bodies.json").read_text())["meta"]
    assert meta["image_size"][1] == 120 and meta["flow"] == "farneback"
    assert [c.backend for c in built] == ["farneback"]
    assert meta["data_contract"]["frame_height"] == 120


def test_a_flow_the_model_was_not_trained_on_is_a_one_line_error(tmp_path, capsys):
    fake = tmp_path / "dis.pt"  # what the contract check reads: it fails before any network is built
    torch.save({"format": checkpoint.FORMAT, "inputs": "flow+kp", "config": {"inputs": "flow+kp"},
                "data_contract": _contract(flow="dis:medium")}, fake)  # fmt: skip
    out = tmp_path / "o"
    assert main(["predict", str(_demo()), "--ckpt", str(fake), "--flow", "farneback", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "--flow farneback" in err and "trained on dis:medium flow" in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_an_old_checkpoint_without_a_contract_warns_and_still_works(coco_file, tmp_path, caplog):
    path = _tiny_checkpoint(tmp_path / "old.pt", "kp", None, "model.encoder=keypoints")
    blob = torch.load(path, weights_only=True)
    blob.pop("data_contract", None)  # as written before checkpoints carried one
    torch.save(blob, path)
    with caplog.at_level(logging.WARNING, "motionhmr.contract"):
        result = predict_keypoints(path, coco_file, tmp_path / "out", device="cpu")
    assert result.frames == 10 and np.isfinite(np.load(tmp_path / "out" / "bodies.npz")["joints3d"]).all()
    warnings = [r.getMessage() for r in caplog.records if r.name == "motionhmr.contract"]
    assert len(warnings) == 1 and "has no data contract" in warnings[0]
    assert all(s in warnings[0] for s in ("flow dis:medium", "frames 240 px tall", "person_px 150"))


def test_fps_stride_keeps_the_training_rate():
    from motionhmr.realvideo import fps_stride

    assert [fps_stride(f, 30.0) for f in (24.0, 25.0, 30.0, 50.0, 59.94, 60.0, 120.0)] == [1, 1, 1, 2, 2, 2, 4]
    assert fps_stride(60.0, None) == 1 and fps_stride(None, 30.0) == 1


def test_a_60_fps_video_is_predicted_on_every_second_frame(tmp_path):
    """Pose2Sim's demo runs at 60 fps; a 30 fps model gets frames 0, 2, 4, 6 of the first 8."""
    from motionhmr.multiview.recording import embedded_demo

    video = embedded_demo() / "videos" / "cam01.mp4"
    ckpt = _tiny_checkpoint(tmp_path / "kp.pt", "kp")
    seen = []

    def detector(frames):  # a person standing in the middle of every frame
        seen.append(frames)
        n, h, w = frames.shape[:3]
        kp = np.tile(np.linspace([w * 0.45, h * 0.2], [w * 0.55, h * 0.8], 14, dtype=np.float32), (n, 1, 1))
        return kp, np.ones((n, 14), np.float32), np.ones(n, bool)

    result = predict_video(ckpt, video, tmp_path / "out", max_frames=8, device="cpu", overlay=False, detector=detector)
    assert result.frames == 4 and len(seen[0]) == 4
    every = read_video(video, 240, count=8)
    np.testing.assert_array_equal(seen[0], every[::2])
    meta = json.loads((tmp_path / "out" / "bodies.json").read_text())["meta"]
    assert meta["stride"] == 2 and meta["video_fps"] == pytest.approx(60.0, rel=0.01)
    assert meta["fps"] == pytest.approx(30.0, rel=0.01) and meta["frames"] == 4
    with np.load(tmp_path / "out" / "bodies.npz") as npz:
        assert npz["joints3d"].shape == (4, 14, 3)
