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


def test_eval_on_3dpw_runs_images_and_detections_through_the_model(tmp_path, ckpt, capsys):
    fx = _fixture_module()
    n = 12
    visible = np.full(n, 14)
    visible[3] = 5  # a frame with too few detections: fed as a total occlusion, not scored
    d = fx.sequence_dict("downtown_test_00", n, [fx.PersonSpec(visible=visible)])
    root = fx.write_split(tmp_path / "3DPW", "test", [d])
    photo = cv2.resize(skdata.astronaut(), (640, 480))  # the fixture camera is 640x480
    images = root / "imageFiles" / "downtown_test_00"
    images.mkdir(parents=True)
    for i in range(n):
        cv2.imwrite(str(images / f"image_{i:05d}.jpg"), np.roll(photo, 3 * i, axis=1)[..., ::-1])
    out = tmp_path / "results.json"
    assert main(["eval", f"ckpt={ckpt}", "data=3dpw", f"data.path={root}", f"out={out}", "device=cpu"]) == 0
    table = capsys.readouterr().out
    assert "downtown_test_00" in table and "mean over people" in table
    res = json.loads(out.read_text())
    assert np.isfinite(res["3dpw/pa_mpjpe"]) and res["3dpw/pa_mpjpe"] > 0
    assert res["3dpw/mpjpe"] >= res["3dpw/pa_mpjpe"]  # alignment can only lower the error


def test_missing_images_are_a_clear_error(tmp_path, ckpt, capsys):
    fx = _fixture_module()
    root = fx.write_split(tmp_path / "3DPW", "test", [fx.sequence_dict("courtyard_x", 4, [fx.PersonSpec()])])
    assert main(["eval", f"ckpt={ckpt}", "data=3dpw", f"data.path={root}"]) == 2
    assert "cannot read 3DPW image" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["data=synthetic", "data.path=x"], "ckpt"),
        (["ckpt=a.pt", "data=h36m", "data.path=x"], "data='h36m' is unknown"),
        (["ckpt=a.pt", "data=3dpw"], "data.path is missing"),
        (["ckpt=a.pt", "data.path=x", "oops"], "expected key=value"),
    ],
)
def test_eval_argument_errors(args, message):
    with pytest.raises(InputError, match=message):
        parse_eval_args(args)
