"""Camera calibrations of a multi-camera recording, and the check that they fit its videos.

Camera model (:class:`Camera`)
    OpenCV pinhole with Brown-Conrady distortion. World points ``X`` are metres; the
    camera frame is OpenCV's (x right, y down, z forward, metres)::

        x_cam = R @ X_world + t                 R float64 [3, 3] world->camera, t [3] m
        x_n   = x_cam[:2] / x_cam[2]            normalised image coordinates
        px    = K @ distort(x_n, dist)          pixels, x right, y down, (0, 0) = centre
                                                of the top-left pixel
    ``dist`` is OpenCV's order ``(k1, k2, p1, p2[, k3])``; ``size`` is ``(width, height)``
    pixels of the calibrated image.

Files (:func:`read_calibration`; cameras come back sorted by name, cam2 before cam10)
    ``.toml``     Pose2Sim's and Anipose's layout: one table per camera (any table name
                  except ``metadata``) with ``name``, ``size = [w, h]``, ``matrix`` (K,
                  3x3), ``distortions`` (4 or 5 values), ``rotation`` (Rodrigues vector,
                  world->camera), ``translation`` (metres) and optional ``fisheye``
                  (``true`` is refused: the fisheye model is not supported).
    ``.qca.txt``  Qualisys QTM's XML export, read as Pose2Sim reads it (see
                  :func:`_qca_camera`). Only video cameras (``model`` mentioning "video"
                  or "none", as in Pose2Sim) are kept: marker-only cameras film no video.
    ``.json``, ``.yaml``, ``.yml``   the plain format for any other system::

                      {"cameras": [{"name": "cam01", "size": [1920, 1080],
                                    "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
                                    "dist": [k1, k2, p1, p2] or [k1, k2, p1, p2, k3],
                                    "R": 3x3 world->camera  or  "rvec": [3] (Rodrigues),
                                    "t": [3] metres}, ...]}

Videos (:func:`match_videos`, :func:`check_views`)
    Each camera's video is the file in a folder whose stem is, or contains, the camera's
    name. All videos must have the same number of frames (they are synchronised frame by
    frame) and the size the camera was calibrated at, up to H.264's macroblock padding.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from synth.errors import InputError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
FORMATS = "a Pose2Sim/Anipose .toml, a Qualisys .qca.txt, or a plain .json/.yaml/.yml"

# cv2.undistortPoints stops after 5 iterations by default: enough at 1920x1080 corners for
# k1 = -0.1 (2e-5 px) but 0.7 px off for a wide lens's k1 = -0.3; iterate to convergence.
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)


@dataclasses.dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera; see the module docstring for the model and units."""

    name: str
    size: tuple[int, int]
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray
    t: np.ndarray

    def __post_init__(self):
        # Coerce once here so every reader and every caller gets float64 arrays.
        set_ = lambda key, value: object.__setattr__(self, key, value)  # noqa: E731
        set_("size", (int(self.size[0]), int(self.size[1])))
        for key, shape in (("K", (3, 3)), ("R", (3, 3)), ("t", (3,))):
            value = np.asarray(getattr(self, key), dtype=np.float64)
            if value.shape != shape:
                raise InputError(f"camera {self.name}: {key} has shape {value.shape}, expected {shape}")
            set_(key, value)
        dist = np.asarray(self.dist, dtype=np.float64).reshape(-1)
        if len(dist) not in (4, 5):
            raise InputError(
                f"camera {self.name}: {len(dist)} distortion coefficients, expected 4 or 5 "
                "(k1, k2, p1, p2[, k3])"
            )
        set_("dist", dist)
        if not (np.allclose(self.R @ self.R.T, np.eye(3), atol=1e-5) and np.linalg.det(self.R) > 0):
            raise InputError(f"camera {self.name}: R is not a rotation matrix: check the calibration file")
        if min(self.size) <= 0:
            raise InputError(f"camera {self.name}: image size {self.size} must be positive (width, height)")

    @property
    def P(self) -> np.ndarray:
        """float64 [3, 4] ``[R | t]``: projects world points to normalised image coordinates."""
        return np.hstack([self.R, self.t[:, None]])

    @property
    def centre(self) -> np.ndarray:
        """float64 [3] the camera centre in world metres (``R @ c + t = 0``)."""
        return -self.R.T @ self.t

    def project(self, X: np.ndarray) -> np.ndarray:
        """World points ``[N, 3]`` metres -> distorted pixels ``[N, 2]`` float64."""
        X = np.asarray(X, dtype=np.float64).reshape(-1, 3)
        if len(X) == 0:
            return np.zeros((0, 2))
        rvec = cv2.Rodrigues(self.R)[0]
        return cv2.projectPoints(X, rvec, self.t, self.K, self.dist)[0].reshape(-1, 2)

    def undistort(self, px: np.ndarray) -> np.ndarray:
        """Distorted pixels ``[N, 2]`` -> normalised image coordinates ``[N, 2]`` float64.

        Rows with a NaN come back NaN."""
        px = np.asarray(px, dtype=np.float64).reshape(-1, 2)
        out = np.full_like(px, np.nan)
        finite = np.isfinite(px).all(axis=1)
        if finite.any():
            out[finite] = cv2.undistortPoints(
                px[finite].reshape(-1, 1, 2), self.K, self.dist, criteria=_UNDISTORT_CRITERIA
            ).reshape(-1, 2)
        return out


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: cam1 < cam2 < cam10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


# --------------------------------------------------------------------------- readers


def read_calibration(path: str | Path) -> list[Camera]:
    """Read a calibration file (see the module docstring) into cameras sorted by name."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"calibration file {path} does not exist: pass {FORMATS}")
    name = path.name.lower()
    if name.endswith(".toml"):
        cameras = _read_toml(path)
    elif name.endswith(".qca.txt"):
        cameras = _read_qca(path)
    elif name.endswith((".json", ".yaml", ".yml")):
        cameras = _read_plain(path)
    else:
        raise InputError(f"calibration file {path}: unknown format; pass {FORMATS}")
    if not cameras:
        raise InputError(f"calibration file {path} holds no cameras")
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise InputError(f"calibration file {path}: camera names repeat ({', '.join(names)}); make them unique")
    return sorted(cameras, key=lambda c: natural_key(c.name))


def _numbers(value: Any, shape: tuple[int, ...], where: str, key: str) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (-1: any length), or an InputError."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: '{key}' is not a list of numbers") from None
    if array.ndim != len(shape) or any(s not in (-1, a) for s, a in zip(shape, array.shape)):
        want = "x".join("k" if s == -1 else str(s) for s in shape)
        raise InputError(f"{where}: '{key}' has shape {list(array.shape)}, expected {want}")
    if not np.isfinite(array).all():
        raise InputError(f"{where}: '{key}' holds a non-finite number")
    return array


def _require(table: dict, keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if key not in table:
            raise InputError(f"{where}: missing key '{key}' (needs {', '.join(keys)})")


def _read_toml(path: Path) -> list[Camera]:
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"calibration file {path} is not valid TOML: {e}") from None
    cameras = []
    for section, table in data.items():
        # Pose2Sim and Anipose both append a [metadata] table (adjusted, error) to the cameras.
        if section == "metadata" or not isinstance(table, dict):
            continue
        where = f"{path.name} camera [{section}]"
        if table.get("fisheye", False):
            raise InputError(f"{where}: fisheye calibrations are not supported; calibrate with the pinhole model")
        _require(table, ("name", "size", "matrix", "distortions", "rotation", "translation"), where)
        rvec = _numbers(table["rotation"], (3,), where, "rotation")
        cameras.append(Camera(
            name=str(table["name"]),
            size=tuple(_numbers(table["size"], (2,), where, "size")),
            K=_numbers(table["matrix"], (3, 3), where, "matrix"),
            dist=_numbers(table["distortions"], (-1,), where, "distortions"),
            R=cv2.Rodrigues(rvec)[0],
            t=_numbers(table["translation"], (3,), where, "translation"),
        ))  # fmt: skip
    return cameras


def _read_qca(path: Path) -> list[Camera]:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise InputError(f"calibration file {path} is not valid Qualisys XML: {e}") from None
    tags = root.findall("cameras/camera")
    if not tags:
        raise InputError(f"calibration file {path}: no <cameras><camera> elements; is it a QTM .qca.txt export?")
    # Pose2Sim keeps the cameras whose model mentions "video" or "none" (the others are
    # marker cameras, which film no video); so do we.
    return [_qca_camera(tag, path) for tag in tags if re.search("video|none", tag.get("model", "").lower())]


def _qca_attrs(tag: ET.Element, child: str, keys: tuple[str, ...], where: str) -> list[float]:
    element = tag.find(child)
    if element is None:
        raise InputError(f"{where}: missing <{child}> element")
    _require(element.attrib, keys, f"{where} <{child}>")
    try:
        return [float(element.get(key)) for key in keys]
    except ValueError:
        raise InputError(f"{where} <{child}>: an attribute of {', '.join(keys)} is not a number") from None


def _qca_camera(tag: ET.Element, path: Path) -> Camera:
    """One Qualisys ``<camera>`` as a :class:`Camera`, following Pose2Sim's reading.

    Pose2Sim's demo calibration (and the results its users compare against) rely on this
    reading, so we reproduce its numbers (checked against Pose2Sim's ``calib_qca_fun`` on
    its demo file) rather than reinterpret QTM's documentation:

    * sizes from ``fov_video``, inclusive pixel bounds: ``w = right - left + 1``;
    * QTM stores intrinsics in sub-pixel units of 1/64 pixel: ``fu, fv, cu, cv`` and
      ``k1, k2, p1, p2`` are the attributes / 64, and the principal point is shifted into
      the ``fov_video`` window;
    * the transform is the camera's pose in the world, millimetres. The r11..r33 matrix
      ``M`` (row-major) serves as the rotation of a camera frame whose y points up and z
      backwards (Pose2Sim transposes the "by-column" matrix and transposes it back when
      inverting the pose), so world->camera is ``M`` with ``t = -M @ c``; turning that
      frame by pi about x gives OpenCV's axes (y down, z forward).
    """
    name = tag.get("serial")
    if not name:
        raise InputError(f"{path.name}: a <camera> has no 'serial' attribute (the camera name)")
    where = f"{path.name} camera {name}"
    left, top, right, bottom = _qca_attrs(tag, "fov_video", ("left", "top", "right", "bottom"), where)
    fu, fv, cu, cv, k1, k2, p1, p2 = (v / 64.0 for v in _qca_attrs(tag, "intrinsic", (
        "focalLengthU", "focalLengthV", "centerPointU", "centerPointV",
        "radialDistortion1", "radialDistortion2", "tangentalDistortion1", "tangentalDistortion2",
    ), where))  # fmt: skip
    K = np.array([[fu, 0.0, cu - left], [0.0, fv, cv - top], [0.0, 0.0, 1.0]])
    r = _qca_attrs(tag, "transform", ("r11", "r12", "r13", "r21", "r22", "r23", "r31", "r32", "r33"), where)
    x, y, z = _qca_attrs(tag, "transform", ("x", "y", "z"), where)
    M = np.array(r).reshape(3, 3)
    centre = np.array([x, y, z]) / 1000.0  # mm -> m
    flip = np.diag([1.0, -1.0, -1.0])  # rotation by pi about the camera's x axis
    return Camera(
        name=name,
        size=(round(right - left + 1), round(bottom - top + 1)),
        K=K,
        dist=np.array([k1, k2, p1, p2]),
        R=flip @ M,
        t=flip @ (-M @ centre),
    )


def _read_plain(path: Path) -> list[Camera]:
    text = path.read_text()
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml  # PyYAML comes with omegaconf, a dependency already

            data = yaml.safe_load(text)
    except Exception as e:  # json.JSONDecodeError or yaml.YAMLError
        raise InputError(f"calibration file {path} cannot be parsed: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cameras"), list):
        raise InputError(f"calibration file {path}: expected a top-level 'cameras' list (see the plain format)")
    cameras = []
    for i, entry in enumerate(data["cameras"]):
        if not isinstance(entry, dict):
            raise InputError(f"{path.name} camera #{i}: expected a mapping with name, size, K, dist, R or rvec, t")
        where = f"{path.name} camera {entry.get('name', f'#{i}')}"
        _require(entry, ("name", "size", "K", "dist", "t"), where)
        if ("R" in entry) == ("rvec" in entry):
            raise InputError(f"{where}: give exactly one of 'R' (3x3) or 'rvec' (Rodrigues vector)")
        if "R" in entry:
            R = _numbers(entry["R"], (3, 3), where, "R")
        else:
            R = cv2.Rodrigues(_numbers(entry["rvec"], (3,), where, "rvec"))[0]
        cameras.append(Camera(
            name=str(entry["name"]),
            size=tuple(_numbers(entry["size"], (2,), where, "size")),
            K=_numbers(entry["K"], (3, 3), where, "K"),
            dist=_numbers(entry["dist"], (-1,), where, "dist"),
            R=R,
            t=_numbers(entry["t"], (3,), where, "t"),
        ))  # fmt: skip
    return cameras


def write_plain(cameras: list[Camera], path: str | Path) -> None:
    """Write cameras in the plain ``.json`` format that :func:`read_calibration` reads."""
    entries = [
        {"name": c.name, "size": list(c.size), "K": c.K.tolist(), "dist": c.dist.tolist(),
         "R": c.R.tolist(), "t": c.t.tolist()}
        for c in cameras
    ]  # fmt: skip
    Path(path).write_text(json.dumps({"cameras": entries}, indent=1) + "\n")


# --------------------------------------------------------------------------- videos


def _padded(calibrated: int, video: int) -> bool:
    """True when ``calibrated`` is ``video`` rounded up to a multiple of 16.

    H.264 codes 16x16 macroblocks, and some pipelines (Pose2Sim's demo: 1088x1920
    calibrated, 1080x1920 video) calibrate on the padded frame. The padding sits at the
    right and bottom, so the pixel coordinates of the visible frame are unchanged."""
    return 0 < calibrated - video <= 15 and calibrated % 16 == 0


def check_views(cameras: list[Camera], videos: dict[str, tuple[int, int, int]]) -> list[str]:
    """Check each camera's video against the calibration; return (and log) the warnings.

    ``videos`` maps camera name -> ``(width, height, frame_count)`` of its video. Raises
    :class:`InputError` naming the camera when a camera has no video, when the frame
    counts differ, or when a video's size differs from the calibrated one other than by
    macroblock padding (calibrated size = video size rounded up to a multiple of 16,
    which is a warning). A video with no calibrated camera is a warning too: it is
    simply not used."""
    warnings = []
    names = [c.name for c in cameras]
    for camera in cameras:
        if camera.name not in videos:
            raise InputError(
                f"calibration camera {camera.name} has no video: expected one named after it "
                f"(videos found for: {', '.join(sorted(videos, key=natural_key)) or 'none'})"
            )
    for extra in sorted(set(videos) - set(names), key=natural_key):
        warnings.append(f"video {extra} has no calibrated camera ({', '.join(names)}): it is not used")
    counts = {c.name: int(videos[c.name][2]) for c in cameras}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} {count}" for name, count in counts.items())
        raise InputError(f"videos have unequal frame counts: {listed}; trim them to the same synchronised frames")
    for camera in cameras:
        width, height = int(videos[camera.name][0]), int(videos[camera.name][1])
        calibrated = camera.size
        if calibrated == (width, height):
            continue
        if all(c == v or _padded(c, v) for c, v in zip(calibrated, (width, height))):
            warnings.append(
                f"camera {camera.name}: calibrated at {calibrated[0]}x{calibrated[1]}, video is "
                f"{width}x{height} (H.264 macroblock padding; pixel coordinates agree)"
            )
            continue
        raise InputError(
            f"camera {camera.name}: video is {width}x{height} but the camera was calibrated at "
            f"{calibrated[0]}x{calibrated[1]}: use the original videos, or recalibrate at this size"
        )
    for warning in warnings:
        log.warning(warning)
    return warnings


def _mentions(stem: str, name: str) -> bool:
    """``name`` occurs in ``stem`` (case-insensitive) but not inside a longer number, so
    cam1 is not found in cam10."""
    return re.search(rf"(?<!\d){re.escape(name.lower())}(?!\d)", stem.lower()) is not None


def match_videos(cameras: list[Camera], folder: str | Path) -> dict[str, Path]:
    """Each camera's video in ``folder``: the file whose stem equals the camera name, else
    the one whose stem contains it (case-insensitive; suffixes in :data:`VIDEO_SUFFIXES`).

    Raises :class:`InputError` naming the camera when none or several files match, or
    when one file would serve two cameras."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"video folder {folder} does not exist")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    found: dict[str, Path] = {}
    for camera in cameras:
        matches = [p for p in files if p.stem.lower() == camera.name.lower()]
        matches = matches or [p for p in files if _mentions(p.stem, camera.name)]
        if not matches:
            raise InputError(
                f"camera {camera.name}: no video in {folder} named after it "
                f"({'/'.join(s[1:] for s in VIDEO_SUFFIXES)} files there: "
                f"{', '.join(p.name for p in files) or 'none'})"
            )
        if len(matches) > 1:
            raise InputError(
                f"camera {camera.name}: several videos in {folder} match ({', '.join(p.name for p in matches)}); "
                "keep one or rename them"
            )
        found[camera.name] = matches[0]
    by_file: dict[Path, list[str]] = {}
    for name, video in found.items():
        by_file.setdefault(video, []).append(name)
    for video, names in by_file.items():
        if len(names) > 1:
            raise InputError(f"video {video.name} matches cameras {', '.join(names)}; rename it after one camera")
    return found
