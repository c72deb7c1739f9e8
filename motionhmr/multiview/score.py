"""Score a monocular model on each view of a calibrated recording against its triangulated
reference (``motionhmr eval data=multiview``).

For each view: the view's video, resampled to the training fps (every k-th frame, k =
round(recording fps / the checkpoint's fps); the demo's 60 fps becomes 30) and decoded at the
training frame height, and that view's MediaPipe detections go through the real-video
pipeline exactly as ``predict`` does (:func:`motionhmr.realvideo.steps`: detector boxes,
paired-box flow with the checkpoint's backend, heatmaps or keypoint coordinates). The
predicted joints (the view's camera frame) are scored against the reference moved into that
camera's frame (:meth:`.recording.Reference.in_camera`) on the frames where the reference has
all 14 joints and the view's detector saw the person (>= 7 keypoints; else the model sees a
total occlusion, as in 3DPW's protocol):

``PA-MPJPE``  mm after a similarity alignment per frame;
``MPJPE``     mm after aligning the mid-hips (pelvis), rotation and scale as predicted;
``accel``     mm / frame² at the resampled rate, pelvis-aligned (VIBE's definition).

Beside each model row: the **best constant pose**, the generalised-Procrustes mean of the
reference's own complete frames (an oracle no constant can beat), scored by PA-MPJPE on the
same frames. A model that does not beat it has not seen the pose.

And the **detector's own 3D**: MediaPipe's monocular ``pose_world_landmarks`` from the same
view (:attr:`.recording.Reference.world`), with the view's left/right swaps undone as for the
model, by PA-MPJPE on the same frames. It is a model trained on real people, and its points
are the reference's points by construction (the reference triangulates the same detector's
2D), so it has none of the body-model-versus-detector offset (Anny's hip and shoulder joints,
its head joint, are not MediaPipe's points) that every body model's row carries. It shows
what a real-trained monocular model reaches on the recording.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from motionhmr.evaluate import PersonResult, Results, score_track

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class MultiviewResults:
    """The model's per-view results, the constant pose's PA-MPJPE per view and the
    reference's quality."""

    recording: str
    model: Results
    constant: dict[str, float | None]
    quality: dict
    stride: int
    refined: bool = False
    detector3d: dict[str, float | None] = dataclasses.field(default_factory=dict)

    dataset = "multiview"
    gt_joints = None

    @property
    def people(self) -> tuple[PersonResult, ...]:
        return self.model.people

    @property
    def pa_mpjpe(self) -> float | None:
        return self.model.pa_mpjpe

    def constant_mean(self) -> float | None:
        values = [v for v in self.constant.values() if v is not None]
        return float(np.mean(values)) if values else None

    def detector3d_mean(self) -> float | None:
        values = [v for v in self.detector3d.values() if v is not None]
        return float(np.mean(values)) if values else None

    def table(self) -> str:
        q = self.quality
        reproj = ", ".join(f"{k} {_f(v)}" for k, v in q["reprojection_px"].items())
        lines = [
            f"multiview: {self.recording}, {len(self.people)} view(s), every {self.stride} frame(s)"
            f"{', bodies fitted to each view' + chr(39) + 's detections (refine=true)' if self.refined else ''}; "
            f"reference: {q['complete_frames']} of {q['frames']} frames with all 14 joints",
            f"reference quality: median reprojection px per camera: {reproj}; bone-length CV (median over bones) "
            f"{q['bone_cv_median']:.3f}; left/right bone asymmetry (median) {q['symmetry_median']:.3f}",
            "",
            "| view | frames | scored | PA-MPJPE | MPJPE | accel | best constant PA-MPJPE | vs constant "
            "| detector's own 3D PA-MPJPE | its vs constant |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in self.people:
            const, own = self.constant.get(p.sequence), self.detector3d.get(p.sequence)
            lines.append(f"| {p.sequence} | {p.frames} | {p.scored} | {_f(p.pa_mpjpe)} | {_f(p.mpjpe)} | "
                         f"{_f(p.accel)} | {_f(const)} | {_pct(p.pa_mpjpe, const)} | {_f(own)} | "
                         f"{_pct(own, const)} |")  # fmt: skip
        m, c, own = self.model, self.constant_mean(), self.detector3d_mean()
        lines.append(f"| **mean over views** | {sum(p.frames for p in self.people)} | {m.frames_scored} | "
                     f"{_f(m.pa_mpjpe)} | {_f(m.mpjpe)} | {_f(m.accel)} | {_f(c)} | {_pct(m.pa_mpjpe, c)} | "
                     f"{_f(own)} | {_pct(own, c)} |")  # fmt: skip
        return "\n".join(lines)

    def to_dict(self) -> dict[str, float]:
        out = self.model.to_dict()
        if self.constant_mean() is not None:
            out["multiview/constant_pa_mpjpe"] = self.constant_mean()
        if self.detector3d_mean() is not None:
            out["multiview/detector3d_pa_mpjpe"] = self.detector3d_mean()
        for key in ("bone_cv_median", "symmetry_median"):
            out[f"multiview/reference_{key}"] = float(self.quality[key])
        return out


def evaluate_multiview(predictor, rec, ref, views: list[str] | None = None, flow=None,
                       progress: bool = True, refine: bool = False) -> MultiviewResults:  # fmt: skip
    """The model of ``predictor`` on each of ``views`` (default: every camera) of ``rec``,
    scored against ``ref`` (module doc). ``flow``: the flow backend, for flow models.
    ``refine``: fit each view's bodies to that view's detections (:mod:`motionhmr.refine`)."""
    from tqdm import tqdm

    from motionhmr.baselines import procrustes_mean
    from motionhmr.metrics import pa_mpjpe
    from motionhmr.realvideo import fps_stride

    names = views or [c.name for c in rec.cameras]
    contract = predictor.contract
    stride = fps_stride(rec.fps, getattr(contract, "fps", None))
    keep = np.arange(0, rec.frames, stride)
    complete = ref.complete[keep]
    if not complete.any():
        raise ValueError(f"the reference of {rec.name} has no frame with all 14 joints: nothing to score")
    mean_pose = procrustes_mean(ref.joints[ref.complete])
    people, constant, detector3d = [], {}, {}
    for name in tqdm(names, desc="views", unit="view", disable=not progress):
        cam = rec.camera(name)
        v = ref.cameras.index(name)
        pred, occluded = predict_view(predictor, rec.videos[name], ref.kp2d[v][keep], ref.conf[v][keep], keep, flow,
                                      refine)  # fmt: skip
        gt = ref.in_camera(cam)[keep]
        scored = complete & ~occluded
        people.append(score_track(name, 0, pred, np.nan_to_num(gt), scored))
        if scored.any():
            const = np.broadcast_to(mean_pose, gt[scored].shape)
            constant[name] = float(pa_mpjpe(const, gt[scored]).mean())
        else:
            constant[name] = None
        detector3d[name] = detector_own_3d(ref, v, keep, gt, scored)
    model = Results(dataset="multiview", people=tuple(people), clip_frames=predictor.frames)
    return MultiviewResults(rec.name, model, constant, ref.quality, stride, refine, detector3d)


def detector_own_3d(ref, v: int, keep: np.ndarray, gt: np.ndarray, scored: np.ndarray) -> float | None:
    """PA-MPJPE (mm) of the detector's own 3D from view ``v`` (module doc) on the ``scored``
    frames of ``keep`` (``gt`` the reference in that view's frame), or None without one."""
    from motionhmr.metrics import pa_mpjpe
    from motionhmr.realvideo import undo_swaps
    from synth.conventions import EVAL_FLIP

    if ref.world is None:
        return None
    world = np.array(ref.world[v][keep], np.float64)
    _, _, swapped = undo_swaps(ref.kp2d[v][keep], ref.conf[v][keep])  # the model's input had them undone too
    world[swapped] = world[swapped][:, list(EVAL_FLIP)]
    use = scored & np.isfinite(world).all((1, 2))
    return float(pa_mpjpe(world[use], gt[use]).mean()) if use.any() else None


def predict_view(predictor, video, kp2d: np.ndarray, conf: np.ndarray, frames: np.ndarray, flow=None,
                 refine: bool = False):  # fmt: skip
    """One view through the real-video pipeline: ``(joints3d [N, 14, 3] camera frame m,
    occluded [N])`` for the video frames ``frames`` and their native-px detections."""
    from motionhmr.realvideo import read_video, steps

    from motionhmr.multiview.recording import _native_height

    height = predictor.contract.frame_height
    stop = int(frames[-1]) + 1
    images = read_video(video, height=height, count=stop)[frames]
    s = height / _native_height(video)
    # MediaPipe's confidence rule, as predict applies it (realvideo.CONF_THRESHOLD)
    clip = steps(images, (kp2d + 0.5) * s - 0.5, conf, predictor.spec, flow, person_px=predictor.contract.person_px)
    bodies = predictor(clip.inputs)
    if refine:
        from motionhmr.predict import _refined

        bodies, _ = _refined(bodies, clip.kp2d, clip.visible, clip.occluded, predictor)
    return bodies.joints3d, clip.occluded


def _f(x) -> str:
    return "n/a" if x is None else f"{x:.1f}"


def _pct(model, const) -> str:
    return "n/a" if model is None or not const else f"{100 * (model / const - 1):+.0f} %"
