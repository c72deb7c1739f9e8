"""``motionhmr export`` and the shipped model: what it keeps, what it drops, that predictions
survive the float16 round trip, that it cannot be resumed, and that the package's kp.pt loads
with ``weights_only`` and predicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from motionhmr import checkpoint, weights
from motionhmr.cli import main
from motionhmr.inference import Predictor
from synth.errors import InputError

from .test_predict import TINY, _tiny_checkpoint


def _kp_inputs(n: int = 31, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    base = np.array([[112 + 30 * np.sin(j), 40 + 10 * j] for j in range(14)], np.float32)
    kp = base + rng.normal(0, 2, (n, 14, 2)).astype(np.float32)
    return {"total_occlusion": np.zeros(n, bool), "kp2d": kp, "kp_input_visible": np.ones((n, 14), bool)}


@pytest.fixture(scope="module")
def trained_like(tmp_path_factory):
    """A tiny kp checkpoint whose weights are not the init (so the export round trip is tested
    on values of training's scale), with DANN's domain classifier in its state."""
    path = _tiny_checkpoint(tmp_path_factory.mktemp("w") / "last.pt", "kp", None, "model.encoder=keypoints")
    blob = checkpoint.load(path)
    gen = torch.Generator().manual_seed(1)
    for value in blob["model"].values():
        if value.is_floating_point():
            value.add_(0.01 * torch.randn(value.shape, generator=gen))
    torch.save(blob, path)
    return path


def test_export_drops_training_state_and_halves_the_weights(trained_like, tmp_path):
    out = tmp_path / "kp.pt"
    info = weights.export(trained_like, out)
    blob = torch.load(out, weights_only=True)
    src = checkpoint.load(trained_like)
    assert blob["inference_only"] is True and blob["optimizer"] is None and blob["rng"] is None
    assert blob["config"] == src["config"] and blob["step"] == src["step"]
    assert not any(k.startswith("domain.") for k in blob["model"])
    assert info["dropped"] == sum(k.startswith("domain.") for k in src["model"]) > 0
    assert {v.dtype for v in blob["model"].values() if v.is_floating_point()} == {torch.float16}
    fp32_bytes = sum(4 * v.numel() for v in src["model"].values() if v.is_floating_point())
    assert out.stat().st_size < 0.55 * fp32_bytes  # half the bytes, less the domain classifier


def test_an_export_predicts_what_its_checkpoint_predicts(trained_like, tmp_path):
    out = tmp_path / "kp.pt"
    weights.export(trained_like, out)
    inputs = _kp_inputs()
    full = Predictor.from_checkpoint(trained_like, "cpu")(inputs).joints3d
    small = Predictor.from_checkpoint(out, "cpu")(inputs).joints3d
    assert small.shape == full.shape == (31, 14, 3)
    assert np.abs(small - full).max() < 2e-3  # float16 weights: well under a millimetre
    assert Predictor.from_checkpoint(tmp_path / "kp.pt", "cpu").model.training is False


def test_an_export_cannot_be_resumed(trained_like, tmp_path):
    from motionhmr.config import load_train_config
    from motionhmr.train import build, make_optimizer, resume

    out = tmp_path / "kp.pt"
    weights.export(trained_like, out)
    cfg = load_train_config([*TINY, "inputs=kp", "model.encoder=keypoints", f"resume={out}"])
    model, _ = build(cfg, torch.device("cpu"))
    optimizer, scheduler = make_optimizer(cfg, model)
    with pytest.raises(InputError, match="inference-only export"):
        resume(cfg, tmp_path, model, optimizer, scheduler)


def test_an_export_of_another_network_is_a_one_line_error(trained_like, tmp_path):
    out = tmp_path / "kp.pt"
    weights.export(trained_like, out)
    blob = torch.load(out, weights_only=True)
    blob["model"].pop(next(k for k in blob["model"] if k.startswith("temporal.")))
    torch.save(blob, out)
    with pytest.raises(InputError, match="does not fit the network"):
        Predictor.from_checkpoint(out, "cpu")


def test_export_cli(trained_like, tmp_path, capsys):
    out = tmp_path / "sub" / "kp.pt"
    assert main(["export", str(trained_like), str(out)]) == 0
    assert out.is_file() and "training-only tensors left out" in capsys.readouterr().out
    assert main(["export", str(tmp_path / "nope.pt"), str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err
    # a folder that cannot be made (a file stands in its place): one line, no stack trace
    (tmp_path / "file").write_text("x")
    assert main(["export", str(trained_like), str(tmp_path / "file" / "kp.pt")]) == 2
    err = capsys.readouterr().err
    assert "cannot write the export to" in err and "writable folder" in err and "Traceback" not in err
    assert not list(tmp_path.glob("**/.tmp-*"))


def test_a_missing_shipped_model_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setitem(weights.SHIPPED, "kp", tmp_path / "kp.pt")
    with pytest.raises(InputError, match="reinstall the package, or give --ckpt"):
        weights.default_checkpoint("kp")
    with pytest.raises(InputError, match="no shipped model of kind"):
        weights.default_checkpoint("rgb")


def test_the_shipped_model_loads_weights_only_and_predicts():
    path = weights.default_checkpoint("kp")
    blob = torch.load(path, weights_only=True)  # plain tensors and containers only
    assert blob["inference_only"] and blob["inputs"] == "kp"
    assert path.stat().st_size <= 25e6
    assert weights.CARD.is_file() and "motionhmr export" in weights.CARD.read_text()
    pred = Predictor.from_checkpoint(path, "cpu")
    joints = pred(_kp_inputs()).joints3d
    assert joints.shape == (31, 14, 3) and np.isfinite(joints).all()
    # a human skeleton: thigh and shin lengths of an adult (metres)
    thigh = np.linalg.norm(joints[:, 1] - joints[:, 2], axis=-1)
    assert 0.3 < thigh.mean() < 0.55


def test_eval_and_predict_without_a_checkpoint_use_the_shipped_model(monkeypatch, tmp_path, capsys):
    from motionhmr.run_eval import parse_eval_args

    assert parse_eval_args(["data=synthetic", "data.path=x"]).ckpt == str(weights.SHIPPED["kp"])
    assert parse_eval_args(["ckpt=mine.pt", "data=synthetic", "data.path=x"]).ckpt == "mine.pt"
    monkeypatch.setitem(weights.SHIPPED, "kp", tmp_path / "kp.pt")  # an install without it: one line
    assert main(["predict", str(tmp_path / "v.mp4")]) == 2
    assert "the shipped model" in capsys.readouterr().err
