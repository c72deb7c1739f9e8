"""A calibrated multi-camera recording and its triangulated 3D reference.

Layout (what Pose2Sim, Anipose and FreeMoCap sessions look like)::

    DIR/calibration/<one calibration file>   (.toml Pose2Sim/Anipose, .qca.txt Qualisys,
                                              .json/.yaml plain; DIR/<file> also works)
    DIR/videos/<one video per camera>        (named after the camera, e.g. cam01.mp4;
                                              DIR/*.mp4 also works)

``data.path=embedded`` is Pose2Sim's ``Demo_SinglePerson`` (4 calibrated real views of one
person, 100 frames at 60 fps, 1080 x 1920 portrait), installed from PyPI with ``--no-deps``.

Contract
    :func:`open_recording` ``(path) -> Recording``: cameras (:mod:`.calibration`), their
    videos, checked against each other (sizes, frame counts; one-line errors naming the camera).

    :func:`build_reference` ``(recording) -> Reference``: MediaPipe (:mod:`motionhmr.detect`)
    on every view, decoded at :data:`DETECT_HEIGHT` px and mapped back to native pixels, the
    14 ``EVAL_JOINTS`` triangulated per frame (:func:`.triangulate.triangulate`: DLT over the
    views with confidence > 0.5 that agree to within 20 px, >= 2 views):

    ``joints``    float64 ``[T, 14, 3]`` world frame of the calibration, metres (NaN: not
                  triangulated)
    ``complete``  bool ``[T]``: all 14 joints triangulated (the frames that are scored)
    ``kp2d``      float32 ``[V, T, 14, 2]`` native px, ``conf`` ``[V, T, 14]``: each view's
                  detections (a kp model on view v reads these)
    ``error_px``, ``used`` ``[V, T, 14]``: reprojection error and the views kept
    ``quality``   the reference's own quality (:func:`.triangulate.reference_quality`)
    ``world``     float32 ``[V, T, 14, 3]`` m: the detector's own monocular 3D of the same
                  points from each view (MediaPipe's ``pose_world_landmarks``, origin between
                  the hips; NaN where it gave none, or for a detector without 3D), scored
                  beside the model as what a real-trained monocular model reaches here

    It is cached beside the recording (``DIR/.motionhmr/reference-<hash>.npz``, else under
    ``~/.cache/motionhmr/multiview/`` when DIR is read-only), keyed by the bytes of the
    calibration and the videos and the detector settings, so a second eval skips detection.

The reference is made of MediaPipe's points: its hips, shoulders and limbs, mid-shoulders for
``neck`` and mid-ears for ``head`` (:mod:`motionhmr.detect`). A body model's joints are other
points (Anny's head joint sits 5 cm behind the hip-shoulder plane on synthetic ground truth,
the demo's mid-ears 12 cm in front of it: medians), so every body model's row carries that
offset. The best constant pose and the
detector's own 3D (:mod:`.score`) are made of the reference's points and do not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np

from motionhmr.multiview.calibration import Camera, check_views, match_videos, read_calibration
from synth.errors import InputError

log = logging.getLogger(__name__)

#: Frames are decoded this tall for the detector (MediaPipe works at 256 px inside; 960 keeps
#: a tenth of the decode and memory of the demo's 1920 and loses nothing it sees).
DETECT_HEIGHT = 960
#: Bump when the reference's recipe changes: old caches are then ignored.
REFERENCE_VERSION = 2  # 2: the detector's own 3D (``world``)
CALIBRATION_PATTERNS = ("*.toml", "*.qca.txt", "*.json", "*.yaml", "*.yml")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
EMBEDDED = "embedded"

#: EVAL_JOINTS bones (for the reference's bone-length spread) and left/right bone pairs.
BONES = ((0, 1), (1, 2), (5, 4), (4, 3), (6, 7), (7, 8), (11, 10), (10, 9), (2, 3), (8, 9), (12, 13))
SYMMETRIC = (((0, 1), (5, 4)), ((1, 2), (4, 3)), ((6, 7), (11, 10)), ((7, 8), (10, 9)))


@dataclasses.dataclass(frozen=True)
class Recording:
    name: str
    root: Path
    calibration: Path
    cameras: tuple[Camera, ...]
    videos: dict[str, Path]
    frames: int
    fps: float

    def camera(self, name: str) -> Camera:
        for cam in self.cameras:
            if cam.name == name:
                return cam
        raise InputError(f"data.view={name!r} is not a camera of {self.root}: choose one of "
                         f"{', '.join(c.name for c in self.cameras)}")  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Reference:
    joints: np.ndarray
    complete: np.ndarray
    kp2d: np.ndarray
    conf: np.ndarray
    error_px: np.ndarray
    used: np.ndarray
    quality: dict
    cameras: tuple[str, ...]
    world: np.ndarray | None = None

    def in_camera(self, cam: Camera) -> np.ndarray:
        """The reference joints in ``cam``'s frame ``[T, 14, 3]`` metres (x right, y down, z
        forward: the frame Motion-HMR predicts in)."""
        return self.joints @ cam.R.T + cam.t


def embedded_demo() -> Path:
    """Pose2Sim's Demo_SinglePerson folder (installed by the README set-up)."""
    import importlib.util

    spec = importlib.util.find_spec("Pose2Sim")
    if spec is None or spec.origin is None:
        raise InputError("data.path=embedded is Pose2Sim's demo: install it with  .venv/bin/pip install --no-deps "
                         "pose2sim==0.10.49  (bash jobs/setup.sh does), or give data.path=DIR")  # fmt: skip
    root = Path(spec.origin).parent / "Demo_SinglePerson"
    if not root.is_dir():
        raise InputError(f"{root} is missing: reinstall pose2sim==0.10.49 (its wheel ships the demo)")
    return root


def open_recording(path: str | Path) -> Recording:
    """The recording in ``path`` (module doc layout), checked."""
    from motionhmr.predict import video_fps
    from synth.backgrounds import BadVideo, probe_video

    root = embedded_demo() if str(path) == EMBEDDED else Path(path)
    if not root.is_dir():
        raise InputError(f"data.path={path}: not a folder (a recording: calibration/ and videos/ inside)")
    calibration = find_calibration(root)
    cameras = tuple(read_calibration(calibration))
    folder = root / "videos" if (root / "videos").is_dir() else root
    videos = match_videos(cameras, folder)
    infos = {}
    for name, video in videos.items():
        try:
            info = probe_video(video)
        except BadVideo as bad:
            raise InputError(f"camera {name}: cannot read {video}: {bad}") from None
        infos[name] = info
    check_views(cameras, {n: (i.width, i.height, i.num_frames) for n, i in infos.items()})
    first = infos[cameras[0].name]
    name = root.name if str(path) != EMBEDDED else "pose2sim-demo"
    return Recording(name, root, calibration, cameras, videos, int(first.num_frames), video_fps(videos[cameras[0].name]))


def find_calibration(root: Path) -> Path:
    """The one calibration file of a recording (``calibration/`` first, then the folder)."""
    for folder in (root / "calibration", root):
        found = sorted({p for pat in CALIBRATION_PATTERNS for p in folder.glob(pat) if p.is_file()})
        found = [p for p in found if p.name not in ("Config.toml",)]  # Pose2Sim's settings, not a calibration
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise InputError(f"{folder} holds several calibration files ({', '.join(p.name for p in found)}): "
                             "keep one")  # fmt: skip
    raise InputError(f"no calibration file in {root}/calibration or {root} (.toml Pose2Sim/Anipose, .qca.txt "
                     "Qualisys, or a .json/.yaml of per-camera K, dist, R, t)")  # fmt: skip


# -- the reference -------------------------------------------------------------------------
def build_reference(rec: Recording, detector=None, cache: bool = True, progress: bool = True) -> Reference:
    """Detect, triangulate and score the reference (module doc); cached."""
    key = _cache_key(rec)
    path = _cache_path(rec, key)
    if cache and path is not None and path.is_file():
        log.info("multiview: reference from %s", path)
        return _load(path)
    kp2d, conf, world = detect_views(rec, detector, progress)
    ref = dataclasses.replace(triangulate_reference(rec, kp2d, conf), world=world)
    if cache and path is not None:
        _save(path, ref)
    return ref


def detect_views(rec: Recording, detector=None, progress: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's 14 joints on every view: ``kp2d`` float32 ``[V, T, 14, 2]`` native px, ``conf``
    ``[V, T, 14]`` (0 where no person was found) and its own 3D ``world`` ``[V, T, 14, 3]`` m
    (NaN for a detector without ``with_world``)."""
    from tqdm import tqdm

    from motionhmr.detect import MediaPipePose
    from motionhmr.realvideo import read_video

    detector = detector or MediaPipePose()
    kps, confs, worlds = [], [], []
    for cam in tqdm(rec.cameras, desc="detect views", unit="view", disable=not progress):
        frames = read_video(rec.videos[cam.name], height=DETECT_HEIGHT, count=rec.frames)
        if hasattr(detector, "with_world"):
            kp, cf, _, world = detector.with_world(frames)
        else:
            kp, cf, _ = detector(frames)
            world = np.full(kp.shape[:-1] + (3,), np.nan, np.float32)
        worlds.append(np.asarray(world, np.float32))
        # pixel centres on integers in both sizes: x_native = (x + 0.5) * s - 0.5
        s = _native_height(rec.videos[cam.name]) / frames.shape[1]
        kps.append(((kp + 0.5) * s - 0.5).astype(np.float32))
        confs.append(np.nan_to_num(cf).astype(np.float32))
    return np.stack(kps), np.stack(confs), np.stack(worlds)


def triangulate_reference(rec: Recording, kp2d: np.ndarray, conf: np.ndarray) -> Reference:
    """Triangulate every frame's 14 joints from the views' detections."""
    from motionhmr.multiview.triangulate import reference_quality, triangulate

    v, t, j = conf.shape
    tri = triangulate(kp2d.reshape(v, t * j, 2), conf.reshape(v, t * j), list(rec.cameras))
    joints = tri.X.reshape(t, j, 3)
    complete = np.isfinite(joints).all((1, 2))
    error = tri.error_px.reshape(v, t, j)
    used = tri.used.reshape(v, t, j)
    names = [c.name for c in rec.cameras]
    quality = reference_quality(joints, np.where(used, error, np.nan), names, list(BONES), list(SYMMETRIC))
    quality = {**quality, "frames": int(t), "complete_frames": int(complete.sum())}
    return Reference(joints, complete, kp2d, conf, error, used, quality, tuple(names))


def _native_height(video: Path) -> int:
    from synth.backgrounds import probe_video

    return int(probe_video(video).height)


def _cache_key(rec: Recording) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"version": REFERENCE_VERSION, "detect_height": DETECT_HEIGHT, "frames": rec.frames}).encode())
    for path in (rec.calibration, *(rec.videos[c.name] for c in rec.cameras)):
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _cache_path(rec: Recording, key: str) -> Path | None:
    for folder in (rec.root / ".motionhmr", Path.home() / ".cache" / "motionhmr" / "multiview"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder / f"reference-{key}.npz"
    log.warning("multiview: no writable cache folder; the reference is recomputed every time")
    return None


def _save(path: Path, ref: Reference) -> None:
    tmp = path.with_suffix(".tmp.npz")
    arrays = {f.name: getattr(ref, f.name) for f in dataclasses.fields(ref)
              if f.name not in ("quality", "cameras") and getattr(ref, f.name) is not None}  # fmt: skip
    np.savez_compressed(tmp, **arrays, quality=json.dumps(ref.quality), cameras=np.array(ref.cameras))
    os.replace(tmp, path)  # whole or not at all


def _load(path: Path) -> Reference:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    quality = json.loads(str(arrays.pop("quality")))
    cameras = tuple(str(c) for c in arrays.pop("cameras"))
    return Reference(**arrays, quality=quality, cameras=cameras)
