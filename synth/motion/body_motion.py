"""A motion on a body's own skeleton, ready for :class:`synth.bodies.base.BodyModel`.

Contract: ``pose [T, J-1, 3, 3]``, ``global_orient [T, 3, 3]``, ``transl [T, 3]`` (root
joint position, metres, world frame with the ground at y = 0), ``shape [S]`` the body
shape it was retargeted for, ``fps``. Augmentations return new objects and take an
explicit ``rng``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import roma
import torch

from synth.bodies.base import BodyModel, BodyOutput
from synth.motion.timing import resample, window_starts


@dataclasses.dataclass
class BodyMotion:
    name: str
    fps: float
    pose: torch.Tensor
    global_orient: torch.Tensor
    transl: torch.Tensor
    shape: torch.Tensor

    @property
    def num_frames(self) -> int:
        return int(self.pose.shape[0])

    def slice(self, start: int, length: int) -> "BodyMotion":
        s = slice(start, start + length)
        return dataclasses.replace(
            self, pose=self.pose[s], global_orient=self.global_orient[s], transl=self.transl[s]
        )

    def windows(self, length: int = 31, stride: int = 1) -> list["BodyMotion"]:
        """Every ``length``-frame window taken every ``stride`` frames."""
        return [self.slice(s, length) for s in window_starts(self.num_frames, length, stride)]

    def posed(self, body: BodyModel, chunk: int = 128) -> BodyOutput:
        """Run the body model over all frames (in chunks to bound memory)."""
        outs = []
        with torch.no_grad():
            for s in range(0, self.num_frames, chunk):
                m = self.slice(s, chunk)
                b = m.num_frames
                outs.append(body(m.pose, self.shape.expand(b, -1), m.global_orient, m.transl))
        return BodyOutput(
            vertices=torch.cat([o.vertices for o in outs]),
            joints=torch.cat([o.joints for o in outs]),
            skeleton=outs[0].skeleton,
        )

    # -- timing ---------------------------------------------------------------------------
    def resampled(self, fps: float, speed: float = 1.0) -> "BodyMotion":
        """Resample to ``fps``; ``speed`` > 1 plays the motion faster."""
        full = torch.cat([self.global_orient[:, None], self.pose], dim=1).numpy()
        rot, pos = resample(full, self.transl.numpy(), self.fps * speed, fps)
        rot_t = torch.as_tensor(rot)
        return dataclasses.replace(
            self, fps=fps, pose=rot_t[:, 1:], global_orient=rot_t[:, 0], transl=torch.as_tensor(pos)
        )

    # -- augmentation ---------------------------------------------------------------------
    def mirrored(self, mirror_permutation: list[int]) -> "BodyMotion":
        """Left/right mirror image (reflection x -> -x, left and right joints swapped).

        ``mirror_permutation`` is the body's ``skeleton.mirror_permutation()``; it must fix
        the root (index 0).
        """
        if mirror_permutation[0] != 0:
            raise ValueError("mirror permutation must fix the root joint")
        m = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
        full = torch.cat([self.global_orient[:, None], self.pose], dim=1)
        full = m @ full[:, mirror_permutation] @ m
        return dataclasses.replace(
            self, pose=full[:, 1:], global_orient=full[:, 0], transl=self.transl * torch.tensor([-1.0, 1.0, 1.0])
        )

    def yawed(self, angle: float) -> "BodyMotion":
        """Rotate the whole motion by ``angle`` radians about the vertical axis through the
        first frame's root (so the person stays where they start)."""
        r = roma.rotvec_to_rotmat(torch.tensor([0.0, float(angle), 0.0]))
        origin = self.transl[:1] * torch.tensor([1.0, 0.0, 1.0])
        return dataclasses.replace(
            self, global_orient=r @ self.global_orient, transl=(self.transl - origin) @ r.T + origin
        )

    def augmented(
        self,
        rng: np.random.Generator,
        mirror_permutation: list[int],
        *,
        p_mirror: float = 0.5,
        yaw_range: float = np.pi,
        speed_range: tuple[float, float] = (0.8, 1.2),
    ) -> "BodyMotion":
        """Random mirror, global yaw and playback speed, drawn from ``rng``."""
        out = self
        speed = float(rng.uniform(*speed_range))
        if speed != 1.0:
            out = out.resampled(out.fps, speed=speed)
        if rng.random() < p_mirror:
            out = out.mirrored(mirror_permutation)
        return out.yawed(float(rng.uniform(-yaw_range, yaw_range)))
