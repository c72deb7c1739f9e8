"""Acclaim ASF/AMC motion capture (CMU's original format) -> :class:`~synth.motion.clip.MotionClip`.

An ASF file is the skeleton (units, root, bones with direction, length, axis and dof, the
hierarchy); an AMC file is the motion (per frame, one line per bone with its dof values).
CMU ships one ASF per subject beside its trials: ``02/02.asf``, ``02/02_01.amc``, ...

Contract
    ``load_asfamc(amc, asf=None, *, fps=120.0, unit_scale=None, name=None) -> MotionClip``
        The clip exactly as :func:`synth.motion.bvh.load_bvh` gives it for CMU's BVH
        conversion of the same trial: joint ``j`` sits at the *start* of one ASF bone and
        carries that bone's rotation, so joints are the root (``Hips``) then the bones in
        hierarchy order (depth first, children as listed), each parented to its parent
        bone's joint with that parent bone's vector ``direction * length`` as offset.
        CMU bone names become the CMU BVH names (``BVH_NAMES``: ``lfemur`` -> ``LeftUpLeg``,
        ``lwrist`` -> ``LeftHand``, ...), other names are kept, and ``canonical`` comes from
        :func:`synth.motion.bvh.canonical_map`; the 14 ``EVAL_JOINTS`` must all be found.
        Everything downstream (retargeting, resampling to ``motion.fps``) is shared with BVH.
        ``asf=None`` takes the subject's skeleton beside the AMC (:func:`asf_for`).
        AMC files carry no frame rate: ``fps`` is the capture rate (CMU: 120).
    ``list_asfamc(root) -> dict[str, tuple[Path, Path]]``
        Clip name (AMC stem, ``"02_01"``) -> ``(amc, asf)`` for every ``*.amc`` under
        ``root``, searched recursively, each paired with its subject's ASF.
    ``read_asf``, ``read_amc``, ``local_rotations``, ``forward_kinematics``, ``metres_per_unit``
        The steps, public for tests and tools; ``forward_kinematics`` is the spec's FK on
        bone starts *and ends* (the tips of toes, fingers and head, which a MotionClip drops).

Kinematics (the ASF/AMC specification's convention)
    For a bone with ``axis ax ay az XYZ``, ``C = Rz(az) Ry(ay) Rx(ax)``: the rotations are
    applied in the listed order, so the first letter is the rightmost factor (``ZYX``
    gives ``Rx Ry Rz``). The motion rotation ``M`` is built the same way from the AMC
    values in the bone's ``dof`` order (``rx ry rz`` -> ``Rz Ry Rx``, as CMU's BVH
    conversions write ``Zrotation Yrotation Xrotation``). The bone's world rotation is
    ``G = G_parent C M C^-1`` and its end is its start ``+ G (direction * length)``;
    directions are in the world frame at rest. The root is the same with ``orientation``
    in ``axis`` order for ``C`` and the ``RX RY RZ`` entries of ``order`` for ``M``; its
    position is the AMC's ``TX TY TZ`` (a component the ``order`` lacks keeps the ASF
    ``position``). ``C M C^-1`` is the local-ref rotation a MotionClip stores. Translation
    and length dof on bones (``tx ty tz l``) are read and ignored, as BVH position channels
    on non-root joints are: a MotionClip has fixed bone lengths.

Units
    Acclaim lengths are inches divided by ``:units length`` (CMU writes 0.45, so one unit
    is 0.0254 / 0.45 = 0.0564444 m; the BVH loader's table rounds it to 0.05644, which
    moves a point 2 m from the origin by 0.2 mm); ``unit_scale`` overrides it, and an ASF
    without a length unit gets the BVH loader's leg-length inference. Angles are in the ASF's
    ``:units angle`` (``deg`` or ``rad``); an AMC's ``:DEGREES`` / ``:RADIANS`` sets its
    own. Axes are kept: CMU is Y up, facing +Z, left = +X, the suite frame.

Errors
    Every problem (missing or unreadable file, a missing ``:root``, ``:bonedata`` or
    ``:hierarchy``, a malformed bone, a hierarchy naming unknown bones or leaving some out,
    an AMC bone not in the ASF, a wrong count of values, a non-numeric value, a frame
    lacking a bone, no frames, an AMC without its ASF) raises
    :class:`~synth.errors.InputError` with one line naming the file and, where it
    applies, the line number.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from synth.conventions import EVAL_JOINTS
from synth.errors import InputError
from synth.motion.bvh import canonical_map, infer_unit_scale
from synth.motion.clip import MotionClip

#: Metres per Acclaim base unit: ``:units length L`` makes one file unit 1/L inch.
INCH_M: float = 0.0254

#: CMU capture rate; AMC files do not record theirs.
CMU_FPS: float = 120.0

_LEFT_BVH_NAMES: dict[str, str] = {
    "lhipjoint": "LHipJoint", "lfemur": "LeftUpLeg", "ltibia": "LeftLeg",
    "lfoot": "LeftFoot", "ltoes": "LeftToeBase",
    "lclavicle": "LeftShoulder", "lhumerus": "LeftArm", "lradius": "LeftForeArm",
    "lwrist": "LeftHand", "lhand": "LeftFingerBase", "lfingers": "LeftHandIndex1",
    "lthumb": "LThumb",
}  # fmt: skip

#: CMU ASF bone -> the name CMU's BVH conversions give the joint at the bone's *start*
#: (``lfemur`` starts at the hip: ``LeftUpLeg``; ``lwrist`` at the wrist: ``LeftHand``).
BVH_NAMES: dict[str, str] = {
    "root": "Hips",
    "lowerback": "LowerBack", "upperback": "Spine", "thorax": "Spine1",
    "lowerneck": "Neck", "upperneck": "Neck1", "head": "Head",
    **_LEFT_BVH_NAMES,
    **{"r" + a[1:]: ("Right" + b[4:] if b.startswith("Left") else "R" + b[1:])
       for a, b in _LEFT_BVH_NAMES.items()},
}  # fmt: skip

_ROOT_CHANNELS = ("TX", "TY", "TZ", "RX", "RY", "RZ")
_BONE_DOF = ("rx", "ry", "rz", "tx", "ty", "tz", "l")
_LIMIT = re.compile(r"\(\s*(\S+)\s+(\S+)\s*\)")


@dataclasses.dataclass
class AsfBone:
    name: str
    direction: np.ndarray  #: float64 [3], world frame at rest (unit length in CMU files)
    length: float  #: file units
    axis: np.ndarray  #: float64 [3], radians, the angles about X, Y, Z
    axis_order: str  #: e.g. "XYZ": the order the axis rotations are applied in
    dof: tuple[str, ...]  #: e.g. ("rx", "ry", "rz"), the AMC value order
    limits: tuple[tuple[float, float], ...]  #: per dof, as written (not enforced)
    line: int  #: where the bone's ``begin`` is, for messages

    @property
    def vector(self) -> np.ndarray:
        return self.direction * self.length


@dataclasses.dataclass
class AsfSkeleton:
    """An ASF file as written (file units, angles in radians), bones parents-first."""

    path: Path
    length_unit: float | None  #: ``:units length`` (CMU: 0.45), None when absent
    angle_unit: str  #: "deg" or "rad", for the ASF's angles and by default the AMC's
    root_order: tuple[str, ...]  #: e.g. ("TX", "TY", "TZ", "RX", "RY", "RZ")
    root_axis: str  #: order of the ``orientation`` rotations
    root_position: np.ndarray  #: float64 [3], file units
    root_orientation: np.ndarray  #: float64 [3], radians
    bones: tuple[AsfBone, ...]  #: depth first through ``:hierarchy``, children as listed
    parents: tuple[int, ...]  #: index into ``bones`` of each bone's parent, -1 for the root

    def index(self) -> dict[str, int]:
        return {b.name: i for i, b in enumerate(self.bones)}


@dataclasses.dataclass
class AmcMotion:
    """An AMC file's values: ``root [T, len(root_order)]`` (file units, radians for the
    rotations) and per bone ``bones[name] [T, len(dof)]`` (radians; tx/ty/tz/l as written)."""

    path: Path
    root: np.ndarray
    bones: dict[str, np.ndarray]

    @property
    def num_frames(self) -> int:
        return int(self.root.shape[0])


# ----------------------------------------------------------------------------- public


def load_asfamc(
    amc: str | Path,
    asf: str | Path | None = None,
    *,
    fps: float = CMU_FPS,
    unit_scale: float | None = None,
    name: str | None = None,
) -> MotionClip:
    """Load an AMC trial on its ASF skeleton as a MotionClip in metres (see the module docstring)."""
    amc = Path(amc)
    skeleton = read_asf(asf if asf is not None else asf_for(amc))
    motion = read_amc(amc, skeleton)
    if not (math.isfinite(fps) and fps > 0):
        raise InputError(f"{amc}: fps must be a positive number, got {fps}")

    names = ("Hips",) + tuple(BVH_NAMES.get(b.name.lower(), b.name) for b in skeleton.bones)
    parents = (-1,) + tuple(p + 1 for p in skeleton.parents)  # joint 0 is the root
    canonical = canonical_map(names)
    missing = [c for c in EVAL_JOINTS if c not in canonical]
    if missing:
        raise InputError(
            f"{skeleton.path}: no bones for {', '.join(missing)}; the 14 evaluation joints are "
            f"required (CMU bone names: synth.motion.asfamc.BVH_NAMES)"
        )
    offsets = np.zeros((len(names), 3))
    offsets[0] = skeleton.root_position
    for b, parent in enumerate(skeleton.parents):
        if parent >= 0:
            offsets[b + 1] = skeleton.bones[parent].vector
    if unit_scale is None:
        unit_scale = _unit_scale_or_inferred(skeleton, offsets, parents, canonical)
    elif not (math.isfinite(unit_scale) and unit_scale > 0):
        raise InputError(f"{skeleton.path}: unit_scale must be a positive number, got {unit_scale}")

    root_rot, bone_rot = local_rotations(skeleton, motion)
    return MotionClip(
        name=name if name is not None else amc.stem,
        fps=float(fps),
        joint_names=names,
        parents=parents,
        offsets=(offsets * unit_scale).astype(np.float32),
        rotations=np.concatenate([root_rot[:, None], bone_rot], axis=1).astype(np.float32),
        root_positions=(root_positions(skeleton, motion) * unit_scale).astype(np.float32),
        canonical=canonical,
        source=str(amc),
    )


def list_asfamc(root: str | Path) -> dict[str, tuple[Path, Path]]:
    """Clip name (AMC stem) -> ``(amc, asf)`` for every ``.amc`` under ``root``, recursively."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory of ASF/AMC files")
    clips: dict[str, tuple[Path, Path]] = {}
    for amc in sorted(p for p in root.rglob("*") if p.suffix.lower() == ".amc"):
        if amc.stem in clips:
            raise InputError(
                f"{root}: two AMC files share the clip name '{amc.stem}': {clips[amc.stem][0]} and {amc}"
            )
        clips[amc.stem] = (amc, asf_for(amc))
    return clips


def asf_for(amc: str | Path) -> Path:
    """The skeleton of an AMC trial: ``<subject>.asf`` beside ``<subject>_<trial>.amc``,
    else the folder's only ``.asf``."""
    amc = Path(amc)
    subject = amc.stem.rsplit("_", 1)[0]
    asfs = sorted(p for p in amc.parent.glob("*") if p.suffix.lower() == ".asf")
    named = [p for p in asfs if p.stem == subject]
    if named:
        return named[0]
    if len(asfs) == 1:
        return asfs[0]
    found = f"the folder has {len(asfs)} other .asf files" if asfs else "the folder has no .asf"
    raise InputError(f"{amc}: no skeleton for it: expected {amc.parent / (subject + '.asf')} ({found})")


def metres_per_unit(skeleton: AsfSkeleton) -> float | None:
    """Metres per file unit from ``:units length`` (1/L inch), None when the ASF has none."""
    return None if skeleton.length_unit is None else INCH_M / skeleton.length_unit


def local_rotations(skeleton: AsfSkeleton, motion: AmcMotion) -> tuple[np.ndarray, np.ndarray]:
    """``C M C^-1`` of the root ``[T, 3, 3]`` and of each bone ``[T, B, 3, 3]``, float64:
    each one's rotation relative to its parent, in world-aligned axes."""
    t = motion.num_frames
    root_axes = [ch[1].lower() for ch in skeleton.root_order if ch[0] == "R"]
    root_cols = [i for i, ch in enumerate(skeleton.root_order) if ch[0] == "R"]
    c_root = _euler(skeleton.root_orientation[None], skeleton.root_axis.lower())[0]
    root = c_root @ _euler(motion.root[:, root_cols], root_axes) @ c_root.T
    bones = np.empty((t, len(skeleton.bones), 3, 3))
    for b, bone in enumerate(skeleton.bones):
        cols = [i for i, d in enumerate(bone.dof) if d.startswith("r")]
        m = _euler(motion.bones[bone.name][:, cols], [bone.dof[i][1] for i in cols])
        c = _euler(bone.axis[None], bone.axis_order.lower())[0]
        bones[:, b] = c @ m @ c.T
    return root, bones


def root_positions(skeleton: AsfSkeleton, motion: AmcMotion) -> np.ndarray:
    """``[T, 3]`` root positions, file units: the AMC's TX TY TZ, else the ASF position."""
    pos = np.tile(skeleton.root_position, (motion.num_frames, 1))
    for col, ch in enumerate(skeleton.root_order):
        if ch[0] == "T":
            pos[:, "XYZ".index(ch[1])] = motion.root[:, col]
    return pos


def forward_kinematics(skeleton: AsfSkeleton, motion: AmcMotion) -> tuple[np.ndarray, np.ndarray]:
    """The spec's FK, file units: bone starts and ends ``[T, B, 3]`` float64, with
    ``G = G_parent C M C^-1`` and ``end = start + G (direction * length)``."""
    root_rot, local = local_rotations(skeleton, motion)
    root_pos = root_positions(skeleton, motion)
    glob = np.empty_like(local)
    starts, ends = np.empty(local.shape[:3]), np.empty(local.shape[:3])
    for b, (bone, p) in enumerate(zip(skeleton.bones, skeleton.parents)):
        glob[:, b] = (root_rot if p < 0 else glob[:, p]) @ local[:, b]
        starts[:, b] = root_pos if p < 0 else ends[:, p]
        ends[:, b] = starts[:, b] + glob[:, b] @ bone.vector
    return starts, ends


# --------------------------------------------------------------------------------- ASF


def read_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ASF skeleton without interpreting it (file units; angles to radians)."""
    path = Path(path)
    sections = _sections(path, _read_lines(path, "ASF"))
    for required in ("root", "bonedata", "hierarchy"):
        if required not in sections:
            raise InputError(f"{path}: no :{required} section; not an ASF skeleton?")
    length_unit, angle_unit = _units(path, sections.get("units"))
    to_rad = math.pi / 180.0 if angle_unit == "deg" else 1.0
    order, axis, position, orientation = _root(path, sections["root"])
    bones = _bonedata(path, sections["bonedata"], to_rad)
    ordered, parents = _hierarchy(path, sections["hierarchy"], bones)
    return AsfSkeleton(
        path=path,
        length_unit=length_unit,
        angle_unit=angle_unit,
        root_order=order,
        root_axis=axis,
        root_position=position,
        root_orientation=orientation * to_rad,
        bones=tuple(ordered),
        parents=tuple(parents),
    )


@dataclasses.dataclass
class _Section:
    line: int  #: the ``:keyword`` line
    args: list[str]  #: tokens after the keyword on its line
    body: list[tuple[int, list[str]]]  #: (line number, tokens) of the lines up to the next keyword


def _sections(path: Path, lines: Sequence[str]) -> dict[str, _Section]:
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    for no, raw in enumerate(lines, 1):
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        if tokens[0].startswith(":"):
            key = tokens[0][1:].lower()
            if key in sections:
                raise InputError(f"{path}:{no}: a second :{key} section")
            current = sections[key] = _Section(no, tokens[1:], [])
        elif current is None:
            raise InputError(
                f"{path}:{no}: not an ASF file: expected a ':' keyword, found {_show(raw.strip())}"
            )
        else:
            current.body.append((no, tokens))
    return sections


def _units(path: Path, section: _Section | None) -> tuple[float | None, str]:
    length, angle = None, "deg"
    for no, tokens in section.body if section else ():
        key = tokens[0].lower()
        if len(tokens) != 2:
            raise InputError(
                f"{path}:{no}: expected ':units' lines '<name> <value>', found {_show(' '.join(tokens))}"
            )
        if key == "length":
            length = _number(path, no, tokens[1], "units length")
            if length <= 0:
                raise InputError(f"{path}:{no}: units length must be positive, found {_show(tokens[1])}")
        elif key == "angle":
            unit = tokens[1].lower()
            if unit not in ("deg", "rad"):
                raise InputError(f"{path}:{no}: units angle must be 'deg' or 'rad', found {_show(tokens[1])}")
            angle = unit
    return length, angle


def _root(path: Path, section: _Section) -> tuple[tuple[str, ...], str, np.ndarray, np.ndarray]:
    fields = {tokens[0].lower(): (no, tokens[1:]) for no, tokens in section.body}
    if "order" not in fields:
        raise InputError(f"{path}:{section.line}: :root has no 'order' line (e.g. 'order TX TY TZ RX RY RZ')")
    no, order = fields["order"]
    order = [ch.upper() for ch in order]
    if not order or any(ch not in _ROOT_CHANNELS for ch in order) or len(set(order)) < len(order):
        raise InputError(
            f"{path}:{no}: root order must list distinct TX TY TZ RX RY RZ, found {_show(' '.join(order))}"
        )
    no, axis = fields.get("axis", (section.line, ["XYZ"]))
    axis_order = _axis_order(path, no, axis[0] if len(axis) == 1 else " ".join(axis))

    def triple(key: str) -> np.ndarray:
        no, values = fields.get(key, (section.line, ["0", "0", "0"]))
        if len(values) != 3:
            raise InputError(f"{path}:{no}: root {key} needs 3 numbers, found {len(values)}")
        return np.array([_number(path, no, v, f"root {key}") for v in values])

    return tuple(order), axis_order, triple("position"), triple("orientation")


def _bonedata(path: Path, section: _Section, to_rad: float) -> list[AsfBone]:
    bones: list[AsfBone] = []
    block: list[tuple[int, list[str]]] | None = None
    begin = section.line
    for no, tokens in section.body:
        key = tokens[0].lower()
        if key == "begin":
            if block is not None:
                raise InputError(f"{path}:{no}: 'begin' inside the bone opened at line {begin}")
            block, begin = [], no
        elif key == "end":
            if block is None:
                raise InputError(f"{path}:{no}: 'end' without a 'begin'")
            bones.append(_bone(path, begin, block, to_rad))
            block = None
        elif block is None:
            raise InputError(f"{path}:{no}: expected 'begin' in :bonedata, found {_show(tokens[0])}")
        else:
            block.append((no, tokens))
    if block is not None:
        raise InputError(f"{path}:{begin}: the bone opened here has no 'end'")
    if not bones:
        raise InputError(f"{path}:{section.line}: :bonedata holds no bones")
    seen: dict[str, int] = {}
    for bone in bones:
        if bone.name.lower() == "root" or bone.name in seen:
            raise InputError(f"{path}:{bone.line}: bone name {bone.name!r} is already taken")
        seen[bone.name] = bone.line
    return bones


def _bone(path: Path, begin: int, block: list[tuple[int, list[str]]], to_rad: float) -> AsfBone:
    fields: dict[str, tuple[int, list[str]]] = {}
    limits: list[tuple[int, list[str]]] = []
    for no, tokens in block:
        key = tokens[0].lower()
        if key.startswith("(") and "limits" in fields:
            limits.append((no, tokens))  # a limits line continues
            continue
        if key not in ("id", "name", "direction", "length", "axis", "dof", "limits", "bodymass", "cofmass"):
            raise InputError(f"{path}:{no}: unexpected {_show(tokens[0])} in the bone opened at line {begin}")
        fields[key] = (no, tokens[1:])
        if key == "limits":
            limits.append((no, tokens[1:]))
    for key in ("name", "direction", "length", "axis"):
        if key not in fields:
            raise InputError(f"{path}:{begin}: the bone opened here has no '{key}'")
    no, name = fields["name"]
    if len(name) != 1:
        raise InputError(f"{path}:{no}: bone name must be one word, found {_show(' '.join(name))}")
    name = name[0]
    no, direction = fields["direction"]
    if len(direction) != 3:
        raise InputError(f"{path}:{no}: bone {name!r} direction needs 3 numbers, found {len(direction)}")
    direction = np.array([_number(path, no, v, f"bone {name!r} direction") for v in direction])
    no, length = fields["length"]
    if len(length) != 1:
        raise InputError(f"{path}:{no}: bone {name!r} length needs 1 number, found {len(length)}")
    length = _number(path, no, length[0], f"bone {name!r} length")
    no, axis = fields["axis"]
    if len(axis) != 4:
        raise InputError(f"{path}:{no}: bone {name!r} axis needs 3 angles and an order (e.g. '0 0 20 XYZ')")
    angles = np.array([_number(path, no, v, f"bone {name!r} axis") for v in axis[:3]]) * to_rad
    order = _axis_order(path, no, axis[3])
    no, dof = fields.get("dof", (begin, []))
    dof = tuple(d.lower() for d in dof)
    bad = [d for d in dof if d not in _BONE_DOF]
    if bad or len(set(dof)) < len(dof):
        raise InputError(
            f"{path}:{no}: bone {name!r} dof must list distinct rx ry rz tx ty tz l, "
            f"found {_show(' '.join(dof))}"
        )
    pairs = []
    for no, tokens in limits:
        text = " ".join(tokens)
        found = _LIMIT.findall(text)
        if _LIMIT.sub("", text).strip() or not found:
            raise InputError(
                f"{path}:{no}: bone {name!r} limits must be '(lo hi)' pairs, found {_show(text)}"
            )
        pairs += [tuple(_number(path, no, v, "limit", finite=False) for v in pair) for pair in found]
    if limits and len(pairs) != len(dof):
        raise InputError(f"{path}:{limits[0][0]}: bone {name!r} has {len(pairs)} limits for {len(dof)} dof")
    return AsfBone(name, direction, length, angles, order, dof, tuple(pairs), begin)


def _hierarchy(path: Path, section: _Section, bones: list[AsfBone]) -> tuple[list[AsfBone], list[int]]:
    by_name = {b.name: b for b in bones}
    children: dict[str, list[str]] = {}
    parent_of: dict[str, str] = {}
    lines = list(section.body)
    if lines and lines[0][1][0].lower() == "begin":
        lines = lines[1:]
        if not lines or lines[-1][1][0].lower() != "end":
            raise InputError(f"{path}:{section.line}: :hierarchy has 'begin' but no 'end'")
        lines = lines[:-1]
    for no, tokens in lines:
        parent, kids = tokens[0], tokens[1:]
        if parent != "root" and parent not in by_name:
            raise InputError(f"{path}:{no}: :hierarchy names {parent!r}, which is not a bone in :bonedata")
        for kid in kids:
            if kid not in by_name:
                raise InputError(f"{path}:{no}: :hierarchy names {kid!r}, which is not a bone in :bonedata")
            if kid in parent_of:
                raise InputError(
                    f"{path}:{no}: bone {kid!r} has a second parent ({parent_of[kid]!r} and {parent!r})"
                )
            parent_of[kid] = parent
            children.setdefault(parent, []).append(kid)
    ordered: list[AsfBone] = []
    parents: list[int] = []
    stack = [(kid, -1) for kid in reversed(children.get("root", []))]  # depth first, as listed
    while stack:
        name, parent = stack.pop()
        ordered.append(by_name[name])
        parents.append(parent)
        stack += [(kid, len(ordered) - 1) for kid in reversed(children.get(name, []))]
    left_out = [b.name for b in bones if b.name not in {o.name for o in ordered}]
    if left_out:
        shown = ", ".join(left_out[:5]) + (" ..." if len(left_out) > 5 else "")
        raise InputError(
            f"{path}:{section.line}: :hierarchy does not connect these bones to the root: {shown}"
        )
    return ordered, parents


def _axis_order(path: Path, no: int, text: str) -> str:
    order = text.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise InputError(f"{path}:{no}: axis order must be a permutation of XYZ, found {_show(text)}")
    return order


# --------------------------------------------------------------------------------- AMC


def read_amc(path: str | Path, skeleton: AsfSkeleton) -> AmcMotion:
    """Parse an AMC file against its skeleton: values per bone, rotations in radians."""
    path = Path(path)
    lines = _read_lines(path, "AMC")
    # Columns of one frame row: the root's channels, then each bone's dof.
    widths = {"root": len(skeleton.root_order), **{b.name: len(b.dof) for b in skeleton.bones}}
    starts, col = {}, 0
    for bone, width in widths.items():
        starts[bone], col = col, col + width
    expected = {b for b, w in widths.items() if w}  # bones with no dof may be left out

    rows: list[list[float]] = []
    frame_lines: list[int] = []
    row: list[float] = []
    seen: set[str] = set()
    degrees = skeleton.angle_unit == "deg"
    number = None

    def close_frame() -> None:
        lacking = expected - seen
        if lacking:
            shown = ", ".join(sorted(lacking)[:5]) + (" ..." if len(lacking) > 5 else "")
            raise InputError(f"{path}:{frame_lines[-1]}: frame {number} has no line for {shown}")
        rows.append(row)

    for no, raw in enumerate(lines, 1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if tokens[0].startswith(":"):
            if frame_lines:
                raise InputError(f"{path}:{no}: header keyword {_show(tokens[0])} after the first frame")
            key = tokens[0].upper()
            if key in (":DEGREES", ":RADIANS"):
                degrees = key == ":DEGREES"
            continue  # :FULLY-SPECIFIED and other header keywords carry nothing we need
        if len(tokens) == 1 and tokens[0].isdigit():
            if frame_lines:
                close_frame()
                if int(tokens[0]) != number + 1:
                    raise InputError(f"{path}:{no}: frame {tokens[0]} follows frame {number}")
            number = int(tokens[0])
            frame_lines.append(no)
            row, seen = [0.0] * col, set()
            continue
        bone, values = tokens[0], tokens[1:]
        if bone not in widths:
            raise InputError(f"{path}:{no}: bone {bone!r} is not in the skeleton {skeleton.path.name}")
        if not frame_lines:
            raise InputError(f"{path}:{no}: bone line before the first frame number")
        if len(values) != widths[bone]:
            dof = skeleton.root_order if bone == "root" else skeleton.bones[skeleton.index()[bone]].dof
            raise InputError(
                f"{path}:{no}: bone {bone!r} has {len(values)} values, "
                f"{skeleton.path.name} gives it {widths[bone]} ({' '.join(dof) or 'no dof'})"
            )
        if bone in seen:
            raise InputError(f"{path}:{no}: bone {bone!r} appears twice in frame {number}")
        seen.add(bone)
        try:
            row[starts[bone] : starts[bone] + len(values)] = [float(v) for v in values]
        except ValueError:
            bad = next(v for v in values if not _is_float(v))
            raise InputError(f"{path}:{no}: value {_show(bad)} of bone {bone!r} is not a number") from None
    if not frame_lines:
        raise InputError(f"{path}: no frames (expected a frame number, then one line per bone)")
    close_frame()

    motion = np.array(rows, dtype=np.float64)
    if not np.isfinite(motion).all():
        t, c = np.argwhere(~np.isfinite(motion))[0]
        bone = next(b for b in reversed(starts) if starts[b] <= c and widths[b])
        no = next(n for n in range(frame_lines[t] + 1, len(lines) + 1) if lines[n - 1].split()[:1] == [bone])
        raise InputError(f"{path}:{no}: bone {bone!r} has a non-finite value ({lines[no - 1].strip()!r})")

    def cols(bone: str, dof: Sequence[str]) -> np.ndarray:
        values = motion[:, starts[bone] : starts[bone] + widths[bone]].copy()
        if degrees:
            rot = [i for i, d in enumerate(dof) if d[0] in "rR"]
            values[:, rot] = np.radians(values[:, rot])
        return values

    return AmcMotion(
        path=path,
        root=cols("root", skeleton.root_order),
        bones={b.name: cols(b.name, b.dof) for b in skeleton.bones},
    )


# ----------------------------------------------------------------------------- helpers


def _euler(angles: np.ndarray, axes: Sequence[str]) -> np.ndarray:
    """``[N, 3, 3]``: rotations by ``angles[N, k]`` radians about ``axes`` (k letters),
    applied in the listed order, so the first axis is the rightmost factor."""
    out = np.broadcast_to(np.eye(3), (angles.shape[0], 3, 3)).copy()
    for k, axis in enumerate(axes):
        out = _about(axis, angles[:, k]) @ out
    return out


def _about(axis: str, angle: np.ndarray) -> np.ndarray:
    a = "xyz".index(axis.lower())
    i, j = (a + 1) % 3, (a + 2) % 3  # the plane rotated, in right-handed order
    cos, sin = np.cos(angle), np.sin(angle)
    out = np.zeros((angle.shape[0], 3, 3))
    out[:, a, a] = 1.0
    out[:, i, i] = out[:, j, j] = cos
    out[:, i, j], out[:, j, i] = -sin, sin
    return out


def _unit_scale_or_inferred(skeleton, offsets, parents, canonical) -> float:
    scale = metres_per_unit(skeleton)
    if scale is None:  # no :units length: guess from the legs, as for BVH
        scale = infer_unit_scale(offsets, parents, canonical, path=skeleton.path)
    return scale


def _read_lines(path: Path, kind: str) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {kind} file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read {kind} file ({e.strerror or e})") from None
    if not text.strip():
        raise InputError(f"{path}: empty {kind} file")
    return text.splitlines()


def _number(path: Path, no: int, token: str, what: str, *, finite: bool = True) -> float:
    try:
        value = float(token)
    except ValueError:
        value = math.nan
    if math.isnan(value) or (finite and not math.isfinite(value)):
        raise InputError(f"{path}:{no}: {what} must be a number, found {_show(token)}")
    return value


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _show(tok: str) -> str:
    """A token quoted for an error message, short and on one line."""
    tok = tok.replace("\r", " ").replace("\n", " ")
    return repr(tok if len(tok) <= 40 else tok[:37] + "...")
