"""``motionhmr eval``: a checkpoint through the 3DPW path (images + 3DPW detections -> the
real-video inputs -> the protocol) and the synthetic path, from the command line."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from motionhmr import checkpoint
from motionhmr.cli import main
from motionhmr.run_eval import parse_eval_args
from synth.errors import InputError

THREEDPW = ["data=3dpw", "data.path=x"]
TINY = ["model.lstm_hidden=16", "model.head_hidden=16", "model.dann_hidden=16", "data=/unused"]


def _fixture_module():
    name = "threedpw_fixture"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from motionhmr.config import load_train_config, to_dict
    from motionhmr.train import build, make_optimizer

    torch.manual_seed(0)
    cfg = load_train_config([*TINY, "inputs=rgb+flow+kp"])
    model, _ = build(cfg, torch.device("cpu"))
    opt, sched = make_optimizer(cfg, model)
    return checkpoint.save(tmp_path_factory.mktemp("ckpt") / "last.pt", model, opt, sched, 0, to_dict(cfg))


def write_3dpw_with_images(root: Path, n: int = 12) -> tuple[Path, dict]:
    """A one-person 3DPW test split with images; frame 3 has too few detections."""
    fx = _fixture_module()
    visible = np.full(n, 14)
    visible[3] = 5  # a frame with too few detections: fed as a total occlusion, not scored
    d = fx.sequence_dict("downtown_test_00", n, [fx.PersonSpec(visible=visible)])
    root = fx.write_split(root, "test", [d])
    photo = cv2.resize(skdata.astronaut(), (640, 480))  # the fixture camera is 640x480
    images = root / "imageFiles" / "downtown_test_00"
    images.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(images / f"image_{i:05d}.jpg"), np.roll(photo, 3 * i, axis=1)[..., ::-1])
    return root, d


def test_eval_on_3dpw_runs_images_and_detections_through_the_model(tmp_path, ckpt, capsys, caplog):
    root, _ = write_3dpw_with_images(tmp_path / "3DPW")
    out = tmp_path / "results.json"
    with caplog.at_level("WARNING"):
        assert main(["eval", f"ckpt={ckpt}", "data=3dpw", f"data.path={root}", f"out={out}", "device=cpu"]) == 0
    table = capsys.readouterr().out
    assert "downtown_test_00" in table and "mean over people" in table
    res = json.loads(out.read_text())
    assert np.isfinite(res["3dpw/pa_mpjpe"]) and res["3dpw/pa_mpjpe"] > 0
    assert res["3dpw/mpjpe"] >= res["3dpw/pa_mpjpe"]  # alignment can only lower the error
    # no SMPL files and no regressor: the skeleton joints, said in the log, table and JSON
    assert res["3dpw/gt_joints"] == "skeleton"
    assert "NOT the paper's protocol" in caplog.text and "SMPL skeleton joints (NOT the paper's protocol)" in table


def test_eval_on_3dpw_with_smpl_and_regressor_scores_mesh_joints(tmp_path, capsys, caplog):
    """data.joints=auto with smpl_path and data.regressor: the paper's mesh-regressed
    ground truth, and a body=smpl model's predicted mesh regressed the same way (and PVE)."""
    pytest.importorskip("smplx")
    from motionhmr.config import load_train_config, to_dict
    from motionhmr.train import build, make_optimizer

    fx = _fixture_module()
    smpl = fx.write_standin_smpl(tmp_path / "models")
    torch.manual_seed(0)
    cfg = load_train_config([*TINY, "inputs=kp", "body=smpl", f"body.model_path={smpl}"])
    model, _ = build(cfg, torch.device("cpu"))
    opt, sched = make_optimizer(cfg, model)
    ckpt = checkpoint.save(tmp_path / "ckpt" / "last.pt", model, opt, sched, 0, to_dict(cfg))
    root, _ = write_3dpw_with_images(tmp_path / "3DPW")
    reg = fx.write_regressor(tmp_path / "cocoplus.npy", np.random.default_rng(0).dirichlet(np.ones(24), size=19))
    out = tmp_path / "results.json"
    args = ["eval", f"ckpt={ckpt}", "data=3dpw", f"data.path={root}", f"smpl_path={smpl}", f"data.regressor={reg}"]
    with caplog.at_level("WARNING"):
        assert main([*args, f"out={out}", "device=cpu"]) == 0
    assert "regressed from the SMPL mesh (the paper's protocol)" in capsys.readouterr().out
    assert "NOT the paper's protocol" not in caplog.text and "different joint definition" not in caplog.text
    res = json.loads(out.read_text())
    assert res["3dpw/gt_joints"] == "mesh"
    assert all(np.isfinite(res[f"3dpw/{m}"]) for m in ("pa_mpjpe", "mpjpe", "pve", "accel"))
    # data.joints=skeleton overrides the files
    assert main([*args, "data.joints=skeleton", f"out={out}", "device=cpu"]) == 0
    assert json.loads(out.read_text())["3dpw/gt_joints"] == "skeleton"


def test_a_bad_regressor_file_is_a_clear_error(tmp_path, ckpt, capsys):
    pytest.importorskip("smplx")
    fx = _fixture_module()
    smpl = fx.write_standin_smpl(tmp_path / "models")
    root, _ = write_3dpw_with_images(tmp_path / "3DPW", n=4)
    np.save(tmp_path / "J_regressor_h36m.npy", np.eye(17, 24))
    for reg, message in [(tmp_path / "missing.pkl", "joint regressor file not found"),
                         (tmp_path / "J_regressor_h36m.npy", "has shape [17, 24], expected [19, 6890]")]:  # fmt: skip
        args = ["eval", f"ckpt={ckpt}", "data=3dpw", f"data.path={root}", f"smpl_path={smpl}", f"data.regressor={reg}"]
        assert main([*args, "device=cpu"]) == 2
        err = capsys.readouterr().err
        assert message in err and "data.regressor=" in err


def test_missing_images_are_a_clear_error(tmp_path, ckpt, capsys):
    fx = _fixture_module()
    root = fx.write_split(tmp_path / "3DPW", "test", [fx.sequence_dict("courtyard_x", 4, [fx.PersonSpec()])])
    assert main(["eval", f"ckpt={ckpt}", "data=3dpw", f"data.path={root}"]) == 2
    assert "cannot read 3DPW image" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["data=synthetic", "data.path=x", "refine=true"], "refine=true is wired for data=multiview"),
        (["ckpt=a.pt", "data=h36m", "data.path=x"], "data='h36m' is unknown"),
        (["ckpt=a.pt", "data=3dpw"], "data.path is missing"),
        (["ckpt=a.pt", "data.path=x", "oops"], "expected key=value"),
        (["ckpt=a.pt", *THREEDPW, "data.joints=lsp"], "data.joints='lsp' is unknown"),
        (["ckpt=a.pt", *THREEDPW, "data.joints=mesh"], "data.joints=mesh needs smpl_path=.* and data.regressor="),
        (["ckpt=a.pt", *THREEDPW, "data.joints=mesh", "smpl_path=s"], "data.joints=mesh needs"),
        (["ckpt=a.pt", *THREEDPW, "data.regressor=r.pkl"], "data.regressor is applied to the SMPL mesh: also give smpl_path="),
    ],
)
def test_eval_argument_errors(args, message):
    with pytest.raises(InputError, match=message):
        parse_eval_args(args)


# -- the data contract ---------------------------------------------------------------------------
def _contract(**fields) -> dict:
    from motionhmr.contract import ASSUMED

    return {**ASSUMED.to_dict(), "source": "generate.yaml", "unknown": [], **fields}


def test_eval_on_3dpw_follows_the_data_contract(tmp_path, monkeypatch):
    """3DPW frames are decoded at the training frame height and their flow computed with the
    training backend: here 120 px and farneback, from the checkpoint alone."""
    import motionhmr.realvideo
    from motionhmr.config import load_train_config, to_dict
    from motionhmr.train import build

    cfg = load_train_config([*TINY, "inputs=flow+kp", "model.input_size=64"])
    model, _ = build(cfg, torch.device("cpu"))
    ckpt = checkpoint.save(tmp_path / "last.pt", model, None, None, 0, to_dict(cfg),
                           _contract(flow="farneback", frame_height=120))  # fmt: skip
    fx = _fixture_module()
    n = 4
    root = fx.write_split(tmp_path / "3DPW", "test", [fx.sequence_dict("downtown_test_00", n, [fx.PersonSpec()])])
    images = root / "imageFiles" / "downtown_test_00"
    images.mkdir(parents=True)
    photo = cv2.resize(skdata.astronaut(), (640, 480))  # the fixture camera is 640x480
    for i in range(n):
        cv2.imwrite(str(images / f"image_{i:05d}.jpg"), np.roll(photo, 3 * i, axis=1)[..., ::-1])
    seen, steps = [], motionhmr.realvideo.steps

    def spy(frames, kp2d, conf, spec, flow_backend, **kwargs):
        seen.append((frames.shape[1:3], flow_backend.name))
        return steps(frames, kp2d, conf, spec, flow_backend, **kwargs)

    monkeypatch.setattr(motionhmr.realvideo, "steps", spy)
    assert main(["eval", f"ckpt={ckpt}", "data=3dpw", f"data.path={root}", "device=cpu"]) == 0
    assert seen == [((120, 160), "farneback")]


def test_eval_refuses_a_flow_the_model_was_not_trained_on(tmp_path, capsys):
    fake = tmp_path / "dis.pt"  # what the contract check reads: it fails before any network is built
    torch.save({"format": checkpoint.FORMAT, "inputs": "flow+kp", "config": {"inputs": "flow+kp"},
                "data_contract": _contract(flow="dis:medium")}, fake)  # fmt: skip
    assert main(["eval", f"ckpt={fake}", "data=3dpw", f"data.path={tmp_path}", "flow=farneback"]) == 2
    err = capsys.readouterr().err.strip()
    assert "flow=farneback" in err and "trained on dis:medium flow" in err and len(err.splitlines()) == 1
