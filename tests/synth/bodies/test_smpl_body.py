"""SMPLBody, loaded through smplx from procedural stand-in model files.

No real SMPL files exist here (their licence forbids shipping them), so
:func:`stand_in_model` writes tiny SMPL / SMPL-H / SMPL-X format files with one rigid
octahedron per joint; the tests check the backend's conventions against that geometry.
"""

from __future__ import annotations

import math
import pickle
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("smplx")

from synth.bodies.smpl_body import SMPLBody  # noqa: E402
from synth.errors import InputError, MissingDependency  # noqa: E402
from synth.motion.smpl_skeleton import PARENTS  # noqa: E402

# Rough T-pose rest joints (metres; Y up, facing +Z, the body's left at +X), SMPL order.
_HALF = [  # (x, y, z) for the left side / midline; right joints mirror x
    (0.00, 0.90, 0.00),  # 0 pelvis
    (0.09, 0.82, 0.00),  # 1 left_hip
    None,  # 2 right_hip
    (0.00, 1.00, -0.01),  # 3 spine1
    (0.10, 0.48, 0.01),  # 4 left_knee
    None,  # 5 right_knee
    (0.00, 1.13, 0.00),  # 6 spine2
    (0.10, 0.08, -0.03),  # 7 left_ankle
    None,  # 8 right_ankle
    (0.00, 1.18, 0.01),  # 9 spine3
    (0.11, 0.02, 0.10),  # 10 left_foot
    None,  # 11 right_foot
    (0.00, 1.40, -0.01),  # 12 neck
    (0.08, 1.33, 0.00),  # 13 left_collar
    None,  # 14 right_collar
    (0.00, 1.50, 0.03),  # 15 head
    (0.18, 1.36, 0.00),  # 16 left_shoulder
    None,  # 17 right_shoulder
    (0.44, 1.36, -0.02),  # 18 left_elbow
    None,  # 19 right_elbow
    (0.69, 1.36, 0.00),  # 20 left_wrist
    None,  # 21 right_wrist
    (0.77, 1.36, 0.00),  # 22 left_hand
    None,  # 23 right_hand
]
REST_JOINTS = np.array(
    [p if p is not None else (-_HALF[i - 1][0], *_HALF[i - 1][1:]) for i, p in enumerate(_HALF)]
)
_OCTA = 0.015 * np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]])
_OCTA_FACES = np.array(
    [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]]
)
PER_JOINT = len(_OCTA)
NUM_BODY = 22


def _extra_joints(model_type: str) -> tuple[list[int], list[tuple[float, float, float]]]:
    """Parents and rest positions of the joints after the 22 body joints, in each model's
    order: SMPL's two hands; SMPL-H's 2 x 15 finger joints; SMPL-X's jaw and eyes, then
    the fingers."""
    if model_type == "smpl":
        return [20, 21], [tuple(REST_JOINTS[22]), tuple(REST_JOINTS[23])]
    parents, positions = [], []
    if model_type == "smplx":
        head = REST_JOINTS[15]
        parents += [15, 15, 15]
        jaw_and_eyes = ([0, -0.05, 0.05], [0.03, 0.03, 0.08], [-0.03, 0.03, 0.08])
        positions += [tuple(head + d) for d in jaw_and_eyes]
    for wrist, sign in ((20, 1.0), (21, -1.0)):  # left hand, then right hand
        for finger in range(5):
            for k in range(3):  # three phalanges per finger, each the child of the last
                parents.append(wrist if k == 0 else NUM_BODY + len(parents) - 1)
                positions.append(
                    tuple(REST_JOINTS[wrist] + [sign * 0.06 * (k + 1), 0.0, 0.02 * (finger - 2)])
                )
    return parents, positions


def stand_in_model(model_type: str = "smpl") -> dict:
    """A tiny SMPL-format model: a TEST STAND-IN, NOT SMPL (no SMPL data in it).

    Each joint gets a closed octahedron of 6 vertices (3 cm across) centred on a
    hand-placed T-pose joint, skinned one-hot to that joint; J_regressor averages the
    joint's own octahedron, so a posed joint is exactly the centroid of its cluster.
    shapedirs: beta 0 scales the body about the origin, the others move each cluster by a
    small seeded random offset. posedirs are zero. ``model_type`` picks SMPL's 24 joints,
    SMPL-H's 52 (an AMASS-style file without hand PCA) or SMPL-X's 55 (with the landmark
    and hand-PCA entries smplx reads, and 10 expression directions).
    """
    extra_parents, extra_positions = _extra_joints(model_type)
    rest = np.concatenate([REST_JOINTS[:NUM_BODY], np.array(extra_positions)])
    parents = list(PARENTS) + extra_parents
    n_joints = len(rest)
    v_template = (rest[:, None, :] + _OCTA[None]).reshape(-1, 3)
    cluster = np.repeat(np.arange(n_joints), PER_JOINT)
    faces = (_OCTA_FACES[None] + PER_JOINT * np.arange(n_joints)[:, None, None]).reshape(-1, 3)
    weights = np.eye(n_joints)[cluster]
    n_dirs = 20 if model_type == "smplx" else 10  # SMPL-X keeps expressions after betas
    rng = np.random.default_rng(0)
    shapedirs = np.zeros((len(v_template), 3, n_dirs))
    shapedirs[:, :, 0] = 0.05 * v_template
    shapedirs[:, :, 1:] = 0.01 * rng.standard_normal((n_joints, 3, n_dirs - 1))[cluster]
    data = {
        "v_template": v_template,
        "shapedirs": shapedirs,
        "posedirs": np.zeros((len(v_template), 3, 9 * (n_joints - 1))),
        "J_regressor": weights.T / PER_JOINT,
        "weights": weights,
        # Row 0 holds the parents, the root's as uint32 -1 like the official files.
        "kintree_table": np.array([[2**32 - 1, *parents[1:]], range(n_joints)], dtype=np.int64),
        "f": faces.astype(np.uint32),
    }
    if model_type == "smplx":
        data.update(
            lmk_faces_idx=np.zeros(1, dtype=np.int64),
            lmk_bary_coords=np.full((1, 3), 1 / 3),
            hands_componentsl=np.eye(45), hands_componentsr=np.eye(45),
            hands_meanl=np.zeros(45), hands_meanr=np.zeros(45),
        )  # fmt: skip
    return data


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    for model_type, prefix in (("smpl", "SMPL"), ("smplh", "SMPLH"), ("smplx", "SMPLX")):
        (root / model_type).mkdir()
        np.savez(root / model_type / f"{prefix}_NEUTRAL.npz", **stand_in_model(model_type))
    return root


@pytest.fixture(scope="module")
def body(model_dir):
    return SMPLBody(str(model_dir))


@pytest.fixture(scope="module", params=["smpl", "smplh", "smplx"])
def family_body(request, model_dir, body):
    return body if request.param == "smpl" else SMPLBody(str(model_dir), model_type=request.param)


def global_rotations(pose: torch.Tensor, orient: torch.Tensor) -> torch.Tensor:
    """``[B, 22, 3, 3]``: G_j = G_parent @ R_j (local-ref, synth.conventions)."""
    rot = [orient]
    for j in range(1, NUM_BODY):
        rot.append(rot[PARENTS[j]] @ pose[:, j - 1])
    return torch.stack(rot, dim=1)


def random_rotations(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniform random rotation matrices ``[*shape, 3, 3]`` (QR of a Gaussian, det +1)."""
    q, r = torch.linalg.qr(torch.randn(*shape, 3, 3, generator=gen, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))[..., None, :]
    return (q * torch.det(q)[..., None, None]).float()


def random_inputs(body, batch=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    pose = random_rotations(gen, batch, 21)
    shape = torch.randn(batch, body.shape_dim, generator=gen)
    orient = random_rotations(gen, batch)
    transl = torch.randn(batch, 3, generator=gen)
    return pose, shape, orient, transl


def rot_y(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def test_loads_through_smplx_with_the_right_shapes(body):
    out = body(*random_inputs(body, batch=2))
    assert body.name == "smpl" and body.shape_dim == 10
    assert out.vertices.shape == (2, 24 * PER_JOINT, 3)
    assert out.joints.shape == (2, 22, 3)
    assert body.faces.dtype == torch.int64 and body.faces.shape == (24 * 8, 3)
    assert body.skeleton.num_joints == 22


def test_other_model_types_load_with_their_own_skeletons(model_dir):
    for model_type, n_joints in (("smplh", 52), ("smplx", 55)):
        body = SMPLBody(str(model_dir), model_type=model_type)
        out = body(*random_inputs(body, batch=2))
        assert out.vertices.shape == (2, n_joints * PER_JOINT, 3)
        assert out.joints.shape == (2, 22, 3) and body.shape_dim == 10


def test_posed_joints_are_their_cluster_centroids(family_body):
    out = family_body(*random_inputs(family_body, batch=4, seed=1))
    centroids = out.vertices.reshape(4, -1, PER_JOINT, 3).mean(dim=2)[:, :NUM_BODY]
    torch.testing.assert_close(out.joints, centroids, atol=1e-4, rtol=0)


def test_joints_follow_local_ref_forward_kinematics(family_body):
    body = family_body
    pose, shape, orient, transl = random_inputs(body, batch=2, seed=2)
    out = body(pose, shape, orient, transl)
    rest = torch.as_tensor(np.stack([body.rest_joints(b) for b in shape.numpy()])).float()
    rot = global_rotations(pose, orient)
    for j in range(1, NUM_BODY):
        p = PARENTS[j]
        bone = (rot[:, p] @ (rest[:, j] - rest[:, p])[..., None])[..., 0]
        torch.testing.assert_close(out.joints[:, j] - out.joints[:, p], bone, atol=1e-5, rtol=0)


def test_every_vertex_moves_rigidly_with_its_body_joint(family_body):
    """Hand, finger, jaw and eye joints stay at rest, so with one-hot skinning every vertex
    follows the body joint vertex_joint() names (fingers -> wrists, face -> head)."""
    body = family_body
    pose, shape, orient, transl = random_inputs(body, batch=2, seed=6)
    out, rest = body(pose, shape, orient, transl), body.rest(shape)
    vj = torch.as_tensor(body.vertex_joint())
    offset = (rest.vertices - rest.joints[:, vj])[..., None]
    expected = out.joints[:, vj] + (global_rotations(pose, orient)[:, vj] @ offset)[..., 0]
    torch.testing.assert_close(out.vertices, expected, atol=1e-5, rtol=0)


def test_root_joint_is_transl_exactly(family_body):
    pose, shape, orient, transl = random_inputs(family_body, batch=5, seed=3)
    out = family_body(pose, shape, orient, transl)
    assert torch.equal(out.joints[:, 0], transl)


def test_global_orient_turns_left_hip_from_plus_x_to_minus_z(body):
    shape = body.default_shape(1)
    rest = body.rest(shape).joints[0]
    quarter_turn = rot_y(math.pi / 2)[None]
    turned = body(body.identity_pose(1), shape, quarter_turn, torch.zeros(1, 3)).joints[0]
    assert (rest[1] - rest[0])[0] > 0.05  # left hip on +X at rest
    hip = turned[1] - turned[0]
    assert hip[2] < -0.05 and abs(float(hip[0])) < 1e-5


def test_eval_joints_and_limb_keypoints_pick_smpl_joints(body):
    out = body(*random_inputs(body, batch=2, seed=4))
    assert out.eval_joints.shape == (2, 14, 3)
    assert out.limb_keypoints.shape == (2, 12, 3)
    assert torch.equal(out.eval_joints[:, 0], out.joints[:, 8])  # r_ankle
    assert torch.equal(out.eval_joints[:, 12], out.joints[:, 12])  # neck
    assert torch.equal(out.eval_joints[:, 13], out.joints[:, 15])  # head
    assert torch.equal(out.limb_keypoints[:, 6], out.joints[:, 21])  # r_wrist


def test_gradients_reach_pose_and_shape(body):
    pose, shape, orient, transl = random_inputs(body, batch=2, seed=5)
    pose.requires_grad_(True)
    shape.requires_grad_(True)
    out = body(pose, shape, orient, transl)
    weight = torch.randn(out.vertices.shape, generator=torch.Generator().manual_seed(0))
    (out.vertices * weight).sum().backward()
    assert pose.grad is not None and pose.grad.abs().sum() > 0
    assert shape.grad is not None and shape.grad.abs().sum() > 0


def test_shapes_rest_joints_and_vertex_joint(body):
    rng = np.random.default_rng(0)
    betas = body.sample_shape(rng, batch=500)
    assert betas.dtype == torch.float32 and betas.shape == (500, 10)
    assert betas.abs().max() <= 2.5 and 0.8 < betas.std() < 1.2
    assert torch.equal(body.default_shape(2), torch.zeros(2, 10))
    np.testing.assert_allclose(body.rest_joints(np.zeros(16)), REST_JOINTS[:22], atol=1e-6)
    vj = body.vertex_joint()
    cluster = np.repeat(np.arange(24), PER_JOINT)
    expected = np.where(cluster == 22, 20, np.where(cluster == 23, 21, cluster))  # hands -> wrists
    np.testing.assert_array_equal(vj, expected)


def test_loads_pkl_and_a_direct_file_path(tmp_path):
    path = tmp_path / "my_smpl.pkl"
    path.write_bytes(pickle.dumps(stand_in_model()))
    body = SMPLBody(str(path))
    assert body.rest(body.default_shape(1)).joints.shape == (1, 22, 3)


# -- errors --------------------------------------------------------------------------------


def _assert_one_line_naming(err: pytest.ExceptionInfo, *words: str) -> None:
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_missing_folder_names_the_expected_file(tmp_path):
    with pytest.raises(InputError) as err:
        SMPLBody(str(tmp_path / "nowhere"))
    _assert_one_line_naming(err, "smpl/SMPL_NEUTRAL.npz", "smpl.is.tue.mpg.de", "body.model_path=")


def test_missing_file_names_the_expected_file(tmp_path):
    (tmp_path / "smpl").mkdir()
    with pytest.raises(InputError) as err:
        SMPLBody(str(tmp_path), gender="female")
    _assert_one_line_naming(err, "SMPL_FEMALE")


def test_corrupt_file_is_an_input_error(tmp_path):
    (tmp_path / "smpl").mkdir()
    (tmp_path / "smpl" / "SMPL_NEUTRAL.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(InputError) as err:
        SMPLBody(str(tmp_path))
    _assert_one_line_naming(err, "SMPL_NEUTRAL.npz")


def test_npz_missing_keys_is_an_input_error(tmp_path):
    data = stand_in_model()
    del data["J_regressor"]
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **data)
    with pytest.raises(InputError) as err:
        SMPLBody(str(tmp_path))
    _assert_one_line_naming(err, "J_regressor")


def test_chumpy_pickle_explains_the_npz_conversion(tmp_path):
    (tmp_path / "smpl").mkdir()
    # A pickle that refers to chumpy, as the official .pkl files do.
    (tmp_path / "smpl" / "SMPL_NEUTRAL.pkl").write_bytes(b"cchumpy.ch\nCh\n.")
    with pytest.raises(InputError) as err:
        SMPLBody(str(tmp_path))
    _assert_one_line_naming(err, "chumpy", ".npz", "smpl_body.py")


def test_unknown_model_type_and_gender(model_dir):
    with pytest.raises(InputError, match="model_type"):
        SMPLBody(str(model_dir), model_type="mano")
    with pytest.raises(InputError, match="gender"):
        SMPLBody(str(model_dir), gender="other")


def test_missing_smplx_is_a_missing_dependency(model_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "smplx", None)
    with pytest.raises(MissingDependency, match="smplx"):
        SMPLBody(str(model_dir))
