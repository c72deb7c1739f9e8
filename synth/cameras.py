"""Pinhole cameras in the OpenCV convention (see :mod:`synth.conventions`).

``Camera``: ``K [3, 3]`` intrinsics in pixels, ``R [3, 3]`` and ``t [3]`` the
world-to-camera extrinsics (``x_cam = R @ x_world + t``), image ``width`` x ``height``.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Camera:
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int

    @staticmethod
    def from_fov(fov_y_deg: float, width: int, height: int, R=None, t=None) -> "Camera":
        f = 0.5 * height / np.tan(np.radians(fov_y_deg) / 2)
        K = np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1]])
        return Camera(K, np.eye(3) if R is None else R, np.zeros(3) if t is None else t, width, height)

    def with_pose(self, R: np.ndarray, t: np.ndarray) -> "Camera":
        return dataclasses.replace(self, R=np.asarray(R, float), t=np.asarray(t, float))

    def to_camera(self, x_world: np.ndarray) -> np.ndarray:
        """``[..., 3]`` world points -> camera frame."""
        return x_world @ self.R.T + self.t

    def project(self, x_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[..., 3]`` world points -> (pixels ``[..., 2]``, camera depth ``[...]``)."""
        xc = self.to_camera(x_world)
        z = xc[..., 2]
        uv = xc[..., :2] / np.maximum(z, 1e-9)[..., None] * self.K[[0, 1], [0, 1]] + self.K[:2, 2]
        return uv, z

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return -self.R.T @ self.t


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """Extrinsics ``(R, t)`` of an OpenCV camera at ``eye`` looking at ``target``."""
    eye, target, up = (np.asarray(v, float) for v in (eye, target, up))
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, up)  # image right = forward x up, since camera y points down
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ eye


def frame_person(
    joints: np.ndarray,
    width: int,
    height: int,
    rng: np.random.Generator | None = None,
    fov_y_deg: float = 50.0,
    fill: float = 0.6,
    elevation_deg: tuple[float, float] = (0.0, 20.0),
    azimuth_deg: tuple[float, float] = (-180.0, 180.0),
) -> Camera:
    """A static camera that keeps a whole joint sequence ``[T, J, 3]`` in view.

    The person's mean position is centred; the distance is set so the sequence's bounding
    sphere fills ``fill`` of the image height. Azimuth/elevation are drawn from ``rng``
    (or taken as the middle of their ranges when ``rng`` is None).
    """
    pts = joints.reshape(-1, 3)
    center = 0.5 * (pts.min(0) + pts.max(0))
    radius = 0.5 * np.linalg.norm(pts.max(0) - pts.min(0)) + 0.15
    pick = (lambda r: rng.uniform(*r)) if rng is not None else (lambda r: 0.5 * (r[0] + r[1]))
    az, el = np.radians(pick(azimuth_deg)), np.radians(pick(elevation_deg))
    dist = radius / np.tan(np.radians(fov_y_deg) / 2) / fill
    eye = center + dist * np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
    cam = Camera.from_fov(fov_y_deg, width, height)
    return cam.with_pose(*look_at(eye, center))
