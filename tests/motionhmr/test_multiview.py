"""motionhmr.multiview.recording / score: a hand-made calibrated recording (3 small videos, a
plain JSON calibration) with a known moving skeleton. A fake detector reports its exact
projections, so the triangulated reference must be the skeleton; fake predictors check the
scoring, and bad recordings give one-line errors naming the camera."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from motionhmr.inputs import parse_inputs
from motionhmr.multiview.calibration import Camera, write_plain
from motionhmr.multiview.recording import DETECT_HEIGHT, build_reference, open_recording
from motionhmr.multiview.score import evaluate_multiview
from synth.errors import InputError

W, H, T, FPS = 96, 160, 12, 60  # portrait, like the Pose2Sim demo; 60 fps -> every 2nd frame at 30
SHADES = (40, 130, 220)  # each camera's video is one grey level: the fake detector knows its view


def look_at(name, centre, f=120.0):
    centre = np.asarray(centre, float)
    z = -centre / np.linalg.norm(centre)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])
    return Camera(name=name, size=(W, H), K=[[f, 0, W / 2 - 0.5], [0, f, H / 2 - 0.5], [0, 0, 1]],
                  dist=[-0.05, 0.01, 0.0, 0.0], R=R, t=-R @ centre)  # fmt: skip


CAMERAS = [look_at(f"cam{i + 1}", (4 * np.cos(a), 4 * np.sin(a), 1.0)) for i, a in enumerate(np.deg2rad([0, 120, 240]))]


def skeleton() -> np.ndarray:
    """``[T, 14, 3]`` world metres (z up): a rigid 14-joint body turning about z, within 1 m."""
    rng = np.random.default_rng(3)
    body = np.concatenate([rng.uniform(-0.3, 0.3, (14, 2)), rng.uniform(-0.8, 0.8, (14, 1))], 1)
    out = []
    for t in range(T):
        a = 0.15 * t
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        out.append(body @ rz.T)
    return np.stack(out)


def write_video(path, shade: int, frames: int = T) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.height, stream.width, stream.pix_fmt = H, W, "yuv420p"
        for _ in range(frames):
            img = np.full((H, W, 3), shade, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        container.mux(stream.encode())


def make_recording(root, cameras=CAMERAS, frames=(T, T, T)):
    (root / "calibration").mkdir(parents=True)
    (root / "videos").mkdir()
    write_plain(cameras, root / "calibration" / "calib.json")
    for cam, shade, n in zip(CAMERAS, SHADES, frames):
        write_video(root / "videos" / f"{cam.name}.mp4", shade, n)
    return root


class FakeDetector:
    """The exact projections of :func:`skeleton` in the decoded frames' pixels, conf 1."""

    calls = 0

    def __call__(self, frames):
        FakeDetector.calls += 1
        v = int(np.argmin([abs(int(frames[0, 0, 0, 0]) - s) for s in SHADES]))
        n = len(frames)
        s = H / frames.shape[1]  # native px per decoded px
        px = np.stack([CAMERAS[v].project(x) for x in skeleton()[:n]])
        return ((px + 0.5) / s - 0.5).astype(np.float32), np.ones((n, 14), np.float32), np.ones(n, bool)


class WorldDetector(FakeDetector):
    """Also the skeleton's exact 3D in the view's camera frame, origin between the hips
    (what MediaPipe's ``pose_world_landmarks`` would be if it were perfect)."""

    def with_world(self, frames):
        kp, conf, found = self(frames)
        v = int(np.argmin([abs(int(frames[0, 0, 0, 0]) - s) for s in SHADES]))
        cam = CAMERAS[v]
        x = skeleton()[: len(frames)] @ np.asarray(cam.R).T + np.asarray(cam.t)
        return kp, conf, found, (x - x[:, 2:4].mean(1, keepdims=True)).astype(np.float32)


@dataclasses.dataclass
class Contract:
    frame_height: int = 80
    person_px: float = 50.0
    fps: float = 30.0


class FakePredictor:
    """Returns ``outputs`` in turn (one per view), whatever the input; checks the input."""

    spec = parse_inputs("kp")
    contract = Contract()
    frames = 31

    def __init__(self, outputs):
        self.outputs = list(outputs)

    def __call__(self, inputs):
        assert inputs["kp2d"].shape == (T // 2, 14, 2)
        return type("Bodies", (), {"joints3d": self.outputs.pop(0)})


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    return open_recording(make_recording(tmp_path_factory.mktemp("mv") / "rec"))


def test_the_reference_is_the_skeleton_and_is_cached(recording):
    FakeDetector.calls = 0
    ref = build_reference(recording, detector=FakeDetector(), progress=False)
    assert FakeDetector.calls == 3 and ref.kp2d.shape == (3, T, 14, 2)
    assert ref.complete.all()
    assert np.abs(ref.joints - skeleton()).max() < 1e-3  # < 1 mm through the video round trip
    q = ref.quality
    assert q["complete_frames"] == T and q["bone_cv_median"] < 1e-3 and q["symmetry_median"] is not None
    assert max(q["reprojection_px"].values()) < 0.05
    # the second build reads the cache beside the recording and runs no detector
    cached = list((recording.root / ".motionhmr").glob("reference-*.npz"))
    assert len(cached) == 1
    again = build_reference(recording, detector=lambda frames: pytest.fail("detector ran again"), progress=False)
    np.testing.assert_array_equal(again.joints, ref.joints)
    assert again.quality == json.loads(json.dumps(ref.quality)) and again.cameras == ref.cameras


def test_scores_against_the_reference_in_each_camera_frame(recording):
    ref = build_reference(recording, detector=FakeDetector(), progress=False)
    keep = np.arange(0, T, 2)
    truth = [ref.in_camera(cam)[keep] for cam in recording.cameras]
    perfect = evaluate_multiview(FakePredictor(truth), recording, ref, progress=False)
    assert perfect.stride == 2 and [p.sequence for p in perfect.people] == ["cam1", "cam2", "cam3"]
    assert all(p.frames == T // 2 and p.scored == T // 2 for p in perfect.people)
    assert perfect.pa_mpjpe < 1e-3 and perfect.model.mpjpe < 1e-3 and perfect.model.accel < 1e-3
    # the body is rigid, so the best constant pose is exact too; a jittered truth is not
    assert perfect.constant_mean() < 1.0
    rng = np.random.default_rng(0)
    noisy = [x + rng.normal(0, 0.02, x.shape) for x in truth]
    worse = evaluate_multiview(FakePredictor(noisy), recording, ref, views=["cam2"], progress=False)
    assert [p.sequence for p in worse.people] == ["cam2"] and 15 < worse.pa_mpjpe < 40
    table = worse.table()
    assert "best constant PA-MPJPE" in table and "| cam2 | 6 | 6 |" in table and "reference quality" in table
    assert set(worse.to_dict()) >= {"multiview/pa_mpjpe", "multiview/constant_pa_mpjpe"}


def test_the_detectors_own_3d_is_scored_beside_the_model(tmp_path):
    rec = open_recording(make_recording(tmp_path / "rec"))
    ref = build_reference(rec, detector=WorldDetector(), progress=False)
    assert ref.world.shape == (3, T, 14, 3) and np.isfinite(ref.world).all()
    again = build_reference(rec, detector=lambda f: pytest.fail("detector ran again"), progress=False)
    np.testing.assert_array_equal(again.world, ref.world)  # cached with the rest
    keep = np.arange(0, T, 2)
    truth = [ref.in_camera(cam)[keep] for cam in rec.cameras]
    res = evaluate_multiview(FakePredictor(truth), rec, ref, progress=False)
    assert set(res.detector3d) == {"cam1", "cam2", "cam3"} and res.detector3d_mean() < 1e-3
    assert "detector's own 3D PA-MPJPE" in res.table() and "multiview/detector3d_pa_mpjpe" in res.to_dict()
    # 2 cm of noise on the detector's 3D shows in its row only
    rng = np.random.default_rng(1)
    noisy = dataclasses.replace(ref, world=ref.world + rng.normal(0, 0.02, ref.world.shape).astype(np.float32))
    res = evaluate_multiview(FakePredictor(truth), rec, noisy, views=["cam1"], progress=False)
    assert 15 < res.detector3d["cam1"] < 40 and res.pa_mpjpe < 1e-3


def test_the_detectors_own_3d_has_its_left_right_swaps_undone_like_the_models_input(recording):
    from motionhmr.multiview.score import detector_own_3d
    from synth.conventions import EVAL_FLIP

    ref = build_reference(recording, detector=FakeDetector(), progress=False)
    assert ref.world is not None and np.isnan(ref.world).all()  # no with_world: nothing to score
    keep, cam = np.arange(T), recording.cameras[0]
    gt = ref.in_camera(cam)
    assert detector_own_3d(ref, 0, keep, gt, np.ones(T, bool)) is None
    # the detector swaps left and right on frames 4-7, in 2D and in 3D alike
    flip, bad = list(EVAL_FLIP), slice(4, 8)
    kp2d, world = ref.kp2d.copy(), np.repeat(gt[None], len(ref.cameras), 0).astype(np.float32)
    kp2d[0, bad], world[0, bad] = kp2d[0, bad][:, flip], world[0, bad][:, flip]
    swapped = dataclasses.replace(ref, kp2d=kp2d, world=world)
    assert detector_own_3d(swapped, 0, keep, gt, np.ones(T, bool)) < 1e-3
    kept = dataclasses.replace(ref, world=world)  # 3D swapped where the 2D was not: it counts
    assert detector_own_3d(kept, 0, keep, gt, np.ones(T, bool)) > 10


def test_bad_recordings_name_the_camera_and_the_fix(tmp_path):
    short = make_recording(tmp_path / "short", frames=(T, T - 2, T))
    with pytest.raises(InputError, match="unequal frame counts"):
        open_recording(short)
    missing = make_recording(tmp_path / "missing")
    (missing / "videos" / "cam3.mp4").unlink()
    with pytest.raises(InputError, match="cam3"):
        open_recording(missing)
    big = [dataclasses.replace(c, size=(1920, 1080)) for c in CAMERAS]
    with pytest.raises(InputError, match="cam1"):
        open_recording(make_recording(tmp_path / "size", cameras=big))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no calibration file"):
        open_recording(tmp_path / "empty")
    with pytest.raises(InputError, match="not a folder"):
        open_recording(tmp_path / "nowhere")


def test_unknown_view_and_view_outside_multiview_are_one_line_errors(recording):
    from motionhmr.run_eval import parse_eval_args

    with pytest.raises(InputError, match="data.view='cam9' is not a camera .*cam1, cam2, cam3"):
        recording.camera("cam9")
    with pytest.raises(InputError, match="data.view picks a camera of data=multiview"):
        parse_eval_args(["ckpt=x.pt", "data=synthetic", "data.path=shards", "data.view=cam1"])
    cfg = parse_eval_args(["ckpt=x.pt", "data=multiview", "data.path=embedded", "data.view=cam01"])
    assert cfg.data.view == "cam01"


def test_detection_height_maps_back_to_native_pixels():
    # pixel centres on integers at both sizes: the decoded frame's centre is the native centre
    s = H / DETECT_HEIGHT
    assert ((DETECT_HEIGHT - 1) / 2 + 0.5) * s - 0.5 == pytest.approx((H - 1) / 2)
