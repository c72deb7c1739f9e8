"""The 3DPW reader and protocol on fixtures in the official layout, with known scores.

The fixtures (``threedpw_fixture.py``, written to tmp dirs at test time) are Python 2
style pickles with the official keys; their ground truth is forward kinematics on a
stand-in skeleton, and each predict_fn below returns the ground truth plus a perturbation
whose PA-MPJPE / MPJPE / acceleration error is known in closed form.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from motionhmr import threedpw
from motionhmr.evaluate import (
    PersonResult,
    Results,
    TrackPrediction,
    Window,
    clip_windows,
    evaluate_3dpw,
    evaluate_synthetic,
    stitch,
)
from synth.errors import InputError


def _load_fixture_module():
    name = "threedpw_fixture"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while it loads
        spec.loader.exec_module(module)
    return sys.modules[name]


fx = _load_fixture_module()

N = 40
# Person 0: frames 0-4 have 6 detected keypoints (not scored, fed as occluded), frames 5-9
# exactly 7 (scored), the rest 14. Person 1: all 14, but its camera pose is invalid from
# frame 28 on. So 35 and 28 scored frames.
VISIBLE_0 = np.r_[np.full(5, 6), np.full(5, 7), np.full(N - 10, 14)]
VALID_1 = np.arange(N) < 28
SCORED = [np.arange(N) >= 5, VALID_1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A 3DPW root with one two-person test sequence (and a train one to ignore)."""
    root = tmp_path_factory.mktemp("3dpw")
    seq = fx.sequence_dict(
        "downtown_fixture_00",
        N,
        [
            fx.PersonSpec(gender="m", visible=VISIBLE_0),
            fx.PersonSpec(gender="f", campose_valid=VALID_1, n_betas=300),
        ],
        seed=1,
    )
    fx.write_split(root, "test", [seq])
    fx.write_split(root, "train", [fx.sequence_dict("courtyard_other_00", 5, [fx.PersonSpec()], seed=2)])
    return root, seq


@pytest.fixture(scope="module")
def sequences(dataset):
    return threedpw.load_split(dataset[0], "test")


# -- reader --------------------------------------------------------------------------------


def test_fixture_is_a_python2_pickle_in_the_official_layout(dataset):
    root, _ = dataset
    path = root / "sequenceFiles" / "test" / "downtown_fixture_00.pkl"
    with open(path, "rb") as f, pytest.raises(UnicodeDecodeError):
        pickle.load(f)  # Python 3's default (ASCII) cannot read py2 numpy buffers
    with open(path, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    assert set(threedpw.REQUIRED_KEYS) <= set(data)
    assert {
        "img_frame_ids",
        "v_template_clothed",
        "texture_maps",
        "poses_60Hz",
        "trans_60Hz",
        "betas_clothed",
    } <= set(data)
    assert data["poses2d"][0].shape == (N, 3, 18) and data["jointPositions"][1].shape == (N, 72)


def test_reader_returns_typed_people_in_the_camera_frame(dataset, sequences):
    root, raw = dataset
    assert [s.name for s in sequences] == ["downtown_fixture_00"]
    seq = sequences[0]
    assert seq.num_frames == N and seq.K.shape == (3, 3) and seq.cam_poses.shape == (N, 4, 4)
    assert seq.image_path(7) == root / "imageFiles" / "downtown_fixture_00" / "image_00007.jpg"
    p0, p1 = seq.people
    assert (p0.gender, p1.gender) == ("male", "female")
    assert p0.betas.shape == (10,) and p1.betas.shape == (300,)
    assert p0.poses.shape == (N, 72) and p0.trans.shape == (N, 3)
    assert p0.joints3d_world.shape == (N, 24, 3) and p0.kp2d.shape == (N, 18, 3)
    np.testing.assert_array_equal(p1.valid, VALID_1)
    assert p0.valid.all()
    for p in (p0, p1):
        np.testing.assert_allclose(
            p.joints3d, fx.camera_joints(raw, p.index)[:, threedpw.SMPL_TO_EVAL], atol=1e-12
        )
        np.testing.assert_array_equal(p.kp2d, raw["poses2d"][p.index].transpose(0, 2, 1))


def test_eval_joints_are_the_right_smpl_joints_and_openpose_points(sequences):
    # The table of SMPL indices, checked against the canonical skeleton map.
    assert threedpw.SMPL_TO_EVAL == (8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15)
    p = sequences[0].people[0]
    j = p.joints3d  # camera frame: x right, y down; the camera faces the person
    assert (j[:, 3, 0] > j[:, 2, 0]).all()  # l_hip right of r_hip in the image
    hips_y = j[:, 2:4, 1].min(axis=1)
    assert (j[:, 12, 1] < hips_y).all() and (j[:, 13, 1] < hips_y).all()  # neck, head above the hips
    assert (j[..., 2] > 2).all()  # in front of the camera
    openpose_limbs = [10, 9, 8, 11, 12, 13, 4, 3, 2, 5, 6, 7]
    np.testing.assert_allclose(p.kp_eval[10:, :12], p.kp2d[10:, openpose_limbs, :2], rtol=1e-6)
    np.testing.assert_allclose(p.kp_eval[10:, 12], p.kp2d[10:, 1, :2], rtol=1e-6)


def test_visible_count_follows_the_detections(sequences):
    p0, p1 = sequences[0].people
    np.testing.assert_array_equal(p0.visible_count(), VISIBLE_0)
    assert (p1.visible_count() == 14).all()


def test_reader_errors_are_one_line(tmp_path, dataset):
    root, raw = dataset

    def expect(message, call):
        with pytest.raises(InputError, match=message) as err:
            call()
        assert "\n" not in str(err.value)

    expect("3DPW folder not found", lambda: threedpw.load_split(tmp_path / "nowhere"))
    expect("no sequenceFiles/ folder", lambda: threedpw.load_split(tmp_path))
    (tmp_path / "sequenceFiles" / "test").mkdir(parents=True)
    expect("no test split", lambda: threedpw.load_split(tmp_path))
    expect("split 'val' is unknown", lambda: threedpw.load_split(root, "val"))
    assert len(threedpw.load_split(root / "sequenceFiles", "train")) == 1  # root may name sequenceFiles

    bad = tmp_path / "sequenceFiles" / "test"
    (bad / "garbage.pkl").write_bytes(b"\x00\x01 not a pickle")
    expect("could not be unpickled", lambda: threedpw.load_sequence(bad / "garbage.pkl"))
    good_bytes = (root / "sequenceFiles" / "test" / "downtown_fixture_00.pkl").read_bytes()
    (bad / "truncated.pkl").write_bytes(good_bytes[: len(good_bytes) // 2])
    expect("could not be unpickled", lambda: threedpw.load_sequence(bad / "truncated.pkl"))
    fx.write_sequence(bad / "list.pkl", [1, 2])
    expect("holds a list, not a dict", lambda: threedpw.load_sequence(bad / "list.pkl"))

    def broken(name, **changes):
        d = {k: v for k, v in raw.items() if changes.get(k, 0) is not None}
        d.update({k: v for k, v in changes.items() if v is not None})
        return fx.write_sequence(bad / f"{name}.pkl", d)

    expect(
        "lacks poses2d, campose_valid",
        lambda: threedpw.load_sequence(broken("keys", poses2d=None, campose_valid=None)),
    )
    expect(
        r"poses2d\[1\] has shape \[40, 18, 3\]",
        lambda: threedpw.load_sequence(
            broken("shape", poses2d=[raw["poses2d"][0], raw["poses2d"][1].transpose(0, 2, 1)])
        ),
    )
    expect(
        "trans has 1 entries for 2 people",
        lambda: threedpw.load_sequence(broken("people", trans=raw["trans"][:1])),
    )
    expect(
        r"cam_poses has shape \[40, 3, 4\]",
        lambda: threedpw.load_sequence(broken("cam", cam_poses=raw["cam_poses"][:, :3])),
    )
    expect("genders\\[0\\] is 'x'", lambda: threedpw.load_sequence(broken("gender", genders=["x", "f"])))
    nan_poses = [raw["poses"][0] * np.nan, raw["poses"][1]]
    expect("poses holds non-finite values", lambda: threedpw.load_sequence(broken("nan", poses=nan_poses)))
    expect("not found", lambda: threedpw.load_sequence(bad / "missing.pkl"))


def test_gt_vertices_through_the_smpl_backend(tmp_path, sequences, dataset):
    pytest.importorskip("smplx")
    _, raw = dataset
    bodies = threedpw.gendered_smpl(fx.write_standin_smpl(tmp_path))
    p1 = sequences[0].people[1]
    # One stand-in vertex sits on each joint: posing 3DPW's parameters with the suite's
    # SMPL backend must land them on 3DPW's own camera-frame jointPositions.
    verts = threedpw.gt_vertices(p1, bodies)
    assert verts.shape == (N, 24, 3)
    np.testing.assert_allclose(verts, fx.camera_joints(raw, 1), atol=2e-6)
    some = threedpw.gt_vertices(p1, bodies["female"], frames=VALID_1)
    np.testing.assert_allclose(some, fx.camera_joints(raw, 1)[VALID_1], atol=2e-6)
    with pytest.raises(InputError, match="no SMPL body for gender 'female'"):
        threedpw.gt_vertices(p1, {"male": bodies["male"]})
    with pytest.raises(InputError, match="needs the smpl body backend"):
        threedpw.gt_vertices(p1, {"female": SimpleNamespace(name="anny")})


# -- windows -------------------------------------------------------------------------------


def test_clip_windows_cover_every_frame_once_with_the_tail_aligned_to_the_end():
    assert clip_windows(100, 31) == [
        Window(0, 31, 0),
        Window(31, 62, 31),
        Window(62, 93, 62),
        Window(69, 100, 93),
    ]
    assert clip_windows(93, 31) == [Window(0, 31, 0), Window(31, 62, 31), Window(62, 93, 62)]
    assert clip_windows(20, 31) == [Window(0, 20, 0)]
    for n in (1, 30, 31, 32, 61, 62, 63, 200):
        windows = clip_windows(n, 31)
        assert all(w.stop - w.start == min(n, 31) for w in windows)
        per_window = [np.arange(w.start, w.stop) for w in windows]
        np.testing.assert_array_equal(stitch(per_window, windows, n), np.arange(n))


# -- the protocol ---------------------------------------------------------------------------


def head_drift(n: int, c: float) -> np.ndarray:
    """``[n, 14, 3]``: the head moves c f^2 metres along x in frame f, nothing else moves.
    Root-aligned MPJPE of frame f is 1000 c f^2 / 14 mm; every acceleration error is
    1000 * 2c / 14 mm/frame^2."""
    d = np.zeros((n, 14, 3))
    d[:, 13, 0] = c * np.arange(n) ** 2
    return d


C = 0.0014  # -> MPJPE 0.1 f^2 mm, acceleration error 0.2 mm/frame^2


def garbage_where_unscored(pred, person, occluded, rng):
    """Wild joints on every frame the protocol must not score."""
    unscored = occluded | ~person.valid
    pred[unscored] += rng.uniform(-1, 1, (unscored.sum(), 14, 3))
    return pred


def test_visibility_filter_per_person_averaging_and_accel_on_known_numbers(sequences):
    rng = np.random.default_rng(0)
    calls = []

    def predict(seq, person, kp2d, conf, occluded, windows):
        calls.append((person.index, kp2d, conf, occluded, windows))
        pred = person.joints3d + head_drift(person.num_frames, C)
        return garbage_where_unscored(pred, person, occluded, rng)

    results = evaluate_3dpw(predict, sequences)
    # predict_fn saw every frame, the detections, the occlusion mask and the windows
    (i0, kp0, conf0, occ0, win0), (i1, _, _, occ1, _) = calls
    p0 = sequences[0].people[0]
    np.testing.assert_array_equal(kp0, p0.kp_eval)
    np.testing.assert_array_equal(conf0, p0.kp_conf)
    np.testing.assert_array_equal(occ0, VISIBLE_0 < 7)  # 6 visible -> occluded, 7 -> not
    assert not occ1.any() and win0 == clip_windows(N, 31) and kp0.shape == (N, 14, 2)

    f = np.arange(N)
    per_frame = [0.1 * f[s] ** 2 for s in SCORED]  # MPJPE of each scored frame, by construction
    r0, r1 = results.people
    assert (r0.frames, r0.scored, r1.scored) == (N, 35, 28)
    assert r0.mpjpe == pytest.approx(per_frame[0].mean(), rel=1e-9)
    assert r1.mpjpe == pytest.approx(per_frame[1].mean(), rel=1e-9)
    # per person, then over people -- not pooled over frames (which would differ here)
    assert results.mpjpe == pytest.approx((per_frame[0].mean() + per_frame[1].mean()) / 2, rel=1e-9)
    pooled = np.concatenate(per_frame).mean()
    assert abs(results.mpjpe - pooled) > 1
    # windows touching an unscored (garbage) frame are dropped, the rest are exactly 2c/14
    assert r0.accel == pytest.approx(0.2, rel=1e-9) and r1.accel == pytest.approx(0.2, rel=1e-9)
    assert results.accel == pytest.approx(0.2, rel=1e-9)
    assert r0.pa_mpjpe is not None and r0.pve is None and results.pve is None


def test_pa_mpjpe_end_to_end_on_known_numbers(sequences):
    """Person 0: a rotated, scaled, shifted copy (PA 0); person 1: an orthogonal
    perturbation whose PA-MPJPE has a closed form (see test_metrics)."""
    tm = _load_test_metrics()
    rng = np.random.default_rng(3)
    p1 = sequences[0].people[1]
    e = np.stack([tm.orthogonal_perturbation(g, rng, size=0.03) for g in p1.joints3d])
    gt_scored, e_scored = p1.joints3d[VALID_1], e[VALID_1]
    expected_1 = np.mean([tm.closed_form_pa(g, ei) for g, ei in zip(gt_scored, e_scored, strict=True)])

    def predict(seq, person, kp2d, conf, occluded, windows):
        if person.index == 0:
            rot = tm.random_rotation(rng)
            pred = 0.8 * person.joints3d @ rot.T + [0.3, -0.2, 1.0]
        else:
            pred = person.joints3d + e
        return garbage_where_unscored(pred, person, occluded, rng)

    results = evaluate_3dpw(predict, sequences)
    r0, r1 = results.people
    assert r0.pa_mpjpe == pytest.approx(0.0, abs=1e-9)
    assert r1.pa_mpjpe == pytest.approx(expected_1, rel=1e-9)
    assert results.pa_mpjpe == pytest.approx(expected_1 / 2, rel=1e-9)


def _load_test_metrics():
    name = "motionhmr_test_metrics_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_metrics.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_pve_end_to_end_with_the_smpl_backend(tmp_path, sequences, dataset):
    pytest.importorskip("smplx")
    _, raw = dataset
    bodies = threedpw.gendered_smpl(fx.write_standin_smpl(tmp_path))

    def predict(seq, person, kp2d, conf, occluded, windows):
        verts = fx.camera_joints(raw, person.index).copy()  # = the stand-in's GT mesh
        verts[:, 0] += [0.0, 0.024, 0.0]  # one of 24 vertices 24 mm off -> PVE 1 mm
        shift = np.array([0.1, 0.2, 0.3])  # a shared shift of joints and mesh is free
        return TrackPrediction(joints3d=person.joints3d + shift, vertices=verts + shift)

    results = evaluate_3dpw(predict, sequences, body=bodies)
    # (the backend poses in float32: ~1e-6 m per vertex)
    assert [r.pve for r in results.people] == [pytest.approx(1.0, abs=1e-3)] * 2
    assert results.to_dict()["3dpw/pve"] == pytest.approx(1.0, abs=1e-3)


def test_results_table_and_wandb_dict(sequences):
    results = evaluate_3dpw(lambda seq, person, *_: person.joints3d, sequences)
    table = results.table()
    lines = table.splitlines()
    assert lines[0].startswith("3dpw: 2 people, 31-frame clips") and ">= 7 visible" in lines[0]
    assert lines[2].startswith("| sequence | person | frames | scored | PA-MPJPE (mm) |")
    assert "| downtown_fixture_00 | 1 | 40 | 28 | 0.0 | 0.0 | n/a | 0.0 |" in lines
    assert lines[-1].startswith("| **mean over people** |  | 80 | 63 |")
    d = results.to_dict()
    assert set(d) == {"3dpw/pa_mpjpe", "3dpw/mpjpe", "3dpw/accel", "3dpw/people", "3dpw/frames_scored"}
    assert d["3dpw/people"] == 2 and d["3dpw/frames_scored"] == 63
    assert all(isinstance(v, float) for v in d.values())


def test_a_person_with_nothing_scored_is_left_out_of_the_means():
    people = (
        PersonResult("a", 0, 10, 10, 5.0, 7.0, None, 1.0),
        PersonResult("b", 0, 10, 0, None, None, None, None),
    )
    results = Results(dataset="3dpw", people=people)
    assert (results.pa_mpjpe, results.mpjpe, results.pve, results.accel) == (5.0, 7.0, None, 1.0)
    assert "| b | 0 | 10 | 0 | n/a | n/a | n/a | n/a |" in results.table()


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda p: p.joints3d[:-1], r"shape \[39, 14, 3\] for downtown_fixture_00 person 0"),
        (lambda p: p.joints3d * np.nan, "non-finite joints"),
        (lambda p: TrackPrediction(p.joints3d, np.zeros((3, 5, 3))), "vertices of shape"),
    ],
)
def test_bad_predictions_are_named(sequences, bad, message):
    with pytest.raises(ValueError, match=message):
        evaluate_3dpw(lambda seq, person, *_: bad(person), sequences)


def test_synthetic_clips_use_true_visibility():
    rng = np.random.default_rng(5)
    t = 31
    gt = rng.standard_normal((t, 14, 3)) + [0.0, 0.0, 4.0]
    visible = np.ones((t, 14), bool)
    visible[:4, 6:] = False  # 6 visible in frames 0-3: not scored
    visible[4:8, 7:] = False  # 7 visible: scored
    samples = [{"key": "000000001", "joints3d": gt.astype(np.float32), "kp_visible": visible}]
    results = evaluate_synthetic(lambda s: np.asarray(s["joints3d"], np.float64) + head_drift(t, C), samples)
    (r,) = results.people
    f = np.arange(4, t)
    assert (r.sequence, r.scored) == ("000000001", t - 4)
    assert r.mpjpe == pytest.approx((0.1 * f**2).mean(), rel=1e-6)
    assert r.accel == pytest.approx(0.2, rel=1e-4)
    assert results.dataset == "synthetic" and "synthetic/mpjpe" in results.to_dict()
