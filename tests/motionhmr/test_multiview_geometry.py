"""Multi-view calibration readers, video checks, triangulation and reference quality."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from motionhmr.multiview.calibration import (
    Camera,
    check_views,
    match_videos,
    read_calibration,
    write_plain,
)
from motionhmr.multiview.triangulate import reference_quality, triangulate
from synth.errors import InputError


def look_at(name: str, centre, target=(0.0, 0.0, 0.0), f: float = 1400.0, seed: int = 0) -> Camera:
    """A 1920x1080 camera at ``centre`` (world z up) looking at ``target``, with a real
    lens's distortion."""
    centre, target = np.asarray(centre, float), np.asarray(target, float)
    z = (target - centre) / np.linalg.norm(target - centre)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    R = np.stack([x, np.cross(z, x), z])  # rows: right, down, forward
    rng = np.random.default_rng(seed)
    dist = [-0.1 + 0.02 * rng.standard_normal(), 0.05, 1e-3 * rng.standard_normal(), 1e-3 * rng.standard_normal()]
    K = [[f, 0.0, 960.0 + 5 * seed], [0.0, f * 1.001, 540.0 - 3 * seed], [0.0, 0.0, 1.0]]
    return Camera(name=name, size=(1920, 1080), K=K, dist=dist, R=R, t=-R @ centre)


@pytest.fixture(scope="module")
def ring() -> list[Camera]:
    """Four cameras on a ring ~3 m from the origin, 1.2 m up, looking at it."""
    angles = np.deg2rad([10.0, 100.0, 190.0, 280.0])
    return [
        look_at(f"cam{i + 1:02d}", (2.8 * np.cos(a), 2.8 * np.sin(a), 1.2), seed=i) for i, a in enumerate(angles)
    ]


def ball(rng, n: int, radius: float = 1.0) -> np.ndarray:
    """``n`` points uniform in a ball of ``radius`` metres around the origin."""
    direction = rng.standard_normal((n, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * radius * rng.uniform(0, 1, (n, 1)) ** (1 / 3)


def observe(cameras, X):
    """Exact detections ``[V, N, 2]`` px and full confidence ``[V, N]``."""
    points = np.stack([cam.project(X) for cam in cameras])
    return points, np.ones(points.shape[:2])


def errors_mm(a, b):
    return np.linalg.norm(a - b, axis=-1) * 1000


# --------------------------------------------------------------------------- camera model


def test_camera_projects_undistorts_and_places_its_centre(ring, rng):
    X = ball(rng, 50)
    for cam in ring:
        px = cam.project(X)
        x_cam = X @ cam.R.T + cam.t
        assert (x_cam[:, 2] > 1.0).all()  # every point in front of every camera
        np.testing.assert_allclose(cam.undistort(px), x_cam[:, :2] / x_cam[:, 2:], atol=1e-9)
        np.testing.assert_allclose(cam.P @ np.append(cam.centre, 1.0), 0.0, atol=1e-12)
        assert 2.9 < np.linalg.norm(cam.centre) < 3.1
    bad = np.array([[100.0, 200.0], [np.nan, 5.0]])
    out = ring[0].undistort(bad)
    assert np.isnan(out[1]).all() and np.isfinite(out[0]).all()


def test_camera_rejects_a_matrix_that_is_not_a_rotation():
    with pytest.raises(InputError, match="camX: R is not a rotation"):
        Camera("camX", (10, 10), np.eye(3), np.zeros(4), 2 * np.eye(3), np.zeros(3))


# --------------------------------------------------------------------------- triangulation


def test_exact_detections_are_recovered(ring, rng):
    X = ball(rng, 200)
    tri = triangulate(*observe(ring, X), ring)
    assert errors_mm(tri.X, X).max() < 1e-3  # a micrometre: only undistortion's tolerance
    assert tri.used.all() and (tri.views == 4).all()
    assert np.nanmax(tri.error_px) < 1e-3


def test_pixel_noise_gives_millimetre_errors(ring, rng):
    X = ball(rng, 500)
    points, conf = observe(ring, X)
    tri = triangulate(points + rng.normal(0.0, 1.0, points.shape), conf, ring)
    err = errors_mm(tri.X, X)
    # 1 px at 3 m with f = 1400 px is 2.1 mm across one ray; with the views 90 degrees
    # apart each horizontal axis is seen across by two of them: ~2.4 mm rms in 3D.
    assert np.median(err) < 3.0 and err.max() < 10.0
    assert tri.used.all()  # 1 px noise is far below outlier_px


def test_an_outlier_view_is_dropped(ring, rng):
    X = ball(rng, 100)
    points, conf = observe(ring, X)
    bad = np.arange(0, 100, 3)
    # 100 px off in a fixed direction, then 50..800 px in random ones: the joint solve
    # spreads such an error over every view, so a good view can end up the worst one.
    points[1, bad] += [60.0, 80.0]
    tri = triangulate(points, conf, ring)
    assert not tri.used[1, bad].any() and tri.used[[0, 2, 3]][:, bad].all()
    assert (tri.views[bad] == 3).all()
    good = np.setdiff1d(np.arange(100), bad)
    assert tri.used[:, good].all()
    assert errors_mm(tri.X, X).max() < 1e-3
    assert (tri.error_px[1, bad] > 90).all()  # the dropped view's error is still reported
    points, conf = observe(ring, X)
    direction = rng.standard_normal((len(bad), 2))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    points[1, bad] += direction * rng.uniform(50.0, 800.0, (len(bad), 1))
    tri = triangulate(points + rng.normal(0.0, 0.5, points.shape), conf, ring)
    assert not tri.used[1, bad].any() and tri.used[:, good].all()
    assert errors_mm(tri.X, X).max() < 8.0


def test_dropping_stops_at_min_views(ring, rng):
    X = ball(rng, 10)
    points, conf = observe(ring, X)
    points[:2] += 100.0  # two of four views are off: no majority to find
    tri = triangulate(points, conf, ring, min_views=3)
    assert (tri.views == 3).all()


def test_points_seen_by_one_view_are_nan(ring, rng):
    X = ball(rng, 20)
    points, conf = observe(ring, X)
    conf[1:, :5] = 0.0  # only view 0 sees points 0..4
    points[2:, 5:10] = np.nan  # views 0 and 1 see points 5..9
    tri = triangulate(points, conf, ring)
    assert np.isnan(tri.X[:5]).all() and not tri.used[:, :5].any() and (tri.views[:5] == 0).all()
    assert np.isnan(tri.error_px[:, :5]).all()
    assert errors_mm(tri.X[5:], X[5:]).max() < 1e-3
    assert (tri.views[5:10] == 2).all()


def test_unconfident_detections_are_ignored(ring, rng):
    X = ball(rng, 30)
    points, conf = observe(ring, X)
    points[2] = rng.uniform(0, 1000, points[2].shape)  # garbage ...
    conf[2] = 0.3  # ... that the detector was unsure of
    tri = triangulate(points, conf, ring, min_conf=0.5)
    assert errors_mm(tri.X, X).max() < 1e-3
    assert not tri.used[2].any() and np.isnan(tri.error_px[2]).all()
    tri = triangulate(points, conf, ring, min_conf=0.2)  # trusted now: an outlier to drop
    assert not tri.used[2].any() and np.isfinite(tri.error_px[2]).all()


def test_frames_by_joints_shape_and_speed(ring, rng):
    """4 views x 300 frames x 14 joints: the module docstring quotes this timing."""
    X = ball(rng, 300 * 14).reshape(300, 14, 3)
    points, conf = observe(ring, X.reshape(-1, 3))
    points = points.reshape(4, 300, 14, 2) + rng.normal(0.0, 1.0, (4, 300, 14, 2))
    start = time.perf_counter()
    tri = triangulate(points, conf.reshape(4, 300, 14), ring)
    seconds = time.perf_counter() - start
    print(f"triangulate 4 x 300 x 14: {seconds:.3f} s")
    assert tri.X.shape == (300, 14, 3) and tri.used.shape == tri.error_px.shape == (4, 300, 14)
    assert tri.views.shape == (300, 14)
    assert seconds < 5.0


def test_triangulate_checks_shapes(ring):
    with pytest.raises(InputError, match="expected \\[4 views"):
        triangulate(np.zeros((3, 5, 2)), np.ones((3, 5)), ring)
    with pytest.raises(InputError, match="conf has shape"):
        triangulate(np.zeros((4, 5, 2)), np.ones((4, 6)), ring)


# --------------------------------------------------------------------------- readers


def assert_same_cameras(read: list[Camera], expected: list[Camera]):
    assert [c.name for c in read] == [c.name for c in expected]
    for a, b in zip(read, expected):
        assert a.size == b.size
        for key in ("K", "dist", "R", "t"):
            np.testing.assert_allclose(getattr(a, key), getattr(b, key), atol=1e-12, err_msg=f"{a.name} {key}")


def toml_text(cameras: list[Camera], sections: list[str], k3: bool) -> str:
    """Cameras in the TOML layout Pose2Sim (4 distortions, float sizes) and Anipose (5
    distortions, table names cam_0 ...) write: repr() floats round-trip exactly."""
    out = []
    for section, c in zip(sections, cameras):
        rvec = cv2.Rodrigues(c.R)[0].ravel()
        dist = list(c.dist) + ([0.0] if k3 else [])
        out.append(
            f'[{section}]\nname = "{c.name}"\nsize = [ {float(c.size[0])!r}, {float(c.size[1])!r}]\n'
            f"matrix = {[[float(v) for v in row] for row in c.K]}\n"
            f"distortions = {[float(v) for v in dist]}\n"
            f"rotation = {[float(v) for v in rvec]}\ntranslation = {[float(v) for v in c.t]}\n"
            f"fisheye = false\n\n"
        )
    return "".join(out) + "[metadata]\nadjusted = false\nerror = 0.0\n"


@pytest.mark.parametrize("layout", ["pose2sim", "anipose"])
def test_toml_round_trip(ring, tmp_path, layout):
    cameras = ring[:3]
    sections = [c.name for c in cameras] if layout == "pose2sim" else [f"cam_{i}" for i in range(3)]
    path = tmp_path / "Calib.toml"
    path.write_text(toml_text(cameras[::-1], sections[::-1], k3=layout == "anipose"))
    read = read_calibration(path)
    assert [c.name for c in read] == ["cam01", "cam02", "cam03"]  # sorted back
    for a, b in zip(read, cameras):
        assert a.size == b.size and len(a.dist) == (5 if layout == "anipose" else 4)
        np.testing.assert_allclose(a.K, b.K)
        np.testing.assert_allclose(a.dist[:4], b.dist)
        np.testing.assert_allclose(a.R, b.R, atol=1e-12)  # via Rodrigues and back
        np.testing.assert_allclose(a.t, b.t)


def demo_qca(tmp_path: Path) -> Path:
    spec = importlib.util.find_spec("Pose2Sim")
    if spec is None:
        pytest.skip("Pose2Sim is not installed (README set-up installs it): its demo Calib.qca.txt is the fixture")
    source = Path(spec.origin).parent / "Demo_SinglePerson" / "calibration" / "Calib.qca.txt"
    return Path(shutil.copy(source, tmp_path / "Calib.qca.txt"))


def test_qualisys_demo_matches_pose2sims_reading(tmp_path):
    cameras = read_calibration(demo_qca(tmp_path))
    assert [c.name for c in cameras] == ["cam01", "cam02", "cam03", "cam04"]
    cam01 = cameras[0]
    assert cam01.size == (1088, 1920)
    # Numbers from Pose2Sim's own calib_qca_fun on this file (agreement to 1e-15).
    assert cam01.K[0, 0] == 107599.671875 / 64 and cam01.K[1, 1] == 107588.828125 / 64
    assert cam01.K[0, 2] == 34110.316406 / 64 and cam01.K[1, 2] == 60680.792969 / 64
    np.testing.assert_allclose(cam01.dist, np.array([-0.046183, 0.139983, 0.000608, 0.00069]) / 64)
    np.testing.assert_allclose(cv2.Rodrigues(cam01.R)[0].ravel(), [1.68827548, 1.04832205, -0.41955852], atol=1e-8)
    np.testing.assert_allclose(cam01.t, [0.32110489, 0.95633206, 2.89071305], atol=1e-8)
    np.testing.assert_allclose(cam01.centre, [1.4602323709212087, -1.9091590482454608, 1.8965058524092062])
    np.testing.assert_allclose(cv2.Rodrigues(cameras[3].R)[0].ravel(), [1.40455717, -1.38874127, 0.42535743], atol=1e-8)
    np.testing.assert_allclose(cameras[3].t, [0.50302172, 0.04894934, 4.40656446], atol=1e-8)
    for cam in cameras:
        assert 2.0 < np.linalg.norm(cam.centre) < 5.0  # 3.06, 3.17, 4.44, 4.44 m
        assert cam.t[2] > 2.0  # the world origin (the capture area) is in front of every camera
        u, v = cam.project(np.zeros((1, 3)))[0]
        assert 0 < u < cam.size[0] and 0 < v < cam.size[1]


QCA_TINY = """<?xml version='1.0' encoding='ASCII'?>
<calibration type="regular">
  <cameras>
    <camera active="1" model="Miqus Video" serial="cam10">
      <fov_video bottom="1083" left="8" right="1927" top="4"/>
      <intrinsic centerPointU="64000" centerPointV="38400" focalLengthU="76800" focalLengthV="76800"
                 radialDistortion1="-6.4" radialDistortion2="3.2" radialDistortion3="0"
                 tangentalDistortion1="0.064" tangentalDistortion2="-0.064"/>
      <transform r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1"
                 x="0" y="0" z="3000"/>
    </camera>
    <camera active="1" model="Miqus M3" serial="marker1">
      <fov_video bottom="1023" left="0" right="1023" top="0"/>
    </camera>
    <camera active="1" model="none" serial="cam2">
      <fov_video bottom="1079" left="0" right="1919" top="0"/>
      <intrinsic centerPointU="61440" centerPointV="34560" focalLengthU="64000" focalLengthV="64000"
                 radialDistortion1="0" radialDistortion2="0" radialDistortion3="0"
                 tangentalDistortion1="0" tangentalDistortion2="0"/>
      <transform r11="0" r12="-1" r13="0" r21="1" r22="0" r23="0" r31="0" r32="0" r33="1"
                 x="0" y="0" z="2000"/>
    </camera>
  </cameras>
</calibration>
"""


def test_qualisys_hand_written(tmp_path):
    path = tmp_path / "tiny.qca.txt"
    path.write_text(QCA_TINY)
    cam2, cam10 = read_calibration(path)  # natural order; the marker camera is skipped
    assert (cam2.name, cam10.name) == ("cam2", "cam10")
    assert cam10.size == (1920, 1080)
    # 1/64-pixel units, and the principal point moved into the fov_video window.
    np.testing.assert_allclose(cam10.K, [[1200.0, 0.0, 1000.0 - 8], [0.0, 1200.0, 600.0 - 4], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(cam10.dist, [-0.1, 0.05, 0.001, -0.001])
    # Identity transform 3 m up: the camera looks straight down at the origin.
    np.testing.assert_allclose(cam10.R, np.diag([1.0, -1.0, -1.0]))
    np.testing.assert_allclose(cam10.t, [0.0, 0.0, 3.0])
    np.testing.assert_allclose(cam10.centre, [0.0, 0.0, 3.0])
    np.testing.assert_allclose(cam2.project(np.zeros((1, 3))), [[960.0, 540.0]])
    np.testing.assert_allclose(cam2.R, np.diag([1.0, -1.0, -1.0]) @ [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(cam2.t, [0.0, 0.0, 2.0])


def test_qualisys_missing_element_names_the_camera(tmp_path):
    path = tmp_path / "broken.qca.txt"
    path.write_text(QCA_TINY.replace('<intrinsic centerPointU="61440"', '<x centerPointU="61440"'))
    with pytest.raises(InputError, match="camera cam2: missing <intrinsic>"):
        read_calibration(path)


def test_plain_json_and_yaml(ring, tmp_path):
    write_plain(ring, tmp_path / "cams.json")
    assert_same_cameras(read_calibration(tmp_path / "cams.json"), ring)
    yaml_text = "cameras:\n" + "".join(
        f"  - name: {c.name}\n    size: {list(c.size)}\n    K: {c.K.tolist()}\n    dist: {c.dist.tolist()}\n"
        f"    rvec: {cv2.Rodrigues(c.R)[0].ravel().tolist()}\n    t: {c.t.tolist()}\n"
        for c in ring
    )
    (tmp_path / "cams.yml").write_text(yaml_text)
    read = read_calibration(tmp_path / "cams.yml")
    for a, b in zip(read, ring):
        np.testing.assert_allclose(a.R, b.R, atol=1e-12)


# --------------------------------------------------------------------------- reader errors


def test_toml_missing_key_names_camera_and_key(ring, tmp_path):
    path = tmp_path / "Calib.toml"
    path.write_text(toml_text(ring[:2], ["cam01", "cam02"], k3=False).replace("translation = ", "translatoin = ", 1))
    with pytest.raises(InputError, match=r"camera \[cam01\]: missing key 'translation'"):
        read_calibration(path)


def test_toml_fisheye_is_refused(ring, tmp_path):
    path = tmp_path / "Calib.toml"
    path.write_text(toml_text(ring[:2], ["cam01", "cam02"], k3=False).replace("fisheye = false", "fisheye = true"))
    with pytest.raises(InputError, match="fisheye calibrations are not supported"):
        read_calibration(path)


def test_toml_bad_shape_is_named(ring, tmp_path):
    path = tmp_path / "Calib.toml"
    text = toml_text(ring[:1], ["cam01"], k3=False)
    path.write_text(text.replace("size = [", "size = [ 3.0,"))
    with pytest.raises(InputError, match="cam01.*'size' has shape \\[3\\], expected 2"):
        read_calibration(path)


def test_unknown_suffix_lists_the_formats(tmp_path):
    path = tmp_path / "calib.xml"
    path.write_text("<x/>")
    with pytest.raises(InputError, match=r"unknown format; pass .*\.toml.*\.qca\.txt.*\.json"):
        read_calibration(path)
    with pytest.raises(InputError, match="does not exist"):
        read_calibration(tmp_path / "nope.toml")


# --------------------------------------------------------------------------- videos


def test_check_views_accepts_macroblock_padding(ring):
    portrait = [Camera(c.name, (1088, 1920), c.K, c.dist, c.R, c.t) for c in ring[:2]]
    warnings = check_views(portrait, {"cam01": (1080, 1920, 100), "cam02": (1088, 1920, 100)})
    assert len(warnings) == 1 and "cam01" in warnings[0] and "1080x1920" in warnings[0]
    assert check_views(ring, {c.name: (1920, 1080, 50) for c in ring}) == []


def test_check_views_size_mismatch(ring):
    videos = {c.name: (1920, 1080, 50) for c in ring}
    videos["cam03"] = (1280, 720, 50)
    with pytest.raises(InputError, match="camera cam03: video is 1280x720 but .* calibrated at 1920x1080"):
        check_views(ring, videos)
    videos["cam03"] = (1904, 1080, 50)  # 16 px off: more than padding
    with pytest.raises(InputError, match="cam03"):
        check_views(ring, videos)


def test_check_views_missing_view_and_unequal_frames(ring):
    videos = {c.name: (1920, 1080, 100) for c in ring}
    del videos["cam03"]
    with pytest.raises(InputError, match="calibration camera cam03 has no video"):
        check_views(ring, videos)
    videos["cam03"] = (1920, 1080, 98)
    with pytest.raises(InputError, match="unequal frame counts: cam01 100, cam02 100, cam03 98, cam04 100"):
        check_views(ring, videos)


def test_match_videos_demo_layout(ring, tmp_path):
    for i in range(1, 5):
        (tmp_path / f"cam{i:02d}.mp4").touch()
    (tmp_path / "cam01.json").touch()  # not a video
    found = match_videos(ring, tmp_path)
    assert found == {f"cam{i:02d}": tmp_path / f"cam{i:02d}.mp4" for i in range(1, 5)}


def test_match_videos_by_containment_and_errors(tmp_path):
    cams = [Camera(name, (10, 10), np.eye(3), np.zeros(4), np.eye(3), np.zeros(3)) for name in ("cam1", "cam10")]
    (tmp_path / "trial_CAM1.MOV").touch()
    (tmp_path / "trial_cam10.mp4").touch()
    assert match_videos(cams, tmp_path) == {"cam1": tmp_path / "trial_CAM1.MOV", "cam10": tmp_path / "trial_cam10.mp4"}
    (tmp_path / "cam1_backup.avi").touch()
    with pytest.raises(InputError, match="camera cam1: several videos .*cam1_backup.avi, trial_CAM1.MOV"):
        match_videos(cams, tmp_path)
    (tmp_path / "cam1_backup.avi").unlink()
    (tmp_path / "trial_cam10.mp4").unlink()
    with pytest.raises(InputError, match="camera cam10: no video in"):
        match_videos(cams, tmp_path)


# --------------------------------------------------------------------------- reference quality

#: joints 0 pelvis, 1 l_hip, 2 l_knee, 3 r_hip, 4 r_knee, 5 neck
SKELETON = np.array([[0, 0, 0.9], [0.1, 0, 0.9], [0.1, 0, 0.45], [-0.1, 0, 0.9], [-0.1, 0, 0.45], [0, 0, 1.4]])
BONES = [(0, 1), (1, 2), (0, 3), (3, 4), (0, 5)]
PAIRS = [((0, 1), (0, 3)), ((1, 2), (3, 4))]


def moving(skeleton: np.ndarray, rng, T: int = 40) -> np.ndarray:
    """``[T, J, 3]`` the skeleton rigidly rotated and moved around, one pose per frame."""
    rvecs = rng.normal(0.0, 0.5, (T, 3))
    return np.stack([skeleton @ cv2.Rodrigues(r)[0].T + rng.uniform(-1, 1, 3) for r in rvecs])


def test_reference_quality_of_a_rigid_skeleton(rng):
    X = moving(SKELETON, rng)
    X[3, 2] = np.nan  # a missing knee leaves its bones' other frames
    error = np.abs(rng.normal(0, 1, (2, *X.shape[:2])))
    used = np.ones_like(error, dtype=bool)
    used[1] = False
    error[1] = 1000.0  # dropped views: not counted
    q = reference_quality(X, error, ["camA", "camB"], BONES, PAIRS, used=used)
    json.dumps(q, allow_nan=False)
    assert q["reprojection_px"]["camA"] == pytest.approx(np.median(error[0]))
    assert q["reprojection_px"]["camB"] is None
    assert q["bone_cv_median"] < 1e-9 and max(q["bone_cv"].values()) < 1e-9
    assert q["symmetry_median"] < 1e-9


def test_reference_quality_sees_a_longer_left_bone(rng):
    skeleton = SKELETON.copy()
    skeleton[2, 2] = 0.9 - 0.45 * 1.2  # left shin 20% longer
    X = moving(skeleton, rng)
    q = reference_quality(X, np.ones((1, *X.shape[:2])), ["cam"], BONES, PAIRS)
    assert q["symmetry"]["1-2|3-4"] == pytest.approx(0.2 / 1.1)
    assert q["symmetry"]["0-1|0-3"] < 1e-9
    assert q["symmetry_median"] == pytest.approx(0.1 / 1.1)
    # A bone that changes length over frames shows in its CV.
    X[::2, 2] = X[::2, 1] + (X[::2, 2] - X[::2, 1]) * 1.1
    assert reference_quality(X, np.ones((1, *X.shape[:2])), ["cam"], BONES, PAIRS)["bone_cv"]["1-2"] > 0.04
