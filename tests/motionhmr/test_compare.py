"""``motionhmr compare``: the sweep definitions, the printed commands, collecting finished runs,
the table / chart / page writers on made-up results, and (slow) a two-run sweep end to end."""

from __future__ import annotations

import base64
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from motionhmr import compare
from motionhmr.compare import Result, load_compare_config, sweep
from motionhmr.config import load_train_config, to_dict
from synth.config import GenerateConfig, compose, typed
from synth.errors import InputError

EXPECTED = {  # at scale=small: the DANN sweep is one run (weight 1, seed 0)
    "inputs": ["rgb", "rgb+dann-w1-s0", "flow", "kp", "rgb+kp", "flow+kp"],
    "data": ["full", "no_occluders", "no_occluders+untracked", "no_occluders+static"],
    "frames": ["8", "16", "31", "56"],
}
PAPER_DANN_WEIGHTS = [0.2, 0.5, 1.0, 2.0, 5.0]


def cfg_for(tmp_path, *overrides):
    return load_compare_config([f"root={tmp_path}", "wandb.mode=disabled", *overrides])


def train_cfg(cfg, run):
    return load_train_config(run.train_overrides(cfg))


# -- the sweeps ----------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["inputs", "data", "frames"])
def test_every_table_expands_to_its_runs_with_their_train_settings(tmp_path, table):
    cfg = cfg_for(tmp_path, f"table={table}")
    runs = sweep(cfg)
    assert [r.name for r in runs] == EXPECTED[table]
    for run in runs:
        t = train_cfg(cfg, run)
        assert t.out == str(tmp_path / "runs" / table / run.name)
        assert (t.optim.steps, t.data.batch_size, t.model.lstm_hidden) == (cfg.steps, cfg.batch_size, 64)
        assert t.wandb.group == f"compare-{table}" and t.wandb.mode == "disabled"
        assert t.wandb.name == f"{table}-{run.name}"
        assert {"compare", table, run.data.variant, run.inputs} <= set(t.wandb.tags)
        assert (t.dann.weight > 0) == run.name.startswith("rgb+dann") == run.dann
        if table == "inputs":
            assert t.inputs == ("rgb" if run.dann else run.name) and t.data.path == str(tmp_path / "data" / "full")
            assert t.data.frames == cfg.frames and run.test.frames == 31
        if table == "data":
            assert t.inputs == "flow+kp" and t.data.path == str(tmp_path / "data" / run.name)
    if table == "inputs":  # scale=small: the sweep is one run
        dann = train_cfg(cfg, runs[1])
        assert (dann.inputs, dann.dann.weight, dann.dann.real, dann.seed) == ("rgb", 1.0, "embedded", 0)


def test_run_names_are_unique_across_all_tables(tmp_path):
    runs = sweep(cfg_for(tmp_path, "table=all"))
    assert [r.name for r in runs] == [n for names in EXPECTED.values() for n in names]
    assert len({r.name for r in runs}) == len(runs)
    assert len({r.out(cfg_for(tmp_path)) for r in runs}) == len(runs)


def test_frames_table_trains_windows_of_one_56_frame_dataset(tmp_path):
    cfg = cfg_for(tmp_path, "table=frames")
    runs = {r.name: r for r in sweep(cfg)}
    assert {r.data.name for r in runs.values()} == {"full_56f"}
    assert {r.test.name for r in runs.values()} == {"test_56f"}
    for name, run in runs.items():
        assert train_cfg(cfg, run).data.frames == int(name) == run.frames
    gen = typed(compose("generate", runs["56"].data.overrides(cfg, local=True)), GenerateConfig)
    assert (gen.frames, gen.n, gen.seed, gen.out) == (56, cfg.n, cfg.seed, str(tmp_path / "data" / "full_56f"))
    test = typed(compose("generate", runs["56"].test.overrides(cfg, local=True)), GenerateConfig)
    assert (test.frames, test.n, test.seed) == (56, cfg.val_n, cfg.test_seed)


@pytest.mark.parametrize("variant, mode, occluders", [
    ("full", "tracked", True), ("no_occluders", "tracked", False),
    ("no_occluders+untracked", "untracked", False), ("no_occluders+static", "static", False),
])  # fmt: skip
def test_data_variants_generate_the_cumulative_ablations(tmp_path, variant, mode, occluders):
    """Paper Table 2: each row after ``full`` ablates one more thing, occluders stay off."""
    cfg = cfg_for(tmp_path, "table=data", "gen.flow.preset=fast", "test.background.height=200")
    run = next(r for r in sweep(cfg) if r.name == variant)
    gen = typed(compose("generate", run.data.overrides(cfg, local=True)), GenerateConfig)
    assert (gen.background.mode, gen.occluders.enabled, gen.frames, gen.seed) == (mode, occluders, 31, cfg.seed)
    assert (gen.shard_index, gen.num_shards, gen.flow.preset, gen.background.height) == (0, 1, "fast", 240)
    test = typed(compose("generate", run.test.overrides(cfg, local=False)), GenerateConfig)
    assert (test.background.mode, test.occluders.enabled, test.seed) == ("tracked", True, cfg.test_seed)
    assert (test.shard_index, test.flow.preset, test.background.height) == (None, "fast", 200)


def test_runs_filter_prefixed_overrides_and_scale_presets(tmp_path):
    cfg = cfg_for(tmp_path, "table=all", "runs=[flow,data/no_occluders+static,56]", "train.optim.lr=0.001")
    assert [(r.table, r.name) for r in sweep(cfg)] == [("inputs", "flow"), ("data", "no_occluders+static"),
                                                      ("frames", "56")]  # fmt: skip
    assert train_cfg(cfg, sweep(cfg)[0]).optim.lr == 0.001
    paper = cfg_for(tmp_path, "scale=paper")
    t = train_cfg(paper, sweep(paper)[0])
    assert (t.model.lstm_hidden, t.data.frames, t.optim.steps, paper.n) == (1024, None, 100_000, 100_000)
    # any model.* key, also one the preset does not set (the README's full-scale command)
    weights = cfg_for(tmp_path, "scale=paper", "model.backbone_weights=/w/resnet50.pth", "model.encoder=resnet34")
    t = train_cfg(weights, sweep(weights)[0])
    assert (t.model.backbone_weights, t.model.encoder, t.model.lstm_hidden) == ("/w/resnet50.pth", "resnet34", 1024)
    with pytest.raises(InputError, match="model.foo"):
        cfg_for(tmp_path, "model.foo=1")


@pytest.mark.parametrize("override, message", [
    ("table=poses", "table='poses' is unknown"), ("runs=[flow,dance]", "runs=['dance'] not in table=inputs"),
    ("frames=40", "frames=40 must be in"), ("steps=0", "steps=0 must be >= 1"), ("launch=slurm", "launch='slurm'"),
    ("ablation_inputs=depth", "depth"), ("dann.weights=[1,0]", "dann.weights=[1.0, 0.0]: every weight must be > 0"),
    ("dann.weights=[-2]", "every weight must be > 0, not -2.0"), ("dann.weights=[]", "dann.weights=[] must list"),
    ("dann.weights=[1,1.0]", "lists a weight twice"), ("dann.seeds=0", "dann.seeds=0 must be >= 1"),
    ("dann.weight=0.1", "dann.weight=0.1: rgb.dann is a sweep; give its weights as dann.weights="),
    ("frames_batch_sizes=[6,6,3]", "frames_batch_sizes=[6, 6, 3] must be 4"),
    ("frames_batch_sizes=[6,6,3,0]", "one per clip length 8, 16, 31, 56"),
])  # fmt: skip
def test_config_errors_name_the_key(tmp_path, override, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(")) as err:
        cfg_for(tmp_path, override)
    assert "\n" not in str(err.value)


def test_print_gives_generate_lines_one_train_line_per_run_and_the_collect_line(tmp_path, capsys):
    from motionhmr.cli import main

    torchrun = "command=torchrun --nproc_per_node 8 -m motionhmr.cli"
    assert main(["compare", "table=data", f"root={tmp_path}", torchrun, "--print"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("#")]
    gen = [shlex.split(line) for line in lines if line.startswith("synth generate")]
    train = [shlex.split(line) for line in lines if line.startswith("torchrun")]
    assert [a[a.index("--nproc_per_node") + 1] for a in train] == ["8"] * 4
    folders = ["full", "no_occluders", "no_occluders+untracked", "no_occluders+static", "test_31f"]
    assert [a[3].removeprefix("out=") for a in gen] == [str(tmp_path / "data" / n) for n in folders]
    outs = [load_train_config(a[a.index("train") + 1 :]).out for a in train]
    assert outs == [str(tmp_path / "runs" / "data" / n) for n in EXPECTED["data"]]
    assert lines[-1].endswith("--collect-only") and "launch=" not in lines[-1]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()  # printing runs nothing


def test_print_data_table_generates_the_papers_cumulative_ablations(tmp_path, capsys):
    """Table 2 as the paper's: full; no occluders; no tracking and no occluders; static
    background and no occluders. Each printed ``synth generate`` line composes to that."""
    from motionhmr.cli import main

    assert main(["compare", "table=data", f"root={tmp_path}", "--print"]) == 0
    out = capsys.readouterr().out.splitlines()
    gen = {Path(a[3].removeprefix("out=")).name: a[2:] for a in map(shlex.split, out) if a[:2] == ["synth", "generate"]}
    composed = {name: typed(compose("generate", args), GenerateConfig) for name, args in gen.items()}
    assert {n: (g.background.mode, g.occluders.enabled) for n, g in composed.items()} == {
        "full": ("tracked", True), "no_occluders": ("tracked", False),
        "no_occluders+untracked": ("untracked", False), "no_occluders+static": ("static", False),
        "test_31f": ("tracked", True),
    }  # fmt: skip
    assert "# no_occluders+static: no occluders and a static background, 24 clips of 31 frames" in out
    assert "static" in compare.TITLES["data"] and "cumulative" in compare.TITLES["data"]


def test_print_paper_inputs_table_sweeps_the_dann_weight_over_five_seeds(tmp_path, capsys):
    from motionhmr.cli import main

    assert main(["compare", "table=inputs", "scale=paper", f"root={tmp_path}", "--print"]) == 0
    out = capsys.readouterr().out.splitlines()
    train = [load_train_config(shlex.split(line)[2:]) for line in out if line.startswith("motionhmr train")]
    dann = [t for t in train if t.dann.weight > 0]
    assert len(train) == 5 + 25 and len(dann) == 25
    assert sorted((t.dann.weight, t.seed) for t in dann) == [(w, s) for w in PAPER_DANN_WEIGHTS for s in range(5)]
    assert {t.inputs for t in dann} == {"rgb"} and {t.data.path for t in dann} == {str(tmp_path / "data" / "full")}
    assert len({t.out for t in dann}) == len({t.wandb.name for t in dann}) == 25  # each its own run and W&B name
    assert str(tmp_path / "runs" / "inputs" / "rgb+dann-w0.2-s4") in {t.out for t in dann}
    assert "inputs-rgb+dann-w5-s0" in {t.wandb.name for t in dann}
    assert "# rgb+dann: DANN sweep, weights 0.2, 0.5, 1, 2, 5 x 5 seeds = 25 runs (the table reports the best run " \
           "and the mean)" in out
    assert "rgb+dann: DANN weights 0.2, 0.5, 1, 2, 5 x 5 seed(s), reported as the best run and the mean." in \
        compare.describe(load_compare_config(["scale=paper"]))
    picked = sweep(cfg_for(tmp_path, "scale=paper", "runs=[inputs/rgb+dann,kp]"))
    assert len(picked) == 26 and {r.group for r in picked} == {"rgb+dann", ""}  # the sweep's name picks all of it


@pytest.mark.parametrize("scale, batches", [("paper", [6, 6, 3, 2]), ("small", [2, 2, 2, 2])])
def test_print_frames_table_uses_the_papers_batch_size_per_clip_length(tmp_path, capsys, scale, batches):
    from motionhmr.cli import main

    assert main(["compare", "table=frames", f"scale={scale}", f"root={tmp_path}", "--print"]) == 0
    train = [load_train_config(shlex.split(line)[2:]) for line in capsys.readouterr().out.splitlines()
             if line.startswith("motionhmr train")]  # fmt: skip
    assert [(t.data.frames, t.data.batch_size) for t in train] == list(zip([8, 16, 31, 56], batches))


# -- collecting ----------------------------------------------------------------------------
def fake_run(cfg, run, step, metrics=None):
    """A finished-looking run folder: a checkpoint of the run's config at ``step`` and (with
    ``metrics``) its cached scores on the run's test set."""
    from motionhmr import checkpoint

    checkpoint.save(run.out(cfg) / "last.pt", torch.nn.Linear(1, 1), None, None, step, to_dict(train_cfg(cfg, run)))
    if metrics is not None:
        key = {"step": step, "data": str(run.test.path(cfg)), "clips": run.test.n}
        (run.out(cfg) / "eval").mkdir()
        (run.out(cfg) / "eval" / "synthetic.json").write_text(json.dumps({"key": key, "metrics": metrics}))


def no_training(*_):
    raise AssertionError("collect must not train or generate")


def test_collect_only_scores_finished_runs_and_lists_the_others(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "_train", no_training)
    monkeypatch.setattr(compare, "ensure_dataset", no_training)
    cfg = cfg_for(tmp_path, "launch=collect")
    runs = {r.name: r for r in sweep(cfg)}
    fake_run(cfg, runs["flow"], cfg.steps, {"pa_mpjpe": 101.5, "mpjpe": 150.0, "accel": 20.0, "clips": 16})
    fake_run(cfg, runs["kp"], cfg.steps)  # finished, but no test set on disk to score it on
    fake_run(cfg, runs["rgb"], cfg.steps // 2)  # still training
    results = {r.name: r for r in compare.run_compare(cfg)}
    assert results["flow"].status == "finished" and results["flow"].metrics["synthetic"]["pa_mpjpe"] == 101.5
    assert results["kp"].status == "finished" and not results["kp"].metrics and "test set" in results["kp"].note
    assert (results["rgb"].status, results["rgb"].steps) == ("partial", cfg.steps // 2)
    assert {results[n].status for n in ("rgb+dann-w1-s0", "rgb+kp", "flow+kp")} == {"missing"}
    out = tmp_path / "compare" / "inputs"
    saved = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in saved["runs"]] == EXPECTED["inputs"] and saved["config"]["launch"] == "collect"
    md = (out / "results.md").read_text()
    assert "| flow | flow | full | 8 | 30 | 101.5 | 150.0 | 20.0 |" in md
    assert "| rgb | rgb | full | 8 | 15/30 (partial) | — | — | — |" in md
    assert (out / "chart.png").stat().st_size > 0 and (out / "chart.html").exists()


def test_a_run_folder_of_another_configuration_fails_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "_train", no_training)
    cfg = cfg_for(tmp_path)
    fake_run(cfg, sweep(cfg)[2], cfg.steps)
    wider = cfg_for(tmp_path, "model.lstm_hidden=128")
    with pytest.raises(InputError, match=r"model.lstm_hidden=64 \(this sweep: 128\)"):
        compare.run_compare(wider)
    assert not (tmp_path / "compare").exists()


def test_local_sweep_trains_only_unfinished_runs_and_survives_a_failing_one(tmp_path, monkeypatch):
    cfg = cfg_for(tmp_path, "runs=[flow,kp,rgb]")
    runs = {r.name: r for r in sweep(cfg)}
    fake_run(cfg, runs["flow"], cfg.steps)
    trained = []

    def train(overrides):
        t = load_train_config(overrides)
        trained.append(t.inputs)
        if t.inputs == "kp":
            raise FloatingPointError("non-finite loss nan")
        fake_run(cfg, runs[t.inputs], cfg.steps)

    monkeypatch.setattr(compare, "_train", train)
    monkeypatch.setattr(compare, "ensure_dataset", lambda cfg, ds: ds.path(cfg))
    monkeypatch.setattr(compare, "evaluate_run", lambda cfg, run, step, allow_generate: ({"synthetic": {"pa_mpjpe": 90.0}}, ""))
    results = {r.name: r for r in compare.run_compare(cfg)}
    assert trained == ["rgb", "kp"]  # the table's order; flow was finished
    assert results["kp"].status == "failed" and "FloatingPointError: non-finite loss" in results["kp"].note
    assert results["flow"].status == results["rgb"].status == "finished"
    assert "`kp`: FloatingPointError" in (tmp_path / "compare" / "inputs" / "results.md").read_text()


# -- writers -------------------------------------------------------------------------------
def fake_results(with_3dpw: bool = False) -> list[Result]:
    rng = np.random.default_rng(0)
    out = []
    for table, names in EXPECTED.items():
        for i, name in enumerate(names):
            finished = i != 1
            metrics = {}
            if finished:
                metrics["synthetic"] = {m: float(rng.uniform(50, 150)) for m in compare.METRICS}
                if with_3dpw:
                    metrics["3dpw"] = {m: float(rng.uniform(50, 150)) for m in compare.METRICS}
            out.append(Result(table, name, "flow+kp", "full", 31, 30 if finished else 0, 30,
                              "finished" if finished else "missing", f"runs/{table}/{name}", metrics))  # fmt: skip
    return out


def test_markdown_table_has_a_section_per_table_and_every_run(tmp_path):
    results = fake_results()
    md = compare.markdown_table(results)
    assert [line for line in md.splitlines() if line.startswith("**")] == [f"**{t}**" for t in compare.TITLES.values()]
    assert md.count("| run | inputs | data | frames | steps | PA-MPJPE (mm) | MPJPE (mm) | accel (mm/frame²) |") == 3
    first = results[0].metrics["synthetic"]
    assert f"| rgb | flow+kp | full | 31 | 30 | {first['pa_mpjpe']:.1f} | {first['mpjpe']:.1f} | {first['accel']:.1f} |" in md
    assert "| rgb+dann-w1-s0 | flow+kp | full | 31 | 0/30 (missing) | — | — | — |" in md
    both = compare.markdown_table(fake_results(with_3dpw=True))
    assert "| synthetic PA-MPJPE (mm) |" in both and "| 3DPW PA-MPJPE (mm) |" in both


def dann_sweep(with_3dpw: bool = False) -> list[Result]:
    """The paper-scale rgb+dann sweep as collected results: weights x 5 seeds, one missing."""
    out = []
    for w in PAPER_DANN_WEIGHTS:
        for seed in range(5):
            name = f"rgb+dann-w{w:g}-s{seed}"
            metrics = {"synthetic": {"pa_mpjpe": 100 + abs(w - 2) * 10 + seed, "mpjpe": 200.0 + seed, "accel": 20.0}}
            if with_3dpw:  # on 3DPW weight 0.5 is best
                metrics["3dpw"] = {"pa_mpjpe": 90 + abs(w - 0.5) * 10 + seed, "mpjpe": 150.0, "accel": 30.0}
            missing = (w, seed) == (5.0, 4)
            out.append(Result("inputs", name, "rgb+dann", "full", 31, 0 if missing else 30, 30,
                              "missing" if missing else "finished", f"runs/inputs/{name}", {} if missing else metrics,
                              group="rgb+dann", dann_weight=w))  # fmt: skip
    return out


@pytest.mark.parametrize("with_3dpw, best", [(False, 2.0), (True, 0.5)])
def test_a_dann_sweep_is_reported_as_its_best_run_and_its_mean(tmp_path, with_3dpw, best):
    rgb = Result("inputs", "rgb", "rgb", "full", 31, 30, 30, "finished", "runs/inputs/rgb",
                 {"synthetic": {"pa_mpjpe": 120.0, "mpjpe": 210.0, "accel": 21.0}})  # fmt: skip
    results = [rgb, *dann_sweep(with_3dpw)]
    rows = compare.summarise(results)
    assert [r.name for r in rows] == ["rgb", f"rgb+dann best (w={best:g})", "rgb+dann mean"]
    best_row, mean_row = rows[1:]
    assert best_row.dann_weight == best and best_row.metrics == results[1 + PAPER_DANN_WEIGHTS.index(best) * 5].metrics
    assert f"weight {best:g} (run rgb+dann-w{best:g}-s0)" in best_row.note
    scored = [r for r in results[1:] if r.metrics]
    assert len(scored) == 24 and mean_row.status == "partial" and "24 of 25 runs" in mean_row.note
    mean = np.mean([r.metrics["synthetic"]["pa_mpjpe"] for r in scored])
    assert mean_row.metrics["synthetic"]["pa_mpjpe"] == pytest.approx(mean)
    md = compare.markdown_table(results)
    assert f"| rgb+dann best (w={best:g}) | rgb+dann | full | 31 | 30 |" in md and "| rgb+dann mean |" in md
    assert "rgb+dann-w0.2-s0" not in md.split("\n- ")[0]  # the table's rows are the summary, not 25 runs
    assert "PA-MPJPE per weight: 0.2: " in md
    cfg = cfg_for(tmp_path)
    saved = json.loads(compare.write_outputs(cfg, results)["json"].read_text())
    assert len(saved["runs"]) == 26 and [r["name"] for r in saved["rows"]] == [r.name for r in rows]
    assert "<td>rgb+dann mean</td>" in (tmp_path / "compare" / "inputs" / "chart.html").read_text()
    # one run is no sweep: it is its own row
    single = compare.summarise(results[:2])
    assert [r.name for r in single] == ["rgb", "rgb+dann-w0.2-s0"]


@pytest.mark.parametrize("with_3dpw", [False, True])
def test_chart_png_is_a_valid_image_and_the_page_embeds_it_with_the_tables(tmp_path, with_3dpw):
    from PIL import Image

    results = fake_results(with_3dpw)
    png = compare.write_chart(results, tmp_path / "chart.png", title="test")
    with Image.open(png) as im:
        im.verify()
    with Image.open(png) as im:
        assert im.format == "PNG" and im.size[0] > 600 and im.size[1] > 300
        pixels = np.asarray(im.convert("RGB"))
    assert (pixels.std(axis=(0, 1)) > 10).all()  # not a blank canvas
    page = compare.html_page(results, png.read_bytes(), intro="small & honest")
    assert page.count("<table>") == 3
    assert ("<th>3DPW PA-MPJPE (mm)</th>" if with_3dpw else "<th>PA-MPJPE (mm)</th>") in page
    assert "small &amp; honest" in page and "<td>rgb+dann-w1-s0</td>" in page
    embedded = page.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(embedded) == png.read_bytes()


def test_write_outputs_writes_the_four_files_and_json_round_trips(tmp_path):
    cfg = cfg_for(tmp_path, "table=all")
    results = fake_results()
    paths = compare.write_outputs(cfg, results)
    assert sorted(p.name for p in paths.values()) == ["chart.html", "chart.png", "results.json", "results.md"]
    assert {p.parent for p in paths.values()} == {tmp_path / "compare" / "all"}  # one folder per table= value
    saved = json.loads(paths["json"].read_text())
    assert [Result(**r) for r in saved["runs"]] == results
    assert saved["description"] == compare.describe(cfg) and "not the paper's effect" in saved["description"]
    assert paths["md"].read_text().startswith(compare.describe(cfg))


# -- end to end (slow) ---------------------------------------------------------------------
@pytest.mark.slow
def test_two_run_sweep_generates_trains_scores_and_charts_then_collects(tmp_path, monkeypatch):
    from motionhmr.cli import main

    args = ["compare", "table=inputs", "runs=[flow,kp]", f"root={tmp_path}", "n=4", "val_n=2", "per_shard=4",
            "steps=2", "warmup=1", "frames=3", "model.lstm_hidden=16", "model.head_hidden=16",
            "model.dann_hidden=16", "wandb.mode=disabled", "device=cpu"]  # fmt: skip
    assert main(args) == 0
    out = tmp_path / "compare" / "inputs"
    saved = json.loads((out / "results.json").read_text())
    assert [(r["name"], r["status"], r["steps"]) for r in saved["runs"]] == [("flow", "finished", 2), ("kp", "finished", 2)]
    for r in saved["runs"]:
        m = r["metrics"]["synthetic"]
        assert m["clips"] == 2 and m["frames_scored"] > 0 and 0 < m["pa_mpjpe"] < m["mpjpe"] < 5000
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| flow | flow | full | 3 | 2 |" in (out / "results.md").read_text()
    # Collecting again trains nothing and reads the cached scores.
    monkeypatch.setattr(compare, "_train", no_training)
    monkeypatch.setattr("motionhmr.run_eval.evaluate_checkpoint", no_training)
    assert main([*args, "--collect-only"]) == 0
    again = json.loads((out / "results.json").read_text())
    assert [r["metrics"] for r in again["runs"]] == [r["metrics"] for r in saved["runs"]]
