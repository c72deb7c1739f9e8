"""Evaluation protocols: 3DPW (the paper's real-data test) and held-out synthetic clips.

3DPW protocol (issue 6; after HMMR's 3DPW evaluation, Kanazawa et al. 2019)
    * the official test split (:func:`motionhmr.threedpw.load_split`), every person of
      every sequence, scored on the 14 ``EVAL_JOINTS`` common to SMPL and COCO;
    * the ground-truth joints (issue 13) are **regressed from the ground-truth mesh**: the
      person's gendered SMPL posed with 3DPW's parameters, then HMR's cocoplus regressor
      (:func:`motionhmr.threedpw.gt_mesh_joints`; HMMR's preparation is described in
      :mod:`motionhmr.threedpw`). This needs ``body`` and ``regressor``; without them the
      SMPL skeleton joints (``jointPositions``) are scored instead, with a warning, and
      :attr:`Results.gt_joints` says which were used. With mesh joints, when ``predict_fn``
      returns SMPL-topology vertices, the predicted joints are regressed from them by the
      same regressor (HMMR scores ``SMPL(joint_type='cocoplus')`` joints on both sides);
      otherwise the model's own joints are scored, with a warning that the two joint
      definitions differ;
    * test-time keypoints are 3DPW's own OpenPose detections (``poses2d``);
    * the model runs on **every** frame; a frame with fewer than ``min_visible`` (7)
      detected keypoints (confidence > ``CONF_THRESHOLD``, over the 14 EVAL_JOINTS) is
      passed as ``occluded`` and must be fed to the network as a total occlusion;
    * a frame is **scored** when it has >= ``min_visible`` detected keypoints and its
      camera pose is valid (``campose_valid``). HMMR's rule is ``sum(vis[:14]) >
      min_visible`` with ``min_visible=6`` (akanazawa/human_dynamics,
      src/evaluation/eval.py, ``compute_errors_batched``). There 3 of the 14 slots are
      always empty for 3DPW (its 3DPW-to-"coco universal" map, read_3dpw.py, fills the
      ankle slots from absent "heels" and has no head), so HMMR asked for 7 of the other
      11; here all 14 joints count, as the issue states, with ``head`` from the ears or
      nose (:mod:`motionhmr.keypoint_files`);
    * PA-MPJPE, MPJPE, PVE (only with the smpl backend) and acceleration error are
      computed per frame (per window for acceleration), **averaged per person, then over
      people** (a long track does not outweigh a short one).

The model side: ``predict_fn(seq, person, kp2d, conf, occluded, windows) -> joints3d``
    ``seq`` :class:`~motionhmr.threedpw.Sequence`, ``person``
    :class:`~motionhmr.threedpw.Person` (images: ``seq.image_path(i)``); ``kp2d`` float32
    ``[N, 14, 2]`` image pixels and ``conf`` float32 ``[N, 14]`` in EVAL_JOINTS order;
    ``occluded`` bool ``[N]`` (feed these frames as total occlusions); ``windows`` the
    list of :class:`Window` from :func:`clip_windows`. It returns the camera-frame joints
    ``[N, 14, 3]`` in metres for **every** frame (a numpy array or CPU tensor), or a
    :class:`TrackPrediction` that also carries SMPL vertices for PVE (and, with the
    mesh-regressed ground truth, for regressing the predicted joints the same way).

    Windowing contract: the network sees ``frames``-frame clips (31: 30 steps). The track
    is cut into consecutive windows ``[0, 31), [31, 62), ...``; the last one is aligned to
    the end of the track, ``[N-31, N)``, so it overlaps its predecessor, and only its frames
    from ``keep`` on are used (each frame is predicted exactly once, from the first window
    that holds it). A track shorter than ``frames`` is one window ``[0, N)`` (pad inside
    ``predict_fn`` if the network needs the full length). :func:`stitch` assembles the
    per-window outputs.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from motionhmr import metrics
from synth.conventions import EVAL_JOINTS

log = logging.getLogger(__name__)

#: Clip length the network is evaluated on (the paper's T; S = T - 1 steps).
CLIP_FRAMES = 31
#: A frame is scored (and not fed as a total occlusion) with at least this many detections.
MIN_VISIBLE = 7
_GT_JOINTS_TEXT = {
    "mesh": "ground truth: 14 joints regressed from the SMPL mesh (the paper's protocol)",
    "skeleton": "ground truth: SMPL skeleton joints (NOT the paper's protocol)",
}
METRICS: tuple[str, ...] = ("pa_mpjpe", "mpjpe", "pve", "accel")
_HEADERS = {
    "pa_mpjpe": "PA-MPJPE (mm)",
    "mpjpe": "MPJPE (mm)",
    "pve": "PVE (mm)",
    "accel": "accel (mm/frame²)",
}


# -- windows -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Window:
    """Frames ``[start, stop)`` go through the network together; the predictions for
    ``[keep, stop)`` are the ones used (``keep > start`` only for the tail window)."""

    start: int
    stop: int
    keep: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.keep < self.stop:
            raise ValueError(f"bad window start={self.start} keep={self.keep} stop={self.stop}")


def clip_windows(n: int, frames: int = CLIP_FRAMES) -> list[Window]:
    """Cover ``n`` frames with ``frames``-frame windows, the last aligned to the end."""
    if n < 1 or frames < 1:
        raise ValueError(f"need n >= 1 and frames >= 1, got n={n}, frames={frames}")
    if n <= frames:
        return [Window(0, n, 0)]
    windows = [Window(s, s + frames, s) for s in range(0, n - frames + 1, frames)]
    covered = windows[-1].stop
    if covered < n:
        windows.append(Window(n - frames, n, covered))
    return windows


def stitch(per_window: Iterable[np.ndarray], windows: list[Window], n: int) -> np.ndarray:
    """``[n, ...]`` from one ``[stop - start, ...]`` array per window (kept part only)."""
    parts = []
    for out, w in zip(per_window, windows, strict=True):
        out = np.asarray(out)
        if out.shape[0] != w.stop - w.start:
            raise ValueError(f"window [{w.start}, {w.stop}) got {out.shape[0]} frames of output")
        parts.append(out[w.keep - w.start :])
    result = np.concatenate(parts)
    if result.shape[0] != n:
        raise ValueError(f"windows cover {result.shape[0]} frames, expected {n}")
    return result


# -- results -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class TrackPrediction:
    """A prediction for every frame of a track: ``joints3d`` ``[N, 14, 3]`` camera frame,
    metres; ``vertices`` ``[N, V, 3]`` (SMPL topology, same frame) or None."""

    joints3d: Any
    vertices: Any = None


@dataclasses.dataclass(frozen=True)
class PersonResult:
    """One person's (or synthetic clip's) means over its scored frames; None = n/a."""

    sequence: str
    person: int
    frames: int
    scored: int
    pa_mpjpe: float | None
    mpjpe: float | None
    pve: float | None
    accel: float | None


@dataclasses.dataclass(frozen=True)
class Results:
    """Per-person numbers and their means over people (mm; accel in mm/frame²)."""

    dataset: str
    people: tuple[PersonResult, ...]
    clip_frames: int = CLIP_FRAMES
    min_visible: int = MIN_VISIBLE
    #: 3DPW: which ground-truth joints were scored, "mesh" or "skeleton"; None elsewhere.
    gt_joints: str | None = None

    def mean(self, metric: str) -> float | None:
        """Mean over the people that have ``metric`` (None if none has)."""
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}: one of {', '.join(METRICS)}")
        values = [getattr(p, metric) for p in self.people if getattr(p, metric) is not None]
        return float(np.mean(values)) if values else None

    @property
    def pa_mpjpe(self) -> float | None:
        return self.mean("pa_mpjpe")

    @property
    def mpjpe(self) -> float | None:
        return self.mean("mpjpe")

    @property
    def pve(self) -> float | None:
        return self.mean("pve")

    @property
    def accel(self) -> float | None:
        return self.mean("accel")

    @property
    def frames_scored(self) -> int:
        return sum(p.scored for p in self.people)

    def table(self) -> str:
        """A markdown table: one row per person, then the mean over people."""
        cols = ["sequence", "person", "frames", "scored", *(_HEADERS[m] for m in METRICS)]
        gt = f"; {_GT_JOINTS_TEXT[self.gt_joints]}" if self.gt_joints else ""
        lines = [
            f"{self.dataset}: {len(self.people)} people, {self.clip_frames}-frame clips, "
            f"scored frames have >= {self.min_visible} visible keypoints{gt}",
            "",
            "| " + " | ".join(cols) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|",
        ]
        for p in self.people:
            cells = [p.sequence, str(p.person), str(p.frames), str(p.scored)]
            lines.append("| " + " | ".join(cells + [_fmt(getattr(p, m)) for m in METRICS]) + " |")
        total = ["**mean over people**", "", str(sum(p.frames for p in self.people)), str(self.frames_scored)]
        lines.append("| " + " | ".join(total + [_fmt(self.mean(m)) for m in METRICS]) + " |")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, float]:
        """Flat ``{"<dataset>/<metric>": value}`` for W&B; metrics that are n/a are left out."""
        out: dict[str, float] = {}
        for m in METRICS:
            value = self.mean(m)
            if value is not None:
                out[f"{self.dataset}/{m}"] = value
        out[f"{self.dataset}/people"] = float(len(self.people))
        out[f"{self.dataset}/frames_scored"] = float(self.frames_scored)
        return out


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


# -- scoring -------------------------------------------------------------------------------


def score_track(
    sequence: str,
    person: int,
    pred: np.ndarray,
    gt: np.ndarray,
    scored: np.ndarray,
    pred_vertices: np.ndarray | None = None,
    gt_vertices: np.ndarray | None = None,
) -> PersonResult:
    """Means of one track's per-frame metrics over its ``scored`` frames.

    ``pred``, ``gt`` ``[N, 14, 3]`` metres; ``scored`` ``[N]`` bool; ``pred_vertices``
    ``[N, V, 3]`` and ``gt_vertices`` ``[scored.sum(), V, 3]`` (only the scored frames) for
    PVE, else PVE is None. Acceleration uses the windows whose three frames are scored.
    """
    scored = np.asarray(scored, dtype=bool)
    n_scored = int(scored.sum())
    pa = mp = pv = None
    if n_scored:
        pa = float(metrics.pa_mpjpe(pred[scored], gt[scored]).mean())
        mp = float(metrics.mpjpe(pred[scored], gt[scored]).mean())
        if pred_vertices is not None and gt_vertices is not None:
            pv = float(metrics.pve(pred_vertices[scored], gt_vertices, pred[scored], gt[scored]).mean())
    acc = metrics.accel_error(pred, gt, valid=scored)
    return PersonResult(
        sequence=sequence,
        person=person,
        frames=int(len(scored)),
        scored=n_scored,
        pa_mpjpe=pa,
        mpjpe=mp,
        pve=pv,
        accel=float(acc.mean()) if acc.size else None,
    )


def evaluate_3dpw(
    predict_fn: Callable[..., Any],
    sequences: Iterable,
    frames: int = CLIP_FRAMES,
    min_visible: int = MIN_VISIBLE,
    body=None,
    regressor: np.ndarray | None = None,
) -> Results:
    """Run ``predict_fn`` on every person of ``sequences`` and score them (module docstring).

    ``sequences``: :class:`~motionhmr.threedpw.Sequence` records (e.g.
    ``load_split(root, "test")``). ``body``: a SMPLBody or ``{"male", "female"}`` mapping
    (:func:`~motionhmr.threedpw.gendered_smpl`) for ground-truth meshes; PVE is computed
    only when it is given and ``predict_fn`` returns vertices, else reported as n/a.
    ``regressor``: ``[14, V]`` (:func:`~motionhmr.threedpw.load_joint_regressor`); with
    ``body`` it selects the paper's mesh-regressed ground-truth joints, without it the
    skeleton joints are scored (a warning; ``Results.gt_joints`` records the choice).
    """
    from motionhmr.threedpw import gt_mesh_joints, gt_vertices, regress_joints

    if regressor is not None and body is None:
        raise ValueError("mesh-regressed 3DPW joints need the gendered SMPL bodies (body=gendered_smpl(...))")
    gt_joints = "skeleton" if regressor is None else "mesh"
    if gt_joints == "skeleton":
        log.warning(
            "3DPW ground truth: SMPL's skeleton joints (jointPositions), NOT the paper's protocol "
            "(14 joints regressed from the ground-truth mesh): these figures are not comparable "
            "with published ones; give the SMPL files and HMR's cocoplus regressor for those"
        )
    people = []
    warned: set[str] = set()

    def warn_once(key: str, message: str) -> None:
        if key not in warned:
            log.warning(message)
            warned.add(key)

    for seq in sequences:
        for person in seq.people:
            n = person.num_frames
            occluded = person.visible_count() < min_visible
            out = predict_fn(
                seq, person, person.kp_eval.copy(), person.kp_conf.copy(), occluded.copy(),
                clip_windows(n, frames),
            )  # fmt: skip
            where = f"{seq.name} person {person.index}"
            pred, pred_vertices = _unpack(out, n, where)
            scored = ~occluded & person.valid
            gt = person.joints3d
            if gt_joints == "mesh":
                gt = gt_mesh_joints(person, body, regressor)
                if pred_vertices is not None and pred_vertices.shape[1] == regressor.shape[1]:
                    pred = regress_joints(pred_vertices, regressor)
                else:
                    warn_once(
                        "pred",
                        "the ground truth is mesh-regressed joints but predict_fn returned no SMPL mesh to "
                        "regress: the model's own joints are scored, a different joint definition",
                    )
            gt_v = None
            if body is not None and pred_vertices is not None and scored.any():
                gt_v = gt_vertices(person, body, frames=scored)
            elif body is not None and pred_vertices is None:
                warn_once("pve", "PVE is n/a: predict_fn returned no vertices (return a TrackPrediction)")
            people.append(score_track(seq.name, person.index, pred, gt, scored, pred_vertices, gt_v))
    return Results(dataset="3dpw", people=tuple(people), clip_frames=frames, min_visible=min_visible,
                   gt_joints=gt_joints)  # fmt: skip


def evaluate_synthetic(
    predict_fn: Callable[[Any], Any],
    samples: Iterable,
    min_visible: int = MIN_VISIBLE,
) -> Results:
    """Score held-out synthetic clips with the 3DPW metrics (each clip counts as a person).

    ``samples``: :class:`synth.shards.schema.Sample` records (or mappings with ``key``,
    ``joints3d`` ``[T, 14, 3]`` camera frame metres and ``kp_visible`` ``[T, 14]``).
    ``predict_fn(sample)`` returns ``[T, 14, 3]`` (or a :class:`TrackPrediction`). A frame
    is scored when at least ``min_visible`` of its keypoints are truly visible
    (``kp_visible``; totally occluded frames have none).
    """
    people = []
    for sample in samples:
        key, gt, visible = _synthetic_fields(sample)
        pred, _ = _unpack(predict_fn(sample), gt.shape[0], f"sample {key}")
        scored = visible.sum(axis=1) >= min_visible
        people.append(score_track(key, 0, pred, gt, scored))
    clip = max((p.frames for p in people), default=CLIP_FRAMES)
    return Results(dataset="synthetic", people=tuple(people), clip_frames=clip, min_visible=min_visible)


def _synthetic_fields(sample) -> tuple[str, np.ndarray, np.ndarray]:
    if hasattr(sample, "arrays"):
        key, arrays = sample.key, sample.arrays
    elif isinstance(sample, Mapping):
        key, arrays = sample.get("key", "?"), sample
    else:
        raise TypeError(f"a synthetic sample must be a Sample or a mapping, got {type(sample).__name__}")
    missing = [k for k in ("joints3d", "kp_visible") if k not in arrays]
    if missing:
        raise ValueError(f"sample {key} lacks {', '.join(missing)}")
    gt = np.asarray(arrays["joints3d"], dtype=np.float64)
    visible = np.asarray(arrays["kp_visible"], dtype=bool)
    if gt.ndim != 3 or gt.shape[1:] != (len(EVAL_JOINTS), 3) or visible.shape != gt.shape[:2]:
        raise ValueError(
            f"sample {key}: joints3d {list(gt.shape)} / kp_visible {list(visible.shape)} "
            f"are not [T, 14, 3] / [T, 14]"
        )
    return str(key), gt, visible


def _unpack(out, n: int, where: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Checked float64 ``(joints [n, 14, 3], vertices [n, V, 3] or None)``."""
    joints, vertices = (out.joints3d, out.vertices) if isinstance(out, TrackPrediction) else (out, None)
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (n, len(EVAL_JOINTS), 3):
        raise ValueError(
            f"predict_fn returned joints of shape {list(joints.shape)} for {where}; expected [{n}, 14, 3]"
        )
    if not np.isfinite(joints).all():
        raise ValueError(f"predict_fn returned non-finite joints for {where}")
    if vertices is not None:
        vertices = np.asarray(vertices, dtype=np.float64)
        if vertices.ndim != 3 or vertices.shape[0] != n or vertices.shape[2] != 3:
            shape = list(vertices.shape)
            raise ValueError(
                f"predict_fn returned vertices of shape {shape} for {where}; expected [{n}, V, 3]"
            )
        if not np.isfinite(vertices).all():
            raise ValueError(f"predict_fn returned non-finite vertices for {where}")
    return joints, vertices
