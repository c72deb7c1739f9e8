"""MediaPipe Pose on real footage (sports2d's demo, frames 150-159: a woman walking to the
left across the lawn, in profile), the BlazePose -> EVAL_JOINTS / COCO-17 mappings and the
install hint.

mediapipe is installed by the [detect] recipe (motionhmr/detect.py); these tests run it."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from motionhmr.detect import (
    BLAZEPOSE_COCO17,
    MediaPipePose,
    blazepose_to_coco17,
    blazepose_to_eval14,
)
from motionhmr.keypoint_files import to_eval_joints
from motionhmr.realvideo import read_video
from synth.backgrounds import embedded_videos
from synth.conventions import EVAL_JOINTS
from synth.errors import InputError, MissingDependency

J = {name: i for i, name in enumerate(EVAL_JOINTS)}


@pytest.fixture(scope="module")
def demo():
    found = [p for p in embedded_videos() if p.name == "demo.mp4"]
    assert found, "sports2d's demo.mp4 is not installed (jobs/setup.sh installs sports2d)"
    return read_video(found[0], height=240, start=150, count=10)  # [10, 240, 427, 3]


@pytest.fixture(scope="module")
def detector():
    return MediaPipePose()


@pytest.fixture(scope="module")
def track(demo, detector):
    return detector(demo)


def test_finds_the_person_with_plausible_keypoints(demo, track):
    kp, conf, found = track
    n, h, w = demo.shape[:3]
    assert kp.shape == (n, 14, 2) and conf.shape == (n, 14) and found.shape == (n,)
    assert kp.dtype == np.float32 and conf.dtype == np.float32
    assert found.all()
    assert ((conf >= 0) & (conf <= 1)).all() and np.median(conf) > 0.8
    assert ((kp[..., 0] >= 0) & (kp[..., 0] < w) & (kp[..., 1] >= 0) & (kp[..., 1] < h)).all()
    # upright: head above neck above hips above knees above ankles (y grows downwards)
    y = kp[..., 1]
    assert (y[:, J["head"]] < y[:, J["neck"]]).all()
    assert (y[:, J["neck"]] < y[:, [J["r_hip"], J["l_hip"]]].min(1)).all()
    assert (y[:, [J["r_hip"], J["l_hip"]]].max(1) < y[:, [J["r_knee"], J["l_knee"]]].min(1)).all()
    assert (y[:, [J["r_knee"], J["l_knee"]]].max(1) < y[:, [J["r_ankle"], J["l_ankle"]]].min(1)).all()
    # she is ~85 px tall in the lower half of the frame and walks left by ~2.5 px a frame
    tall = y.max(1) - y.min(1)
    assert ((tall > 70) & (tall < 110)).all() and (y.min(1) > 110).all()
    hips_x = kp[:, [J["r_hip"], J["l_hip"]], 0].mean(1)
    assert ((hips_x > 60) & (hips_x < 180)).all() and hips_x[0] - hips_x[-1] > 10


def test_each_call_is_a_new_track(demo, detector, track):
    kp, conf, found = detector(demo)
    np.testing.assert_allclose(kp, track[0], atol=1e-4)
    np.testing.assert_allclose(conf, track[1], atol=1e-5)


def test_coco17_layout_matches_the_landmarks(demo, detector, track):
    kp, conf, found = detector(demo[:4], layout="coco17")
    assert kp.shape == (4, 17, 2) and conf.shape == (4, 17) and found.all()
    nose, ears, ankles = kp[:, 0], kp[:, 3:5], kp[:, 15:17]
    assert (nose[:, 1] < ankles[..., 1].min(1)).all()
    np.testing.assert_allclose(ears.mean(1), track[0][:4, J["head"]], atol=0.05)  # head = mid-ears
    np.testing.assert_allclose(kp[:, 5:7], track[0][:4, [J["l_shoulder"], J["r_shoulder"]]], atol=0.05)
    with pytest.raises(InputError, match="layout"):
        detector(demo[:1], layout="openpose")


def test_frames_without_a_person(detector):
    kp, conf, found = detector(np.zeros((3, 120, 160, 3), np.uint8))
    assert not found.any() and np.isnan(kp).all() and not conf.any()
    *_, world = detector.with_world(np.zeros((2, 120, 160, 3), np.uint8))
    assert world.shape == (2, 14, 3) and np.isnan(world).all()


def test_with_world_adds_mediapipes_own_3d_of_the_same_points(demo, detector, track):
    kp, conf, found, world = detector.with_world(demo)
    np.testing.assert_allclose(kp, track[0], atol=1e-4)  # the same 2D as __call__
    np.testing.assert_allclose(conf, track[1], atol=1e-5)
    assert world.shape == (len(demo), 14, 3) and world.dtype == np.float32 and np.isfinite(world).all()
    # metres, origin between the hips, y down: an upright woman ~1.6 m tall
    hips = world[:, [J["r_hip"], J["l_hip"]]].mean(1)
    assert np.abs(hips).max() < 0.03
    assert (world[:, J["head"], 1] < world[:, J["neck"], 1]).all()
    assert (world[:, J["neck"], 1] < world[:, [J["r_ankle"], J["l_ankle"]], 1].min(1)).all()
    span = world[:, J["head"], 1] - world[:, [J["r_ankle"], J["l_ankle"]], 1].max(1)
    assert ((span < -1.2) & (span > -1.9)).all()
    # the same midpoint rules as the 2D: neck = mid-shoulders
    np.testing.assert_allclose(world[:, J["neck"]], world[:, [J["l_shoulder"], J["r_shoulder"]]].mean(1), atol=1e-6)


def test_eval14_is_the_suites_coco_mapping_of_the_landmarks(rng):
    xy = rng.uniform(0, 100, (2, 33, 2)).astype(np.float32)
    vis = rng.uniform(0.2, 1, (2, 33)).astype(np.float32)  # both ears seen (> 0.1)
    kp, conf = blazepose_to_eval14(xy, vis)
    # BlazePose 28 = right ankle, 15 = left wrist, 12 = right shoulder
    np.testing.assert_array_equal(kp[:, J["r_ankle"]], xy[:, 28])
    np.testing.assert_array_equal(kp[:, J["l_wrist"]], xy[:, 15])
    np.testing.assert_array_equal(conf[:, J["r_shoulder"]], vis[:, 12])
    np.testing.assert_allclose(kp[:, J["neck"]], (xy[:, 11] + xy[:, 12]) / 2, rtol=1e-6)
    np.testing.assert_allclose(kp[:, J["head"]], (xy[:, 7] + xy[:, 8]) / 2, rtol=1e-6)
    coco, coco_conf = blazepose_to_coco17(xy, vis)
    np.testing.assert_array_equal(coco, xy[:, list(BLAZEPOSE_COCO17)])
    expected = to_eval_joints(np.concatenate([coco, coco_conf[..., None]], -1), "coco17")
    np.testing.assert_array_equal(kp, expected[0])
    np.testing.assert_array_equal(conf, expected[1])


def test_only_the_bundled_model_and_valid_thresholds():
    with pytest.raises(InputError, match="only 1 works offline"):
        MediaPipePose(model_complexity=2)
    with pytest.raises(InputError, match="min_conf"):
        MediaPipePose(min_conf=1.5)
    with pytest.raises(InputError, match="uint8"):
        MediaPipePose()(np.zeros((2, 10, 10, 3), np.float32))


def test_missing_mediapipe_names_the_install_recipe(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe...` fail
    monkeypatch.delitem(sys.modules, "mediapipe.python.solutions", raising=False)
    monkeypatch.delitem(sys.modules, "mediapipe.python", raising=False)
    with pytest.raises(MissingDependency) as err:
        MediaPipePose()
    message = str(err.value)
    assert "[detect]" in message and "pip install --no-deps mediapipe==0.10.21" in message
    assert "\n" not in message


def test_a_forked_process_gets_a_clear_error_not_a_crash(demo, track):
    """MediaPipe crashes (malloc) in a child forked after the parent ran it; the detector
    says what to do instead. ``track`` has run it in this process."""
    pid = os.fork()
    if pid == 0:  # child: exit code 3 = the expected error
        try:
            MediaPipePose()(demo[:1])
        except RuntimeError as err:
            os._exit(3 if "spawn" in str(err) else 4)
        os._exit(5)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 3
