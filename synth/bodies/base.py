"""The body-model interface shared by every backend.

Contract (frames and units in :mod:`synth.conventions`):

``BodyModel.forward(pose, shape, global_orient, transl) -> BodyOutput``
    ``pose``          float ``[B, J-1, 3, 3]`` local rotations of skeleton joints 1..J-1
                      (world-aligned axes, identity = the backend's rest pose).
    ``shape``         float ``[B, S]`` backend shape vector (Anny phenotypes in [0, 1],
                      SMPL betas).
    ``global_orient`` float ``[B, 3, 3]`` world rotation of the root joint.
    ``transl``        float ``[B, 3]`` world position of the root joint, metres.
    Returns vertices ``[B, V, 3]`` and skeleton joints ``[B, J, 3]`` in metres, world
    frame; ``faces`` is a ``[F, 3]`` int64 buffer on the model. Everything is
    differentiable in torch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from synth.conventions import CANONICAL_JOINTS, EVAL_JOINTS, LIMB_KEYPOINTS, mirror_name


@dataclasses.dataclass(frozen=True)
class Skeleton:
    """Joint names, parents (parents precede children) and the canonical-name map."""

    names: tuple[str, ...]
    parents: tuple[int, ...]
    canonical: dict[str, int]

    def __post_init__(self) -> None:
        unknown = set(self.canonical) - set(CANONICAL_JOINTS)
        if unknown:
            raise ValueError(f"unknown canonical joint names: {sorted(unknown)}")
        missing = set(EVAL_JOINTS) - set(self.canonical)
        if missing:
            raise ValueError(f"skeleton lacks evaluation joints: {sorted(missing)}")

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def eval_index(self) -> list[int]:
        """Skeleton indices of the 14 evaluation joints, in EVAL_JOINTS order."""
        return [self.canonical[n] for n in EVAL_JOINTS]

    @property
    def limb_index(self) -> list[int]:
        """Skeleton indices of the 12 limb keypoints, in LIMB_KEYPOINTS order."""
        return [self.canonical[n] for n in LIMB_KEYPOINTS]

    def mirror_permutation(self) -> list[int]:
        """For each joint, the index of its left/right twin (itself on the midline).

        Uses the canonical map first, then the usual Left/Right, L/R and .L/.R spellings.
        """
        index = {n: i for i, n in enumerate(self.names)}
        by_canonical = {i: c for c, i in self.canonical.items()}
        perm = []
        for i, name in enumerate(self.names):
            if i in by_canonical and mirror_name(by_canonical[i]) in self.canonical:
                perm.append(self.canonical[mirror_name(by_canonical[i])])
                continue
            twin = _swap_side(name)
            perm.append(index.get(twin, i))
        return perm


def _swap_side(name: str) -> str:
    for a, b in (("Left", "Right"), ("left", "right"), ("L_", "R_"), ("l_", "r_")):
        if name.startswith(a):
            return b + name[len(a):]
        if name.startswith(b):
            return a + name[len(b):]
    for a, b in ((".L", ".R"), ("_l", "_r"), ("_L", "_R")):
        if name.endswith(a):
            return name[: -len(a)] + b
        if name.endswith(b):
            return name[: -len(b)] + a
    if len(name) > 1 and name[0] in "LR" and name[1].isupper():  # CMU: LHipJoint, RThumb
        return {"L": "R", "R": "L"}[name[0]] + name[1:]
    return name


@dataclasses.dataclass
class BodyOutput:
    """Posed body, world frame, metres."""

    vertices: torch.Tensor  # [B, V, 3]
    joints: torch.Tensor  # [B, J, 3] skeleton joints
    skeleton: Skeleton

    @property
    def eval_joints(self) -> torch.Tensor:
        """``[B, 14, 3]`` in EVAL_JOINTS order."""
        return self.joints[:, self.skeleton.eval_index]

    @property
    def limb_keypoints(self) -> torch.Tensor:
        """``[B, 12, 3]`` in LIMB_KEYPOINTS order."""
        return self.joints[:, self.skeleton.limb_index]


class BodyModel(torch.nn.Module):
    """Base class: subclasses set ``name``, ``skeleton``, ``shape_dim``, register ``faces``
    and implement :meth:`_forward`."""

    name: str
    skeleton: Skeleton
    shape_dim: int
    faces: torch.Tensor

    def forward(
        self,
        pose: torch.Tensor,
        shape: torch.Tensor,
        global_orient: torch.Tensor,
        transl: torch.Tensor,
    ) -> BodyOutput:
        b = pose.shape[0]
        j = self.skeleton.num_joints
        _check_shape("pose", pose, (b, j - 1, 3, 3))
        _check_shape("shape", shape, (b, self.shape_dim))
        _check_shape("global_orient", global_orient, (b, 3, 3))
        _check_shape("transl", transl, (b, 3))
        return self._forward(pose, shape, global_orient, transl)

    def _forward(self, pose, shape, global_orient, transl) -> BodyOutput:  # pragma: no cover
        raise NotImplementedError

    def joints(self, pose, shape, global_orient, transl) -> torch.Tensor:
        """Skeleton joints ``[B, J, 3]`` only (the arguments of :meth:`forward`): equal to
        ``forward(...).joints``, without posing the mesh where the backend can skip it
        (Anny: ~5x faster; what the training loss calls)."""
        b = pose.shape[0]
        _check_shape("pose", pose, (b, self.skeleton.num_joints - 1, 3, 3))
        _check_shape("shape", shape, (b, self.shape_dim))
        return self._joints(pose, shape, global_orient, transl)

    def _joints(self, pose, shape, global_orient, transl) -> torch.Tensor:
        return self._forward(pose, shape, global_orient, transl).joints

    # -- helpers shared by backends -------------------------------------------------------
    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def identity_pose(self, batch: int = 1) -> torch.Tensor:
        """``[B, J-1, 3, 3]`` identity rotations: the rest pose."""
        eye = torch.eye(3, dtype=self.dtype)
        return eye.expand(batch, self.skeleton.num_joints - 1, 3, 3).clone()

    def default_shape(self, batch: int = 1) -> torch.Tensor:
        raise NotImplementedError

    def sample_shape(self, rng: np.random.Generator, batch: int = 1) -> torch.Tensor:
        """``[B, S]`` body shapes drawn from the backend's shape distribution."""
        raise NotImplementedError

    def rest(self, shape: torch.Tensor) -> BodyOutput:
        """The rest pose at the origin (root joint at 0, identity orientation)."""
        b = shape.shape[0]
        eye = torch.eye(3, dtype=self.dtype).expand(b, 3, 3)
        return self(self.identity_pose(b), shape, eye, torch.zeros(b, 3, dtype=self.dtype))

    def vertex_joint(self) -> np.ndarray:
        """``[V]`` index of the skeleton joint that most influences each vertex."""
        raise NotImplementedError


def _check_shape(name: str, x: torch.Tensor, expected: tuple[int, ...]) -> None:
    if tuple(x.shape) != expected:
        raise ValueError(f"{name} must have shape {list(expected)}, got {list(x.shape)}")
