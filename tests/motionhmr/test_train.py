"""``motionhmr train``: config errors, checkpoints, the schedule, and (slow) real runs on
generated shards: end to end from ``synth generate``, exact resume, and overfitting 2 clips."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from motionhmr import checkpoint
from motionhmr.cli import main
from motionhmr.config import expand_shorthands, from_dict, load_train_config, to_dict
from synth.errors import InputError

TINY = ["model.lstm_hidden=16", "model.head_hidden=16", "model.dann_hidden=16", "data.workers=0",
        "wandb.mode=disabled", "image_every=0"]  # fmt: skip


# -- config ----------------------------------------------------------------------------------
def test_defaults_are_the_paper_model_and_round_trip():
    cfg = load_train_config(["data=/somewhere"])
    assert cfg.data.path == "/somewhere" and cfg.inputs == "flow+kp" and cfg.out == "runs/flow+kp"
    assert (cfg.model.lstm_hidden, cfg.model.head_hidden, cfg.model.iterations) == (1024, 1024, 3)
    assert from_dict(to_dict(cfg)) == cfg


@pytest.mark.parametrize(
    "override, message",
    [
        ("inputs=rgb+depth", "inputs='rgb+depth' is not valid"),
        ("optim.schedule=linear", "optim.schedule='linear' is unknown"),
        ("modle.lstm_hidden=3", "Could not override 'modle.lstm_hidden'"),
        ("model.lstm_hidden=big", "model.lstm_hidden"),
        ("wandb.mode=cloud", "wandb.mode='cloud' is unknown"),
        ("data.batch_size=0", "data.batch_size=0 must be >= 1"),
        ("dann.weight=0.5", "dann.weight > 0 needs dann.real"),
        ("precision=fp8", "precision='fp8' is unknown"),
    ],
)
def test_config_errors_are_one_line(override, message):
    with pytest.raises(InputError) as err:
        load_train_config(["data=/x", override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cli_reports_config_errors_without_a_traceback(capsys):
    assert main(["train", "data=/x", "inputs=depth"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("motionhmr train: error: inputs='depth'") and "Traceback" not in err


def test_cli_print_config(capsys):
    assert main(["train", "data=/x", "inputs=kp+rgb", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "inputs: kp+rgb" in out and "path: /x" in out and "out: runs/kp+rgb" in out


def test_shorthands():
    assert expand_shorthands(["data=d", "ckpt=c.pt", "data.frames=8"]) == ["data.path=d", "resume=c.pt", "data.frames=8"]


def test_missing_data_folder_is_a_clear_error(tmp_path, capsys):
    assert main(["train", f"data={tmp_path / 'none'}", f"out={tmp_path / 'run'}", *TINY]) == 2
    assert "synth generate" in capsys.readouterr().err


def test_schedule_warms_up_then_decays_to_zero():
    from motionhmr.train import make_optimizer

    cfg = load_train_config(["data=/x", "optim.lr=1.0", "optim.warmup=4", "optim.steps=14"])
    opt, sched = make_optimizer(cfg, torch.nn.Linear(2, 2))
    lrs = []
    for _ in range(14):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0) and lrs[9] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert sched.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)


# -- checkpoints -----------------------------------------------------------------------------
def test_checkpoint_round_trip_restores_weights_optimizer_and_rng(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5)
    torch.manual_seed(7)
    path = checkpoint.save(tmp_path / "last.pt", model, opt, sched, 12, {"inputs": "kp"})
    expected = torch.rand(3)
    blob = checkpoint.load(path)
    assert blob["step"] == 12 and blob["inputs"] == "kp"
    assert torch.equal(blob["model"]["weight"], model.weight.detach())
    assert blob["optimizer"]["state"][0]["exp_avg"].shape == (2, 3)
    checkpoint.restore_rng(blob["rng"])
    assert torch.equal(torch.rand(3), expected)
    assert not list(tmp_path.glob(".tmp-*"))  # written atomically


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", None])
def test_bad_checkpoints_are_one_line_errors(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"weights": torch.zeros(2)}, path)  # a torch file, not ours
    else:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        checkpoint.load(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="does not exist"):
        checkpoint.load(tmp_path / "missing.pt")


# -- real runs on generated shards (slow) ----------------------------------------------------
@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """4 short (6-frame) clips from the real generator: the end-to-end path, kept cheap."""
    from synth.cli import main as synth_main

    out = tmp_path_factory.mktemp("shards")
    assert synth_main(["generate", "--n", "4", "--out", str(out), "--per-shard", "2", "frames=6"]) == 0
    return out


@pytest.mark.slow
def test_generate_then_train_end_to_end_with_wandb_offline_and_resume(shards, tmp_path, capsys):
    run = tmp_path / "run"
    common = ["train", "inputs=flow+kp", f"data={shards}", f"out={run}", "data.batch_size=2", "data.val_every=4",
              "optim.warmup=1", "val_every=2", "val_batches=1", "ckpt_every=1", *TINY[:-2],
              "wandb.mode=offline", "image_every=2"]  # fmt: skip
    assert main([*common, "optim.steps=2"]) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    blob = checkpoint.load(run / "last.pt")
    assert blob["step"] == 2 and blob["config"]["inputs"] == "flow+kp"
    assert list((run / "wandb").glob("offline-run-*"))  # offline W&B run written locally
    assert main([*common, "optim.steps=3"]) == 0  # same run folder, more steps: resumes
    assert checkpoint.load(run / "last.pt")["step"] == 3
    assert (run / "wandb_id").read_text() in "".join(p.name for p in (run / "wandb").glob("offline-run-*"))
    assert main([*common, "optim.steps=4", "model.lstm_hidden=32"]) == 2  # another network: refused
    assert "holds another network (model.lstm_hidden=16)" in capsys.readouterr().err


@pytest.mark.slow
def test_the_checkpoint_carries_the_data_contract_of_the_shards(shards, tmp_path):
    """What defines the network input is read from the shards' generate.yaml (here edited to
    settings only that file holds) and meta.json, and stored in every checkpoint."""
    import shutil

    import yaml

    from synth.shards.schema import HEATMAP_SIGMA, SCHEMA_VERSION

    data = tmp_path / "shards"
    shutil.copytree(shards, data)
    generate = yaml.safe_load((data / "generate.yaml").read_text())
    generate["background"]["height"], generate["crop"]["person_px"], generate["fps"] = 200, 140.0, 25.0
    (data / "generate.yaml").write_text(yaml.safe_dump(generate))
    run = tmp_path / "run"
    assert main(["train", "inputs=kp", "model.encoder=keypoints", f"data={data}", f"out={run}", "data.batch_size=2",
                 "data.val_every=0", "val_every=0", "optim.warmup=0", "optim.steps=1", *TINY]) == 0  # fmt: skip
    contract = checkpoint.load(run / "last.pt")["data_contract"]
    assert contract["source"] == "generate.yaml" and contract["unknown"] == []
    assert (contract["flow"], contract["frame_height"], contract["frame_width"]) == ("dis:medium", 200, 320)
    assert (contract["crop"], contract["person_px"], contract["heatmap_sigma"]) == (224, 140.0, HEATMAP_SIGMA)
    assert (contract["fps"], contract["clip_frames"], contract["schema"]) == (25.0, 6, SCHEMA_VERSION)


@pytest.mark.slow
def test_resumed_run_gives_the_same_next_loss(shards, tmp_path):
    from motionhmr.train import train

    base = ["inputs=kp", f"data={shards}", "data.batch_size=1", "data.val_every=0", "optim.warmup=0",
            "optim.schedule=constant", "val_every=0", "deterministic=true", "epoch_batches=4", *TINY]  # fmt: skip
    # stopped at step 2 of a 4-batch epoch: the resumed loader starts mid-epoch (skip=2)
    straight = train(load_train_config([*base, "optim.steps=3", f"out={tmp_path / 'a'}"]))
    train(load_train_config([*base, "optim.steps=2", f"out={tmp_path / 'b'}"]))
    resumed = train(load_train_config([*base, "optim.steps=3", f"out={tmp_path / 'b'}"]))
    assert resumed["step"] == straight["step"] == 3
    assert resumed["loss"] == straight["loss"]  # exact: weights, Adam state, RNG and data position
    other = train(load_train_config([*base, "optim.steps=3", "seed=1", f"out={tmp_path / 'c'}"]))
    assert other["loss"] != straight["loss"]


@pytest.mark.slow
def test_tiny_model_overfits_two_clips(shards):
    """A tiny config (LSTM 32, heads 64, ResNet-50 on 64 px frames) fits a fixed batch of 2
    clips: the training loss falls by >= 80 % in 150 steps (measured: 0.75 -> 0.09, -88 %,
    in 84 s on one core)."""
    from motionhmr.data import make_loader
    from motionhmr.train import build, make_optimizer, train_step

    torch.manual_seed(0)
    cfg = load_train_config(["inputs=kp", f"data={shards}", "data.batch_size=2", "data.val_every=0",
                             "optim.lr=1e-3", "optim.warmup=0", "optim.schedule=constant", "model.dropout=0",
                             "model.lstm_hidden=32", "model.head_hidden=64", "model.input_size=64",
                             *TINY[2:]])  # fmt: skip
    batch = next(iter(make_loader(cfg.data, cfg.inputs, "train", batches=1)))
    model, loss_fn = build(cfg, torch.device("cpu"))
    opt, sched = make_optimizer(cfg, model)
    losses = [train_step(model, loss_fn, batch, opt, sched, cfg, None)["loss"] for _ in range(150)]
    assert np.isfinite(losses).all()
    assert min(losses[-5:]) <= 0.2 * losses[0], losses[::10]


def test_several_data_folders_on_the_command_line_are_one_value_not_a_sweep():
    # Hydra reads an unquoted comma as a multirun sweep; the README's data=A,B must just work
    for override in ("data=shards_a,shards_b", "data.path=shards_a,shards_b", "data.path='shards_a,shards_b'"):
        assert load_train_config(["inputs=kp", override]).data.path == "shards_a,shards_b"
    assert load_train_config(["inputs=kp", "data.val_path=v1,v2"]).data.val_path == "v1,v2"
