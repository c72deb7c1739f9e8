"""Build small 3DPW-format fixtures at test time (no 3DPW or SMPL data in the repository).

:func:`sequence_dict` makes a dict with the official ``sequenceFiles/*.pkl`` keys, numpy
arrays and per-person lists; :func:`write_sequence` pickles it the way the official files
were written, by Python 2 (numpy buffers and every string as py2 ``str``, globals named
``numpy.core.multiarray``), so only ``pickle.load(f, encoding="latin1")`` reads it back.

Ground truth is generated, not stored: SMPL-style forward kinematics of random poses on a
hand-placed T-pose skeleton (:data:`REST_JOINTS`, a TEST STAND-IN, NOT SMPL), seen by a
camera in front of the person. :func:`write_standin_smpl` writes a SMPL-format model file
with one vertex on each joint of that skeleton, so the suite's SMPL backend posing the
fixture's parameters must reproduce its ``jointPositions`` exactly.
"""

from __future__ import annotations

import _compat_pickle
import dataclasses
import pickle
import struct
from pathlib import Path
from types import FunctionType

import numpy as np

#: SMPL's 24-joint kinematic tree (22 body joints, then the two hands).
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
# Rough T-pose joints in metres (Y up, facing +Z, the body's left at +X), SMPL order;
# the right side mirrors x.
_LEFT_AND_MID = {
    0: (0.00, 0.90, 0.00), 1: (0.09, 0.82, 0.00), 3: (0.00, 1.00, -0.01),
    4: (0.10, 0.48, 0.01), 6: (0.00, 1.13, 0.00), 7: (0.10, 0.08, -0.03),
    9: (0.00, 1.18, 0.01), 10: (0.11, 0.02, 0.10), 12: (0.00, 1.40, -0.01),
    13: (0.08, 1.33, 0.00), 15: (0.00, 1.50, 0.03), 16: (0.18, 1.36, 0.00),
    18: (0.44, 1.36, -0.02), 20: (0.69, 1.36, 0.00), 22: (0.77, 1.36, 0.00),
}  # fmt: skip
_MIRROR = {2: 1, 5: 4, 8: 7, 11: 10, 14: 13, 17: 16, 19: 18, 21: 20, 23: 22}


def _rest_joint(j: int) -> tuple[float, float, float]:
    if j in _LEFT_AND_MID:
        return _LEFT_AND_MID[j]
    x, y, z = _LEFT_AND_MID[_MIRROR[j]]
    return (-x, y, z)


REST_JOINTS = np.array([_rest_joint(j) for j in range(24)])

#: OpenPose COCO-18 point -> SMPL joint it is drawn at, plus an offset (metres, world).
_OPENPOSE_FROM_SMPL = (
    (15, (0.0, 0.0, 0.10)), (12, (0, 0, 0)), (17, (0, 0, 0)), (19, (0, 0, 0)), (21, (0, 0, 0)),
    (16, (0, 0, 0)), (18, (0, 0, 0)), (20, (0, 0, 0)), (2, (0, 0, 0)), (5, (0, 0, 0)),
    (8, (0, 0, 0)), (1, (0, 0, 0)), (4, (0, 0, 0)), (7, (0, 0, 0)),
    (15, (-0.03, 0.03, 0.08)), (15, (0.03, 0.03, 0.08)), (15, (-0.07, 0.0, 0.0)), (15, (0.07, 0.0, 0.0)),
)  # fmt: skip
#: EVAL_JOINTS index -> the OpenPose points it comes from (hiding them all hides it).
EVAL_SOURCES = (
    (10,), (9,), (8,), (11,), (12,), (13,), (4,), (3,), (2,), (5,), (6,), (7,), (1,), (0, 14, 15, 16, 17),
)  # fmt: skip
DETECTED_CONF = 0.9
K = np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]])


@dataclasses.dataclass
class PersonSpec:
    """What to vary per person. ``visible[i]``: how many EVAL_JOINTS are detected in
    frame i (the first ``k`` in EVAL_JOINTS order; default all 14); ``campose_valid``
    ``[N]`` bool (default all True)."""

    gender: str = "m"
    visible: np.ndarray | None = None
    campose_valid: np.ndarray | None = None
    n_betas: int = 10


def rodrigues(aa: np.ndarray) -> np.ndarray:
    """``[..., 3]`` axis-angle -> ``[..., 3, 3]`` rotation matrices."""
    theta = np.linalg.norm(aa, axis=-1)[..., None, None]
    k = np.divide(aa, theta[..., 0], out=np.zeros_like(aa), where=theta[..., 0] > 0)
    x, y, z = k[..., 0], k[..., 1], k[..., 2]
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*aa.shape[:-1], 3, 3)
    return np.eye(3) + np.sin(theta) * skew + (1 - np.cos(theta)) * skew @ skew


def global_rotations(poses: np.ndarray) -> np.ndarray:
    """``[N, 24, 3, 3]`` world rotation of each joint's frame for ``poses`` ``[N, 72]``."""
    rot = rodrigues(poses.reshape(len(poses), 24, 3))
    glob = [rot[:, 0]]
    for j in range(1, 24):
        glob.append(glob[PARENTS[j]] @ rot[:, j])
    return np.stack(glob, axis=1)


def forward_kinematics(poses: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """SMPL joints ``[N, 24, 3]`` world of ``poses`` ``[N, 72]`` and ``trans`` ``[N, 3]``:
    like SMPL, the root rotates about its rest position and ``trans`` shifts everything."""
    rot = rodrigues(poses.reshape(len(poses), 24, 3))
    glob = [rot[:, 0]]
    pos = [np.broadcast_to(REST_JOINTS[0] + trans, (len(poses), 3))]
    for j in range(1, 24):
        p = PARENTS[j]
        glob.append(glob[p] @ rot[:, j])
        pos.append(pos[p] + np.einsum("nij,j->ni", glob[p], REST_JOINTS[j] - REST_JOINTS[p]))
    return np.stack(pos, axis=1)


def camera_poses(n: int, rng: np.random.Generator) -> np.ndarray:
    """``[n, 4, 4]`` world-to-camera poses of a camera ~4 m in front of the person (on
    +Z, looking at -Z, image y down), yawing and drifting a little each frame."""
    base = np.diag([1.0, -1.0, -1.0])  # world Y up, facing +Z -> OpenCV camera facing the person
    out = np.tile(np.eye(4), (n, 1, 1))
    yaw = 0.1 * np.sin(np.linspace(0, 3, n)) + 0.02 * rng.standard_normal(n)
    for i in range(n):
        out[i, :3, :3] = base @ rodrigues(np.array([0.0, yaw[i], 0.0]))
        out[i, :3, 3] = (0.05 * rng.standard_normal(), 1.0, 4.0 + 0.1 * i / n)
    return out


def sequence_dict(name: str, n_frames: int, people: list[PersonSpec], seed: int = 0) -> dict:
    """A 3DPW sequence in the official layout (keys, dtypes, per-person lists)."""
    rng = np.random.default_rng(seed)
    cam_poses = camera_poses(n_frames, rng)
    d = {key: [] for key in (
        "genders", "betas", "poses", "trans", "poses2d", "jointPositions", "campose_valid",
        "v_template_clothed", "texture_maps", "poses_60Hz", "trans_60Hz", "betas_clothed",
    )}  # fmt: skip
    for p, spec in enumerate(people):
        poses = 0.25 * rng.standard_normal((n_frames, 72))
        poses[:, :3] = [0.0, 0.3 * (p - 0.5), 0.0] + 0.05 * rng.standard_normal((n_frames, 3))
        trans = np.array([0.8 * (p - 0.5), 0.0, 0.0]) + np.cumsum(
            0.01 * rng.standard_normal((n_frames, 3)), 0
        )
        joints = forward_kinematics(poses, trans)
        d["genders"].append(spec.gender)
        d["betas"].append(rng.standard_normal(spec.n_betas))
        d["poses"].append(poses)
        d["trans"].append(trans)
        d["jointPositions"].append(joints.reshape(n_frames, 72))
        d["poses2d"].append(_poses2d(joints, cam_poses, spec, n_frames))
        valid = (
            np.ones(n_frames, bool) if spec.campose_valid is None else np.asarray(spec.campose_valid, bool)
        )
        d["campose_valid"].append(valid)
        # Unused by the reader but part of the official files (shrunk stand-ins).
        d["v_template_clothed"].append(REST_JOINTS.copy())
        d["texture_maps"].append(np.zeros((4, 4, 3), np.uint8))
        d["poses_60Hz"].append(np.repeat(poses, 2, axis=0))
        d["trans_60Hz"].append(np.repeat(trans, 2, axis=0))
        d["betas_clothed"].append(np.zeros(10))
    d.update(
        sequence=name,
        cam_poses=cam_poses,
        cam_intrinsics=K.copy(),
        img_frame_ids=np.arange(n_frames),
    )
    return d


def camera_joints(d: dict, person: int) -> np.ndarray:
    """``[N, 24, 3]`` the fixture's SMPL joints of ``person`` in the camera frame."""
    joints = d["jointPositions"][person].reshape(-1, 24, 3)
    rot, t = d["cam_poses"][:, :3, :3], d["cam_poses"][:, :3, 3]
    return np.einsum("nij,nkj->nki", rot, joints) + t[:, None]


def _poses2d(joints: np.ndarray, cam_poses: np.ndarray, spec: PersonSpec, n: int) -> np.ndarray:
    """``[N, 3, 18]``: the OpenPose points projected with :data:`K`, confidence 0.9, and
    the EVAL_JOINTS past ``spec.visible[i]`` hidden (confidence 0, position 0)."""
    src = np.array([s for s, _ in _OPENPOSE_FROM_SMPL])
    offset = np.array([o for _, o in _OPENPOSE_FROM_SMPL], dtype=float)
    world = joints[:, src] + offset
    cam = np.einsum("nij,nkj->nki", cam_poses[:, :3, :3], world) + cam_poses[:, None, :3, 3]
    uv = np.einsum("ij,nkj->nki", K, cam)
    uv = uv[..., :2] / uv[..., 2:]
    out = np.concatenate([uv, np.full((n, 18, 1), DETECTED_CONF)], axis=-1)  # [N, 18, 3]
    visible = np.full(n, 14) if spec.visible is None else np.asarray(spec.visible)
    for i in range(n):
        for j in range(int(visible[i]), 14):
            out[i, list(EVAL_SOURCES[j])] = 0.0
    return out.transpose(0, 2, 1).copy()


# -- Python 2 style pickles ---------------------------------------------------------------


class Py2Pickler(pickle._Pickler):
    """Protocol 2 as Python 2 wrote it: ``str`` and ``bytes`` become py2 strings
    (BINSTRING) and numpy globals are named ``numpy.core.*``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file):
        super().__init__(file, protocol=2)

    def save_py2_str(self, obj):
        data = obj if isinstance(obj, bytes) else obj.encode("latin1")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj, name=None):
        name = name or obj.__qualname__
        module = pickle.whichmodule(obj, name).replace("numpy._core", "numpy.core")
        if (module, name) in _compat_pickle.REVERSE_NAME_MAPPING:
            module, name = _compat_pickle.REVERSE_NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.REVERSE_IMPORT_MAPPING:
            module = _compat_pickle.REVERSE_IMPORT_MAPPING[module]
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[FunctionType] = save_global


def write_sequence(path: Path, d: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        Py2Pickler(f).dump(d)
    return path


def write_split(root: Path, split: str, sequences: list[dict]) -> Path:
    """``root/sequenceFiles/<split>/<name>.pkl`` for each sequence dict; returns ``root``."""
    for d in sequences:
        write_sequence(root / "sequenceFiles" / split / f"{d['sequence']}.pkl", d)
    return root


# -- a SMPL-format stand-in model -----------------------------------------------------------


#: ``standin_smpl(hand_vertices=True)`` adds, after the 24 joint vertices, one vertex this
#: far (metres, rest pose) from each hand joint, skinned to that hand joint: it moves when
#: (and only when) the hand joint itself rotates.
HAND_OFFSETS = {22: (0.08, -0.02, 0.03), 23: (-0.08, -0.02, 0.03)}


def standin_smpl(hand_vertices: bool = False) -> dict:
    """A SMPL-format model: a TEST STAND-IN, NOT SMPL. One vertex on each of the 24
    :data:`REST_JOINTS`, skinned one-hot to it (plus, with ``hand_vertices``, the two of
    :data:`HAND_OFFSETS`); no shape or pose blend shapes."""
    n = 24
    v_template, weights = REST_JOINTS.copy(), np.eye(n)
    if hand_vertices:
        extra = [REST_JOINTS[j] + HAND_OFFSETS[j] for j in HAND_OFFSETS]
        v_template = np.concatenate([v_template, extra])
        weights = np.concatenate([weights, np.eye(n)[list(HAND_OFFSETS)]])
    v = len(v_template)
    return {
        "v_template": v_template,
        "shapedirs": np.zeros((v, 3, 10)),
        "posedirs": np.zeros((v, 3, 9 * (n - 1))),
        "J_regressor": np.eye(n, v),
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, *PARENTS[1:]], range(n)], dtype=np.int64),
        "f": np.array([[0, 1, 2]], dtype=np.uint32),
    }


def write_standin_smpl(root: Path, hand_vertices: bool = False) -> Path:
    """``root/smpl/SMPL_{NEUTRAL,MALE,FEMALE}.npz`` stand-ins; returns ``root``."""
    (root / "smpl").mkdir(parents=True, exist_ok=True)
    for gender in ("NEUTRAL", "MALE", "FEMALE"):
        np.savez(root / "smpl" / f"SMPL_{gender}.npz", **standin_smpl(hand_vertices))
    return root


def standin_vertices(d: dict, person: int, hand_vertices: bool = False) -> np.ndarray:
    """``[N, V, 3]`` the stand-in mesh of ``person`` posed with the fixture's parameters,
    camera frame: its joints, then (``hand_vertices``) the hand vertices, which follow
    their hand joint's rotation."""
    verts = camera_joints(d, person)
    if not hand_vertices:
        return verts
    joints = d["jointPositions"][person].reshape(-1, 24, 3)
    glob = global_rotations(d["poses"][person])
    world = [joints[:, j] + glob[:, j] @ np.asarray(HAND_OFFSETS[j]) for j in HAND_OFFSETS]
    rot, t = d["cam_poses"][:, :3, :3], d["cam_poses"][:, :3, 3]
    extra = np.einsum("nij,nkj->nki", rot, np.stack(world, axis=1)) + t[:, None]
    return np.concatenate([verts, extra], axis=1)


def write_regressor(path: Path, regressor, key: str | None = "cocoplus_regressor", chumpy: bool = False) -> Path:
    """A joint-regressor file as the user may hold one: ``.npy`` (the array), ``.npz``
    (under ``key``, or as its only entry when ``key`` is None), or a Python 2 style
    ``.pkl`` dict like HMR's ``neutral_smpl_with_cocoplus_reg.pkl`` (``regressor`` under
    ``key``; with ``chumpy``, beside a ``v_template`` pickled as a ``chumpy.ch.Ch`` object,
    a class that does not exist here, as in files written with chumpy installed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        np.save(path, regressor)
    elif path.suffix == ".npz":
        np.savez(path, **({key: regressor} if key else {"arr": regressor}))
    else:
        d = {key: regressor, "f": np.array([[0, 1, 2]], dtype=np.uint32)}
        if chumpy:
            d["v_template"] = _ChumpyCh(REST_JOINTS.copy())
        with open(path, "wb") as f:
            Py2Pickler(f).dump(d)
    return path


class _ChumpyCh:
    """Pickles as a ``chumpy.ch.Ch`` object with chumpy-like state (a dict holding the
    array). :class:`Py2Pickler` writes globals by name without importing them, so chumpy
    need not exist here, and reading the file back with plain ``pickle`` would fail."""

    def __init__(self, x):
        self.x = x

    def __reduce__(self):
        return (_CH, (), {"x": self.x})


_CH = type("Ch", (), {"__module__": "chumpy.ch"})
