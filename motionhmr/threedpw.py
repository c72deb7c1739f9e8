"""3DPW (von Marcard et al. 2018): the official sequence files, read into typed records.

The user supplies the dataset (https://virtualhumans.mpi-inf.mpg.de/3DPW/), laid out as
distributed::

    <root>/sequenceFiles/{train,validation,test}/<sequence>.pkl
    <root>/imageFiles/<sequence>/image_00000.jpg ...

Each ``.pkl`` is a Python 2 pickle of a dict (read with ``encoding="latin1"``) whose
per-person entries are lists with one item per person:

``sequence``        the sequence name
``genders``         ``'m'`` / ``'f'`` per person
``betas``           SMPL shape per person, 10 (or 300) values
``poses``           ``[N, 72]`` SMPL axis-angle pose per person, root orientation in world
``trans``           ``[N, 3]`` SMPL translation per person, world, metres
``poses2d``         ``[N, 3, 18]`` per person: OpenPose COCO-18 detections (x, y, conf),
                    pixels; all 0 where the person was not detected
``jointPositions``  ``[N, 72]`` per person: the 24 SMPL joints (x, y, z), world, metres
``cam_poses``       ``[N, 4, 4]`` world-to-camera extrinsics (``x_cam = R x_world + t``)
``cam_intrinsics``  ``[3, 3]`` K
``campose_valid``   ``[N]`` bool per person: the camera pose is aligned to the image
``img_frame_ids``, ``v_template_clothed``, ``betas_clothed``, ``texture_maps``,
``poses_60Hz``, ``trans_60Hz`` are present in the files and unused here.

3DPW's camera frame is OpenCV's (x right, y down, z forward), the suite's camera frame
(:mod:`synth.conventions`), so camera-frame joints need no axis change. 2D detections are
mapped to ``EVAL_JOINTS`` by :func:`motionhmr.keypoint_files.to_eval_joints` (layout
``openpose18``).

Ground-truth 3D joints: two sources
    ``mesh`` (the paper's protocol, :func:`gt_mesh_joints`): 14 joints regressed from the
    ground-truth SMPL mesh with HMR's "cocoplus" regressor, as HMMR prepared 3DPW.
    ``skeleton`` (:attr:`Person.joints3d`): SMPL's own skeleton joints (``jointPositions``)
    mapped through :data:`synth.motion.smpl_skeleton.CANONICAL`. They are other points
    (SMPL's "head" joint is mid-skull, LSP's is the head top; hips, neck and ankles differ
    too), so figures on them are not comparable with published ones. It needs no SMPL files.

What HMMR's preparation does (akanazawa/human_dynamics, commits f3d3c6b and 67bc2be:
``src/datasets/threedpw/compute_neutral_shape.py``, ``src/datasets/3dpw_to_tfrecords_video.py``,
``src/datasets/make_test_tfrecords.py``, ``src/datasets/common.py`` ``read_from_example``,
``src/evaluation/eval.py``, ``src/evaluation/eval_util.py``, ``src/tf_smpl/batch_smpl.py``,
``src/util/smooth_bbox.py``)
    * Model: the **gendered** SMPL v1.0.0 models (``basicmodel_m_lbs_10_207_0_v1.0.0.pkl``,
      ``basicModel_f_lbs_10_207_0_v1.0.0.pkl``), chosen by ``genders`` ``'m'``/``'f'``.
    * Parameters: ``betas[:10]`` and, per frame, the **full 72-value** ``poses`` (root
      orientation in world, the 21 body joints and SMPL's two hand joints); no ``trans``.
    * Regressor: ``cocoplus_regressor`` of ``models/neutral_smpl_with_cocoplustoesankles_reg.pkl``
      (HMR's ``neutral_smpl_with_cocoplus_reg.pkl`` holds the 19-row original: a scipy sparse
      ``[19, 6890]``), applied to the posed 6890 vertices (``regressor.dot(verts)``), stored
      as ``joints_gendered``. Rows 0-13 are LSP's 14 joints in ``EVAL_JOINTS`` order (right
      ankle, knee, hip, left hip, knee, ankle, right wrist, elbow, shoulder, left shoulder,
      elbow, wrist, neck, head top); 14-18 are nose, eyes and ears, and the "toesankles"
      file appends 6 foot points. Evaluation keeps the first 14 (``gt3ds[:, :14]``).
    * Camera frame: no translation; each frame's joints are rotated by the camera rotation
      about their own centroid (``R (X - mu) + mu``), so only the orientation matches the
      camera frame. Every metric (pelvis-aligned MPJPE, PA-MPJPE, pelvis-aligned
      acceleration) is blind to a per-frame translation, so the full camera frame used here
      (``R_cam X_world + t_cam``) gives the same numbers.
    * Frames: the track is cut to the span from the first to the last frame with any
      keypoint above confidence 0.1 (``get_smooth_bbox_params``); a frame is scored when
      ``sum(vis[:14]) > min_visible`` (6). ``campose_valid`` is not read. (This module's
      reader and :mod:`motionhmr.evaluate` keep every frame and score by their own rule.)
    * PVE (test split only) poses a neutral SMPL with ``betas_neutral``, betas fitted to the
      gendered T-pose mesh by ``compute_neutral_shape.py``.

:func:`gt_mesh_joints` does the same with the user's gendered SMPL through ``smplx``:
``betas`` up to the model's count (10 for SMPL v1.0), all 24 joint rotations (hands too),
then :func:`load_joint_regressor`'s rows for ``EVAL_JOINTS``.
"""

from __future__ import annotations

import dataclasses
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from motionhmr.keypoint_files import CONF_THRESHOLD, to_eval_joints
from synth.conventions import EVAL_JOINTS
from synth.errors import InputError
from synth.motion.smpl_skeleton import CANONICAL

SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: Keys the reader needs; the files hold more (see the module docstring).
REQUIRED_KEYS: tuple[str, ...] = (
    "sequence", "genders", "betas", "poses", "trans", "poses2d", "jointPositions",
    "cam_poses", "cam_intrinsics", "campose_valid",
)  # fmt: skip
PER_PERSON_KEYS: tuple[str, ...] = (
    "genders", "betas", "poses", "trans", "poses2d", "jointPositions", "campose_valid",
)  # fmt: skip
#: SMPL joint index of each EVAL_JOINTS entry: (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15).
SMPL_TO_EVAL: tuple[int, ...] = tuple(CANONICAL[name] for name in EVAL_JOINTS)
SMPL_JOINTS = 24
DOWNLOAD_HINT = "download 3DPW from https://virtualhumans.mpi-inf.mpg.de/3DPW/"
#: Ground-truth joint sources (module docstring): ``mesh`` is the paper's protocol.
GT_JOINTS: tuple[str, ...] = ("mesh", "skeleton")
#: The rows of HMR's cocoplus regressor: LSP's 14 joints, then nose, eyes and ears.
COCOPLUS_JOINTS: tuple[str, ...] = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle",
    "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
    "neck", "head", "nose", "l_eye", "r_eye", "l_ear", "r_ear",
)  # fmt: skip
#: Cocoplus row of each EVAL_JOINTS entry: (0, 1, ..., 13), LSP order on both sides.
COCOPLUS_TO_EVAL: tuple[int, ...] = tuple(COCOPLUS_JOINTS.index(name) for name in EVAL_JOINTS)
#: Regressor row counts accepted: 14 (LSP only), 19 (HMR's cocoplus), 25 (HMMR's
#: "cocoplustoesankles": 6 foot points appended). Others (SMPL's 24-row J_regressor,
#: SPIN's 17-row H36M one) order their joints differently and are refused.
REGRESSOR_ROWS: tuple[int, ...] = (14, 19, 25)
REGRESSOR_KEY = "cocoplus_regressor"
REGRESSOR_HINT = (
    "give HMR's cocoplus regressor with data.regressor=: neutral_smpl_with_cocoplus_reg.pkl "
    "(key 'cocoplus_regressor') or that [19, 6890] array saved as .npy/.npz"
)
_GENDERS = {"m": "male", "f": "female", "male": "male", "female": "female"}


@dataclasses.dataclass(frozen=True, eq=False)
class Person:
    """One tracked person of a sequence (``N`` = the sequence's frame count).

    Official fields, as stored:
        ``gender`` ``'male'``/``'female'``; ``betas`` ``[B]`` (10 or 300);
        ``poses`` ``[N, 72]`` axis-angle (root in world); ``trans`` ``[N, 3]`` world m;
        ``joints3d_world`` ``[N, 24, 3]`` SMPL joints, world m; ``kp2d`` ``[N, 18, 3]``
        OpenPose COCO-18 (x, y, conf) pixels; ``valid`` ``[N]`` bool (campose_valid).
    Derived at load:
        ``joints3d`` ``[N, 14, 3]`` float64 EVAL_JOINTS, camera frame, metres, from SMPL's
        skeleton joints (the ``skeleton`` ground truth; the paper's ``mesh`` joints need
        SMPL files and are made by :func:`gt_mesh_joints`);
        ``kp_eval`` ``[N, 14, 2]`` float32 pixels and ``kp_conf`` ``[N, 14]`` float32, the
        detections in EVAL_JOINTS order; ``cam_poses`` ``[N, 4, 4]`` the sequence's
        world-to-camera poses (the same array as :attr:`Sequence.cam_poses`).
    """

    index: int
    gender: str
    betas: np.ndarray
    poses: np.ndarray
    trans: np.ndarray
    joints3d_world: np.ndarray
    kp2d: np.ndarray
    valid: np.ndarray
    joints3d: np.ndarray
    kp_eval: np.ndarray
    kp_conf: np.ndarray
    cam_poses: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.poses.shape[0])

    def visible_count(self, threshold: float = CONF_THRESHOLD) -> np.ndarray:
        """``[N]`` int: EVAL_JOINTS detections with confidence above ``threshold``."""
        return (self.kp_conf > threshold).sum(axis=1)


@dataclasses.dataclass(frozen=True, eq=False)
class Sequence:
    """One 3DPW sequence: ``K`` ``[3, 3]``, ``cam_poses`` ``[N, 4, 4]`` world-to-camera,
    and its people. Images are ``image_dir / image_%05d.jpg`` (:meth:`image_path`); they
    are not needed to read the annotations, so their presence is not checked here."""

    name: str
    split: str
    image_dir: Path
    K: np.ndarray
    cam_poses: np.ndarray
    people: list[Person]

    @property
    def num_frames(self) -> int:
        return int(self.cam_poses.shape[0])

    def image_path(self, frame: int) -> Path:
        return self.image_dir / f"image_{frame:05d}.jpg"


# -- reading -------------------------------------------------------------------------------


def sequence_files(root: str | Path, split: str = "test") -> list[Path]:
    """The sorted ``.pkl`` files of ``split`` under the 3DPW ``root`` (the folder holding
    ``sequenceFiles/``; ``root`` may also name ``sequenceFiles`` itself)."""
    if split not in SPLITS:
        raise InputError(f"3DPW split {split!r} is unknown: use one of {', '.join(SPLITS)}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(
            f"3DPW folder not found: {root}; {DOWNLOAD_HINT} and point at the folder holding sequenceFiles/"
        )
    seq_dir = root if root.name == "sequenceFiles" else root / "sequenceFiles"
    if not seq_dir.is_dir():
        raise InputError(f"{root} has no sequenceFiles/ folder: is it the 3DPW root? ({DOWNLOAD_HINT})")
    files = sorted((seq_dir / split).glob("*.pkl"))
    if not files:
        raise InputError(f"no {split} split: {seq_dir / split} holds no .pkl sequence files")
    return files


def load_split(root: str | Path, split: str = "test") -> list[Sequence]:
    """Every sequence of ``split`` (default the test split, the evaluation protocol's)."""
    return [load_sequence(path, split=split) for path in sequence_files(root, split)]


def load_sequence(path: str | Path, split: str = "test") -> Sequence:
    """One official sequence file -> :class:`Sequence`; InputError on any malformed file."""
    path = Path(path)
    data = _unpickle(path)
    _check(path, data)
    cam_poses = np.asarray(data["cam_poses"], dtype=np.float64)
    people = [_person(data, p, cam_poses) for p in range(len(data["poses"]))]
    root = path.parents[2] if len(path.parents) > 2 else path.parent
    name = str(data["sequence"]) or path.stem
    return Sequence(
        name=name,
        split=split,
        image_dir=root / "imageFiles" / name,
        K=np.asarray(data["cam_intrinsics"], dtype=np.float64),
        cam_poses=cam_poses,
        people=people,
    )


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            # The official files are Python 2 pickles: their numpy buffers are py2 str,
            # which only latin1 maps back to the original bytes.
            data = pickle.load(f, encoding="latin1")
    except FileNotFoundError:
        raise InputError(f"3DPW sequence file not found: {path}") from None
    except Exception as e:  # any unreadable user file is an input problem
        raise InputError(
            f"{path} could not be unpickled ({_one_line(e)}); re-download it ({DOWNLOAD_HINT})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a 3DPW sequence file: it holds a {type(data).__name__}, not a dict")
    return data


def _check(path: Path, data: dict) -> None:
    """Keys, per-person counts, shapes (N frames throughout) and finiteness."""
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise InputError(f"{path} is not a 3DPW sequence file: it lacks {', '.join(missing)}")
    cam_poses = np.asarray(data["cam_poses"])
    if cam_poses.ndim != 3 or cam_poses.shape[1:] != (4, 4):
        raise InputError(f"{path}: cam_poses has shape {list(cam_poses.shape)}, expected [N, 4, 4]")
    n = cam_poses.shape[0]
    if np.asarray(data["cam_intrinsics"]).shape != (3, 3):
        raise InputError(
            f"{path}: cam_intrinsics has shape {list(np.shape(data['cam_intrinsics']))}, expected [3, 3]"
        )
    n_people = len(data["poses"])
    if n_people == 0:
        raise InputError(f"{path}: the sequence has no people (poses is empty)")
    for key in PER_PERSON_KEYS:
        if len(data[key]) != n_people:
            raise InputError(f"{path}: {key} has {len(data[key])} entries for {n_people} people")
    per_frame = {
        "poses": (72,),
        "trans": (3,),
        "poses2d": (3, 18),
        "jointPositions": (72,),
        "campose_valid": (),
    }
    for key, tail in per_frame.items():
        for p, value in enumerate(data[key]):
            shape = np.shape(value)
            if shape != (n, *tail):
                raise InputError(f"{path}: {key}[{p}] has shape {list(shape)}, expected {[n, *tail]}")
    for p, betas in enumerate(data["betas"]):
        if np.ndim(betas) != 1 or np.size(betas) < 10:
            raise InputError(f"{path}: betas[{p}] has shape {list(np.shape(betas))}, expected [10] or [300]")
    for p, gender in enumerate(data["genders"]):
        if str(gender).lower() not in _GENDERS:
            raise InputError(f"{path}: genders[{p}] is {gender!r}, expected 'm' or 'f'")
    for key in ("cam_poses", "cam_intrinsics", "poses", "trans", "poses2d", "jointPositions"):
        values = data[key] if key in PER_PERSON_KEYS else [data[key]]
        if not all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in values):
            raise InputError(f"{path}: {key} holds non-finite values")


def _person(data: dict, p: int, cam_poses: np.ndarray) -> Person:
    joints_world = np.asarray(data["jointPositions"][p], dtype=np.float64).reshape(-1, SMPL_JOINTS, 3)
    kp2d = np.asarray(data["poses2d"][p], dtype=np.float64).transpose(0, 2, 1)  # [N, 18, 3]
    kp_eval, kp_conf = to_eval_joints(kp2d, "openpose18")
    return Person(
        index=p,
        gender=_GENDERS[str(data["genders"][p]).lower()],
        betas=np.asarray(data["betas"][p], dtype=np.float64),
        poses=np.asarray(data["poses"][p], dtype=np.float64),
        trans=np.asarray(data["trans"][p], dtype=np.float64),
        joints3d_world=joints_world,
        kp2d=kp2d,
        valid=np.asarray(data["campose_valid"][p], dtype=bool),
        joints3d=world_to_camera(joints_world, cam_poses)[:, SMPL_TO_EVAL],
        kp_eval=kp_eval,
        kp_conf=kp_conf,
        cam_poses=cam_poses,
    )


def world_to_camera(points: np.ndarray, cam_poses: np.ndarray) -> np.ndarray:
    """``[N, P, 3]`` world points -> camera frame with per-frame ``[N, 4, 4]`` extrinsics."""
    rot, t = cam_poses[:, :3, :3], cam_poses[:, :3, 3]
    return np.einsum("nij,npj->npi", rot, points) + t[:, None]


# -- meshes (PVE) and mesh joints ----------------------------------------------------------


def gt_vertices(person: Person, body, frames: np.ndarray | None = None, chunk: int = 256) -> np.ndarray:
    """Ground-truth SMPL vertices ``[F, V, 3]`` float64, camera frame, metres.

    ``body`` is a :class:`synth.bodies.smpl_body.SMPLBody` (the ``smpl`` backend) or a
    mapping ``{"male": ..., "female": ...}`` of them, from which the person's gender picks
    one (3DPW's ground truth was fitted with gendered SMPL models; SPIN's evaluation builds
    its meshes the same way). ``frames`` (indices or a bool mask, default all) selects frames.

    The root orientation is taken into the camera (``R_cam @ R_root``), the 21 body
    joints keep their local rotations (SMPL's two hand joints stay at rest, as in the
    suite's SMPL backend, so the mesh compares with the suite's predicted meshes), and
    the pelvis is placed at the ground-truth pelvis (``jointPositions`` joint 0) in the
    camera frame.
    """
    parts = list(_posed_vertices(person, _pick_body(person, body), frames, chunk, hands=False))
    return np.concatenate(parts) if parts else np.zeros((0, 0, 3))


def gt_mesh_joints(
    person: Person, body, regressor: np.ndarray, frames: np.ndarray | None = None, chunk: int = 256
) -> np.ndarray:
    """The paper's ground-truth joints ``[F, 14, 3]`` float64, EVAL_JOINTS order, camera
    frame, metres: ``regressor @ vertices`` of the person's posed gendered SMPL mesh.

    ``body`` as for :func:`gt_vertices` (SMPL model files, ``model_type`` smpl);
    ``regressor`` ``[14, V]`` from :func:`load_joint_regressor`; ``frames`` selects frames.
    As HMMR's ``compute_neutral_shape.py`` (module docstring), the mesh is posed with all
    24 joint rotations of ``poses``, hands included, and ``betas`` (as many as the model
    has). It is placed in the camera frame as in :func:`gt_vertices`.
    """
    body = _pick_body(person, body)
    if getattr(body, "model_type", "smpl") != "smpl":
        raise InputError(
            f"3DPW's ground truth is SMPL: the mesh joints need SMPL model files, not {body.model_type}"
        )
    regressor = np.asarray(regressor, dtype=np.float64)
    if regressor.ndim != 2 or regressor.shape[0] != len(EVAL_JOINTS):
        raise ValueError(f"regressor must be [14, V] (load_joint_regressor), got {list(regressor.shape)}")
    n_vertices = int(body.model.v_template.shape[0])
    if regressor.shape[1] != n_vertices:
        raise InputError(
            f"the joint regressor has {regressor.shape[1]} columns but the {person.gender} SMPL "
            f"mesh has {n_vertices} vertices; {REGRESSOR_HINT}"
        )
    # chunk by chunk: a 1,800-frame track's meshes alone would take 300 MB
    parts = [regress_joints(v, regressor) for v in _posed_vertices(person, body, frames, chunk, hands=True)]
    return np.concatenate(parts) if parts else np.zeros((0, len(EVAL_JOINTS), 3))


def regress_joints(vertices: np.ndarray, regressor: np.ndarray) -> np.ndarray:
    """``[F, V, 3]`` meshes -> ``[F, 14, 3]`` joints with a ``[14, V]`` regressor."""
    return np.einsum("jv,fvc->fjc", np.asarray(regressor, np.float64), np.asarray(vertices, np.float64))


def _pick_body(person: Person, body):
    if isinstance(body, Mapping):
        if person.gender not in body:
            raise InputError(
                f"no SMPL body for gender {person.gender!r}: give {', '.join(sorted(_GENDERS.values()))}"
            )
        body = body[person.gender]
    if getattr(body, "name", None) != "smpl":
        raise InputError(
            f"3DPW's ground-truth mesh needs the smpl body backend (SMPL's mesh), "
            f"not {getattr(body, 'name', body)!r}"
        )
    return body


def _posed_vertices(person: Person, body, frames, chunk: int, hands: bool):
    """Yields ``[<=chunk, V, 3]`` float64 camera-frame vertices of the selected frames, in
    order; ``hands``: pose SMPL's hand joints (22, 23) too."""
    import roma
    import torch

    idx = np.arange(person.num_frames)
    if frames is not None:
        idx = idx[np.asarray(frames)]
    cam = person.cam_poses[idx]
    aa = torch.as_tensor(person.poses[idx].reshape(len(idx), -1, 3), dtype=torch.float64)
    rot = roma.rotvec_to_rotmat(aa)  # [F, 24, 3, 3]
    orient = torch.as_tensor(cam[:, :3, :3]) @ rot[:, 0]
    pelvis = world_to_camera(person.joints3d_world[idx, :1], cam)[:, 0]
    shape = np.zeros(body.shape_dim)
    given = person.betas[: body.shape_dim]
    shape[: given.size] = given
    n_local = body.skeleton.num_joints - 1
    with torch.no_grad():
        for s in range(0, len(idx), chunk):
            sl = slice(s, s + chunk)
            b = rot[sl].shape[0]
            betas = torch.as_tensor(shape, dtype=torch.float32).expand(b, -1)
            root = torch.as_tensor(pelvis[sl], dtype=torch.float32)
            if hands:
                yield _smpl_full_pose(body, rot[sl, 1:].float(), betas, orient[sl].float(), root)
            else:
                res = body(rot[sl, 1 : 1 + n_local].float(), betas, orient[sl].float(), root)
                yield res.vertices.double().cpu().numpy()


def _smpl_full_pose(body, local, betas, orient, root) -> np.ndarray:
    """SMPL's mesh with all 23 local rotations ``local`` ``[B, 23, 3, 3]`` (the suite's
    backend keeps the hands at rest, so this calls its smplx layer directly), the root
    joint moved to ``root`` ``[B, 3]`` as the backend does."""
    layer = body.model
    dtype = layer.shapedirs.dtype
    out = layer(betas=betas.to(dtype), body_pose=local.to(dtype), global_orient=orient.to(dtype), pose2rot=False)
    vertices = out.vertices - out.joints[:, :1] + root.to(dtype)[:, None]
    return vertices.double().cpu().numpy()


def load_joint_regressor(path: str | Path) -> np.ndarray:
    """HMR's cocoplus joint regressor -> ``[14, V]`` float64, rows in ``EVAL_JOINTS`` order.

    ``path``: a ``.pkl`` holding a dict with ``'cocoplus_regressor'`` (HMR's
    ``neutral_smpl_with_cocoplus_reg.pkl``, HMMR's ``..._cocoplustoesankles_reg.pkl``; the
    chumpy arrays such files may hold are skipped, chumpy is not needed), a ``.npy`` array,
    or a ``.npz`` with a ``cocoplus_regressor`` entry or a single array. The array is
    ``[R, V]`` (or its transpose), R one of :data:`REGRESSOR_ROWS`, dense or scipy sparse.
    InputError, one line, for anything else.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"joint regressor file not found: {path}; {REGRESSOR_HINT}")
    if path.suffix == ".pkl":
        value = _regressor_from_pickle(path)
    elif path.suffix in (".npy", ".npz"):
        value = _regressor_from_numpy(path)
    else:
        raise InputError(f"{path}: a joint regressor must be a .pkl, .npy or .npz file; {REGRESSOR_HINT}")
    if hasattr(value, "toarray"):  # scipy sparse, as HMR stores it
        value = value.toarray()
    try:
        reg = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        kind = type(value).__name__
        raise InputError(f"{path}: the joint regressor is a {kind}, not an array; {REGRESSOR_HINT}") from None
    if reg.ndim == 2 and reg.shape[0] not in REGRESSOR_ROWS and reg.shape[1] in REGRESSOR_ROWS:
        reg = reg.T  # stored [V, R], as HMR's TensorFlow code transposes it
    if reg.ndim != 2 or reg.shape[0] not in REGRESSOR_ROWS or reg.shape[1] < 1:
        raise InputError(
            f"{path}: the joint regressor has shape {list(reg.shape)}, expected [19, 6890] "
            f"(rows {'/'.join(map(str, REGRESSOR_ROWS))}, LSP's 14 joints first); {REGRESSOR_HINT}"
        )
    if not np.isfinite(reg).all():
        raise InputError(f"{path}: the joint regressor holds non-finite values; {REGRESSOR_HINT}")
    return reg[list(COCOPLUS_TO_EVAL)].copy()


class _Inert:
    """Stands in for any chumpy object while unpickling: keeps nothing."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass


class _NoChumpyUnpickler(pickle.Unpickler):
    # SMPL-family pickles store some arrays as chumpy objects, and chumpy does not install
    # on Python 3.11; the regressor is a numpy or scipy array, so the rest may stay inert.
    def find_class(self, module, name):
        if module.split(".")[0] == "chumpy":
            return _Inert
        return super().find_class(module, name)


def _regressor_from_pickle(path: Path):
    try:
        with open(path, "rb") as f:
            data = _NoChumpyUnpickler(f, encoding="latin1").load()  # Python 2 pickles
    except ModuleNotFoundError as e:
        raise InputError(f"reading {path} needs the module '{e.name}': install it; {REGRESSOR_HINT}") from None
    except Exception as e:  # any unreadable user file is an input problem
        raise InputError(f"{path} could not be unpickled ({_one_line(e)}); {REGRESSOR_HINT}") from None
    if not isinstance(data, Mapping) or REGRESSOR_KEY not in data:
        if isinstance(data, Mapping):
            what = f"keys {', '.join(sorted(map(str, data))[:8])}"
        else:
            what = f"a {type(data).__name__}"
        raise InputError(f"{path} has no '{REGRESSOR_KEY}' entry (it holds {what}); {REGRESSOR_HINT}")
    value = data[REGRESSOR_KEY]
    if isinstance(value, _Inert):
        raise InputError(f"{path}: its '{REGRESSOR_KEY}' is a chumpy object; {REGRESSOR_HINT}")
    return value


def _regressor_from_numpy(path: Path):
    if path.suffix == ".npz" and not zipfile.is_zipfile(path):
        raise InputError(f"{path} is not a valid .npz archive; {REGRESSOR_HINT}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as e:  # any unreadable user file is an input problem
        raise InputError(f"{path} could not be read ({_one_line(e)}); {REGRESSOR_HINT}") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded as npz:
        if REGRESSOR_KEY in npz.files:
            return npz[REGRESSOR_KEY]
        if len(npz.files) == 1:
            return npz[npz.files[0]]
        raise InputError(
            f"{path} holds {', '.join(npz.files)} and no '{REGRESSOR_KEY}' entry; {REGRESSOR_HINT}"
        )


def gendered_smpl(model_path: str | Path, num_betas: int = 10) -> dict:
    """``{"male": SMPLBody, "female": SMPLBody}`` from the user's SMPL model folder."""
    from synth.bodies.smpl_body import SMPLBody

    return {g: SMPLBody(str(model_path), gender=g, num_betas=num_betas) for g in ("male", "female")}


def _one_line(e: object) -> str:
    return " ".join(str(e).split())
