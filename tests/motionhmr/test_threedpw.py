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
import scipy.sparse as scipy_sparse
import torch

from motionhmr import metrics, threedpw
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


# -- ground-truth joints: regressed from the mesh (the paper's protocol) or the skeleton ----


def cocoplus_like(n_vertices: int, rng: np.random.Generator, rows: int = 19) -> np.ndarray:
    """A dense ``[rows, V]`` regressor: each row a random convex combination of vertices."""
    r = rng.random((rows, n_vertices)) ** 4
    return r / r.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def hand_bodies(tmp_path_factory):
    """Gendered stand-in SMPL bodies with two extra vertices that follow the hand joints."""
    pytest.importorskip("smplx")
    return threedpw.gendered_smpl(fx.write_standin_smpl(tmp_path_factory.mktemp("smpl"), hand_vertices=True))


def test_mesh_joints_are_the_regressor_applied_to_the_posed_gendered_mesh(sequences, dataset, hand_bodies):
    _, raw = dataset
    rng = np.random.default_rng(7)
    reg19 = cocoplus_like(26, rng)
    reg = reg19[:14]  # load_joint_regressor keeps the 14 LSP rows
    for p in sequences[0].people:  # a man and a woman: each gets their own model
        verts = fx.standin_vertices(raw, p.index, hand_vertices=True)  # camera frame, hands posed
        joints = threedpw.gt_mesh_joints(p, hand_bodies, reg)
        assert joints.shape == (N, 14, 3)
        np.testing.assert_allclose(joints, np.einsum("jv,fvc->fjc", reg, verts), atol=2e-6)
        some = threedpw.gt_mesh_joints(p, hand_bodies, reg, frames=VALID_1, chunk=7)  # 4 chunks
        np.testing.assert_allclose(some, joints[VALID_1], atol=1e-12)
    # HMMR poses the full 72-value pose: a regressor on a hand vertex sees the hand turn
    # (the PVE mesh, like the suite's predicted meshes, keeps the hands at rest).
    p0 = sequences[0].people[0]
    on_hand = np.zeros((14, 26))
    on_hand[:, 24] = 1.0
    hand = fx.standin_vertices(raw, 0, hand_vertices=True)[:, 24]
    np.testing.assert_allclose(threedpw.gt_mesh_joints(p0, hand_bodies, on_hand)[:, 6], hand, atol=2e-6)
    at_rest = threedpw.gt_vertices(p0, hand_bodies)[:, 24]
    off = np.linalg.norm(at_rest - hand, axis=-1)
    assert off.min() > 1e-3 and off.mean() > 0.01


def test_mesh_joints_follow_the_regressor_rows_in_eval_joints_order(tmp_path, sequences, dataset, hand_bodies):
    """One-hot rows pick known vertices: row i of HMR's cocoplus regressor is EVAL_JOINTS[i]
    (LSP order) for i < 14, and the face rows 14-18 are dropped."""
    _, raw = dataset
    assert threedpw.COCOPLUS_TO_EVAL == tuple(range(14))
    assert threedpw.COCOPLUS_JOINTS[:14] == threedpw.EVAL_JOINTS
    picks = np.array([*threedpw.SMPL_TO_EVAL, 0, 0, 0, 0, 0])  # the stand-in's vertex j sits on SMPL joint j
    onehot = np.eye(26)[picks]  # [19, 26]
    reg = threedpw.load_joint_regressor(fx.write_regressor(tmp_path / "cocoplus.npy", onehot))
    np.testing.assert_array_equal(reg, onehot[:14])
    p1 = sequences[0].people[1]
    # picking each EVAL joint's own SMPL joint vertex gives back the skeleton ground truth
    np.testing.assert_allclose(threedpw.gt_mesh_joints(p1, hand_bodies, reg), p1.joints3d, atol=2e-6)
    shuffled = onehot[[13, *range(1, 13), 0, *range(14, 19)]]  # r_ankle <-> head
    mesh = threedpw.gt_mesh_joints(p1, hand_bodies, threedpw.load_joint_regressor(
        fx.write_regressor(tmp_path / "shuffled.npy", shuffled)))  # fmt: skip
    np.testing.assert_allclose(mesh[:, [13, 0]], p1.joints3d[:, [0, 13]], atol=2e-6)
    np.testing.assert_allclose(mesh[:, 1:13], p1.joints3d[:, 1:13], atol=2e-6)


@pytest.mark.parametrize(
    "name, write",
    [
        ("hmr.pkl", lambda p, r: fx.write_regressor(p, scipy_sparse.csc_matrix(r), chumpy=True)),
        ("plain.pkl", lambda p, r: fx.write_regressor(p, r)),
        ("cocoplus.npy", lambda p, r: fx.write_regressor(p, r)),
        ("transposed.npy", lambda p, r: fx.write_regressor(p, r.T)),
        ("keyed.npz", lambda p, r: fx.write_regressor(p, r)),
        ("single.npz", lambda p, r: fx.write_regressor(p, r, key=None)),
        ("toesankles.npy", lambda p, r: fx.write_regressor(p, np.concatenate([r, r[:6]]))),
    ],
)
def test_load_joint_regressor_reads_the_files_users_hold(tmp_path, name, write):
    """HMR's neutral_smpl_with_cocoplus_reg.pkl (a py2 pickle: scipy sparse regressor beside
    chumpy arrays, and no chumpy here), a plain dict, .npy (either orientation), .npz, and
    HMMR's 25-row regressor."""
    reg = cocoplus_like(50, np.random.default_rng(1))
    got = threedpw.load_joint_regressor(write(tmp_path / name, reg))
    assert got.dtype == np.float64 and got.shape == (14, 50)
    np.testing.assert_array_equal(got, reg[:14])


def test_bad_regressor_files_are_one_line_errors_naming_the_fix(tmp_path, sequences, hand_bodies):
    good = cocoplus_like(26, np.random.default_rng(2))

    def expect(message, path):
        with pytest.raises(InputError, match=message) as err:
            threedpw.load_joint_regressor(path)
        text = str(err.value)
        assert "\n" not in text and "data.regressor=" in text and "cocoplus" in text

    expect("joint regressor file not found", tmp_path / "missing.pkl")
    (tmp_path / "reg.txt").write_text("1 2 3")
    expect("must be a .pkl, .npy or .npz", tmp_path / "reg.txt")
    (tmp_path / "garbage.pkl").write_bytes(b"\x00\x01 not a pickle")
    expect("could not be unpickled", tmp_path / "garbage.pkl")
    (tmp_path / "garbage.npy").write_bytes(b"\x00\x01 not numpy")
    expect("could not be read", tmp_path / "garbage.npy")
    (tmp_path / "garbage.npz").write_bytes(b"\x00\x01 not a zip")
    expect("not a valid .npz", tmp_path / "garbage.npz")
    expect("no 'cocoplus_regressor' entry", fx.write_regressor(tmp_path / "smpl.pkl", good, key="J_regressor"))
    np.savez(tmp_path / "two.npz", a=good, b=good)
    expect("holds a, b and no 'cocoplus_regressor'", tmp_path / "two.npz")
    # SMPL's own 24-row J_regressor and SPIN's 17-row H36M one order their joints otherwise
    expect(r"shape \[24, 26\], expected \[19, 6890\]", fx.write_regressor(tmp_path / "j24.npy", np.eye(24, 26)))
    expect(r"shape \[17, 26\]", fx.write_regressor(tmp_path / "h36m.npy", np.eye(17, 26)))
    expect(r"shape \[19\]", fx.write_regressor(tmp_path / "flat.npy", good[:, 0]))
    expect("non-finite", fx.write_regressor(tmp_path / "nan.npy", good * np.nan))
    # the right shape for another mesh: named when it meets the SMPL model
    p1 = sequences[0].people[1]
    other_mesh = fx.write_regressor(tmp_path / "other.npy", cocoplus_like(30, np.random.default_rng(3)))
    wrong = threedpw.load_joint_regressor(other_mesh)
    with pytest.raises(InputError, match="has 30 columns but the female SMPL mesh has 26 vertices") as err:
        threedpw.gt_mesh_joints(p1, hand_bodies, wrong)
    assert "data.regressor=" in str(err.value)


def test_evaluate_scores_mesh_joints_and_regresses_the_predicted_mesh(sequences, dataset, hand_bodies, caplog):
    """The paper's protocol: ground truth = regressor @ GT mesh; a prediction with SMPL
    vertices has its joints regressed by the same regressor, so a perfect mesh scores 0
    whatever joints predict_fn claims."""
    _, raw = dataset
    reg = cocoplus_like(26, np.random.default_rng(4))[:14]
    shift = np.array([0.1, -0.2, 0.3])

    def perfect_mesh(seq, person, kp2d, conf, occluded, windows):
        verts = fx.standin_vertices(raw, person.index, hand_vertices=True) + shift
        return TrackPrediction(joints3d=np.zeros((person.num_frames, 14, 3)), vertices=verts)

    with caplog.at_level("WARNING", logger="motionhmr.evaluate"):
        results = evaluate_3dpw(perfect_mesh, sequences, body=hand_bodies, regressor=reg)
    assert results.gt_joints == "mesh" and not caplog.records
    assert results.pa_mpjpe == pytest.approx(0.0, abs=1e-3) and results.mpjpe == pytest.approx(0.0, abs=1e-3)
    assert results.accel == pytest.approx(0.0, abs=1e-3)
    assert "regressed from the SMPL mesh (the paper's protocol)" in results.table().splitlines()[0]

    # Skeleton joints scored against mesh joints: the error is the definition gap, and said.
    def skeleton_only(seq, person, *_):
        return person.joints3d

    with caplog.at_level("WARNING", logger="motionhmr.evaluate"):
        results = evaluate_3dpw(skeleton_only, sequences, body=hand_bodies, regressor=reg)
    assert "the model's own joints are scored, a different joint definition" in caplog.text
    p0 = sequences[0].people[0]
    gap = metrics.mpjpe(p0.joints3d, threedpw.gt_mesh_joints(p0, hand_bodies, reg))[SCORED[0]].mean()
    assert results.people[0].mpjpe == pytest.approx(gap, rel=1e-6) and gap > 10
    with pytest.raises(ValueError, match="need the gendered SMPL bodies"):
        evaluate_3dpw(skeleton_only, sequences, regressor=reg)


def test_without_a_regressor_the_skeleton_joints_are_scored_and_reported(sequences, caplog):
    with caplog.at_level("WARNING", logger="motionhmr.evaluate"):
        results = evaluate_3dpw(lambda seq, person, *_: person.joints3d, sequences)
    assert results.gt_joints == "skeleton"
    assert "NOT the paper's protocol" in caplog.text and "not comparable with published ones" in caplog.text
    assert results.table().splitlines()[0].endswith("ground truth: SMPL skeleton joints (NOT the paper's protocol)")
    assert results.pa_mpjpe == pytest.approx(0.0, abs=1e-9)


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


def test_training_validation_leaves_out_the_frames_the_synthetic_protocol_does():
    """motionhmr.train.validate (val/pa_mpjpe_mm during training) scores the frames
    evaluate_synthetic scores: >= 7 truly visible keypoints, so never a totally occluded
    frame (the generator hides every keypoint there), averaged per clip, then over clips."""
    from motionhmr.train import validate

    rng = np.random.default_rng(9)
    t = 31
    gt = rng.standard_normal((2, t, 14, 3)) * 0.3 + [0.0, 0.0, 4.0]
    visible = np.ones((2, t, 14), bool)
    visible[0, :4, 6:] = False  # 6 visible: not scored
    visible[0, 4:8, 7:] = False  # 7 visible: scored
    total = np.zeros((2, t), bool)
    total[0, 12:20] = total[1, 25:] = True  # totally occluded spans: no keypoint is visible
    visible[total] = False
    pred = gt + rng.normal(0.0, 0.01, gt.shape)
    unscored = visible.sum(-1) < 7
    pred[unscored] += rng.uniform(-1, 1, (unscored.sum(), 14, 3))  # wild where nothing is scored

    batch = {
        "joints3d": torch.as_tensor(gt, dtype=torch.float32),
        "kp_visible": torch.as_tensor(visible),
        "total_occlusion": torch.as_tensor(total),
        "key": ["000000001", "000000002"],
    }
    frames = SimpleNamespace(rotmat=torch.zeros(2, t, 1, 3, 3), shape=torch.zeros(2, t, 1))

    class Model:  # its per-frame outputs become `pred` through Loss.joints
        def eval(self):
            return self

        def __call__(self, batch):
            return SimpleNamespace(per_frame=lambda: frames)

    class Loss:
        def joints(self, rotmat, shape):
            return torch.as_tensor(pred, dtype=torch.float32)

        def __call__(self, out, batch):
            return {"loss": torch.zeros(())}

    got = validate(Model(), Loss(), [batch], torch.device("cpu"), None)
    samples = [{"key": k, "joints3d": gt[i], "kp_visible": visible[i]} for i, k in enumerate(batch["key"])]
    protocol = evaluate_synthetic(lambda s: pred[batch["key"].index(s["key"])], samples)
    assert [r.scored for r in protocol.people] == [t - 4 - 8, t - 6]
    assert got["val/clips"] == 2
    assert got["val/pa_mpjpe_mm"] == pytest.approx(protocol.pa_mpjpe, rel=1e-4)
    everything = metrics.pa_mpjpe(pred.reshape(-1, 14, 3), gt.reshape(-1, 14, 3)).mean()
    assert everything > 5 * protocol.pa_mpjpe  # the wild unscored frames would dominate
