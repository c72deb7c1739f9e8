import json

import numpy as np
import pytest

from synth.errors import InputError
from synth.motion.deepmimic import CLIPS, load_deepmimic


@pytest.mark.parametrize("name", CLIPS)
def test_every_embedded_clip_loads(name):
    clip = load_deepmimic(name)
    assert clip.num_frames >= 25
    assert min(abs(clip.fps - f) for f in (16.0, 24.0, 30.0, 60.0)) < 0.01
    pos = clip.joint_positions()
    assert np.isfinite(pos).all()
    # Bones keep their rest lengths (FK sanity) and the body is human-sized.
    thigh = np.linalg.norm(pos[:, clip.canonical["l_knee"]] - pos[:, clip.canonical["l_hip"]], axis=-1)
    assert np.allclose(thigh, 0.421546, atol=1e-4)


def test_total_frames_match_package():
    assert sum(load_deepmimic(c).num_frames for c in CLIPS) == 1620  # as shipped in pybullet 3.2.7


def test_walk_is_in_suite_frame():
    clip = load_deepmimic("walk")
    pos = clip.joint_positions()
    c = clip.canonical
    assert 0.8 < pos[0, c["pelvis"], 1] < 0.9  # Y up, pelvis height in metres
    assert (pos[:, c["l_hip"], 0] > pos[:, c["r_hip"], 0]).all()  # left = +X while walking forward
    travel = pos[-1, c["pelvis"]] - pos[0, c["pelvis"]]
    assert travel[2] > 1.0 and abs(travel[0]) < 0.1  # walks towards +Z, the way it faces


def test_unknown_clip():
    with pytest.raises(InputError, match="unknown DeepMimic clip 'moonwalk'; known clips: walk"):
        load_deepmimic("moonwalk")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "bad JSON"),
        (json.dumps({"Loop": "wrap"}), "no 'Frames'"),
        (json.dumps({"Frames": [[0.03] * 43]}), "expected 44 numbers per frame"),
        (json.dumps({"Frames": [[0.03] * 43 + ["x"]]}), "not all lists of numbers"),
        (json.dumps({"Frames": [[0.0] * 44]}), "zero duration"),
    ],
)
def test_malformed_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(InputError, match=message) as e:
        load_deepmimic(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_deepmimic(tmp_path / "missing.txt")
