"""Keypoint layouts -> EVAL_JOINTS, and the keypoint files of ``motionhmr predict``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from motionhmr.keypoint_files import CONF_THRESHOLD, read_keypoints, to_eval_joints
from synth.errors import InputError

# Source index of each EVAL_JOINTS limb (r_ankle ... l_wrist), written from each format's
# published order (COCO keypoints; OpenPose's COCO-18 output).
COCO17_LIMBS = [16, 14, 12, 11, 13, 15, 10, 8, 6, 5, 7, 9]
OPENPOSE18_LIMBS = [10, 9, 8, 11, 12, 13, 4, 3, 2, 5, 6, 7]


def labelled(k: int, n: int = 2) -> np.ndarray:
    """``[n, k, 3]`` points whose x is 10 * index, y the frame, conf 0.5 + index/100."""
    pts = np.zeros((n, k, 3))
    pts[..., 0] = 10.0 * np.arange(k)
    pts[..., 1] = np.arange(n)[:, None]
    pts[..., 2] = 0.5 + np.arange(k) / 100
    return pts


def test_coco17_limbs_neck_and_head():
    pts = labelled(17)
    kp, conf = to_eval_joints(pts, "coco17")
    assert kp.shape == (2, 14, 2) and conf.shape == (2, 14) and kp.dtype == np.float32
    np.testing.assert_allclose(kp[:, :12, 0], 10.0 * np.array(COCO17_LIMBS)[None].repeat(2, 0))
    np.testing.assert_allclose(conf[:, :12], pts[:, COCO17_LIMBS, 2], rtol=1e-6)
    # neck: the shoulders' midpoint (5, 6), as sure as the less sure shoulder
    np.testing.assert_allclose(kp[:, 12, 0], 55.0)
    np.testing.assert_allclose(conf[:, 12], 0.55, rtol=1e-6)
    # head: the ears' midpoint (3, 4) while both ears are detected ...
    np.testing.assert_allclose(kp[:, 13, 0], 35.0)
    np.testing.assert_allclose(conf[:, 13], 0.53, rtol=1e-6)
    # ... else the one ear that is (profile), else the nose
    pts = labelled(17, n=4)
    pts[1, 4, 2] = CONF_THRESHOLD / 2  # r_ear missed: the l_ear (3)
    pts[2, 3, 2] = 0.0  # l_ear missed: the r_ear (4)
    pts[3, 3:5, 2] = 0.0  # both missed: the nose (0)
    kp, conf = to_eval_joints(pts, "coco17")
    np.testing.assert_allclose(kp[:, 13, 0], [35.0, 30.0, 40.0, 0.0])
    np.testing.assert_allclose(conf[:, 13], [0.53, 0.53, 0.54, 0.50], rtol=1e-6)


def test_openpose18_and_3dpw_layouts():
    pts = labelled(18)
    kp, conf = to_eval_joints(pts, "openpose18")
    np.testing.assert_allclose(kp[:, :12, 0], 10.0 * np.array(OPENPOSE18_LIMBS)[None].repeat(2, 0))
    np.testing.assert_allclose(kp[:, 12, 0], 10.0)  # OpenPose's own neck
    np.testing.assert_allclose(kp[:, 13, 0], 165.0)  # mid-ears (16, 17)
    kp3, conf3 = to_eval_joints(pts.transpose(0, 2, 1), "3dpw")  # 3DPW stores [N, 3, 18]
    np.testing.assert_array_equal(kp3, kp)
    np.testing.assert_array_equal(conf3, conf)


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_npz_round_trip_with_and_without_scores(tmp_path):
    pts = labelled(17, n=4) + [100.0, 50.0, 0.0]
    expected_kp, expected_conf = to_eval_joints(pts, "coco17")
    a = read_keypoints(write_npz(tmp_path / "a.npz", keypoints=pts, image_size=[640, 480]))
    b = read_keypoints(
        write_npz(
            tmp_path / "b.npz", keypoints=pts[..., :2], scores=pts[..., 2], image_size=np.array([640, 480])
        )
    )
    for track in (a, b):
        assert track.image_size == (640, 480) and track.layout == "coco17" and len(track) == 4
        np.testing.assert_array_equal(track.kp, expected_kp)
        np.testing.assert_array_equal(track.conf, expected_conf)
    c = read_keypoints(
        write_npz(tmp_path / "c.npz", keypoints=labelled(18), image_size=[64, 48], layout="openpose18")
    )
    assert c.layout == "openpose18"
    np.testing.assert_array_equal(c.kp, to_eval_joints(labelled(18), "openpose18")[0])


def test_json_round_trip_with_missing_frames(tmp_path):
    pts = labelled(17, n=3)
    frames = [{"keypoints": pts[0].tolist()}, None, {}, {"keypoints": None}, {"keypoints": pts[2].tolist()}]
    path = tmp_path / "kp.json"
    path.write_text(json.dumps({"image_size": [1280, 720], "frames": frames}))
    track = read_keypoints(path)
    assert len(track) == 5 and track.image_size == (1280, 720)
    expected_kp, expected_conf = to_eval_joints(pts, "coco17")
    np.testing.assert_array_equal(track.kp[[0, 4]], expected_kp[[0, 2]])
    np.testing.assert_array_equal(track.conf[[0, 4]], expected_conf[[0, 2]])
    assert (track.conf[1:4] == 0).all() and not track.visible()[1:4].any()
    assert track.visible()[0].all()


def test_json_in_an_explicit_layout(tmp_path):
    pts = labelled(18, n=2)
    path = tmp_path / "op.json"
    path.write_text(json.dumps({"image_size": [64, 48], "frames": [{"keypoints": p.tolist()} for p in pts]}))
    track = read_keypoints(path, layout="openpose18")
    np.testing.assert_array_equal(track.kp, to_eval_joints(pts, "openpose18")[0])
    path.write_text(json.dumps({"image_size": [64, 48], "layout": "3dpw",
                                "frames": [{"keypoints": p.T.tolist()} for p in pts]}))  # fmt: skip
    np.testing.assert_array_equal(read_keypoints(path).kp, track.kp)


def _json(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


GOOD_FRAME = {"keypoints": labelled(17, n=1)[0].tolist()}
SIZE = {"image_size": [4, 4]}
KP3, XY = np.zeros((3, 17, 3)), np.zeros((3, 17, 2))
INF_SCORES = np.r_[np.zeros((2, 17)), np.full((1, 17), np.inf)]
BAD_NPZ = {
    "wrong shape": ({"keypoints": np.zeros((3, 16, 3)), **SIZE}, r"shape \[3, 16, 3\]"),
    "xy without scores": ({"keypoints": XY, **SIZE}, "scores"),
    "scores wrong shape": ({"keypoints": XY, "scores": np.zeros((3, 16)), **SIZE}, "scores has shape"),
    "no keypoints": (SIZE, "lacks 'keypoints'"),
    "no image size": ({"keypoints": KP3}, "lacks image_size"),
    "bad image size": ({"keypoints": KP3, "image_size": [-1, 4]}, "two positive integers"),
    "fractional image size": ({"keypoints": KP3, "image_size": [4.5, 4]}, "two positive integers"),
    "nan": ({"keypoints": np.full((3, 17, 3), np.nan), **SIZE}, r"non-finite values \(frame 0\)"),
    "inf in scores": ({"keypoints": XY, "scores": INF_SCORES, **SIZE}, r"frame 2"),
    "no frames": ({"keypoints": np.zeros((0, 17, 3)), **SIZE}, "no frames"),
    "unknown layout": ({"keypoints": KP3, "layout": "body25", **SIZE}, "unknown: use one of coco17"),
    "text keypoints": ({"keypoints": np.full((1, 17, 3), "a"), **SIZE}, "must be numbers"),
}
BAD_JSON = {
    "not json": ("{frames: [", "not valid JSON"),
    "no frames list": (SIZE, '"frames" list'),
    "no image size": ({"frames": [GOOD_FRAME]}, "lacks image_size"),
    "one number image size": ({"image_size": [640], "frames": [GOOD_FRAME]}, "two positive integers"),
    "text image size": ({"image_size": "640x480", "frames": [GOOD_FRAME]}, "two positive integers"),
    "frame wrong shape": (
        {**SIZE, "frames": [GOOD_FRAME, {"keypoints": [[1, 2]] * 17}]},
        r"frame 1 keypoints have shape \[17, 2\]",
    ),
    "ragged frame": ({**SIZE, "frames": [{"keypoints": [[1, 2, 3], [1]]}]}, "frame 0 keypoints"),
    "frame not an object": ({**SIZE, "frames": [[1, 2, 3]]}, "frame 0 must be an object"),
    "empty": ({**SIZE, "frames": []}, "no frames"),
    "layout not a string": ({**SIZE, "layout": 3, "frames": [GOOD_FRAME]}, "layout must be a string"),
}


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_malformed_npz_files_get_one_line_errors(tmp_path, case):
    arrays, message = BAD_NPZ[case]
    with pytest.raises(InputError, match=message) as err:
        read_keypoints(write_npz(tmp_path / "kp.npz", **arrays))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_malformed_json_files_get_one_line_errors(tmp_path, case):
    data, message = BAD_JSON[case]
    with pytest.raises(InputError, match=message) as err:
        read_keypoints(_json(tmp_path / "kp.json", data))
    assert "\n" not in str(err.value)


def test_file_and_layout_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_keypoints(tmp_path / "missing.npz")
    (tmp_path / "kp.csv").write_text("1,2,3")
    with pytest.raises(InputError, match="expected a .npz or .json"):
        read_keypoints(tmp_path / "kp.csv")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="could not be read as .npz"):
        read_keypoints(tmp_path / "broken.npz")
    path = _json(tmp_path / "kp.json", {"image_size": [4, 4], "layout": "openpose18", "frames": [GOOD_FRAME]})
    with pytest.raises(InputError, match="says layout 'openpose18' but layout 'coco17'"):
        read_keypoints(path, layout="coco17")
    good = _json(tmp_path / "good.json", {"image_size": [4, 4], "frames": [GOOD_FRAME]})
    with pytest.raises(InputError, match="unknown"):
        read_keypoints(good, layout="halpe26")
