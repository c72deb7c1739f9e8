"""AMASS loader: axes, the pelvis placement, SMPL forward kinematics, and bad files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from synth.errors import InputError
from synth.motion import smpl_skeleton
from synth.motion.amass import AMASS_TO_SUITE, load_amass

#: A plausible SMPL rest skeleton in SMPL model coordinates (Y up, facing +Z, left +X).
#: Like the real model, the pelvis is not at the origin: that catches a loader that
#: forgets SMPL's pelvis is J_0 + trans.
REST_JOINTS = np.array([
    [0.00, -0.22, 0.03],   # pelvis
    [0.07, -0.31, 0.02],   # left_hip
    [-0.07, -0.31, 0.02],  # right_hip
    [0.00, -0.11, 0.01],   # spine1
    [0.11, -0.69, 0.03],   # left_knee (0.38 m below the hip)
    [-0.11, -0.69, 0.03],  # right_knee
    [0.00, 0.03, 0.03],    # spine2
    [0.09, -1.09, -0.01],  # left_ankle (0.4 m below the knee)
    [-0.09, -1.09, -0.01], # right_ankle
    [0.00, 0.08, 0.03],    # spine3
    [0.12, -1.15, 0.11],   # left_foot
    [-0.12, -1.15, 0.11],  # right_foot
    [0.00, 0.29, 0.00],    # neck
    [0.08, 0.20, 0.00],    # left_collar
    [-0.08, 0.20, 0.00],   # right_collar
    [0.00, 0.38, 0.05],    # head
    [0.17, 0.23, -0.01],   # left_shoulder
    [-0.17, 0.23, -0.01],  # right_shoulder
    [0.43, 0.21, -0.03],   # left_elbow
    [-0.43, 0.21, -0.03],  # right_elbow
    [0.68, 0.22, -0.03],   # left_wrist
    [-0.68, 0.22, -0.03],  # right_wrist
])  # fmt: skip


class StandInBody:
    """Stands in for the SMPL backend: fixed rest joints, records the betas it got."""

    def __init__(self):
        self.betas = None

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        self.betas = np.array(betas)
        return REST_JOINTS.copy()


#: AMASS root orientation of a person standing upright: SMPL's +Y turned to AMASS +Z.
STAND_UP = np.array([np.pi / 2, 0.0, 0.0])


def write_npz(tmp_path, *, frames=4, root=STAND_UP, trans=None, body_pose=None, name="clip.npz",
              drop=(), **overrides):
    poses = np.zeros((frames, 156))
    poses[:, :3] = root
    if body_pose is not None:
        poses[:, 3:66] = body_pose.reshape(frames, 63)
    data = {
        "poses": poses,
        "trans": np.zeros((frames, 3)) if trans is None else trans,
        "betas": np.linspace(-1, 1, 16),
        "mocap_framerate": np.array(60.0),
        "gender": np.array("female"),
    }
    data.update(overrides)
    for key in drop:
        del data[key]
    path = tmp_path / name
    np.savez(path, **data)
    return path


def rotmats(poses):
    """``[T, 22, 3, 3]`` body rotations of AMASS poses, by scipy (independent of the loader)."""
    return Rotation.from_rotvec(poses[:, :66].reshape(-1, 3)).as_matrix().reshape(-1, 22, 3, 3)


def smpl_fk_in_amass(poses, trans, rest):
    """SMPL joints in AMASS world axes, the way AMASS was made: the root turns about J_0."""
    rot = rotmats(poses)
    glob = np.empty_like(rot)
    pos = np.empty((len(poses), 22, 3))
    for j, p in enumerate(smpl_skeleton.PARENTS):
        if p < 0:
            glob[:, j], pos[:, j] = rot[:, j], rest[j] + trans
        else:
            glob[:, j] = glob[:, p] @ rot[:, j]
            pos[:, j] = pos[:, p] + glob[:, p] @ (rest[j] - rest[p])
    return pos


def test_standing_clip_shapes_fps_and_axes(tmp_path):
    frames = 5
    trans = np.zeros((frames, 3))
    trans[:, 1] = 0.1 * np.arange(frames)  # walking along AMASS +Y ...
    trans[:, 2] = 0.9
    body = StandInBody()
    clip = load_amass(write_npz(tmp_path, frames=frames, trans=trans), body)

    assert clip.name == "clip" and clip.source.endswith("clip.npz")
    assert clip.fps == 60.0 and clip.num_frames == frames
    assert clip.rotations.shape == (frames, 22, 3, 3) and clip.rotations.dtype == np.float32
    assert clip.joint_names == smpl_skeleton.NAMES and clip.parents == smpl_skeleton.PARENTS
    assert clip.canonical == smpl_skeleton.CANONICAL
    np.testing.assert_allclose(body.betas, np.linspace(-1, 1, 16))

    # ... is walking along suite -Z; AMASS up (+Z) is suite up (+Y).
    step = np.diff(clip.root_positions, axis=0)
    np.testing.assert_allclose(step, np.tile([0.0, 0.0, -0.1], (frames - 1, 1)), atol=1e-6)
    # The pelvis is trans + J_0, mapped (x, y, z) -> (x, z, -y).
    j0 = REST_JOINTS[0]
    np.testing.assert_allclose(clip.root_positions[0], [j0[0], 0.9 + j0[2], -j0[1]], atol=1e-6)

    # Standing upright in AMASS is the identity in the suite frame: the rest pose is
    # SMPL's own, upright and facing +Z, and the joints are the rest joints moved.
    eye = np.broadcast_to(np.eye(3), clip.rotations.shape)
    np.testing.assert_allclose(clip.rotations, eye, atol=1e-6)
    rest = clip.rest_positions()
    np.testing.assert_allclose(rest - rest[0], REST_JOINTS - j0, atol=1e-6)
    pos = clip.joint_positions()
    moved = np.broadcast_to(REST_JOINTS - j0, pos.shape)
    np.testing.assert_allclose(pos - pos[:, :1], moved, atol=1e-6)
    k = clip.canonical
    assert (pos[:, k["head"], 1] > pos[:, k["pelvis"], 1] + 0.5).all()
    assert (pos[:, k["l_hip"], 0] > pos[:, k["r_hip"], 0]).all()


def test_turn_about_amass_z_is_a_turn_about_suite_y(tmp_path):
    # Rz(90) @ Rx(90) maps x->y, y->z, z->x: 120 degrees about (1, 1, 1).
    turned = np.full(3, 2 * np.pi / 3 / np.sqrt(3))
    np.testing.assert_allclose(
        Rotation.from_rotvec(turned).as_matrix(),
        Rotation.from_euler("ZX", [90, 90], degrees=True).as_matrix(),  # intrinsic: Rz @ Rx
        atol=1e-12,
    )
    clip = load_amass(write_npz(tmp_path, root=turned), StandInBody())
    ry90 = Rotation.from_euler("y", 90, degrees=True).as_matrix()
    np.testing.assert_allclose(clip.rotations[:, 0], np.broadcast_to(ry90, (4, 3, 3)), atol=1e-6)
    # Facing +Z turned by +90 degrees about Y faces +X: the toes lie at +X of the ankles.
    pos = clip.joint_positions()[0]
    k = clip.canonical
    assert pos[k["l_toe"], 0] - pos[k["l_ankle"], 0] > 0.1


def test_forward_kinematics_match_smpl_in_amass_axes(tmp_path):
    rng = np.random.default_rng(0)
    frames = 6
    root = STAND_UP + rng.normal(0, 0.3, (frames, 3))
    body_pose = rng.normal(0, 0.4, (frames, 21, 3))
    trans = rng.normal(0, 1.0, (frames, 3))
    path = write_npz(tmp_path, frames=frames, root=root, trans=trans, body_pose=body_pose)
    clip = load_amass(path, StandInBody())

    poses = np.load(path)["poses"]
    expected = smpl_fk_in_amass(poses, trans, REST_JOINTS) @ AMASS_TO_SUITE.T
    np.testing.assert_allclose(clip.joint_positions(), expected, atol=1e-5)
    # The body rotations are SMPL's pose parameters, unchanged; the root is in suite axes.
    file_rot = rotmats(poses)
    np.testing.assert_allclose(clip.rotations[:, 1:], file_rot[:, 1:], atol=1e-6)
    np.testing.assert_allclose(clip.rotations[:, 0], AMASS_TO_SUITE @ file_rot[:, 0], atol=1e-6)


def test_hand_joints_are_ignored_and_other_layouts_load(tmp_path):
    plain = load_amass(write_npz(tmp_path, name="plain.npz"), StandInBody())
    hands = np.zeros((4, 156))
    hands[:, :3] = STAND_UP
    hands[:, 66:] = 0.7
    with_hands = load_amass(write_npz(tmp_path, name="hands.npz", poses=hands), StandInBody())
    np.testing.assert_array_equal(with_hands.rotations, plain.rotations)

    smplx = np.zeros((4, 165))  # SMPL-X layout: the same 22 body joints first
    other = write_npz(tmp_path, name="x.npz", poses=smplx, drop=("mocap_framerate",),
                      mocap_frame_rate=np.array(120.0))
    clip = load_amass(other, StandInBody(), name="renamed")
    assert clip.fps == 120.0 and clip.name == "renamed" and clip.num_frames == 4


@pytest.mark.parametrize(
    "case, kwargs, expected",
    [
        ("no_trans", {"drop": ("trans",)}, "missing trans"),
        ("no_rate", {"drop": ("mocap_framerate",)}, "missing mocap_framerate or mocap_frame_rate"),
        ("no_poses_betas", {"drop": ("poses", "betas")}, "missing poses, betas"),
        ("few_joints", {"poses": np.zeros((4, 60))}, "poses must be [T, 3K]"),
        ("flat_poses", {"poses": np.zeros(156)}, "poses must be [T, 3K]"),
        ("no_frames", {"poses": np.zeros((0, 156)), "trans": np.zeros((0, 3))}, "T >= 1"),
        ("short_trans", {"trans": np.zeros((3, 3))}, "trans must be [4, 3]"),
        ("nan_poses", {"poses": np.full((4, 156), np.nan)}, "'poses' holds NaN"),
        ("text_poses", {"poses": np.array(["a", "b"])}, "cannot read 'poses' as numbers"),
        ("zero_rate", {"mocap_framerate": np.array(0.0)}, "must be one positive number"),
    ],
)
def test_bad_contents_raise_one_line_input_errors(tmp_path, case, kwargs, expected):
    path = write_npz(tmp_path, name=f"{case}.npz", **kwargs)
    with pytest.raises(InputError) as e:
        load_amass(path, StandInBody())
    message = str(e.value)
    assert f"{case}.npz" in message and "\n" not in message
    assert expected in message


def test_unreadable_files_raise_input_errors(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive\n" * 10)
    single = tmp_path / "single.npy"
    np.save(single, np.zeros((4, 156)))
    cases = {
        tmp_path / "missing.npz": "no such AMASS file",
        garbage: "cannot read",
        single: "not an AMASS .npz archive",
    }
    for path, expected in cases.items():
        with pytest.raises(InputError) as e:
            load_amass(path, StandInBody())
        message = str(e.value)
        assert path.name in message and expected in message and "\n" not in message
