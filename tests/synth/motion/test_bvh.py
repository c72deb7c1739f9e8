"""BVH loader: the real CMU clips, rotation conventions on hand-made files, and errors."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from synth.conventions import EVAL_JOINTS
from synth.errors import InputError
from synth.motion.bvh import (
    canonical_map,
    infer_unit_scale,
    list_bvh,
    load_bvh,
    read_bvh,
)

CMU_UNIT = 0.05644


# -------------------------------------------------------------------- real CMU data


@pytest.fixture(scope="module")
def manifest(cmu_bvh_dir):
    with open(cmu_bvh_dir / "MANIFEST.tsv", newline="") as f:
        return {row["file"].removesuffix(".bvh"): row for row in csv.DictReader(f, delimiter="\t")}


@pytest.fixture(scope="module")
def cmu_clips(cmu_bvh_dir, manifest):
    return {name: load_bvh(cmu_bvh_dir / f"{name}.bvh") for name in manifest}


def test_list_bvh_finds_every_manifest_clip(cmu_bvh_dir, manifest):
    clips = list_bvh(cmu_bvh_dir)
    assert sorted(clips) == sorted(manifest)
    assert clips["02_01"] == cmu_bvh_dir / "02_01.bvh"


def test_all_cmu_clips_load_with_manifest_timing(cmu_clips, manifest):
    assert len(cmu_clips) == 56
    for name, clip in cmu_clips.items():
        assert clip.name == name
        assert clip.num_frames == int(manifest[name]["frames"]), name
        assert clip.fps == 120.0, name  # Frame Time 0.0083333 is 1/120 s rounded
        assert len(clip.joint_names) == 31, name
        assert clip.rotations.dtype == np.float32 and clip.root_positions.dtype == np.float32
        assert set(EVAL_JOINTS) <= set(clip.canonical), name
        # The rotations are proper rotations (catches sign or transposition slips).
        r = clip.rotations[:: max(1, clip.num_frames // 20)].astype(np.float64)
        eye = np.broadcast_to(np.eye(3), r.shape)
        np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), eye, atol=1e-5)
        np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-5)
    assert sum(c.num_frames for c in cmu_clips.values()) == 77_443


def test_cmu_units_are_inferred_as_asf_units(cmu_bvh_dir, cmu_clips):
    for name, clip in cmu_clips.items():
        raw = read_bvh(cmu_bvh_dir / f"{name}.bvh")
        scale = infer_unit_scale(raw.offsets, raw.parents, canonical_map(raw.joint_names))
        assert scale == CMU_UNIT, name
        np.testing.assert_allclose(clip.offsets, raw.offsets * CMU_UNIT, rtol=1e-6, atol=1e-7)
        root = raw.motion[:, :3] * CMU_UNIT  # CMU roots: Xposition Yposition Zposition
        np.testing.assert_allclose(clip.root_positions, root, rtol=1e-5, atol=1e-5)


def test_cmu_rest_skeleton_is_adult_sized_and_in_the_suite_frame(cmu_clips):
    for name, clip in cmu_clips.items():
        rest, k = clip.rest_positions(), clip.canonical
        # Pelvis above the lowest rest joint (the toe base): the README's ~0.95 m root.
        assert rest[k["pelvis"], 1] - rest[:, 1].min() == pytest.approx(0.95, abs=0.1), name
        assert 1.3 < rest[k["head"], 1] - rest[k["l_ankle"], 1] < 1.6, name
        # Left is +X, toes point +Z: the suite frame, no axis change needed.
        assert rest[k["l_hip"], 0] > 0.05 and rest[k["r_hip"], 0] < -0.05, name
        assert rest[k["l_toe"], 2] > rest[k["l_ankle"], 2] + 0.05, name


def test_cmu_feet_stay_near_the_floor(cmu_clips):
    # CMU's floor is y = 0 and the ankle joint stands ~8 cm above it, so over any clip
    # the lowest ankle lies a few cm up; wrong rotations put feet through the floor or
    # far above it.
    for name, clip in cmu_clips.items():
        k = clip.canonical
        ankles_y = clip.joint_positions()[:, [k["l_ankle"], k["r_ankle"]], 1]
        assert 0.0 < ankles_y.min() < 0.15, name
    walk = cmu_clips["02_01"]
    k = walk.canonical
    pos = walk.joint_positions()
    lower_ankle = pos[:, [k["l_ankle"], k["r_ankle"]], 1].min(axis=1)
    assert np.median(lower_ankle) == pytest.approx(0.085, abs=0.03)
    # The stance foot is planted on every frame of a walk: never both feet high.
    assert lower_ankle.max() < 0.15
    assert (pos[:, k["head"], 1] - pos[:, k["pelvis"], 1]).min() > 0.4


def test_cmu_walk_travels_forwards(cmu_clips):
    walk = cmu_clips["02_01"]
    k = walk.canonical
    travel = walk.root_positions[-1] - walk.root_positions[0]
    assert np.hypot(travel[0], travel[2]) > 1.0  # 3.4 m in fact
    # Facing = (left hip - right hip) x up; it must agree with the walking direction,
    # which checks up, left and forward of the parsed rotations together.
    pos = walk.joint_positions()
    facing = np.cross(pos[:, k["l_hip"]] - pos[:, k["r_hip"]], [0.0, 1.0, 0.0])
    facing /= np.linalg.norm(facing, axis=1, keepdims=True)
    velocity = np.diff(walk.root_positions, axis=0) * walk.fps
    velocity[:, 1] = 0.0
    heading = velocity / np.linalg.norm(velocity, axis=1, keepdims=True)
    assert np.median((facing[1:] * heading).sum(axis=1)) > 0.95


def test_cmu_rotation_matches_an_independent_euler_product(cmu_bvh_dir, cmu_clips):
    raw = read_bvh(cmu_bvh_dir / "02_01.bvh")
    clip = cmu_clips["02_01"]
    j = raw.joint_names.index("LeftArm")
    column = sum(len(c) for c in raw.channels[:j])
    assert raw.channels[j] == ("Zrotation", "Yrotation", "Xrotation")
    frame = 100
    z, y, x = np.radians(raw.motion[frame, column : column + 3])
    expected = _rz(z) @ _ry(y) @ _rx(x)
    np.testing.assert_allclose(clip.rotations[frame, j], expected, atol=1e-6)


# ------------------------------------------------------------- hand-made BVH files


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


ROT = "Zrotation Yrotation Xrotation"

#: A minimal humanoid in metres: (name, parent, offset). Legs 0.4 + 0.4 m.
SKELETON = [
    ("Hips", None, (0.0, 0.0, 0.0)),
    ("LeftUpLeg", "Hips", (0.1, -0.05, 0.0)),
    ("LeftLeg", "LeftUpLeg", (0.0, -0.4, 0.0)),
    ("LeftFoot", "LeftLeg", (0.0, -0.4, 0.0)),
    ("RightUpLeg", "Hips", (-0.1, -0.05, 0.0)),
    ("RightLeg", "RightUpLeg", (0.0, -0.4, 0.0)),
    ("RightFoot", "RightLeg", (0.0, -0.4, 0.0)),
    ("Spine", "Hips", (0.0, 0.1, 0.0)),
    ("Neck", "Spine", (0.0, 0.4, 0.0)),
    ("Head", "Neck", (0.0, 0.1, 0.0)),
    ("LeftArm", "Spine", (0.2, 0.35, 0.0)),
    ("LeftForeArm", "LeftArm", (0.3, 0.0, 0.0)),
    ("LeftHand", "LeftForeArm", (0.25, 0.0, 0.0)),
    ("RightArm", "Spine", (-0.2, 0.35, 0.0)),
    ("RightForeArm", "RightArm", (-0.3, 0.0, 0.0)),
    ("RightHand", "RightForeArm", (-0.25, 0.0, 0.0)),
]


def make_bvh(
    channels: dict[str, str] | None = None,
    values: dict[str, list[float]] | None = None,
    *,
    frames: int = 1,
    scale: float = 1.0,
    prefix: str = "",
    skeleton=SKELETON,
) -> str:
    """BVH text for SKELETON. ``channels``: joint -> channel names (default: the root has
    positions + ZYX, others ZYX). ``values``: joint -> its channel values, same every frame
    (default zeros)."""
    channels = channels or {}
    values = values or {}
    children: dict[str | None, list] = {}
    for name, parent, offset in skeleton:
        children.setdefault(parent, []).append((name, offset))
    order: list[str] = []
    root_name = skeleton[0][0]

    def chans(name):
        default = "Xposition Yposition Zposition " + ROT if name == root_name else ROT
        return channels.get(name, default).split()

    def emit(name, offset, depth, keyword):
        pad = "  " * depth
        ch = chans(name)
        order.append(name)
        out = [f"{pad}{keyword} {prefix}{name}", f"{pad}{{"]
        out.append(f"{pad}  OFFSET {' '.join(str(o / scale) for o in offset)}")
        out.append(f"{pad}  CHANNELS {len(ch)} {' '.join(ch)}")
        kids = children.get(name, [])
        for kid, kid_offset in kids:
            out += emit(kid, kid_offset, depth + 1, "JOINT")
        if not kids:
            out += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0 0 0.05", f"{pad}  }}"]
        out.append(f"{pad}}}")
        return out

    (root, root_offset), = children[None]
    lines = ["HIERARCHY"] + emit(root, root_offset, 0, "ROOT")
    row = []
    for name in order:
        row += values.get(name, [0.0] * len(chans(name)))
    lines += ["MOTION", f"Frames: {frames}", "Frame Time: 0.0333333"]
    lines += [" ".join(f"{v:g}" for v in row)] * frames
    return "\n".join(lines) + "\n"


def write(tmp_path, text, name="clip.bvh"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_root_z_rotation_turns_the_children(tmp_path):
    path = write(tmp_path, make_bvh(values={"Hips": [0.0, 1.0, 0.0, 90.0, 0.0, 0.0]}))
    clip = load_bvh(path)
    assert clip.fps == 30.0  # Frame Time 0.0333333
    pos = clip.joint_positions()[0]
    k = clip.canonical
    np.testing.assert_allclose(clip.root_positions[0], [0, 1, 0])
    np.testing.assert_allclose(clip.rotations[0, 0], _rz(np.pi / 2), atol=1e-6)
    # Rz(90) takes the hip offset (0.1, -0.05, 0) to (0.05, 0.1, 0), the shin (0, -0.4, 0)
    # to (0.4, 0, 0).
    np.testing.assert_allclose(pos[k["l_hip"]], [0.05, 1.1, 0.0], atol=1e-6)
    np.testing.assert_allclose(pos[k["l_knee"]], [0.45, 1.1, 0.0], atol=1e-6)
    np.testing.assert_allclose(pos[k["head"]], [-0.6, 1.0, 0.0], atol=1e-6)


@pytest.mark.parametrize(
    "order, expected_knee_step",
    [
        # R = Rz(90) Rx(90): Rx turns (0,-0.4,0) to (0,0,-0.4), about which Rz does nothing.
        ("Zrotation Yrotation Xrotation", [0.0, 0.0, -0.4]),
        # R = Rx(90) Rz(90): Rz turns (0,-0.4,0) to (0.4,0,0), about which Rx does nothing.
        ("Xrotation Yrotation Zrotation", [0.4, 0.0, 0.0]),
    ],
)
def test_channel_order_sets_the_product_order(tmp_path, order, expected_knee_step):
    per_axis = {"Xrotation": 90.0, "Yrotation": 0.0, "Zrotation": 90.0}
    hip_values = [per_axis[ch] for ch in order.split()]
    text = make_bvh({"LeftUpLeg": order}, {"LeftUpLeg": hip_values})
    clip = load_bvh(write(tmp_path, text))
    k = clip.canonical
    pos = clip.joint_positions()[0]
    np.testing.assert_allclose(pos[k["l_knee"]] - pos[k["l_hip"]], expected_knee_step, atol=1e-6)
    factors = {"X": _rx(np.pi / 2), "Y": np.eye(3), "Z": _rz(np.pi / 2)}
    f1, f2, f3 = (factors[ch[0]] for ch in order.split())
    np.testing.assert_allclose(clip.rotations[0, k["l_hip"]], f1 @ f2 @ f3, atol=1e-6)


def test_channel_subsets_and_positions(tmp_path):
    # Root with only Y position and Y rotation; a knee with one channel; an elbow with
    # positions (ignored: bone lengths are fixed) and rotations in XZY order.
    channels = {
        "Hips": "Yposition Yrotation",
        "LeftLeg": "Xrotation",
        "LeftForeArm": "Xposition Yposition Zposition Xrotation Zrotation Yrotation",
    }
    values = {"Hips": [0.9, 90.0], "LeftLeg": [-30.0], "LeftForeArm": [5, 5, 5, 10.0, 20.0, 30.0]}
    skeleton = [("Hips", None, (0.5, 0.0, 0.25))] + SKELETON[1:]
    clip = load_bvh(write(tmp_path, make_bvh(channels, values, frames=3, skeleton=skeleton)))
    k = clip.canonical
    assert clip.num_frames == 3
    # Missing position channels keep the OFFSET component.
    np.testing.assert_allclose(clip.root_positions, [[0.5, 0.9, 0.25]] * 3, atol=1e-6)
    np.testing.assert_allclose(clip.rotations[:, k["pelvis"]], [_ry(np.pi / 2)] * 3, atol=1e-6)
    np.testing.assert_allclose(clip.rotations[0, k["l_knee"]], _rx(np.radians(-30)), atol=1e-6)
    expected = _rx(np.radians(10)) @ _rz(np.radians(20)) @ _ry(np.radians(30))
    np.testing.assert_allclose(clip.rotations[1, k["l_elbow"]], expected, atol=1e-6)
    np.testing.assert_allclose(clip.offsets[k["l_wrist"]], [0.25, 0, 0], atol=1e-7)
    np.testing.assert_allclose(clip.rotations[2, k["r_knee"]], np.eye(3), atol=1e-7)


@pytest.mark.parametrize("scale", [0.001, 0.01, 0.0254, 1.0])  # mm, cm, inches, metres
def test_unit_scale_is_inferred_from_leg_length(tmp_path, scale):
    text = make_bvh(values={"Hips": [0, 1.0 / scale, 0, 0, 0, 0]}, scale=scale)
    clip = load_bvh(write(tmp_path, text))
    np.testing.assert_allclose(clip.offsets[clip.canonical["l_knee"]], [0, -0.4, 0], atol=1e-6)
    np.testing.assert_allclose(clip.root_positions[0], [0, 1.0, 0], atol=1e-6)


@pytest.mark.parametrize(
    "written, fps",
    [("0.0333333", 30.0), ("0.033", 1 / 0.033), ("0.04", 25.0), ("0.0416667", 24.0),
     ("0.01", 100.0), ("0.00833", 1 / 0.00833), ("0.03", 1 / 0.03),
     ("8.3333e-3", 1 / 8.3333e-3)],
)
def test_fps_snaps_only_to_rates_the_file_rounded(tmp_path, written, fps):
    text = make_bvh().replace("Frame Time: 0.0333333", f"Frame Time: {written}")
    assert load_bvh(write(tmp_path, text)).fps == pytest.approx(fps, rel=1e-12)


def test_explicit_unit_scale_and_name(tmp_path):
    clip = load_bvh(write(tmp_path, make_bvh()), unit_scale=2.0, name="walk")
    assert clip.name == "walk"
    np.testing.assert_allclose(clip.offsets[clip.canonical["l_knee"]], [0, -0.8, 0], atol=1e-6)
    with pytest.raises(InputError, match="unit_scale"):
        load_bvh(write(tmp_path, make_bvh()), unit_scale=-1.0)


def test_namespaced_and_alternative_bone_names(tmp_path):
    clip = load_bvh(write(tmp_path, make_bvh(prefix="mixamorig:")))
    assert clip.joint_names[0] == "mixamorig:Hips"
    assert clip.canonical["l_ankle"] == clip.joint_names.index("mixamorig:LeftFoot")
    names = ["Pelvis", "LHip", "LKnee", "LAnkle", "RHip", "RKnee", "RAnkle"]
    names += ["Chest", "Neck", "Head"]
    found = canonical_map(names)
    assert found["pelvis"] == 0 and found["r_hip"] == 4 and found["r_ankle"] == 6
    assert found["chest"] == 7 and "spine" not in found


def test_missing_bones_are_named(tmp_path):
    skeleton = [(n.replace("RightFoot", "RightPaw"), p, o) for n, p, o in SKELETON]
    path = write(tmp_path, make_bvh(skeleton=skeleton), name="paw.bvh")
    with pytest.raises(InputError) as e:
        load_bvh(path)
    assert "paw.bvh" in str(e.value) and "missing bones for r_ankle (RightFoot)" in str(e.value)


def test_list_bvh_recurses_into_subject_folders(tmp_path):
    (tmp_path / "02").mkdir()
    (tmp_path / "05" / "deep").mkdir(parents=True)
    write(tmp_path / "02", make_bvh(), "02_01.bvh")
    write(tmp_path / "05" / "deep", make_bvh(), "05_02.BVH")
    write(tmp_path, "not motion", "notes.txt")
    assert list_bvh(tmp_path) == {
        "02_01": tmp_path / "02" / "02_01.bvh",
        "05_02": tmp_path / "05" / "deep" / "05_02.BVH",
    }
    with pytest.raises(InputError):
        list_bvh(tmp_path / "nowhere")


# ----------------------------------------------------------------------- bad files


def _broken(text: str, old: str, new: str, count: int = 1) -> str:
    assert old in text
    return text.replace(old, new, count)


GOOD = make_bvh(frames=3)
MOTION_LINE = GOOD.splitlines().index("MOTION") + 1  # 1-based
FIRST_FRAME_LINE = MOTION_LINE + 3


@pytest.mark.parametrize(
    "case, text, expected",
    [
        ("empty", "", "empty"),
        ("blank", "\n  \n", "empty"),
        ("not_bvh", "hello world\n", "HIERARCHY"),
        ("no_motion", GOOD.split("MOTION")[0], "no MOTION"),
        ("truncated_hierarchy", GOOD[: GOOD.index("RightUpLeg")], "ends early"),
        ("truncated_motion", GOOD.rsplit("\n", 2)[0] + "\n", "truncated"),
        ("truncated_header", GOOD.split("Frames")[0], "Frames"),
        ("short_frame", _broken(GOOD, "\n0 0 0", "\n0 0"), f":{FIRST_FRAME_LINE}: frame line has"),
        (
            "non_numeric",
            _broken(GOOD, "\n0 0 0", "\n0 abc 0"),
            f":{FIRST_FRAME_LINE}: frame value 'abc'",
        ),
        ("nan_value", _broken(GOOD, "\n0 0 0", "\n0 nan 0"), "not a finite number"),
        ("unknown_channel", _broken(GOOD, "Xrotation", "Wrotation"), "unknown channel 'Wrotation'"),
        ("bad_channel_count", _broken(GOOD, "CHANNELS 3", "CHANNELS 4"), "unknown channel"),
        (
            "bad_offset",
            _broken(GOOD, "OFFSET 0.1", "OFFSET x"),
            ":8: OFFSET x component must be a number, found 'x'",
        ),
        ("zero_frames", _broken(GOOD, "Frames: 3", "Frames: 0"), "no frames"),
        ("bad_frame_count", _broken(GOOD, "Frames: 3", "Frames: three"), "whole number"),
        ("bad_frame_time", _broken(GOOD, "Frame Time: 0.0333333", "Frame Time: 0"), "Frame Time"),
        ("extra_frames", _broken(GOOD, "Frames: 3", "Frames: 2"), "more frame lines"),
        ("stray_token", _broken(GOOD, "End Site", "Bogus Site"), "unexpected 'Bogus'"),
        ("two_roots", GOOD.replace("MOTION", "ROOT Other { OFFSET 0 0 0 }\nMOTION"), "second ROOT"),
    ],
)
def test_malformed_files_raise_one_line_input_errors(tmp_path, case, text, expected):
    path = write(tmp_path, text, name=f"{case}.bvh")
    with pytest.raises(InputError) as e:
        load_bvh(path)
    message = str(e.value)
    assert f"{case}.bvh" in message
    assert "\n" not in message
    assert expected in message


def test_missing_file_raises_input_error(tmp_path):
    with pytest.raises(InputError, match=r"nope\.bvh: no such BVH file"):
        load_bvh(tmp_path / "nope.bvh")
    with pytest.raises(InputError, match="cannot read"):
        load_bvh(tmp_path)  # a directory


def test_good_synthetic_file_loads(tmp_path):
    # Guards the malformed-file cases above: they are GOOD with one thing broken.
    clip = load_bvh(write(tmp_path, GOOD))
    assert clip.num_frames == 3 and len(clip.joint_names) == len(SKELETON)


def test_daz_rig_clips_map_by_name_and_retarget(cmu_daz_bvh_dir, anny_body):
    from synth.motion.retarget import retarget

    files = sorted(cmu_daz_bvh_dir.rglob("*.bvh"))[:: 40]  # a few subjects, every channel order they use
    assert files
    for path in files:
        clip = load_bvh(path)
        names = {c: clip.joint_names[i] for c, i in clip.canonical.items()}
        assert set(EVAL_JOINTS) <= set(names), path
        assert (names["l_hip"], names["l_knee"], names["l_shoulder"], names["l_elbow"]) == (
            "lThigh", "lShin", "lShldr", "lForeArm")  # fmt: skip
        rest, k = clip.rest_positions(), clip.canonical
        assert 1.2 < rest[k["head"], 1] - rest[k["l_ankle"], 1] < 1.7, path  # units inferred: metres
        assert rest[k["l_hip"], 0] > 0.03 and rest[k["r_hip"], 0] < -0.03, path
    motion = retarget(load_bvh(files[0]), anny_body)
    assert torch_finite(motion.pose) and motion.pose.shape[1] == anny_body.skeleton.num_joints - 1


def torch_finite(t) -> bool:
    return bool(np.isfinite(np.asarray(t)).all())

