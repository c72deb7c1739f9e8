"""ASF/AMC loader: the real CMU files against their BVH twins, a hand-made skeleton, errors, config."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest

from synth.config import GenerateConfig, MotionConfig, PreviewConfig, compose, typed
from synth.errors import InputError
from synth.motion import list_clips, load_motion
from synth.motion.asfamc import (
    asf_for,
    forward_kinematics,
    list_asfamc,
    load_asfamc,
    local_rotations,
    metres_per_unit,
    read_amc,
    read_asf,
)
from synth.motion.bvh import load_bvh

#: Metres per unit of the CMU BVH files as the BVH loader infers it (bvh.UNIT_SCALES).
BVH_CMU_UNIT = 0.05644


# -------------------------------------------------------------------- real CMU data


@pytest.fixture(scope="module")
def manifest(cmu_bvh_dir):
    with open(cmu_bvh_dir / "MANIFEST.tsv", newline="") as f:
        return {row["file"].removesuffix(".bvh"): row for row in csv.DictReader(f, delimiter="\t")}


def test_list_asfamc_finds_the_56_clips_with_their_subject_skeletons(cmu_asfamc_dir, manifest):
    clips = list_asfamc(cmu_asfamc_dir)
    assert len(clips) == 56 and sorted(clips) == sorted(manifest)
    assert clips["02_01"] == (cmu_asfamc_dir / "02" / "02_01.amc", cmu_asfamc_dir / "02" / "02.asf")
    assert all(asf.stem == name.split("_")[0] for name, (_, asf) in clips.items())


def test_cmu_units_come_from_the_asf(cmu_asfamc_dir):
    skeleton = read_asf(cmu_asfamc_dir / "02" / "02.asf")
    assert skeleton.length_unit == 0.45 and skeleton.angle_unit == "deg"
    assert metres_per_unit(skeleton) == pytest.approx(0.05644, abs=1e-5)  # 1/0.45 inch
    assert [b.name for b in skeleton.bones[:5]] == ["lhipjoint", "lfemur", "ltibia", "lfoot", "ltoes"]
    assert len(skeleton.bones) == 30


# Walk, run, jump (the brief's three) and a cartwheel, whose root turns upside down.
@pytest.mark.parametrize("name", ["02_01", "09_01", "16_01", "49_06"])
def test_cmu_amc_matches_its_bvh_twin_on_every_frame(cmu_asfamc_dir, cmu_bvh_dir, manifest, name):
    amc, asf = list_asfamc(cmu_asfamc_dir)[name]
    clip = load_asfamc(amc)
    twin = load_bvh(cmu_bvh_dir / f"{name}.bvh")

    assert clip.name == name and clip.source == str(amc)
    assert clip.fps == twin.fps == 120.0
    assert clip.num_frames == twin.num_frames == int(manifest[name]["frames"])
    assert clip.joint_names == twin.joint_names and clip.parents == twin.parents
    assert clip.canonical == twin.canonical
    assert clip.rotations.dtype == np.float32 and clip.root_positions.dtype == np.float32

    # Every joint on every frame. (Most of the ~2e-4 m left is the BVH loader's CMU unit,
    # 0.05644 m, against the exact 0.0254 / 0.45 = 0.0564444 m.)
    pos, twin_pos = clip.joint_positions(), twin.joint_positions()
    assert np.abs(pos - twin_pos).max() < 1e-3
    np.testing.assert_allclose(clip.global_rotations(), twin.global_rotations(), atol=1e-4)

    # The tips a MotionClip drops (toes, fingers, thumbs, head): the spec's FK on the ASF
    # against the BVH's End Sites carried by its joints' world rotations.
    starts, ends = forward_kinematics(read_asf(asf), read_amc(amc, read_asf(asf)))
    scale = 0.0254 / 0.45
    np.testing.assert_allclose(starts * scale, pos[:, 1:], atol=1e-6)
    glob = twin.global_rotations().astype(np.float64)
    bones = [b.name for b in read_asf(asf).bones]
    for joint, offset in _end_sites(cmu_bvh_dir / f"{name}.bvh").items():
        j = twin.joint_names.index(joint)
        bvh_tip = twin_pos[:, j] + glob[:, j] @ (offset * BVH_CMU_UNIT)
        asf_tip = ends[:, bones.index(_ASF_LEAF[joint])] * scale
        assert np.abs(asf_tip - bvh_tip).max() < 1e-3, joint


_ASF_LEAF = {
    "LeftToeBase": "ltoes", "RightToeBase": "rtoes", "Head": "head",
    "LeftHandIndex1": "lfingers", "RightHandIndex1": "rfingers", "LThumb": "lthumb", "RThumb": "rthumb",
}  # fmt: skip


def _end_sites(path) -> dict[str, np.ndarray]:
    """Joint -> its End Site OFFSET (file units), read straight from the BVH text."""
    tokens = path.read_text().split("MOTION")[0].split()
    sites, joint = {}, None
    for i, tok in enumerate(tokens):
        if tok in ("ROOT", "JOINT"):
            joint = tokens[i + 1]
        elif tok == "End":  # End Site { OFFSET x y z }
            sites[joint] = np.array(tokens[i + 4 : i + 7], dtype=np.float64)
    assert sorted(sites) == sorted(_ASF_LEAF)
    return sites


# ------------------------------------------------------------ a hand-made skeleton

TINY_ASF = """\
# a hand-made skeleton: an arm with a 90 degree elbow, a hand with a turned axis, a spine
:version 1.10
:name tiny
:units
  mass 1.0
  length 0.5
  angle deg
:documentation
   four bones, checked by hand
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name humerus
     direction 1 0 0
     length 2
     axis 0 0 0  XYZ
    dof rx ry rz
    limits (-180.0 180.0)
           (-180.0 180.0)
           (-180.0 180.0)
  end
  begin
     id 2
     name radius
     direction 1 0 0
     length 1.5
     axis 0 0 0  XYZ
    dof rz
    limits (-inf inf)
  end
  begin
     id 3
     name hand
     direction 0 0 1
     length 0.5
     axis 0 0 90  XYZ
    dof rx
  end
  begin
     id 4
     name spine
     direction 0 1 0
     length 1
     axis 90 0 90  ZYX
    dof rz rx
  end
:hierarchy
  begin
    root humerus spine
    humerus radius
    radius hand
  end
"""

TINY_AMC = """\
#!OML:ASF tiny.asf
:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 0 0 0
humerus 0 0 0
radius 90
hand 90
spine 0 0
2
root 0 0 0 0 90 0
humerus 0 0 0
radius 0
hand 0
spine 90 0
3
root 0 0 0 0 0 0
humerus 0 0 0
radius 0
hand 0
spine 30 40
"""


def _rx(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rz(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _tiny(tmp_path, asf=TINY_ASF, amc=TINY_AMC, subject="tiny", trial="tiny_01"):
    (tmp_path / f"{subject}.asf").write_text(asf)
    (tmp_path / f"{trial}.amc").write_text(amc)
    return tmp_path / f"{trial}.amc", tmp_path / f"{subject}.asf"


def test_hand_made_skeleton_forward_kinematics(tmp_path):
    amc, asf = _tiny(tmp_path)
    skeleton = read_asf(asf)
    assert [b.name for b in skeleton.bones] == ["humerus", "radius", "hand", "spine"]
    assert skeleton.parents == (-1, 0, 1, -1)
    assert skeleton.bones[1].limits == ((-np.inf, np.inf),)
    assert metres_per_unit(skeleton) == pytest.approx(0.0254 / 0.5)
    motion = read_amc(amc, skeleton)
    assert motion.num_frames == 3
    starts, ends = forward_kinematics(skeleton, motion)
    humerus, radius, hand, spine = range(4)

    # Frame 1: root at (1, 2, 3), unrotated. The humerus runs 2 along +X; the elbow bends
    # 90 degrees about Z, so the radius points +Y; the hand's axis is Rz(90), so its rx of
    # 90 degrees turns about Rz(90) x = +Y: its (0, 0, 0.5) goes to +X, then the radius'
    # Rz(90) takes that to +Y.
    np.testing.assert_allclose(ends[0, humerus], [3, 2, 3], atol=1e-9)
    np.testing.assert_allclose(starts[0, radius], [3, 2, 3], atol=1e-9)
    np.testing.assert_allclose(ends[0, radius], [3, 3.5, 3], atol=1e-9)
    np.testing.assert_allclose(ends[0, hand], [3, 4, 3], atol=1e-9)
    np.testing.assert_allclose(ends[0, spine], [1, 3, 3], atol=1e-9)

    # Frame 2: the root turns 90 degrees about Y (+X goes to -Z). The spine's rz of 90
    # turns about C z with C = Rx(90) Rz(90) (axis order ZYX), i.e. about -Y, undoing
    # the root's turn: the spine points straight up.
    np.testing.assert_allclose(ends[1, humerus], [0, 0, -2], atol=1e-9)
    np.testing.assert_allclose(ends[1, radius], [0, 0, -3.5], atol=1e-9)
    np.testing.assert_allclose(ends[1, hand], [0.5, 0, -3.5], atol=1e-9)
    np.testing.assert_allclose(ends[1, spine], [0, 1, 0], atol=1e-9)

    # Frame 3: "dof rz rx" applies rz first: M = Rx(40) Rz(30), inside C ... C^-1.
    _, local = local_rotations(skeleton, motion)
    c = _rx(np.pi / 2) @ _rz(np.pi / 2)
    expected = c @ _rx(np.radians(40)) @ _rz(np.radians(30)) @ c.T
    np.testing.assert_allclose(local[2, spine], expected, atol=1e-12)


def test_hand_made_skeleton_lacks_the_evaluation_joints(tmp_path):
    amc, _ = _tiny(tmp_path)
    with pytest.raises(InputError, match=r"tiny\.asf: no bones for r_ankle, r_knee") as e:
        load_asfamc(amc)
    assert "\n" not in str(e.value)


def test_radians_and_explicit_skeleton(tmp_path):
    amc, asf = _tiny(tmp_path)
    radians = TINY_AMC.replace(":DEGREES", ":RADIANS").replace("radius 90", f"radius {np.pi / 2}")
    radians = radians.replace("hand 90", f"hand {np.pi / 2}").replace("0 90 0", f"0 {np.pi / 2} 0")
    (tmp_path / "elsewhere.amc").write_text(radians.replace("spine 90 0", f"spine {np.pi / 2} 0"))
    skeleton = read_asf(asf)
    deg = forward_kinematics(skeleton, read_amc(amc, skeleton))
    rad = forward_kinematics(skeleton, read_amc(tmp_path / "elsewhere.amc", skeleton))
    np.testing.assert_allclose(rad[1][:2], deg[1][:2], atol=1e-9)


# ----------------------------------------------------------------------- bad files


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if ln.strip() == needle)


def _broken(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    "case, asf, amc, bad_file, expected",
    [
        ("no_bonedata", TINY_ASF.split(":bonedata")[0] + ":hierarchy" + TINY_ASF.split(":hierarchy")[1],
         TINY_AMC, "asf", "no :bonedata section"),
        ("no_hierarchy", TINY_ASF.split(":hierarchy")[0], TINY_AMC, "asf", "no :hierarchy section"),
        ("no_root", _broken(TINY_ASF, ":root", ":rooot"), TINY_AMC, "asf", "no :root section"),
        ("not_asf", "hello\n", TINY_AMC, "asf", ":1: not an ASF file"),
        ("empty_asf", "  \n", TINY_AMC, "asf", "empty ASF file"),
        ("no_length", _broken(TINY_ASF, "length 1.5\n", ""), TINY_AMC, "asf",
         f":{_line_of(TINY_ASF, 'id 2') - 1}: the bone opened here has no 'length'"),
        ("stray_key", _broken(TINY_ASF, "length 1.5", "size 1.5"), TINY_AMC, "asf", "unexpected 'size'"),
        ("bad_direction", _broken(TINY_ASF, "direction 1 0 0", "direction 1 zero 0"), TINY_AMC, "asf",
         f":{_line_of(TINY_ASF, 'direction 1 0 0')}: bone 'humerus' direction must be a number, found 'zero'"),
        ("bad_axis", _broken(TINY_ASF, "axis 0 0 90  XYZ", "axis 0 0 90  XYW"), TINY_AMC, "asf",
         "axis order must be a permutation of XYZ"),
        ("bad_dof", _broken(TINY_ASF, "dof rz rx", "dof rz rw"), TINY_AMC, "asf", "dof must list distinct"),
        ("unknown_child", _broken(TINY_ASF, "radius hand", "radius paw"), TINY_AMC, "asf",
         f":{_line_of(TINY_ASF, 'radius hand')}: :hierarchy names 'paw'"),
        ("unconnected", _broken(TINY_ASF, "radius hand", ""), TINY_AMC, "asf",
         "does not connect these bones to the root: hand"),
        ("unknown_bone", TINY_ASF, _broken(TINY_AMC, "radius 90", "ulna 90"), "amc",
         f":{_line_of(TINY_AMC, 'radius 90')}: bone 'ulna' is not in the skeleton tiny.asf"),
        ("too_many_values", TINY_ASF, _broken(TINY_AMC, "radius 90", "radius 90 5"), "amc",
         f":{_line_of(TINY_AMC, 'radius 90')}: bone 'radius' has 2 values, tiny.asf gives it 1 (rz)"),
        ("too_few_values", TINY_ASF, _broken(TINY_AMC, "root 1 2 3 0 0 0", "root 1 2 3 0 0"), "amc",
         "bone 'root' has 5 values, tiny.asf gives it 6 (TX TY TZ RX RY RZ)"),
        ("non_numeric", TINY_ASF, _broken(TINY_AMC, "hand 90", "hand ninety"), "amc",
         f":{_line_of(TINY_AMC, 'hand 90')}: value 'ninety' of bone 'hand' is not a number"),
        ("nan_value", TINY_ASF, _broken(TINY_AMC, "hand 90", "hand nan"), "amc",
         f":{_line_of(TINY_AMC, 'hand 90')}: bone 'hand' has a non-finite value"),
        ("no_frames", TINY_ASF, TINY_AMC.split("\n1\n")[0] + "\n", "amc", "no frames"),
        ("empty_amc", TINY_ASF, "", "amc", "empty AMC file"),
        ("lacking_bone", TINY_ASF, _broken(TINY_AMC, "hand 90\n", ""), "amc", ":4: frame 1 has no line for hand"),
        ("skipped_frame", TINY_ASF, _broken(TINY_AMC, "\n2\n", "\n3\n"), "amc", "frame 3 follows frame 1"),
        ("before_frame", TINY_ASF, _broken(TINY_AMC, ":DEGREES\n", ":DEGREES\nradius 4\n"), "amc",
         ":4: bone line before the first frame number"),
    ],
)
def test_malformed_files_raise_one_line_input_errors(tmp_path, case, asf, amc, bad_file, expected):
    amc_path, asf_path = _tiny(tmp_path, asf, amc)
    with pytest.raises(InputError) as e:
        load_asfamc(amc_path)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(str(asf_path if bad_file == "asf" else amc_path))
    assert expected in message


def test_missing_files_raise_input_errors(tmp_path):
    with pytest.raises(InputError, match=r"nope\.asf: no such ASF file"):
        read_asf(tmp_path / "nope.asf")
    (tmp_path / "08").mkdir()
    (tmp_path / "08" / "08_01.amc").write_text(TINY_AMC)
    with pytest.raises(InputError, match=r"08_01\.amc: no skeleton for it: expected .*08\.asf"):
        list_asfamc(tmp_path)
    with pytest.raises(InputError, match="not a directory"):
        list_asfamc(tmp_path / "nowhere")


def test_list_asfamc_pairs_trials_with_their_subject(tmp_path):
    (tmp_path / "07").mkdir()
    (tmp_path / "mocap" / "walk").mkdir(parents=True)
    _tiny(tmp_path / "07", subject="07", trial="07_01")
    (tmp_path / "07" / "07_02.AMC").write_text(TINY_AMC)
    _tiny(tmp_path / "mocap" / "walk", subject="actor", trial="walk")  # the folder's only .asf
    assert list_asfamc(tmp_path) == {
        "07_01": (tmp_path / "07" / "07_01.amc", tmp_path / "07" / "07.asf"),
        "07_02": (tmp_path / "07" / "07_02.AMC", tmp_path / "07" / "07.asf"),
        "walk": (tmp_path / "mocap" / "walk" / "walk.amc", tmp_path / "mocap" / "walk" / "actor.asf"),
    }
    assert asf_for(tmp_path / "07" / "07_02.AMC") == tmp_path / "07" / "07.asf"


def test_unknown_clip_lists_the_available_ones(tmp_path):
    (tmp_path / "07").mkdir()
    for trial in ("07_01", "07_02"):
        _tiny(tmp_path / "07", subject="07", trial=trial)
    cfg = MotionConfig(source="asfamc", path=str(tmp_path), clip="07_09")
    with pytest.raises(InputError, match=r"unknown asfamc clip '07_09' under .*; known: 07_01, 07_02$"):
        load_motion(cfg)


# -------------------------------------------------------------------------- config


def test_config_selects_the_source_and_loads_a_clip(cmu_asfamc_dir):
    overrides = ["motion=cmu_asfamc", f"motion.path={cmu_asfamc_dir}"]
    preview = typed(compose("preview", overrides), PreviewConfig)
    assert (preview.motion.source, preview.motion.clip, preview.motion.fps) == ("asfamc", "02_01", 30.0)
    clip = load_motion(preview.motion)
    assert clip.name == "02_01" and clip.num_frames == 343 and clip.fps == 120.0

    generate = typed(compose("generate", overrides), GenerateConfig)
    assert generate.motion.clip == "all" and len(list_clips(generate.motion)) == 56

    one_file = dataclasses.replace(preview.motion, path=str(cmu_asfamc_dir / "09" / "09_01.amc"), clip="")
    assert load_motion(one_file).num_frames == 148


def test_config_needs_a_path():
    with pytest.raises(InputError, match="motion=asfamc needs motion.path"):
        typed(compose("preview", ["motion=cmu_asfamc", "motion.path=''"]), PreviewConfig)


def test_motions_command_lists_the_clips(cmu_asfamc_dir, capsys):
    from synth.cli import main

    assert main(["motions", "motion=cmu_asfamc", f"motion.path={cmu_asfamc_dir}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 56 and out[0] == f"02_01\t{cmu_asfamc_dir / '02' / '02_01.amc'}"
