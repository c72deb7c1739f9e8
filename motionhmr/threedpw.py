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
(:mod:`synth.conventions`), so camera-frame joints need no axis change. Ground-truth 3D
joints are SMPL's own 24 skeleton joints, mapped to ``EVAL_JOINTS`` through
:data:`synth.motion.smpl_skeleton.CANONICAL`; 2D detections are mapped by
:func:`motionhmr.keypoint_files.to_eval_joints` (layout ``openpose18``).
"""

from __future__ import annotations

import dataclasses
import pickle
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
        ``joints3d`` ``[N, 14, 3]`` float64 EVAL_JOINTS, camera frame, metres;
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


# -- meshes (PVE) --------------------------------------------------------------------------


def gt_vertices(person: Person, body, frames: np.ndarray | None = None, chunk: int = 256) -> np.ndarray:
    """Ground-truth SMPL vertices ``[F, V, 3]`` float64, camera frame, metres.

    ``body`` is a :class:`synth.bodies.smpl_body.SMPLBody` (the ``smpl`` backend) or a
    mapping ``{"male": ..., "female": ...}`` of them, from which the person's gender picks
    one (3DPW's ground truth was fitted with gendered SMPL models; SPIN's evaluation builds
    its meshes the same way). ``frames`` (indices or a bool mask, default all) selects frames.

    The root orientation is taken into the camera (``R_cam @ R_root``), the 21 body
    joints keep their local rotations (SMPL's two hand joints stay at rest, as in the
    suite's SMPL backend), and the pelvis is placed at the ground-truth pelvis
    (``jointPositions`` joint 0) in the camera frame.
    """
    import roma
    import torch

    if isinstance(body, Mapping):
        if person.gender not in body:
            raise InputError(
                f"no SMPL body for gender {person.gender!r}: give {', '.join(sorted(_GENDERS.values()))}"
            )
        body = body[person.gender]
    if getattr(body, "name", None) != "smpl":
        raise InputError(
            f"PVE needs the smpl body backend (SMPL's mesh), not {getattr(body, 'name', body)!r}"
        )
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
    out = []
    with torch.no_grad():
        for s in range(0, len(idx), chunk):
            sl = slice(s, s + chunk)
            b = rot[sl].shape[0]
            res = body(
                rot[sl, 1 : 1 + n_local].float(),
                torch.as_tensor(shape, dtype=torch.float32).expand(b, -1),
                orient[sl].float(),
                torch.as_tensor(pelvis[sl], dtype=torch.float32),
            )
            out.append(res.vertices.double().cpu().numpy())
    if not out:
        return np.zeros((0, 0, 3))
    return np.concatenate(out)


def gendered_smpl(model_path: str | Path, num_betas: int = 10) -> dict:
    """``{"male": SMPLBody, "female": SMPLBody}`` from the user's SMPL model folder."""
    from synth.bodies.smpl_body import SMPLBody

    return {g: SMPLBody(str(model_path), gender=g, num_betas=num_betas) for g in ("male", "female")}


def _one_line(e: object) -> str:
    return " ".join(str(e).split())
