"""HMR's iterative error feedback (IEF) regressor (Kanazawa et al. 2018) and its mean start.

Parameter vector ``theta`` (length ``J*6 + shape_dim + 3``), in this order:

``rot6d``  ``[J, 3, 2]`` flattened: the first two columns of each rotation matrix (Zhou et al.
           2019's continuous 6D representation); joint 0 is the global orientation in the
           OpenCV camera frame, joints 1..J-1 the body model's local pose.
``shape``  ``[shape_dim]`` body-model shape (Anny phenotypes, SMPL betas).
``cam``    ``[3]`` weak perspective ``(s, tx, ty)``: normalised crop coordinates
           ``u = s * (X + tx)``, ``v = s * (Y + ty)``, with u, v in [-1, 1] across the 224 crop.

Contract
    ``IEFRegressor(feat_dim, mean, ...)(features [N, feat_dim]) -> theta [N, P]`` and
    ``.split(theta) -> (rotmat [N, J, 3, 3], shape [N, shape_dim], cam [N, 3])``.
    Each of ``iterations`` steps feeds ``concat(features, theta)`` through two 1024-unit FC
    layers with dropout and adds the predicted correction to ``theta``, starting from
    :class:`MeanParams`. The last layer starts near zero, so an untrained head predicts the mean.
"""

from __future__ import annotations

import dataclasses
import itertools

import roma
import torch
from torch import nn

from synth.errors import InputError

#: Global orientation of an upright person facing the camera, in the OpenCV camera frame:
#: world Y-up becomes camera -y (image up), the body's +Z facing becomes -z (towards the
#: camera), and the person's left (+X) lands on the image's right.
FACING_CAMERA = torch.diag(torch.tensor([1.0, -1.0, -1.0]))
#: Mean weak-perspective scale used when no body is at hand: a standing ~1.4 m keypoint
#: extent (ankle to head joint) drawn ~150 px tall in the 224 crop (synth.crops.PERSON_PX).
DEFAULT_CAM_SCALE = 0.9


@dataclasses.dataclass(frozen=True, eq=False)
class MeanParams:
    """Where IEF starts: ``rotmat`` ``[J, 3, 3]``, ``shape`` ``[shape_dim]``, ``cam`` ``[3]``."""

    rotmat: torch.Tensor
    shape: torch.Tensor
    cam: torch.Tensor

    def __post_init__(self) -> None:
        rot = torch.as_tensor(self.rotmat, dtype=torch.float32)
        if rot.ndim != 3 or rot.shape[1:] != (3, 3) or rot.shape[0] < 1:
            raise InputError(f"MeanParams.rotmat must be [J, 3, 3], got {list(rot.shape)}")
        eye = torch.eye(3).expand_as(rot)
        if not torch.allclose(rot @ rot.transpose(-1, -2), eye, atol=1e-4) or (torch.linalg.det(rot) < 0).any():
            raise InputError("MeanParams.rotmat must hold rotation matrices (orthonormal, det +1)")
        shape = torch.as_tensor(self.shape, dtype=torch.float32).reshape(-1)
        cam = torch.as_tensor(self.cam, dtype=torch.float32).reshape(-1)
        if cam.shape != (3,) or not cam[0] > 0:
            raise InputError(f"MeanParams.cam must be (s > 0, tx, ty), got {cam.tolist()}")
        object.__setattr__(self, "rotmat", rot)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "cam", cam)

    @property
    def n_rotations(self) -> int:
        return int(self.rotmat.shape[0])

    @property
    def shape_dim(self) -> int:
        return int(self.shape.shape[0])

    def vector(self) -> torch.Tensor:
        """``theta`` of the mean, ``[J*6 + shape_dim + 3]`` (layout in the module docstring)."""
        return torch.cat([self.rotmat[..., :2].reshape(-1), self.shape, self.cam])

    @classmethod
    def default(cls, n_rotations: int, shape: torch.Tensor, cam_scale: float = DEFAULT_CAM_SCALE) -> MeanParams:
        """Rest pose (identity local rotations) facing the camera, ``shape``, centred camera."""
        rot = torch.eye(3).repeat(n_rotations, 1, 1)
        rot[0] = FACING_CAMERA
        return cls(rot, torch.as_tensor(shape).reshape(-1), torch.tensor([cam_scale, 0.0, 0.0]))

    @classmethod
    def for_body(cls, body, pose: torch.Tensor | None = None) -> MeanParams:
        """The default for a :class:`synth.bodies.BodyModel`: its default shape facing the
        camera in the rest pose, or in ``pose`` ``[J-1, 3, 3]`` (local rotations, e.g.
        :func:`mean_pose` of the training data, HMR's start), with the camera that frames its
        14 evaluation joints the way the data's crops do (centred, the longer side
        ``PERSON_PX`` = 150 of 224 px)."""
        from synth.crops import CROP, PERSON_PX

        mean = cls.default(body.skeleton.num_joints, body.default_shape(1)[0])
        if pose is not None:
            rot = mean.rotmat.clone()
            rot[1:] = torch.as_tensor(pose, dtype=torch.float32).reshape(-1, 3, 3)
            mean = cls(rot, mean.shape, mean.cam)
        device = next(itertools.chain(body.parameters(), body.buffers()), torch.empty(0)).device
        rot, shape = mean.rotmat.to(device), mean.shape.to(device)
        with torch.no_grad():
            out = body(rot[None, 1:], shape[None], rot[None, 0], torch.zeros(1, 3, device=device))
        out = out.eval_joints[0, :, :2].cpu()
        lo, hi = out.min(0).values, out.max(0).values
        s = (PERSON_PX / (CROP / 2)) / float((hi - lo).max())
        centre = 0.5 * (lo + hi)
        return cls(mean.rotmat, mean.shape, torch.tensor([s, -float(centre[0]), -float(centre[1])]))


def mean_pose(poses: torch.Tensor) -> torch.Tensor:
    """Per-joint mean rotation ``[P, 3, 3]`` of local poses ``[N, P, 3, 3]``: the rotation
    nearest (Frobenius) to the arithmetic mean of the matrices (the chordal L2 mean, Hartley
    et al. 2013), via ``roma.special_procrustes``."""
    poses = torch.as_tensor(poses, dtype=torch.float64)
    return roma.special_procrustes(poses.mean(0)).float()


class IEFRegressor(nn.Module):
    """Iterative error feedback from per-step features to body parameters (see module doc)."""

    def __init__(self, feat_dim: int, mean: MeanParams, hidden: int = 1024, iterations: int = 3, dropout: float = 0.5):
        super().__init__()
        self.n_rotations = mean.n_rotations
        self.shape_dim = mean.shape_dim
        self.iterations = iterations
        self.register_buffer("mean", mean.vector())
        n_params = self.mean.numel()
        self.fc1 = nn.Linear(feat_dim + n_params, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.drop = nn.Dropout(dropout)
        self.relu = nn.ReLU()
        self.decoder = nn.Linear(hidden, n_params)
        # HMR: small Xavier (gain 0.01) on the output so the first prediction is ~ the mean
        nn.init.xavier_uniform_(self.decoder.weight, gain=0.01)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        theta = self.mean.to(features.dtype).expand(features.shape[0], -1)
        for _ in range(self.iterations):
            x = torch.cat([features, theta], dim=-1)
            x = self.drop(self.relu(self.fc1(x)))
            x = self.drop(self.relu(self.fc2(x)))
            theta = theta + self.decoder(x)
        return theta

    def split(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``theta [N, P]`` -> rotmat ``[N, J, 3, 3]``, shape ``[N, shape_dim]``, cam ``[N, 3]``."""
        j6 = 6 * self.n_rotations
        rot6d = theta[:, :j6].reshape(-1, self.n_rotations, 3, 2)
        # epsilon guards the normalisation against a (measure-zero) collapsed 6D vector
        rotmat = roma.special_gramschmidt(rot6d, epsilon=1e-8)
        return rotmat, theta[:, j6 : j6 + self.shape_dim], theta[:, j6 + self.shape_dim :]


class Head(nn.Module):
    """One prediction head (current or future frame): FC ``hidden`` + ReLU on the temporal
    features, then its own :class:`IEFRegressor`. ``[N, in_dim]`` -> (rotmat, shape, cam)."""

    def __init__(self, in_dim: int, mean: MeanParams, hidden: int, iterations: int, dropout: float):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU())
        self.regressor = IEFRegressor(hidden, mean, hidden, iterations, dropout)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.regressor.split(self.regressor(self.fc(x)))
