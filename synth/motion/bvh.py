"""BVH motion files -> :class:`~synth.motion.clip.MotionClip`.

Contract
    ``load_bvh(path, *, unit_scale=None, name=None) -> MotionClip``
        Reads one BVH file. Joints are the ROOT and JOINT entries in file order (End Sites
        are dropped: they carry no channels). ``rotations[t, j]`` is the product of the
        joint's rotation channels in the order they are listed, angles in degrees
        (``Zrotation Yrotation Xrotation`` gives ``Rz @ Ry @ Rx``), which is the suite's
        local-ref convention because BVH offsets are given in world-aligned axes at rest.
        ``fps`` is ``1 / Frame Time``, snapped to the whole number whose period rounds to
        the Frame Time as written when that has 1e-4 precision (``0.0083333`` -> 120).
        ``canonical`` maps bones by name through ``ALIASES`` (CMU / MotionBuilder / Mixamo
        names and a few common variants, namespace prefixes ignored); the 14
        ``EVAL_JOINTS`` must all be found.
        ``root_positions`` are the root's position channels (components without a channel
        keep the root OFFSET); position channels on other joints are ignored, since a
        MotionClip has fixed bone lengths (the OFFSET is kept). Lengths are multiplied by
        the unit scale; no axes are changed: BVH files are taken to be Y up, facing +Z,
        left = +X, as the CMU, Mixamo and most BVH exports already are.
    ``list_bvh(root) -> dict[str, Path]``
        Clip name (file stem, e.g. ``"02_01"``) -> path for every ``*.bvh`` under ``root``,
        searched recursively (the full CMU collection nests clips in subject folders).
    ``read_bvh``, ``canonical_map``, ``infer_unit_scale``
        The steps of ``load_bvh``, public for tests and tools.

Units
    With ``unit_scale=None`` the scale (metres per file unit) is chosen among the known
    unit systems in ``UNIT_SCALES`` (CMU ASF units 0.05644 m, millimetres, centimetres,
    inches, metres) as the one whose rest leg length (hip -> knee -> ankle, averaged over
    both legs) is closest to ``TYPICAL_LEG_M`` = 0.8 m in log ratio. Adult legs measure
    0.7-0.95 m and neighbouring unit systems differ by a factor of 2.2 or more, so the
    choice is unambiguous for human skeletons; pass ``unit_scale`` for anything else.

Errors
    Every problem with the file (missing, unreadable, malformed hierarchy, unknown channel,
    missing or truncated MOTION, a frame line with the wrong count of values, a
    non-numeric value, no frames, missing bones) raises :class:`~synth.errors.InputError`
    with one line naming the file and, where it applies, the line number.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from synth.conventions import EVAL_JOINTS
from synth.errors import InputError
from synth.motion.clip import MotionClip

#: Known unit systems, metres per file unit.
UNIT_SCALES: dict[str, float] = {
    "CMU ASF units": 0.05644,  # 1/0.45 inch: the raw ASF units kept by CMU conversions
    "millimetres": 0.001,
    "centimetres": 0.01,
    "inches": 0.0254,
    "metres": 1.0,
}

#: Rest leg length (hip -> knee -> ankle) the unit inference aims for, metres.
TYPICAL_LEG_M: float = 0.8

#: Accepted bone names per canonical joint, left side, first match wins. Matching ignores
#: case and any namespace prefix ("mixamorig:Hips" -> "Hips"). The first spelling is the
#: CMU / MotionBuilder / Mixamo one; the others are common in hand-made rigs and in the
#: "Daz-friendly" CMU conversion (hip, abdomen, chest, lCollar, lShldr, lForeArm, lHand,
#: lButtock, lThigh, lShin, lFoot: there lButtock is the hip socket's offset bone and
#: lThigh the hip joint). Note that in MotionBuilder naming "LeftShoulder" is the collar
#: and "LeftLeg" the shin.
LEFT_ALIASES: dict[str, tuple[str, ...]] = {
    "pelvis": ("Hips", "Pelvis", "Hip"),
    "l_hip": ("LeftUpLeg", "LeftThigh", "LeftHip", "LHip", "LThigh"),
    "l_knee": ("LeftLeg", "LeftShin", "LeftKnee", "LKnee", "LShin"),
    "l_ankle": ("LeftFoot", "LeftAnkle", "LAnkle", "LFoot"),
    "l_toe": ("LeftToeBase", "LeftToe", "LToe"),
    "spine": ("Spine", "Abdomen"),
    "chest": ("Spine1", "Chest"),
    "neck": ("Neck",),
    "head": ("Head",),
    "l_collar": ("LeftShoulder", "LeftCollar", "LeftClavicle", "LCollar"),
    "l_shoulder": ("LeftArm", "LeftUpArm", "LeftUpperArm", "LShoulder", "LShldr"),
    "l_elbow": ("LeftForeArm", "LeftLowArm", "LeftElbow", "LElbow", "LForeArm"),
    "l_wrist": ("LeftHand", "LeftWrist", "LWrist", "LHand"),
}


def _right_twin(bone: str) -> str:
    if bone.startswith("Left"):
        return "Right" + bone[4:]
    if bone.startswith("L") and bone[1:2].isupper():
        return "R" + bone[1:]
    return bone


#: All canonical joints -> accepted bone names (the right side mirrors the left).
ALIASES: dict[str, tuple[str, ...]] = {
    **LEFT_ALIASES,
    **{
        "r_" + c[2:]: tuple(_right_twin(b) for b in bones)
        for c, bones in LEFT_ALIASES.items()
        if c.startswith("l_")
    },
}

_CHANNEL = re.compile(r"^([xyz])(position|rotation)$", re.IGNORECASE)
_FRAMES = re.compile(r"^\s*Frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S+)\s*$", re.IGNORECASE)


@dataclasses.dataclass
class BvhData:
    """A BVH file as written: file units, End Sites dropped, nothing interpreted."""

    path: Path
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray  #: float64 [J, 3], file units
    channels: tuple[tuple[str, ...], ...]  #: per joint, normalised e.g. ("Zrotation", ...)
    frame_time: float
    fps: float  #: 1 / frame_time, snapped to a whole rate when the file rounded its period
    motion: np.ndarray  #: float64 [T, C], the channel values, joints in file order

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])


# ----------------------------------------------------------------------------- public


def load_bvh(
    path: str | Path, *, unit_scale: float | None = None, name: str | None = None
) -> MotionClip:
    """Load a BVH file as a MotionClip in metres (see the module docstring)."""
    data = read_bvh(path)
    canonical = canonical_map(data.joint_names)
    _require_eval_joints(data.path, canonical)
    if unit_scale is None:
        unit_scale = infer_unit_scale(data.offsets, data.parents, canonical, path=data.path)
    elif not (math.isfinite(unit_scale) and unit_scale > 0):
        raise InputError(f"{data.path}: unit_scale must be a positive number, got {unit_scale}")

    return MotionClip(
        name=name if name is not None else data.path.stem,
        fps=data.fps,
        joint_names=data.joint_names,
        parents=data.parents,
        offsets=(data.offsets * unit_scale).astype(np.float32),
        rotations=_local_rotations(data).astype(np.float32),
        root_positions=(_root_positions(data) * unit_scale).astype(np.float32),
        canonical=canonical,
        source=str(data.path),
    )


def list_bvh(root: str | Path) -> dict[str, Path]:
    """Clip name (file stem) -> path of every ``.bvh`` file under ``root``, recursively."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory of BVH files")
    clips: dict[str, Path] = {}
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() == ".bvh"):
        if path.stem in clips:
            raise InputError(
                f"{root}: two BVH files share the clip name '{path.stem}': "
                f"{clips[path.stem]} and {path}"
            )
        clips[path.stem] = path
    return clips


def read_bvh(path: str | Path) -> BvhData:
    """Parse a BVH file without interpreting it (file units, raw channel values)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise InputError(f"{path}: no such BVH file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read BVH file ({e.strerror or e})") from None
    lines = text.splitlines()
    if not text.strip():
        raise InputError(f"{path}: empty file, expected a BVH file starting with HIERARCHY")

    # The hierarchy is tokenised; the motion block is parsed line by line, because a
    # frame is exactly one line and large files must stay fast.
    motion_at = next((i for i, ln in enumerate(lines) if ln.strip().upper() == "MOTION"), None)
    hierarchy_end = len(lines) if motion_at is None else motion_at
    hierarchy = _parse_hierarchy(path, _tokens(lines[:hierarchy_end]), hierarchy_end)
    if motion_at is None:
        raise InputError(f"{path}: no MOTION section after the HIERARCHY")
    num_channels = sum(len(c) for c in hierarchy.channels)
    if num_channels == 0:
        raise InputError(f"{path}: the HIERARCHY declares no CHANNELS")
    frame_time, fps, motion = _parse_motion(path, lines, motion_at + 1, num_channels)
    return BvhData(
        path=path,
        joint_names=tuple(hierarchy.names),
        parents=tuple(hierarchy.parents),
        offsets=np.asarray(hierarchy.offsets, np.float64).reshape(-1, 3),
        channels=tuple(hierarchy.channels),
        frame_time=frame_time,
        fps=fps,
        motion=motion,
    )


def canonical_map(joint_names: Sequence[str]) -> dict[str, int]:
    """Canonical joint name -> index, for the joints whose names match ``ALIASES``."""
    index: dict[str, int] = {}
    for i, raw in enumerate(joint_names):
        index.setdefault(_bare_name(raw), i)  # the first of duplicate names wins
    found = {}
    for canonical, bones in ALIASES.items():
        hit = next((index[b.lower()] for b in bones if b.lower() in index), None)
        if hit is not None:
            found[canonical] = hit
    return found


def infer_unit_scale(
    offsets: np.ndarray,
    parents: Sequence[int],
    canonical: dict[str, int],
    *,
    path: str | Path = "<bvh>",
) -> float:
    """Metres per file unit: the ``UNIT_SCALES`` entry giving a leg closest to 0.8 m."""
    rest = _rest_positions(np.asarray(offsets, np.float64), parents)
    legs = []
    for side in ("l", "r"):
        hip, knee, ankle = (rest[canonical[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
        legs.append(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee))
    leg = float(np.mean(legs))
    if not (math.isfinite(leg) and leg > 0):
        raise InputError(f"{path}: cannot infer units, the rest legs have zero length")
    return min(UNIT_SCALES.values(), key=lambda s: abs(math.log(leg * s / TYPICAL_LEG_M)))


# --------------------------------------------------------------------------- hierarchy


@dataclasses.dataclass
class _Hierarchy:
    names: list[str] = dataclasses.field(default_factory=list)
    parents: list[int] = dataclasses.field(default_factory=list)
    offsets: list[tuple[float, float, float]] = dataclasses.field(default_factory=list)
    channels: list[tuple[str, ...]] = dataclasses.field(default_factory=list)


class _TokenStream:
    """Tokens with their line numbers, failing with a one-line InputError."""

    def __init__(self, path: Path, tokens: Iterator[tuple[str, int]], end_line: int):
        self.path, self._tokens, self._end_line = path, tokens, end_line
        self.line = 0

    def next(self, expecting: str) -> str:
        try:
            tok, self.line = next(self._tokens)
        except StopIteration:
            raise InputError(
                f"{self.path}:{self._end_line}: HIERARCHY ends early, expected {expecting}"
            ) from None
        return tok

    def leftover(self) -> str | None:
        """The next token, if any (used once, after the root joint closes)."""
        tok_line = next(self._tokens, None)
        if tok_line is None:
            return None
        tok, self.line = tok_line
        return tok

    def expect(self, word: str) -> None:
        tok = self.next(f"'{word}'")
        if tok.upper() != word.upper():
            self.fail(f"expected '{word}', found {_show(tok)}")

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self.fail(f"{what} must be a number, found {_show(tok)}")
        return value

    def fail(self, what: str) -> None:
        raise InputError(f"{self.path}:{self.line}: {what}")


def _tokens(lines: Sequence[str]) -> Iterator[tuple[str, int]]:
    for no, line in enumerate(lines, 1):
        for tok in line.replace("{", " { ").replace("}", " } ").split():
            yield tok, no


def _parse_hierarchy(path: Path, tokens: Iterator[tuple[str, int]], end_line: int) -> _Hierarchy:
    ts = _TokenStream(path, tokens, end_line)
    first = ts.next("'HIERARCHY'")
    if first.upper() != "HIERARCHY":
        ts.fail(f"not a BVH file: expected 'HIERARCHY', found {_show(first)}")
    ts.expect("ROOT")
    h = _Hierarchy()
    _open_joint(ts, h, parent=-1)
    stack = [0]  # joints whose '{' is open; iterative so deep nesting cannot overflow
    seen = {0: set()}  # keywords already read in each open joint
    while stack:
        tok = ts.next("'}' closing joint " + repr(h.names[stack[-1]]))
        key = tok.upper()
        joint = stack[-1]
        if key in ("OFFSET", "CHANNELS"):
            if key in seen[joint]:
                ts.fail(f"joint {h.names[joint]!r} has a second {key}")
            seen[joint].add(key)
            if key == "OFFSET":
                h.offsets[joint] = tuple(ts.number(f"OFFSET {a} component") for a in "xyz")
            else:
                h.channels[joint] = _read_channels(ts)
        elif key == "JOINT":
            stack.append(_open_joint(ts, h, parent=joint))
            seen[stack[-1]] = set()
        elif key == "END":
            _skip_end_site(ts)
        elif key == "}":
            if "OFFSET" not in seen[joint]:
                ts.fail(f"joint {h.names[joint]!r} has no OFFSET")
            stack.pop()
        else:
            ts.fail(f"unexpected {_show(tok)} in joint {h.names[joint]!r}")
    tok = ts.leftover()
    if tok is not None:
        extra = "a second ROOT is not supported" if tok.upper() == "ROOT" else _show(tok)
        ts.fail(f"unexpected content after the root joint closes: {extra}")
    return h


def _open_joint(ts: _TokenStream, h: _Hierarchy, parent: int) -> int:
    name = ts.next("a joint name")
    if name in ("{", "}"):
        ts.fail(f"expected a joint name, found {_show(name)}")
    ts.expect("{")
    h.names.append(name)
    h.parents.append(parent)
    h.offsets.append((0.0, 0.0, 0.0))
    h.channels.append(())
    return len(h.names) - 1


def _read_channels(ts: _TokenStream) -> tuple[str, ...]:
    count_tok = ts.next("the CHANNELS count")
    count = _whole_number(count_tok)
    if count is None:
        ts.fail(f"CHANNELS count must be a whole number, found {_show(count_tok)}")
    names = []
    for _ in range(count):
        tok = ts.next("a channel name")
        m = _CHANNEL.match(tok)
        if m is None:
            ts.fail(
                f"unknown channel {_show(tok)} (expected X/Y/Z position or rotation, "
                f"or a CHANNELS count matching the names)"
            )
        names.append(m.group(1).upper() + m.group(2).lower())
    return tuple(names)


def _skip_end_site(ts: _TokenStream) -> None:
    ts.expect("Site")
    ts.expect("{")
    ts.expect("OFFSET")
    for a in "xyz":
        ts.number(f"End Site OFFSET {a} component")
    ts.expect("}")


# ------------------------------------------------------------------------------ motion


def _parse_motion(
    path: Path, lines: Sequence[str], start: int, num_channels: int
) -> tuple[float, float, np.ndarray]:
    """Frame time, fps and the ``[T, C]`` channel values of the lines after MOTION."""
    body = ((no, ln) for no, ln in enumerate(lines[start:], start + 1) if ln.strip())

    def header(pattern: re.Pattern, what: str) -> tuple[str, int]:
        no, ln = next(body, (len(lines), None))
        if ln is None:
            raise InputError(f"{path}:{no}: file ends after MOTION, expected '{what}'")
        m = pattern.match(ln)
        if m is None:
            raise InputError(f"{path}:{no}: expected '{what}', found {_show(ln.strip())}")
        return m.group(1), no

    frames_tok, no = header(_FRAMES, "Frames: <count>")
    num_frames = _whole_number(frames_tok)
    if num_frames is None:
        raise InputError(f"{path}:{no}: Frames must be a whole number, found {_show(frames_tok)}")
    if num_frames == 0:
        raise InputError(f"{path}:{no}: the clip has no frames (Frames: 0)")
    time_tok, no = header(_FRAME_TIME, "Frame Time: <seconds>")
    try:
        frame_time = float(time_tok)
    except ValueError:
        frame_time = math.nan
    if not (math.isfinite(frame_time) and frame_time > 0):
        raise InputError(
            f"{path}:{no}: Frame Time must be a positive number, found {_show(time_tok)}"
        )

    rows = list(body)
    if len(rows) < num_frames:
        raise InputError(
            f"{path}:{len(lines)}: truncated MOTION, Frames says {num_frames} "
            f"but the file ends after {len(rows)} frame lines"
        )
    if len(rows) > num_frames:
        raise InputError(
            f"{path}:{rows[num_frames][0]}: more frame lines than Frames: {num_frames}"
        )
    split = [ln.split() for _, ln in rows]
    for (no, _), values in zip(rows, split):
        if len(values) != num_channels:
            raise InputError(
                f"{path}:{no}: frame line has {len(values)} values, "
                f"the HIERARCHY declares {num_channels} channels"
            )
    try:
        motion = np.array(split, dtype=np.float64)
    except ValueError:
        motion = None
    if motion is None or not np.isfinite(motion).all():
        no, tok = _first_bad_value(rows, split)
        raise InputError(f"{path}:{no}: frame value {_show(tok)} is not a finite number")
    return frame_time, _snapped_fps(time_tok, frame_time), motion


def _snapped_fps(written: str, frame_time: float) -> float:
    # Files write the period rounded (1/120 s as 0.0083333); recover the whole rate when
    # its period, rounded to as many decimals as the file wrote, is what the file says,
    # and only when those decimals pin the period to 1e-4 (so 0.03 stays 33.3 fps).
    decimals = len(written.partition(".")[2]) if "e" not in written.lower() else 0
    precise = decimals > 0 and 0.5 * 10.0**-decimals < 1e-4 * frame_time
    rate = round(1.0 / frame_time)
    if precise and rate > 0 and round(1.0 / rate, decimals) == round(frame_time, decimals):
        return float(rate)
    return 1.0 / frame_time


def _first_bad_value(rows, split) -> tuple[int, str]:
    # Only on the error path: find which value stopped the vectorised conversion.
    for (no, _), values in zip(rows, split):
        for tok in values:
            try:
                if math.isfinite(float(tok)):
                    continue
            except ValueError:
                pass
            return no, tok
    raise AssertionError("no bad value found")


# ------------------------------------------------------------------------ kinematics


def _local_rotations(data: BvhData) -> np.ndarray:
    """``[T, J, 3, 3]`` float64: each joint's rotation channels multiplied in file order."""
    columns: list[list[int]] = []  # per joint, indices into the rotation channels
    rot_cols, rot_axes = [], []
    col = 0
    for chans in data.channels:
        mine = []
        for ch in chans:
            if ch.endswith("rotation"):
                mine.append(len(rot_cols))
                rot_cols.append(col)
                rot_axes.append("XYZ".index(ch[0]))
            col += 1
        columns.append(mine)

    t = data.num_frames
    elementary = np.empty((t, len(rot_cols) + 1, 3, 3))
    elementary[:, :-1] = _axis_rotations(np.radians(data.motion[:, rot_cols]), rot_axes)
    elementary[:, -1] = np.eye(3)  # padding for joints with fewer rotation channels

    # Pad every joint to the same number of factors so the product is one batched matmul
    # per factor, over all frames and joints at once.
    depth = max(1, max(len(c) for c in columns))
    identity = len(rot_cols)
    order = np.array([c + [identity] * (depth - len(c)) for c in columns])
    rotations = elementary[:, order[:, 0]]
    for k in range(1, depth):
        rotations = rotations @ elementary[:, order[:, k]]
    return rotations


def _axis_rotations(angles: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Rotations ``[T, C, 3, 3]`` by ``angles[T, C]`` radians about axes ``C`` (0=x...)."""
    t, c = angles.shape
    a = np.asarray(axes, dtype=np.intp)
    i, j = (a + 1) % 3, (a + 2) % 3  # the plane rotated, in right-handed order
    cos, sin = np.cos(angles), np.sin(angles)
    out = np.zeros((t, c, 3, 3))
    ch = np.arange(c)
    out[:, ch, a, a] = 1.0
    out[:, ch, i, i] = cos
    out[:, ch, j, j] = cos
    out[:, ch, i, j] = -sin
    out[:, ch, j, i] = sin
    return out


def _root_positions(data: BvhData) -> np.ndarray:
    """``[T, 3]`` root positions in file units: its position channels, else its OFFSET."""
    pos = np.tile(data.offsets[0], (data.num_frames, 1))
    for col, ch in enumerate(data.channels[0]):
        if ch.endswith("position"):
            pos[:, "XYZ".index(ch[0])] = data.motion[:, col]
    return pos


def _rest_positions(offsets: np.ndarray, parents: Sequence[int]) -> np.ndarray:
    rest = np.zeros_like(offsets)
    for i, p in enumerate(parents):
        rest[i] = offsets[i] if p < 0 else rest[p] + offsets[i]
    return rest


# ------------------------------------------------------------------------------ helpers


def _whole_number(token: str) -> int | None:
    return int(token) if re.fullmatch(r"[0-9]+", token) else None


def _bare_name(bone: str) -> str:
    """Bone name without namespace ("mixamorig:Hips" -> "hips"), lower case."""
    return re.split(r"[:|]", bone)[-1].lower()


def _require_eval_joints(path: Path, canonical: dict[str, int]) -> None:
    missing = [c for c in EVAL_JOINTS if c not in canonical]
    if missing:
        wanted = ", ".join(f"{c} ({ALIASES[c][0]})" for c in missing)
        raise InputError(
            f"{path}: missing bones for {wanted}; the 14 evaluation joints are required "
            f"(accepted names: synth.motion.bvh.ALIASES)"
        )


def _show(tok: str) -> str:
    """A token quoted for an error message, short and on one line."""
    tok = tok.replace("\r", " ").replace("\n", " ")
    return repr(tok if len(tok) <= 40 else tok[:37] + "...")
