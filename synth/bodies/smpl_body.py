"""SMPL / SMPL-H / SMPL-X through the ``smplx`` package (optional extra ``smpl``).

Contract (see :mod:`synth.bodies.base` and :mod:`synth.conventions`)
    ``SMPLBody(model_path, model_type="smpl", gender="neutral", num_betas=10)``
    ``forward(pose [B,21,3,3], shape [B,S], global_orient [B,3,3], transl [B,3])``
    ``pose`` holds the local rotations of skeleton joints 1..21
    (:mod:`synth.motion.smpl_skeleton`), ``shape`` the betas (S = :attr:`shape_dim`,
    usually ``num_betas``). The returned joints are the first 22 SMPL joints and
    ``joints[:, 0] == transl`` exactly: ``transl`` places the pelvis, not the mesh origin
    as smplx's own ``transl`` does. SMPL's native frame is already the suite frame
    (Y up, facing +Z), so no axes change. Joints past the 22 body joints (SMPL's two hand
    joints, SMPL-H / SMPL-X fingers, jaw and eyes) stay at rest: a flat, open hand.

Model files (the user's own; the licence forbids shipping them)
    ``<model_path>/<model_type>/<MODELTYPE>_<GENDER>.npz`` as smplx lays them out, e.g.
    ``models/smpl/SMPL_NEUTRAL.npz``, ``models/smplh/SMPLH_MALE.npz``,
    ``models/smplx/SMPLX_NEUTRAL.npz``; ``.pkl`` is accepted too, as is ``model_path``
    naming the file itself or the ``<model_type>`` folder. Register and download at
    https://smpl.is.tue.mpg.de (SMPL), https://mano.is.tue.mpg.de (SMPL+H) or
    https://smpl-x.is.tue.mpg.de (SMPL-X).

Official ``.pkl`` files hold chumpy objects, and chumpy does not install on Python 3.11,
so they cannot be unpickled here. Convert each once to ``.npz`` on a machine that has
chumpy (Python <= 3.10, ``pip install chumpy scipy "numpy<1.24"``)::

    import pickle, numpy as np
    with open("SMPL_NEUTRAL.pkl", "rb") as f:
        d = pickle.load(f, encoding="latin1")
    arr = lambda v: v.toarray() if hasattr(v, "toarray") else np.asarray(getattr(v, "r", v))
    np.savez("SMPL_NEUTRAL.npz", **{k: arr(v) for k, v in d.items() if not isinstance(v, dict)})

(``v.r`` is a chumpy array's value, ``toarray`` densifies the sparse joint regressor.)
"""

from __future__ import annotations

import contextlib
import io
import logging
import pickle
import zipfile
from pathlib import Path

import numpy as np
import torch

from synth.bodies.base import BodyModel, BodyOutput, Skeleton
from synth.errors import InputError, MissingDependency
from synth.motion.smpl_skeleton import CANONICAL, NAMES, PARENTS

log = logging.getLogger(__name__)

NUM_BODY_JOINTS = len(NAMES)  # 22
#: sample_shape draws betas from N(0, 1) clipped to this, avoiding freakish extremes.
BETA_CLIP = 2.5

#: model_type -> (file prefix, human name, where to register and download).
_MODEL_TYPES = {
    "smpl": ("SMPL", "SMPL", "https://smpl.is.tue.mpg.de"),
    "smplh": ("SMPLH", "SMPL+H", "https://mano.is.tue.mpg.de"),
    "smplx": ("SMPLX", "SMPL-X", "https://smpl-x.is.tue.mpg.de"),
}
_GENDERS = ("neutral", "male", "female")
_BASE_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
_EXTRA_KEYS = {"smpl": (), "smplh": (), "smplx": ("lmk_faces_idx", "lmk_bary_coords")}
#: What smplx raises on a malformed model file: raw asserts and failed lookups.
_SMPLX_LOAD_ERRORS = (
    AssertionError, AttributeError, KeyError, IndexError, ValueError, TypeError, RuntimeError,
)  # fmt: skip
_CONVERT_HINT = "convert it to .npz on a machine with chumpy (recipe in synth/bodies/smpl_body.py)"


class SMPLBody(BodyModel):
    """SMPL-family body with SMPL's 22-joint body skeleton. ``shape`` is the betas."""

    name = "smpl"

    def __init__(
        self,
        model_path: str,
        model_type: str = "smpl",
        gender: str = "neutral",
        num_betas: int = 10,
    ):
        super().__init__()
        model_type = _choice("body.model_type", model_type, tuple(_MODEL_TYPES))
        gender = _choice("body.gender", gender, _GENDERS)
        try:
            import smplx  # optional: only needed when this backend is chosen
        except ImportError:
            raise MissingDependency("smplx", "smpl", "the smpl body backend") from None

        path = resolve_model_file(model_path, model_type, gender)
        data = load_model_data(path, model_type)
        self.model_type = model_type
        self.model = _build_layer(smplx, path, data, model_type, gender, num_betas)
        # smplx appends vertex-picked keypoints (nose, toes, finger tips) at fixed vertex
        # ids of the official meshes; the suite keeps only the 22 body joints, so skip
        # that work, which also lets any mesh topology with SMPL's skeleton load.
        self.model.vertex_joint_selector = _NoExtraJoints()
        self.shape_dim = int(self.model.num_betas)
        if self.shape_dim != num_betas:
            log.warning("%s has %d betas; using them, not %d", path, self.shape_dim, num_betas)
        self.skeleton = Skeleton(names=NAMES, parents=PARENTS, canonical=dict(CANONICAL))
        self.register_buffer("faces", self.model.faces_tensor.clone(), persistent=False)
        self._vertex_joint = _body_vertex_joint(
            self.model.lbs_weights.cpu().numpy(), self.model.parents.cpu().numpy()
        )

    def _forward(self, pose, shape, global_orient, transl) -> BodyOutput:
        dtype = self.model.shapedirs.dtype
        body_pose = pose.to(dtype)
        if self.model_type == "smpl":
            # SMPL's skeleton has two hand joints (22, 23) after the 21 posed ones: at rest.
            eye = torch.eye(3, dtype=dtype, device=pose.device)
            body_pose = torch.cat([body_pose, eye.expand(pose.shape[0], 2, 3, 3)], dim=1)
        # The *Layer classes take rotation matrices (lbs with pose2rot=False) and leave the
        # hand, jaw and eye joints at identity; the non-layer classes would add the
        # axis-angle hand mean to the matrices.
        out = self.model(
            betas=shape.to(dtype),
            body_pose=body_pose,
            global_orient=global_orient.to(dtype),
            pose2rot=False,
        )
        joints = out.joints[:, :NUM_BODY_JOINTS]
        # smplx's transl moves the mesh origin; ours places the root joint. Shifting by the
        # posed root itself (x - root + transl) puts joints[:, 0] on transl bit for bit and
        # stays differentiable in the betas.
        root = joints[:, :1]
        t = transl.to(dtype)[:, None]
        vertices = (out.vertices - root) + t
        joints = (joints - root) + t
        return BodyOutput(
            vertices=vertices.to(pose.dtype), joints=joints.to(pose.dtype), skeleton=self.skeleton
        )

    def default_shape(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, self.shape_dim)

    def sample_shape(self, rng: np.random.Generator, batch: int = 1) -> torch.Tensor:
        betas = np.clip(rng.standard_normal((batch, self.shape_dim)), -BETA_CLIP, BETA_CLIP)
        return torch.as_tensor(betas, dtype=torch.float32)

    def vertex_joint(self) -> np.ndarray:
        return self._vertex_joint.copy()

    def rest_joints(self, betas: np.ndarray) -> np.ndarray:
        """``[22, 3]`` rest-pose joints of the shaped body, metres, suite frame.

        The joint regressor applied to the shaped template, so the pelvis is wherever the
        model puts it (not at the origin). ``betas`` is ``[S']``; extra entries beyond
        :attr:`shape_dim` are dropped and missing ones are zero (AMASS stores 16 betas).
        """
        b = np.zeros(self.shape_dim, dtype=np.float32)
        given = np.asarray(betas, dtype=np.float32).reshape(-1)[: self.shape_dim]
        b[: given.size] = given
        m = self.model
        with torch.no_grad():
            betas_t = torch.as_tensor(b, device=m.shapedirs.device)
            v_shaped = m.v_template + torch.einsum("l,vcl->vc", betas_t, m.shapedirs)
            joints = m.J_regressor[:NUM_BODY_JOINTS] @ v_shaped
        return joints.cpu().numpy().astype(np.float64)


class _NoExtraJoints(torch.nn.Module):
    """Stands in for smplx's VertexJointSelector: adds no vertex keypoints."""

    def forward(self, vertices: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
        # A copy, as the original's torch.cat makes: smplx then adds transl in place, and
        # the joints from lbs are a view of transforms that autograd still needs.
        return joints.clone()


# -- model files ---------------------------------------------------------------------------


def resolve_model_file(model_path: str, model_type: str, gender: str) -> Path:
    """The model file for ``model_type``/``gender`` under ``model_path`` (or ``model_path``
    itself if it is a file); :class:`InputError` naming the expected file if none exists."""
    prefix, label, url = _MODEL_TYPES[model_type]
    root = Path(model_path).expanduser()
    if root.is_file():
        return root
    stem = f"{prefix}_{gender.upper()}"
    candidates = [d / f"{stem}.{ext}" for d in (root / model_type, root) for ext in ("npz", "pkl")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InputError(
        f"{label} model file not found: {candidates[0]} (nor .pkl); register at {url}, "
        f"download the {label} model and point body.model_path= at the folder holding "
        f"{model_type}/{stem}.npz"
    )


def load_model_data(path: Path, model_type: str) -> dict:
    """The arrays of a SMPL-family model file, checked for what smplx and the suite need."""
    if path.suffix == ".npz":
        data = _read_npz(path)
    elif path.suffix == ".pkl":
        data = _read_pkl(path)
    else:
        label = _MODEL_TYPES[model_type][1]
        raise InputError(f"{path}: expected a .npz (or .pkl) {label} model file")
    # npz keeps non-array entries as 0-d object arrays; unwrap them (e.g. a sparse matrix).
    data = {k: v.item() if isinstance(v, np.ndarray) and v.dtype == object and v.ndim == 0 else v
            for k, v in data.items()}  # fmt: skip
    _check_model_data(path, data, model_type)
    if model_type == "smplh":
        # smplx's SMPL+H reads the MANO hand PCA even with use_pca=False; AMASS's SMPL+H
        # files lack it, and with a flat hand and no PCA it is unused, so default it.
        for side in "lr":
            data.setdefault(f"hands_components{side}", np.eye(45, dtype=np.float32))
            data.setdefault(f"hands_mean{side}", np.zeros(45, dtype=np.float32))
    return data


def _read_npz(path: Path) -> dict:
    # np.load falls back to unpickling anything that is not a zip or .npy; check first so
    # a corrupt file gets a clear message rather than an arbitrary unpickling error.
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not a valid .npz archive; re-download or re-convert it")
    try:
        # allow_pickle as in smplx: some official .npz files keep small object entries.
        with np.load(path, allow_pickle=True) as npz:
            return {k: npz[k] for k in npz.files}
    except ModuleNotFoundError as e:
        raise _missing_module_error(path, e) from None
    except Exception as e:  # any failure to read a user's file is an input problem
        raise InputError(f"{path} could not be read as .npz ({_one_line(e)})") from None


def _read_pkl(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            data = pickle.load(f, encoding="latin1")  # Python 2 pickles, as smplx reads them
    except ModuleNotFoundError as e:
        raise _missing_module_error(path, e) from None
    except Exception as e:  # any failure to read a user's file is an input problem
        message = f"{path} could not be unpickled ({_one_line(e)}); {_CONVERT_HINT}"
        raise InputError(message) from None
    if not isinstance(data, dict):
        raise InputError(f"{path} does not hold a model dictionary; {_CONVERT_HINT}")
    return data


def _missing_module_error(path: Path, e: ModuleNotFoundError) -> InputError:
    module = (e.name or "").split(".")[0]
    if module == "chumpy":
        return InputError(
            f"{path} holds chumpy objects and chumpy does not install on Python 3.11+; "
            f"{_CONVERT_HINT} and point body.model_path= at the .npz"
        )
    return InputError(f"reading {path} needs the module '{module}': install it or {_CONVERT_HINT}")


def _check_model_data(path: Path, data: dict, model_type: str) -> None:
    label = _MODEL_TYPES[model_type][1]
    missing = [k for k in _BASE_KEYS + _EXTRA_KEYS[model_type] if k not in data]
    if missing:
        raise InputError(f"{path} is not a {label} model file: it lacks {', '.join(missing)}")
    parents = np.asarray(data["kintree_table"])[0].astype(np.int64)
    if parents.size < NUM_BODY_JOINTS or tuple(parents[1:NUM_BODY_JOINTS]) != PARENTS[1:]:
        raise InputError(f"{path} is not a {label} model file: its skeleton is not SMPL's")


def _build_layer(smplx, path: Path, data: dict, model_type: str, gender: str, num_betas: int):
    """The smplx *Layer module, with smplx's asserts and prints turned into errors and logs."""
    from smplx.utils import Struct

    common = dict(gender=gender, num_betas=num_betas, dtype=torch.float32)
    hands = dict(use_pca=False, flat_hand_mean=True)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):  # smplx print()s warnings about betas
            if model_type == "smpl":
                # SMPL's own loader pickle.load()s even .npz files, so hand it the data.
                layer = smplx.SMPLLayer(str(path), data_struct=Struct(**data), **common)
            elif model_type == "smplh":
                layer = smplx.SMPLHLayer(str(path), data_struct=Struct(**data), **common, **hands)
            else:
                # SMPL-X always reads the file itself (no data_struct); already validated.
                layer = smplx.SMPLXLayer(str(path), ext=path.suffix[1:], **common, **hands)
    except _SMPLX_LOAD_ERRORS as e:
        label = _MODEL_TYPES[model_type][1]
        raise InputError(f"{path} is not a usable {label} model file ({_one_line(e)})") from None
    if printed.getvalue().strip():
        log.debug("smplx: %s", _one_line(printed.getvalue()))
    return layer


# -- helpers -------------------------------------------------------------------------------


def _body_vertex_joint(weights: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """``[V]`` body joint (< 22) with the most skinning weight, counting every extra joint
    (hand, finger, jaw, eye) towards its nearest body ancestor (wrist, head)."""
    to_body = np.empty(len(parents), dtype=np.int64)
    for j in range(len(parents)):  # parents precede children
        to_body[j] = j if j < NUM_BODY_JOINTS else to_body[parents[j]]
    body_weights = np.zeros((weights.shape[0], NUM_BODY_JOINTS), dtype=np.float64)
    np.add.at(body_weights.T, to_body, weights.T)
    return body_weights.argmax(axis=1).astype(np.int64)


def _choice(key: str, value: str, allowed: tuple[str, ...]) -> str:
    v = str(value).lower()
    if v not in allowed:
        raise InputError(f"{key}={value!r} is not one of {', '.join(allowed)}")
    return v


def _one_line(e: object) -> str:
    return " ".join(str(e).split())
