"""2D keypoints on real video: MediaPipe Pose (BlazePose, 33 landmarks), test-time only.

Contract
    ``MediaPipePose(model_complexity=1, min_conf=0.5)(frames)`` with ``frames`` uint8
    ``[N, H, W, 3]`` RGB, consecutive frames of one video ->
    ``(kp2d float32 [N, 14, 2], conf float32 [N, 14], found bool [N])``: ``kp2d`` in image
    pixels (x right, y down, pixel centres at integers as in :mod:`synth.conventions`), in
    ``EVAL_JOINTS`` order; ``conf`` in [0, 1] (MediaPipe's per-landmark ``visibility``; a
    midpoint's is the smaller of its two landmarks'); where no person is found ``kp2d`` is
    NaN and ``conf`` 0. ``layout="coco17"`` gives the
    COCO-17 keypoints instead (``[N, 17, 2]``, ``[N, 17]``), for comparisons.
    ``MediaPipePose().with_world(frames)`` adds MediaPipe's own monocular 3D of the same 14
    points, ``world float32 [N, 14, 3]`` (``pose_world_landmarks``: metres, origin between
    the hips), which ``eval data=multiview`` scores beside the model.

Video mode (``static_image_mode=False``): MediaPipe detects a person once and then tracks
that one person from frame to frame (its landmark smoothing is on). Each call starts a new
track (the graph is reset), so one call = one video or one clip.

Mapping BlazePose -> EVAL_JOINTS: the COCO-17 subset of the 33 landmarks (nose, eyes,
ears, shoulders, elbows, wrists, hips, knees, ankles: same names) goes through
:func:`motionhmr.keypoint_files.to_eval_joints`, the suite's one COCO -> EVAL_JOINTS map,
so a MediaPipe track and a COCO keypoint file (``predict --keypoints``) give the same
joints: limbs one to one, ``neck`` = mid-shoulders, ``head`` = mid-ears (else the seen ear,
else the nose). ``neck`` and ``head`` only enter the crop box and the visible count, never
the heatmaps. (Measured on the default Anny body at rest, the training ``head`` joint is
2.3 cm below the mid-ears point and the training ``neck`` 7 cm above the mid-shoulders.)

Only ``model_complexity=1`` works offline: mediapipe 0.10.21 ships
``pose_landmark_full.tflite`` and downloads the lite (0) and heavy (2) models on first use.

Installing: mediapipe 0.10.21 declares ``numpy<2``, ``opencv-contrib-python`` and
``protobuf<5``, but its pose solution runs with numpy 2, the suite's
``opencv-contrib-python-headless`` 5.0 and protobuf 4.25, 5.29 or 6.33 (same landmarks to the
last digit). protobuf 7 breaks it (``FieldDescriptor.label`` is gone); wandb 0.31 needs
protobuf >= 5, so the ``[detect]`` extra pins ``protobuf<7``. With protobuf >= 5 mediapipe
prints one harmless line at import (``'MessageFactory' object has no attribute
'GetPrototype'``: its C++ proto caster falls back to another path). So mediapipe is installed
without its declared dependencies, after the ``[detect]`` extra (the MissingDependency
message gives both commands).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from synth.errors import InputError, MissingDependency

MEDIAPIPE_VERSION = "0.10.21"

#: BlazePose landmark of each COCO-17 keypoint (``motionhmr.keypoint_files.COCO17`` order).
BLAZEPOSE_COCO17: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
N_LANDMARKS = 33
#: Processes that have built a MediaPipe graph (a fork copies this; see MediaPipePose._graph).
_BUILT_IN: set[int] = set()


def _mediapipe_pose():
    """``mediapipe.solutions.pose``, or MissingDependency with the install recipe."""
    try:
        from mediapipe.python.solutions import pose
    except ImportError as err:
        missing = MissingDependency("mediapipe", "detect", "MediaPipe 2D pose detection")
        # The generic hint lacks the --no-deps step that keeps numpy 2 and our cv2 build.
        missing.msg = (f"{missing.msg}, then  pip install --no-deps mediapipe=={MEDIAPIPE_VERSION}"
                       f"  (its declared numpy<2 / opencv-contrib-python pins would break the suite;"
                       f" the import failed with: {err})")  # fmt: skip
        missing.args = (missing.msg,)
        raise missing from None
    return pose


@dataclasses.dataclass(frozen=True)
class MediaPipePose:
    """BlazePose landmarks on a video, mapped to ``EVAL_JOINTS`` (see the module docstring).

    ``min_conf`` is MediaPipe's ``min_detection_confidence`` and ``min_tracking_confidence``
    (a person score, not a keypoint one; MediaPipe's default 0.5). Building the graph takes
    ~0.1 s and happens on the first call.
    """

    model_complexity: int = 1
    min_conf: float = 0.5
    smooth: bool = True  # MediaPipe's landmark smoothing across frames (video mode)

    def __post_init__(self) -> None:
        if self.model_complexity != 1:
            raise InputError(
                f"MediaPipePose model_complexity={self.model_complexity}: only 1 works offline "
                f"(mediapipe {MEDIAPIPE_VERSION} ships pose_landmark_full.tflite; 0 and 2 download)"
            )
        if not 0.0 <= self.min_conf <= 1.0:
            raise InputError(f"MediaPipePose min_conf must be in [0, 1], got {self.min_conf}")
        _mediapipe_pose()  # fail at construction, not on the first frame

    def landmarks(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The raw track: ``(xy float32 [N, 33, 2] px, visibility float32 [N, 33], found [N])``."""
        return self._track(frames)[:3]

    def with_world(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(kp2d [N, 14, 2] px, conf [N, 14], found [N], world float32 [N, 14, 3] m)``:
        ``__call__``'s EVAL_JOINTS plus MediaPipe's own monocular 3D of the same points
        (``pose_world_landmarks``: metres, origin between the hips, x right, y down, z away
        from the camera; NaN where no person was found), mapped by the same rules."""
        from motionhmr.keypoint_files import COCO17, map_to_eval_joints

        xy, vis, found, world = self._track(frames)
        kp, conf = blazepose_to_eval14(xy, vis)
        idx = list(BLAZEPOSE_COCO17)
        world14, _ = map_to_eval_joints(world[:, idx], vis[:, idx], COCO17)
        return kp, conf, found, world14

    def _track(self, frames: np.ndarray):
        frames = _check_frames(frames)
        n, h, w = frames.shape[:3]
        xy = np.full((n, N_LANDMARKS, 2), np.nan, np.float32)
        world = np.full((n, N_LANDMARKS, 3), np.nan, np.float32)
        vis = np.zeros((n, N_LANDMARKS), np.float32)
        found = np.zeros(n, bool)
        graph = self._graph()
        graph.reset()  # a new track per call: frames of another clip are no history
        for t, frame in enumerate(frames):
            result = graph.process(np.ascontiguousarray(frame))
            if result.pose_landmarks is None:
                continue
            lm = np.array([(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark], np.float32)
            # MediaPipe's normalised coordinates put 0 and 1 on the image edges; ours put
            # pixel centres on integers, so the edge is at -0.5 px.
            xy[t] = lm[:, :2] * np.array([w, h], np.float32) - 0.5
            vis[t] = np.clip(lm[:, 2], 0.0, 1.0)
            found[t] = True
            if result.pose_world_landmarks is not None:
                world[t] = [(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark]
        return xy, vis, found, world

    def __call__(self, frames: np.ndarray, layout: str = "eval14") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(kp2d [N, K, 2] px, conf [N, K], found [N])``: K = 14 (``eval14``) or 17 (``coco17``)."""
        if layout not in LAYOUTS:
            raise InputError(f"unknown keypoint layout {layout!r}; known: {', '.join(LAYOUTS)}")
        xy, vis, found = self.landmarks(frames)
        return (*LAYOUTS[layout](xy, vis), found)

    def _graph(self):
        # Built lazily, one per process (graphs do not pickle). MediaPipe is not fork-safe:
        # once a process has built a graph, a forked child crashes in malloc when it builds
        # its own, so that case is a clear error instead.
        pid = os.getpid()
        if _BUILT_IN and pid not in _BUILT_IN:
            raise RuntimeError(
                "MediaPipe cannot run in a process forked after its parent ran it (it crashes): "
                "start DataLoader workers with multiprocessing_context='spawn', or do not run the "
                "detector in the main process before the workers start"
            )
        graphs = self.__dict__.setdefault("_graphs", {})
        if pid not in graphs:
            graphs[pid] = _mediapipe_pose().Pose(
                static_image_mode=False,
                model_complexity=self.model_complexity,
                smooth_landmarks=self.smooth,
                enable_segmentation=False,
                min_detection_confidence=self.min_conf,
                min_tracking_confidence=self.min_conf,
            )
            _BUILT_IN.add(pid)
        return graphs[pid]

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_graphs"}  # graphs do not pickle

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)


def blazepose_to_eval14(xy: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose ``[N, 33, 2]``, ``[N, 33]`` -> ``EVAL_JOINTS`` ``[N, 14, 2]``, ``[N, 14]``,
    through COCO-17 and :func:`motionhmr.keypoint_files.to_eval_joints`."""
    from motionhmr.keypoint_files import to_eval_joints

    coco, conf = blazepose_to_coco17(xy, vis)
    return to_eval_joints(np.concatenate([coco, conf[..., None]], axis=-1), "coco17")


def blazepose_to_coco17(xy: np.ndarray, vis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BlazePose ``[N, 33, 2]``, ``[N, 33]`` -> COCO-17 ``[N, 17, 2]``, ``[N, 17]``."""
    return xy[:, BLAZEPOSE_COCO17].astype(np.float32), vis[:, BLAZEPOSE_COCO17].astype(np.float32)


LAYOUTS = {"eval14": blazepose_to_eval14, "coco17": blazepose_to_coco17}


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"frames must be uint8 [N, H, W, 3] RGB; got {frames.dtype} {frames.shape}")
    return frames
