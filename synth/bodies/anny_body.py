"""The default body: Anny (open parametric body, assets in the PyPI wheel), CMU-named rig.

Why the ``cmu_mb`` rig: its 31 bones carry the CMU MotionBuilder names, so CMU BVH maps
bone for bone, and a compact skeleton keeps the pose space close to SMPL's 24 joints.
The first build of the rig takes ~40 s and writes ~0.8 GB to ``ANNY_CACHE_DIR``
(default ``~/.cache/anny``); later builds take well under a second.

Anny works in Z-up, -Y-forward axes; this module converts to the suite frame (Y up, +Z
forward, see :mod:`synth.conventions`) at its boundary, by conjugating every rotation.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from synth.bodies.base import BodyModel, BodyOutput, Skeleton

log = logging.getLogger(__name__)

#: x_suite = ANNY_TO_SUITE @ x_anny  (Z-up/-Y-forward -> Y-up/+Z-forward).
ANNY_TO_SUITE = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

CMU_MB_CANONICAL = {
    "pelvis": "Hips",
    "l_hip": "LeftUpLeg", "l_knee": "LeftLeg", "l_ankle": "LeftFoot", "l_toe": "LeftToeBase",
    "r_hip": "RightUpLeg", "r_knee": "RightLeg", "r_ankle": "RightFoot", "r_toe": "RightToeBase",
    "spine": "Spine", "chest": "Spine1", "neck": "Neck", "head": "Head",
    "l_collar": "LeftShoulder", "l_shoulder": "LeftArm", "l_elbow": "LeftForeArm",
    "l_wrist": "LeftHand",
    "r_collar": "RightShoulder", "r_shoulder": "RightArm", "r_elbow": "RightForeArm",
    "r_wrist": "RightHand",
}  # fmt: skip

PHENOTYPES = ("gender", "age", "muscle", "weight", "height", "proportions")
# Ranges for sampling adults of varied build; Anny's age 0.5 is about 25 years and values
# below ~0.35 are children, whom the mocap (adult actors) does not fit.
_PHENOTYPE_RANGES = {
    "gender": (0.0, 1.0),
    "age": (0.45, 0.9),
    "muscle": (0.2, 0.8),
    "weight": (0.2, 0.8),
    "height": (0.15, 0.85),
    "proportions": (0.3, 0.7),
}


class AnnyBody(BodyModel):
    """Anny with the ``cmu_mb`` rig. ``shape`` is the 6 phenotypes in [0, 1] (PHENOTYPES)."""

    name = "anny"
    shape_dim = len(PHENOTYPES)

    def __init__(self, topology: str = "anny", cache_dir: str | None = None):
        super().__init__()
        import anny  # heavy (warp, trimesh): imported only when the backend is chosen

        if cache_dir:
            import anny.paths

            anny.paths.set_anny_cache_path(cache_dir)
        log.info("building Anny (cmu_mb rig, %s topology); the first build takes ~40 s", topology)
        model = anny.Anny(rig="cmu_mb", topology=topology).to(torch.float32)
        model.eval()
        self.model = model
        labels = list(model.bone_labels)
        if list(model.phenotype_labels) != list(PHENOTYPES):
            raise RuntimeError(f"unexpected Anny phenotypes {model.phenotype_labels}")
        self.skeleton = Skeleton(
            names=tuple(labels),
            parents=tuple(int(p) for p in model.bone_parents),
            canonical={c: labels.index(n) for c, n in CMU_MB_CANONICAL.items()},
        )
        self.register_buffer("faces", model.get_triangular_faces().to(torch.int64), persistent=False)
        self.register_buffer("to_suite", ANNY_TO_SUITE.clone(), persistent=False)

    def _forward(self, pose, shape, global_orient, transl) -> BodyOutput:
        b = pose.shape[0]
        a = self.to_suite.to(pose.dtype)
        rot = torch.cat([global_orient[:, None], pose], dim=1)  # [B, J, 3, 3] suite axes
        rot = a.T @ rot @ a  # the same rotations in Anny's axes
        params = torch.zeros(b, self.skeleton.num_joints, 4, 4, dtype=pose.dtype, device=pose.device)
        params[:, :, :3, :3] = rot
        params[:, :, 3, 3] = 1.0
        params[:, 0, :3, 3] = transl @ a  # = a.T @ transl, the root head in Anny axes
        out = self.model(
            pose_parameters=params,
            phenotype_kwargs={k: shape[:, i] for i, k in enumerate(PHENOTYPES)},
        )
        vertices = out["vertices"].to(pose.dtype) @ a.T
        joints = out["bone_poses"][..., :3, 3].to(pose.dtype) @ a.T
        return BodyOutput(vertices=vertices, joints=joints, skeleton=self.skeleton)

    def _joints(self, pose, shape, global_orient, transl) -> torch.Tensor:
        # Anny's forward minus the skinning of its 13,718 vertices: the skeleton comes from
        # the rest bones and the pose alone (the training loss needs nothing else).
        a = self.to_suite.to(pose.dtype)
        b = pose.shape[0]
        rot = a.T @ torch.cat([global_orient[:, None], pose], dim=1) @ a
        params = torch.zeros(b, self.skeleton.num_joints, 4, 4, dtype=pose.dtype, device=pose.device)
        params[:, :, :3, :3] = rot
        params[:, :, 3, 3] = 1.0
        params[:, 0, :3, 3] = transl @ a
        m = self.model
        pose_parameters, phenotypes, local, facial = m.get_tensor_inputs(
            params, {k: shape[:, i] for i, k in enumerate(PHENOTYPES)}, None, None
        )
        coeffs = m._get_phenotype_blendshape_coefficients(phenotypes, local, facial)
        _, bone_poses = m.get_bone_transforms(pose_parameters, self._rest_bone_poses(coeffs))
        return bone_poses[..., :3, 3].to(pose.dtype) @ a.T

    def _rest_bone_poses(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Anny's ``get_rest_model(coeffs)["rest_bone_poses"]`` without the rest vertices it
        also computes (~90 % of that call's time, and unused for the bones): the same
        library steps for the "blender" bone orientation of the cmu_mb rig, else the call."""
        m = self.model
        if m.bone_orientation != "blender":
            return m.get_rest_model(coeffs)["rest_bone_poses"]
        import anny.skinning.skinning as skinning
        import anny.utils.kinematics as kinematics

        heads = skinning.apply_linear_blendshape(m.template_bone_heads, m.bone_heads_blendshapes, coeffs)
        tails = skinning.apply_linear_blendshape(m.template_bone_tails, m.bone_tails_blendshapes, coeffs)
        poses = kinematics.get_bone_poses(heads, tails, m.bone_rolls_rotmat, y_axis=m.y_axis,
                                          degenerate_rotation=m.degenerate_rotation)  # fmt: skip
        if m.root_identity_orientation:
            poses[:, 0, :3, :3] = torch.eye(3, device=poses.device, dtype=poses.dtype)
        return poses

    def default_shape(self, batch: int = 1) -> torch.Tensor:
        return torch.full((batch, self.shape_dim), 0.5)

    def sample_shape(self, rng: np.random.Generator, batch: int = 1) -> torch.Tensor:
        lo = np.array([_PHENOTYPE_RANGES[k][0] for k in PHENOTYPES])
        hi = np.array([_PHENOTYPE_RANGES[k][1] for k in PHENOTYPES])
        return torch.as_tensor(rng.uniform(lo, hi, size=(batch, self.shape_dim)), dtype=torch.float32)

    def vertex_joint(self) -> np.ndarray:
        idx = self.model.vertex_bone_indices.cpu().numpy()
        w = self.model.vertex_bone_weights.cpu().numpy()
        return idx[np.arange(idx.shape[0]), w.argmax(axis=1)].astype(np.int64)
