"""Motion clips on a *source* skeleton, as every motion loader returns them.

Contract (see :mod:`synth.conventions` for frames and units):

``MotionClip``
    ``rotations``      float32 ``[T, J, 3, 3]`` local joint rotations, world-aligned axes,
                       rest pose = identity for every joint (so the rest pose is whatever
                       ``offsets`` describe: T-pose for CMU, arms-down for DeepMimic).
    ``root_positions`` float32 ``[T, 3]`` root joint position, metres, world frame.
    ``offsets``        float32 ``[J, 3]`` rest offset of each joint from its parent, metres,
                       world frame (the root's offset is its rest position).
    ``parents``        ``J`` ints, -1 for the root, parents before children.
    ``canonical``      canonical joint name -> index into the skeleton, for retargeting.
    ``fps``            frames per second.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class MotionClip:
    name: str
    fps: float
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    rotations: np.ndarray
    root_positions: np.ndarray
    canonical: dict[str, int]
    source: str = ""

    def __post_init__(self) -> None:
        j = len(self.joint_names)
        t = self.rotations.shape[0]
        if self.rotations.shape != (t, j, 3, 3):
            raise ValueError(f"rotations must be [T, {j}, 3, 3], got {self.rotations.shape}")
        if self.root_positions.shape != (t, 3):
            raise ValueError(f"root_positions must be [{t}, 3], got {self.root_positions.shape}")
        if self.offsets.shape != (j, 3) or len(self.parents) != j:
            raise ValueError("offsets must be [J, 3] and parents length J")
        if any(p >= i for i, p in enumerate(self.parents)):
            raise ValueError("parents must precede children")
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    @property
    def num_frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def rest_positions(self) -> np.ndarray:
        """Rest-pose joint positions ``[J, 3]`` (metres, world frame)."""
        pos = np.zeros((len(self.parents), 3), np.float64)
        for i, p in enumerate(self.parents):
            pos[i] = self.offsets[i] if p < 0 else pos[p] + self.offsets[i]
        return pos

    def global_rotations(self) -> np.ndarray:
        """World rotations ``[T, J, 3, 3]`` by forward kinematics of the local rotations."""
        glob = np.empty_like(self.rotations)
        for i, p in enumerate(self.parents):
            glob[:, i] = self.rotations[:, i] if p < 0 else glob[:, p] @ self.rotations[:, i]
        return glob

    def joint_positions(self) -> np.ndarray:
        """World joint positions ``[T, J, 3]`` by forward kinematics (metres)."""
        glob = self.global_rotations()
        pos = np.empty((self.num_frames, len(self.parents), 3), np.float64)
        for i, p in enumerate(self.parents):
            if p < 0:
                pos[:, i] = self.root_positions
            else:
                pos[:, i] = pos[:, p] + glob[:, p] @ self.offsets[i]
        return pos

    def change_basis(self, basis: np.ndarray) -> "MotionClip":
        """Express the clip in another world frame: ``x_new = basis @ x_old``."""
        b = np.asarray(basis, np.float64)
        return dataclasses.replace(
            self,
            offsets=(self.offsets @ b.T).astype(np.float32),
            rotations=(b @ self.rotations @ b.T).astype(np.float32),
            root_positions=(self.root_positions @ b.T).astype(np.float32),
        )
