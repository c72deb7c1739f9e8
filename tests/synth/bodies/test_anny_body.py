import numpy as np
import pytest
import roma
import torch

from synth.conventions import EVAL_JOINTS, LIMB_KEYPOINTS


def _random_pose(body, batch, rng, scale=0.5):
    rv = torch.as_tensor(rng.normal(0, scale, (batch, body.skeleton.num_joints - 1, 3)), dtype=torch.float32)
    return roma.rotvec_to_rotmat(rv)


def test_rest_pose_frame(anny_body):
    out = anny_body.rest(anny_body.default_shape(1))
    j = out.joints[0]
    c = anny_body.skeleton.canonical
    assert torch.allclose(j[c["pelvis"]], torch.zeros(3))
    assert j[c["head"], 1] > 0.5 and j[c["l_ankle"], 1] < -0.7  # Y up
    assert j[c["l_hip"], 0] > 0.05 and j[c["r_hip"], 0] < -0.05  # left = +X
    assert j[c["l_toe"], 2] > j[c["l_ankle"], 2] + 0.05  # faces +Z: toes point forward
    height = out.vertices[0, :, 1].max() - out.vertices[0, :, 1].min()
    assert 1.5 < height < 1.9  # metres


def test_joints_agree_with_mesh(anny_body, rng):
    """Skeleton joints ride with the skinned mesh: under random poses, the 14 evaluation
    joints stay where Anny's own mesh-regressed COCO keypoints put them."""
    import anny

    coco = anny.KeypointsRegressor.coco(anny_body.model)
    names = {"l_knee": "left_knee", "r_knee": "right_knee", "l_ankle": "left_ankle",
             "r_ankle": "right_ankle", "l_elbow": "left_elbow", "r_elbow": "right_elbow",
             "l_wrist": "left_wrist", "r_wrist": "right_wrist"}  # fmt: skip
    b = 6
    go = roma.rotvec_to_rotmat(torch.as_tensor(rng.normal(0, 1, (b, 3)), dtype=torch.float32))
    out = anny_body(_random_pose(anny_body, b, rng, 0.3), anny_body.sample_shape(rng, b), go, torch.randn(b, 3))
    kp = coco({"vertices": out.vertices})  # linear in vertices, so frame-independent
    for ours, theirs in names.items():
        d = (out.joints[:, anny_body.skeleton.canonical[ours]] - kp[:, coco.labels.index(theirs)]).norm(dim=-1)
        assert d.max() < 0.06, (ours, d)
    # Every evaluation joint lies inside the body: a vertex within 12 cm.
    dist = torch.cdist(out.eval_joints, out.vertices).min(dim=-1).values
    assert dist.max() < 0.12


def test_eval_and_limb_maps(anny_body):
    sk = anny_body.skeleton
    assert [sk.names[i] for i in sk.eval_index] == [
        "RightFoot", "RightLeg", "RightUpLeg", "LeftUpLeg", "LeftLeg", "LeftFoot",
        "RightHand", "RightForeArm", "RightArm", "LeftArm", "LeftForeArm", "LeftHand", "Neck", "Head",
    ]  # fmt: skip
    assert sk.limb_index == sk.eval_index[:12]
    assert len(EVAL_JOINTS) == 14 and len(LIMB_KEYPOINTS) == 12
    out = anny_body.rest(anny_body.default_shape(2))
    assert out.eval_joints.shape == (2, 14, 3) and out.limb_keypoints.shape == (2, 12, 3)


def test_global_orient_and_transl(anny_body):
    s = anny_body.default_shape(1)
    turn = roma.rotvec_to_rotmat(torch.tensor([[0.0, np.pi / 2, 0.0]]))
    out = anny_body(anny_body.identity_pose(1), s, turn, torch.tensor([[1.0, 2.0, 3.0]]))
    c = anny_body.skeleton.canonical
    assert torch.allclose(out.joints[0, c["pelvis"]], torch.tensor([1.0, 2.0, 3.0]), atol=1e-5)
    lhip = out.joints[0, c["l_hip"]] - out.joints[0, c["pelvis"]]
    assert lhip[2] < -0.08 and abs(lhip[0]) < 0.02  # +X turned to -Z


def test_knee_flexion_moves_heel_back(anny_body):
    pose = anny_body.identity_pose(1)
    k = anny_body.skeleton.canonical["l_knee"]
    pose[0, k - 1] = roma.rotvec_to_rotmat(torch.tensor([np.pi / 2, 0.0, 0.0]))
    out = anny_body(pose, anny_body.default_shape(1), torch.eye(3)[None], torch.zeros(1, 3))
    c = anny_body.skeleton.canonical
    shin = out.joints[0, c["l_ankle"]] - out.joints[0, c["l_knee"]]
    assert shin[2] < -0.35 and abs(shin[1]) < 0.1


def test_differentiable(anny_body, rng):
    pose = _random_pose(anny_body, 2, rng, 0.2).requires_grad_(True)
    shape = anny_body.sample_shape(rng, 2).requires_grad_(True)
    out = anny_body(pose, shape, torch.eye(3).expand(2, 3, 3), torch.zeros(2, 3))
    (out.vertices.square().sum() + out.joints.sum()).backward()
    assert pose.grad.abs().sum() > 0 and shape.grad.abs().sum() > 0


def test_shape_changes_body(anny_body, rng):
    shapes = anny_body.sample_shape(rng, 8)
    assert ((shapes >= 0) & (shapes <= 1)).all()
    out = anny_body.rest(shapes)
    heights = out.vertices[..., 1].max(1).values - out.vertices[..., 1].min(1).values
    assert heights.max() - heights.min() > 0.1


def test_mirror_permutation(anny_body):
    sk = anny_body.skeleton
    perm = sk.mirror_permutation()
    assert sorted(perm) == list(range(sk.num_joints)) and all(perm[p] == i for i, p in enumerate(perm))
    rest = anny_body.rest(anny_body.default_shape(1)).joints[0]
    mirrored = rest[perm] * torch.tensor([-1.0, 1.0, 1.0])
    assert torch.allclose(mirrored, rest, atol=0.01)  # Anny's rest skeleton is symmetric


def test_bad_shapes_rejected(anny_body):
    with pytest.raises(ValueError, match="pose must have shape"):
        anny_body(torch.eye(3).expand(1, 5, 3, 3), anny_body.default_shape(1), torch.eye(3)[None], torch.zeros(1, 3))
