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
        rest = self._rest_bones_from_phenotypes(phenotypes)
        if rest is None:
            coeffs = m._get_phenotype_blendshape_coefficients(phenotypes, local, facial)
            rest = self._rest_bone_poses(coeffs)
        _, bone_poses = m.get_bone_transforms(pose_parameters, rest)
        return bone_poses[..., :3, 3].to(pose.dtype) @ a.T

    # -- rest bones from phenotypes, by multilinear interpolation -------------------------
    # Why by hand: Anny turns 6 phenotypes into 135 blendshape coefficients through a
    # [B, 624, 26] product, ~60 % of a training step's body pass (fwd+bwd, 480 poses). Each of
    # its 624 blendshapes is a product of at most one interpolation weight per phenotype, and
    # the weights are piecewise linear in the phenotype with fixed anchors, so the rest bone
    # heads and tails are *exactly* multilinear between anchors: a table of them at every
    # anchor combination (2*5*3*3*2*2 = 360 rows) and Anny's own interpolation weights give
    # the same bones. Checked against Anny's path when the table is built (else not used).
    def _bone_table(self):
        table = getattr(self, "_table", None)
        if table is not None or getattr(self, "_table_failed", False):
            return table
        m = self.model
        if m.bone_orientation != "blender" or m.local_change_labels or m.facial_action_labels:
            self._table_failed = True
            return None
        grids = [m.anchors[k] for k in PHENOTYPES]
        points = torch.cartesian_prod(*grids).to(m.template_bone_heads.dtype)  # [G, 6]
        with torch.no_grad():
            ends = self._bone_ends(self._coefficients(points))  # [G, 2, J, 3]
        self._table = ends.reshape(*(len(g) for g in grids), *ends.shape[1:])
        probe = torch.rand(16, len(PHENOTYPES), generator=torch.Generator().manual_seed(0), dtype=points.dtype)
        probe[0], probe[1] = 0.0, 1.0
        with torch.no_grad():
            err = float((self._interpolated_ends(probe) - self._bone_ends(self._coefficients(probe))).abs().max())
        if err > 1e-5:  # float32 rounding is ~6e-7 m; exact (1e-15) in float64
            log.warning("Anny's rest bones are not multilinear in the phenotypes here (max error %.2g m): "
                        "using Anny's own, slower path", err)  # fmt: skip
            self._table, self._table_failed = None, True
        return self._table

    def _coefficients(self, phenotypes: torch.Tensor) -> torch.Tensor:
        m = self.model
        _, ph, local, facial = m.get_tensor_inputs(None, {k: phenotypes[:, i] for i, k in enumerate(PHENOTYPES)},
                                                   None, None)  # fmt: skip
        return m._get_phenotype_blendshape_coefficients(ph, local, facial)

    def _bone_ends(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Rest bone heads and tails ``[B, 2, J, 3]`` (Anny axes) of blendshape ``coeffs``."""
        import anny.skinning.skinning as skinning

        m = self.model
        heads = skinning.apply_linear_blendshape(m.template_bone_heads, m.bone_heads_blendshapes, coeffs)
        tails = skinning.apply_linear_blendshape(m.template_bone_tails, m.bone_tails_blendshapes, coeffs)
        return torch.stack([heads, tails], 1)

    def _interpolated_ends(self, phenotypes: torch.Tensor) -> torch.Tensor:
        """:meth:`_bone_ends` of phenotypes ``[B, 6]`` through the table (``_table`` set)."""
        import anny.utils.interpolation as interpolation

        m, table = self.model, self._table
        b, grid = phenotypes.shape[0], table.shape[: len(PHENOTYPES)]
        weights = phenotypes.new_ones(b, 1)
        for i, k in enumerate(PHENOTYPES):  # the corner weights [B, G]: outer products, row-major
            w = interpolation.linear_interpolation_coefficients(phenotypes[:, i], m.anchors[k].to(phenotypes.dtype),
                                                                extrapolate=m.extrapolate_phenotypes)  # fmt: skip
            weights = (weights[:, :, None] * w[:, None, :]).reshape(b, -1)
        # built on the device of its first call: follow the phenotypes if the body moved since
        flat = table.to(device=phenotypes.device, dtype=phenotypes.dtype).reshape(grid.numel(), -1)
        return (weights @ flat).reshape(b, *table.shape[len(PHENOTYPES) :])

    def _rest_bones_from_phenotypes(self, phenotypes: torch.Tensor) -> torch.Tensor | None:
        """Rest bone poses ``[B, J, 4, 4]`` (Anny axes) of phenotypes ``[B, 6]`` through the
        table above, or None where the table does not apply."""
        if self._bone_table() is None:
            return None
        return self._poses_of_ends(self._interpolated_ends(phenotypes))

    def _poses_of_ends(self, ends: torch.Tensor) -> torch.Tensor:
        """Anny's rest bone poses from bone ends ``[B, 2, J, 3]`` ("blender" orientation)."""
        import anny.utils.kinematics as kinematics

        m = self.model
        poses = kinematics.get_bone_poses(ends[:, 0], ends[:, 1], m.bone_rolls_rotmat, y_axis=m.y_axis,
                                          degenerate_rotation=m.degenerate_rotation)  # fmt: skip
        if m.root_identity_orientation:
            poses[:, 0, :3, :3] = torch.eye(3, device=poses.device, dtype=poses.dtype)
        return poses

    def _rest_bone_poses(self, coeffs: torch.Tensor) -> torch.Tensor:
        """Anny's ``get_rest_model(coeffs)["rest_bone_poses"]`` without the rest vertices it
        also computes (~90 % of that call's time, and unused for the bones): the same
        library steps for the "blender" bone orientation of the cmu_mb rig, else the call."""
        m = self.model
        if m.bone_orientation != "blender":
            return m.get_rest_model(coeffs)["rest_bone_poses"]
        return self._poses_of_ends(self._bone_ends(coeffs))

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
