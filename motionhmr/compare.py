"""``motionhmr compare``: the paper's Tables 1-3 as sweeps, with one table and one chart.

Tables (Doersch & Zisserman 2019)
    ``inputs`` (Table 1)  rgb, rgb+dann, flow, kp, rgb+kp, flow+kp, all on the ``full`` data;
                          rgb+dann is a sweep, as the paper's: one run per DANN weight in
                          ``dann.weights`` and seed (``dann.seeds`` of them), reported as the
                          best run (and its weight) and the mean over the sweep;
    ``data``   (Table 2)  cumulative ablations, as the paper's rows: ``full``; ``no_occluders``;
                          ``no_occluders+untracked`` (no camera tracking either);
                          ``no_occluders+static`` (static background, no occluders); all
                          with ``ablation_inputs`` (flow+kp);
    ``frames`` (Table 3)  8, 16, 31 and 56-frame training windows of one 56-frame dataset, each
                          with its own batch size (``frames_batch_sizes``; the paper's 6, 6, 3, 2).
    ``all`` runs the three. Each run is a (training dataset, ``motionhmr train`` overrides) pair.

Layout under ``root``
    ``data/<dataset>/``     shards from ``synth generate``: the variants ``full``, ``no_occluders``,
                            ``no_occluders+untracked``, ``no_occluders+static`` (31 frames) and
                            ``full_56f``, all with
                            ``seed`` (so they share bodies, motions and cameras clip by clip); and
                            the held-out test sets ``test_31f`` / ``test_56f`` (full pipeline,
                            ``test_seed``). Generation resumes: finished shards are skipped.
    ``runs/<table>/<run>/`` one ``motionhmr train`` run (e.g. ``runs/inputs/rgb+dann-w0.2-s0/``
                            for one DANN weight and seed; ``last.pt``; W&B group
                            ``compare-<table>``, tags table, dataset, inputs); ``eval/<test>.json``
                            caches its scores for the checkpoint's step.
    ``compare/<table>/``    ``results.json``, ``results.md``, ``chart.png``, ``chart.html``
                            (``<table>``: inputs, data, frames or all, as asked).

Every run is scored on the same test set, like the paper's single test set: the synthetic
``test_31f`` (``test_56f`` for the frames table, so a 56-frame window fits) and, with
``threedpw=PATH``, 3DPW's test split. A run is *finished* when its ``last.pt`` reached
``steps``; finished runs are collected (scored if not yet), never retrained.

Launch modes (``launch=``): ``local`` generates, trains (in this process, one run after the
other) and scores; ``print`` prints the ``synth generate`` and ``motionhmr train`` command
lines (one line per run, e.g. for a Slurm array or torchrun) and the collect command;
``collect`` only collects finished runs (scoring them needs the test set on disk).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import shlex
from pathlib import Path
from typing import Any

from motionhmr.model.config import ModelConfig
from synth.errors import InputError, MissingDependency

log = logging.getLogger(__name__)

TABLES = ("inputs", "data", "frames")
TITLES = {
    "inputs": "Table 1: network inputs (full data)",
    "data": "Table 2: dataset ablations, cumulative (full; no occluders; also untracked; static, no occluders)",
    "frames": "Table 3: clip length",
}
INPUT_RUNS = ("rgb", "rgb+dann", "flow", "kp", "rgb+kp", "flow+kp")
#: the Table 1 entry that is a sweep over ``dann.weights`` x ``dann.seeds``
DANN_RUN = "rgb+dann"
NO_OCCLUDERS = "occluders.enabled=false"
#: dataset variant -> its ``synth generate`` overrides. Table 2's rows are cumulative, as the
#: paper's: every row after ``full`` also has the occluders off.
VARIANTS: dict[str, tuple[str, ...]] = {
    "full": (),
    "no_occluders": (NO_OCCLUDERS,),
    "no_occluders+untracked": (NO_OCCLUDERS, "background.mode=untracked"),
    "no_occluders+static": (NO_OCCLUDERS, "background.mode=static"),
}
#: dataset variant -> what it ablates (the --print comments and the results' notes)
ABLATES = {
    "full": "the full pipeline",
    "no_occluders": "no occluders",
    "no_occluders+untracked": "no occluders and no camera tracking (untracked background)",
    "no_occluders+static": "no occluders and a static background",
}
FRAME_RUNS = (8, 16, 31, 56)
CLIP_FRAMES = 31  # stored clip length of the inputs and data tables (and their test set)
LAUNCHES = ("local", "print", "collect")
#: command-line prefix -> the CompareConfig list it extends
PREFIXES = {"gen.": "generate", "test.": "test_generate", "train.": "train"}
METRICS = ("pa_mpjpe", "mpjpe", "accel")
HEADERS = {"pa_mpjpe": "PA-MPJPE (mm)", "mpjpe": "MPJPE (mm)", "accel": "accel (mm/frame²)"}
TEST_LABELS = {"synthetic": "synthetic", "3dpw": "3DPW"}


# -- config --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CompareWandb:
    mode: str = "offline"
    project: str = "motionhmr"
    entity: str | None = None

    def __post_init__(self) -> None:
        from motionhmr.config import WANDB_MODES

        if self.mode not in WANDB_MODES:
            raise InputError(f"wandb.mode={self.mode!r} is unknown; choose one of {', '.join(WANDB_MODES)}")


@dataclasses.dataclass(frozen=True)
class CompareDann:
    """Table 1's rgb+dann entry: one run per weight in ``weights`` and seed (``seeds`` of
    them: ``seed``, ``seed + 1``, ...), like the paper's sweep of the DANN weight over 0.2-5
    with five seeds, of which it reports the best and the mean. ``real`` and ``grl`` are
    ``motionhmr train``'s ``dann.real`` and ``dann.grl``."""

    weights: list[float] = dataclasses.field(default_factory=lambda: [0.2, 0.5, 1.0, 2.0, 5.0])
    seeds: int = 5
    real: str | None = "embedded"
    grl: float = 1.0

    def __post_init__(self) -> None:
        if not self.weights:
            raise InputError("dann.weights=[] must list at least one weight (the paper's: [0.2,0.5,1,2,5])")
        bad = [w for w in self.weights if not w > 0]
        if bad:
            raise InputError(f"dann.weights={list(self.weights)}: every weight must be > 0, not {bad[0]}")
        if len({f"{w:g}" for w in self.weights}) != len(self.weights):
            raise InputError(f"dann.weights={list(self.weights)} lists a weight twice")
        if self.seeds < 1:
            raise InputError(f"dann.seeds={self.seeds} must be >= 1 (training seeds per weight)")
        if not self.real:
            raise InputError("dann.real must be a folder of real videos or embedded")


@dataclasses.dataclass(frozen=True)
class CompareConfig:
    """``configs/compare.yaml`` + a ``configs/scale/*.yaml`` preset + overrides (see there)."""

    table: str = "inputs"
    runs: list[str] | None = None
    root: str = "compare_runs"
    ablation_inputs: str = "flow+kp"
    dann: CompareDann = dataclasses.field(default_factory=CompareDann)
    seed: int = 0
    test_seed: int = 1000
    threedpw: str | None = None
    smpl_path: str | None = None
    device: str = "auto"
    launch: str = "local"
    command: str = "motionhmr"
    generate: list[str] = dataclasses.field(default_factory=list)
    test_generate: list[str] = dataclasses.field(default_factory=list)
    train: list[str] = dataclasses.field(default_factory=list)
    wandb: CompareWandb = dataclasses.field(default_factory=CompareWandb)
    # scale preset
    scale: str = "small"
    n: int = 24
    val_n: int = 16
    per_shard: int = 8
    steps: int = 30
    warmup: int = 3
    batch_size: int = 2
    frames: int | None = 8
    frames_batch_sizes: list[int] | None = None  # data.batch_size of the frames table's runs, in FRAME_RUNS order
    workers: int = 1
    loader_workers: int = 0
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        from motionhmr.inputs import parse_inputs

        if self.table not in (*TABLES, "all"):
            raise InputError(f"table={self.table!r} is unknown; choose one of {', '.join(TABLES)}, all")
        if self.launch not in LAUNCHES:
            raise InputError(f"launch={self.launch!r} is unknown; choose one of {', '.join(LAUNCHES)}")
        for key in ("n", "val_n", "per_shard", "steps", "batch_size", "workers"):
            if getattr(self, key) < 1:
                raise InputError(f"{key}={getattr(self, key)} must be >= 1")
        if self.warmup < 0 or self.loader_workers < 0:
            raise InputError("warmup and loader_workers must be >= 0")
        if self.frames is not None and not 2 <= self.frames <= CLIP_FRAMES:
            raise InputError(f"frames={self.frames} must be in [2, {CLIP_FRAMES}] (windows of the clips) or null")
        if self.frames_batch_sizes is not None and (
            len(self.frames_batch_sizes) != len(FRAME_RUNS) or min(self.frames_batch_sizes) < 1
        ):
            raise InputError(f"frames_batch_sizes={list(self.frames_batch_sizes)} must be {len(FRAME_RUNS)} batch "
                             f"sizes >= 1, one per clip length {', '.join(map(str, FRAME_RUNS))} (or null)")  # fmt: skip
        parse_inputs(self.ablation_inputs)
        runs = table_runs(self)
        known = list(dict.fromkeys([*(r.group for r in runs if r.group), *(r.name for r in runs)]))
        unknown = [r for r in self.runs or [] if r.split("/")[-1] not in known]
        if unknown:
            raise InputError(f"runs={unknown} not in table={self.table}; its runs are {', '.join(known)}")


def split_overrides(overrides: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """``gen.K=V`` / ``test.K=V`` / ``train.K=V`` go to the generate / test-set / train lists;
    the rest are CompareConfig overrides."""
    own, extra = [], {key: [] for key in PREFIXES.values()}
    for o in overrides:
        prefix = next((p for p in PREFIXES if o.startswith(p)), None)
        if prefix is None:
            own.append(o)
        else:
            extra[PREFIXES[prefix]].append(o[len(prefix) :])
    return own, extra


def load_compare_config(overrides: list[str] | None = None) -> CompareConfig:
    """Compose ``configs/compare.yaml`` (and its ``scale`` preset) with ``overrides``."""
    from synth.config import compose, typed

    own, extra = split_overrides(list(overrides or []))
    if stale := [o for o in own if o.lstrip("+~").split("=")[0] == "dann.weight"]:
        raise InputError(f"{stale[0]}: rgb+dann is a sweep; give its weights as dann.weights=[W,...] (and dann.seeds=N)")
    # the yaml's model block holds only the keys the scale preset sets (paper: none); any other
    # model.* key may be given too, and typed() checks it against ModelConfig
    own = [f"++{o}" if o.startswith("model.") else o for o in own]
    cfg = typed(compose("compare", own), CompareConfig)
    return dataclasses.replace(cfg, **{key: [*getattr(cfg, key), *more] for key, more in extra.items()})


def to_dict(cfg: CompareConfig) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)


# -- the sweep -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Dataset:
    """One ``synth generate`` output folder, ``<root>/data/<name>``."""

    name: str
    variant: str
    frames: int
    n: int
    seed: int
    test: bool = False

    def path(self, cfg: CompareConfig) -> Path:
        return Path(cfg.root) / "data" / self.name

    def overrides(self, cfg: CompareConfig, local: bool) -> list[str]:
        """``synth generate`` overrides; ``local`` pins one node (so a compare run inside a
        Slurm array task still writes every shard)."""
        out = [f"n={self.n}", f"out={self.path(cfg)}", f"seed={self.seed}", f"frames={self.frames}",
               f"per_shard={cfg.per_shard}", f"workers={cfg.workers}", *VARIANTS[self.variant], *cfg.generate]  # fmt: skip
        if self.test:
            out += cfg.test_generate
        return out + (["shard_index=0", "num_shards=1"] if local else [])

    def complete(self, cfg: CompareConfig) -> bool:
        from synth.shards.writer import plan

        return all((self.path(cfg) / job.name).exists() for job in plan(self.n, cfg.per_shard))


def train_set(cfg: CompareConfig, variant: str, frames: int = CLIP_FRAMES) -> Dataset:
    name = variant if frames == CLIP_FRAMES else f"{variant}_{frames}f"
    return Dataset(name, variant, frames, cfg.n, cfg.seed)


def heldout_set(cfg: CompareConfig, frames: int = CLIP_FRAMES) -> Dataset:
    return Dataset(f"test_{frames}f", "full", frames, cfg.val_n, cfg.test_seed, test=True)


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a table: ``inputs`` (plus DANN at ``dann_weight``) trained on ``data`` in
    ``window``-frame windows (None: whole clips) of ``batch_size`` clips with ``seed``,
    scored on ``test``. ``group``: the sweep it belongs to (``rgb+dann``), else ""."""

    table: str
    name: str
    inputs: str
    data: Dataset
    test: Dataset
    window: int | None
    batch_size: int
    seed: int
    dann_weight: float | None = None
    group: str = ""

    @property
    def dann(self) -> bool:
        return self.dann_weight is not None

    @property
    def frames(self) -> int:
        return self.window or self.data.frames

    @property
    def tags(self) -> list[str]:
        """W&B tags: the sweep, the table, the training data and the inputs."""
        return ["compare", self.table, self.data.variant, self.inputs] + (["dann"] if self.dann else [])

    def out(self, cfg: CompareConfig) -> Path:
        return Path(cfg.root) / "runs" / self.table / self.name

    def train_overrides(self, cfg: CompareConfig) -> list[str]:
        """``motionhmr train`` overrides of this run (printed, or composed in-process)."""
        out = [f"inputs={self.inputs}", f"data.path={self.data.path(cfg)}", f"data.frames={_value(self.window)}",
               f"data.batch_size={self.batch_size}", f"data.workers={cfg.loader_workers}",
               f"optim.steps={cfg.steps}", f"optim.warmup={cfg.warmup}"]  # fmt: skip
        if self.dann:
            d = cfg.dann
            out += [f"dann.weight={self.dann_weight}", f"dann.real={_value(d.real)}", f"dann.grl={d.grl}"]
        default = ModelConfig()
        out += [f"model.{f.name}={_value(getattr(cfg.model, f.name))}" for f in dataclasses.fields(ModelConfig)
                if getattr(cfg.model, f.name) != getattr(default, f.name)]  # fmt: skip
        out += [f"seed={self.seed}", f"device={cfg.device}", f"out={self.out(cfg)}",
                f"wandb.mode={cfg.wandb.mode}", f"wandb.project={cfg.wandb.project}",
                f"wandb.group=compare-{self.table}", f"wandb.name={self.table}-{self.name}",
                f"wandb.tags=[{','.join(self.tags)}]"]  # fmt: skip
        if cfg.wandb.entity:
            out.append(f"wandb.entity={cfg.wandb.entity}")
        return out + list(cfg.train)


def _value(v: Any) -> str:
    """A Hydra override value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def table_runs(cfg: CompareConfig) -> list[RunSpec]:
    """Every run of ``cfg.table`` (all three for ``all``), before the ``runs`` filter."""
    runs = []
    test31 = heldout_set(cfg)
    if cfg.table in ("inputs", "all"):
        full = train_set(cfg, "full")
        for name in INPUT_RUNS:
            if name != DANN_RUN:
                runs.append(RunSpec("inputs", name, name, full, test31, cfg.frames, cfg.batch_size, cfg.seed))
                continue
            inputs = name.removesuffix("+dann")
            for weight in cfg.dann.weights:
                for seed in range(cfg.seed, cfg.seed + cfg.dann.seeds):
                    runs.append(RunSpec("inputs", dann_run_name(weight, seed), inputs, full, test31, cfg.frames,
                                        cfg.batch_size, seed, dann_weight=weight, group=name))  # fmt: skip
    if cfg.table in ("data", "all"):
        for variant in VARIANTS:
            runs.append(RunSpec("data", variant, cfg.ablation_inputs, train_set(cfg, variant), test31, cfg.frames,
                                cfg.batch_size, cfg.seed))  # fmt: skip
    if cfg.table in ("frames", "all"):
        longest = max(FRAME_RUNS)
        data, test = train_set(cfg, "full", longest), heldout_set(cfg, longest)
        for frames, batch in zip(FRAME_RUNS, cfg.frames_batch_sizes or [cfg.batch_size] * len(FRAME_RUNS)):
            runs.append(RunSpec("frames", str(frames), cfg.ablation_inputs, data, test, frames, batch, cfg.seed))
    return runs


def dann_run_name(weight: float, seed: int) -> str:
    """``rgb+dann-w0.2-s0``: one run of the DANN sweep (its folder and W&B name)."""
    return f"{DANN_RUN}-w{weight:g}-s{seed}"


def sweep(cfg: CompareConfig) -> list[RunSpec]:
    """The runs to do: the table(s), restricted to ``cfg.runs`` (``name`` or ``table/name``; a
    sweep's name, ``rgb+dann``, picks all of its runs)."""
    runs = table_runs(cfg)
    if cfg.runs:
        wanted = {str(r) for r in cfg.runs}
        runs = [r for r in runs if wanted & _keys(r)]
    return runs


def _keys(run: RunSpec) -> set[str]:
    """The ``runs=`` values that pick ``run``: its name and sweep, bare or as ``table/name``."""
    names = {n for n in (run.name, run.group) if n}
    return names | {f"{run.table}/{n}" for n in names}


def datasets(runs: list[RunSpec]) -> list[Dataset]:
    """The datasets ``runs`` need (training sets, then test sets), each once."""
    out = {r.data.name: r.data for r in runs}
    out.update({r.test.name: r.test for r in runs})
    return list(out.values())


# -- commands ------------------------------------------------------------------------------
def commands(cfg: CompareConfig, runs: list[RunSpec], overrides: list[str]) -> str:
    """The sweep as shell lines: generate the data, one train line per run, then collect."""
    lines = [f"# motionhmr compare table={cfg.table} scale={cfg.scale}: {len(runs)} runs under {cfg.root}",
             "# 1. data (each line can run as a Slurm array over nodes: reruns skip finished shards)"]  # fmt: skip
    for d in datasets(runs):
        what = "held-out test set, " + ABLATES[d.variant] if d.test else ABLATES[d.variant]
        lines += [f"# {d.name}: {what}, {d.n} clips of {d.frames} frames",
                  shlex.join(["synth", "generate", *d.overrides(cfg, local=False)])]  # fmt: skip
    lines.append("# 2. training: one line per run (a rerun resumes from out/last.pt)")
    prefix = shlex.split(cfg.command)
    for i, r in enumerate(runs):
        if r.group and (i == 0 or runs[i - 1].group != r.group):
            members = [m for m in runs if m.group == r.group]
            weights = ", ".join(dict.fromkeys(f"{m.dann_weight:g}" for m in members))
            seeds = len({m.seed for m in members})
            runs_n = f"{len(members)} run{'s' * (len(members) > 1)}"
            lines.append(f"# {r.group}: DANN sweep, weights {weights} x {seeds} seed{'s' * (seeds > 1)} = {runs_n} "
                         "(the table reports the best run and the mean)")  # fmt: skip
        lines.append(shlex.join([*prefix, "train", *r.train_overrides(cfg)]))
    lines.append("# 3. scores, table and chart (on a GPU node if you can)")
    keep = [o for o in overrides if not o.startswith("launch=")]
    lines.append(shlex.join(["motionhmr", "compare", *keep, "--collect-only"]))
    return "\n".join(lines)


# -- running and collecting ----------------------------------------------------------------
@dataclasses.dataclass
class Result:
    """One run of the comparison (or, from :func:`summarise`, a sweep's best or mean row).
    ``metrics``: test set (``synthetic``, ``3dpw``) -> ``{"pa_mpjpe", "mpjpe", "accel"}`` in mm
    (accel mm/frame²) plus ``clips`` scored. ``group``: the sweep of the run (``rgb+dann``),
    ``dann_weight`` its DANN weight."""

    table: str
    name: str
    inputs: str
    data: str
    frames: int
    steps: int
    target_steps: int
    status: str  # finished | partial | missing | failed
    out: str
    metrics: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    note: str = ""
    group: str = ""
    dann_weight: float | None = None


def checkpoint_state(cfg: CompareConfig, run: RunSpec) -> int | None:
    """The step of ``run``'s ``last.pt`` (None: no checkpoint). A checkpoint of another
    configuration in the run folder is an InputError, found before anything is trained."""
    from motionhmr import checkpoint
    from motionhmr.config import load_train_config
    from motionhmr.config import to_dict as train_dict

    path = run.out(cfg) / "last.pt"
    if not path.exists():
        return None
    blob = checkpoint.load(path)
    ours, theirs = train_dict(load_train_config(run.train_overrides(cfg))), blob["config"]
    checks = {"inputs": (theirs["inputs"], ours["inputs"]),
              "data.frames": (theirs["data"]["frames"], ours["data"]["frames"]),
              "data.path": (Path(theirs["data"]["path"]).name, Path(ours["data"]["path"]).name),
              "dann.weight": (theirs["dann"]["weight"], ours["dann"]["weight"])}  # fmt: skip
    checks.update({f"model.{k}": (theirs["model"].get(k), v) for k, v in ours["model"].items() if k != "backbone_weights"})
    differ = [f"{k}={a} (this sweep: {b})" for k, (a, b) in checks.items() if a != b]
    if differ:
        raise InputError(f"{path} was trained with {', '.join(differ)}: use another root= or remove {run.out(cfg)}")
    return int(blob["step"])


def ensure_dataset(cfg: CompareConfig, ds: Dataset) -> Path:
    """Generate ``ds`` unless complete (``synth generate`` resumes a partial one)."""
    from synth.config import GenerateConfig, compose, typed
    from synth.generate_cli import generate

    if not ds.complete(cfg):
        log.info("generating %s (%d clips of %d frames) into %s", ds.name, ds.n, ds.frames, ds.path(cfg))
        raw = compose("generate", ds.overrides(cfg, local=True))
        generate(typed(raw, GenerateConfig), raw)
    return ds.path(cfg)


def evaluate_run(cfg: CompareConfig, run: RunSpec, step: int, allow_generate: bool) -> tuple[dict, str]:
    """Scores of ``run``'s ``last.pt`` (at ``step``) on each test set, cached in
    ``<out>/eval/<test>.json`` for that step and test set; and a note for what was skipped."""
    from motionhmr.evaluate import METRICS as ALL_METRICS
    from motionhmr.run_eval import EvalConfig, EvalDataConfig, evaluate_checkpoint

    tests = {"synthetic": str(run.test.path(cfg))} | ({"3dpw": cfg.threedpw} if cfg.threedpw else {})
    metrics, notes = {}, []
    for name, path in tests.items():
        cache = run.out(cfg) / "eval" / f"{name}.json"
        key = {"step": step, "data": path, "clips": run.test.n if name == "synthetic" else None}
        if cache.exists() and (stored := json.loads(cache.read_text())).get("key") == key:
            metrics[name] = stored["metrics"]
            continue
        if name == "synthetic" and not run.test.complete(cfg):
            if not allow_generate:
                notes.append(f"not scored: test set {path} is missing (generate it, see --print)")
                continue
            ensure_dataset(cfg, run.test)
        data = EvalDataConfig(name=name, path=path, max_clips=key["clips"])
        results = evaluate_checkpoint(EvalConfig(ckpt=str(run.out(cfg) / "last.pt"), data=data, device=cfg.device,
                                                 smpl_path=cfg.smpl_path if name == "3dpw" else None))  # fmt: skip
        values = {m: results.mean(m) for m in ALL_METRICS if results.mean(m) is not None}
        metrics[name] = {**values, "clips": len(results.people), "frames_scored": results.frames_scored}
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"key": key, "metrics": metrics[name]}, indent=2))
    return metrics, "; ".join(notes)


def _result(cfg: CompareConfig, run: RunSpec, step: int | None, status: str, metrics=None, note="") -> Result:
    return Result(table=run.table, name=run.name, inputs=run.inputs + ("+dann" if run.dann else ""),
                  data=run.data.variant, frames=run.frames, steps=step or 0, target_steps=cfg.steps,
                  status=status, out=str(run.out(cfg)), metrics=metrics or {}, note=note, group=run.group,
                  dann_weight=run.dann_weight)  # fmt: skip


def _status(cfg: CompareConfig, step: int | None) -> str:
    return "missing" if step is None else ("finished" if step >= cfg.steps else "partial")


def run_compare(cfg: CompareConfig, overrides: list[str] | None = None, echo=print) -> list[Result]:
    """Do ``cfg.launch`` for the sweep; returns one Result per run (none for ``print``).

    ``local``: per run, in order: generate its datasets (if incomplete), train (unless
    finished), score, and rewrite the outputs, so a killed sweep keeps what it finished. A
    run that raises is recorded as ``failed`` (with the error) and the sweep goes on."""
    runs = sweep(cfg)
    if cfg.launch == "print":
        echo(commands(cfg, runs, list(overrides or [])))
        return []
    require_matplotlib()  # before hours of training, not after
    steps = {r: checkpoint_state(cfg, r) for r in runs}  # a clashing run folder fails here, first
    results = [_result(cfg, r, steps[r], _status(cfg, steps[r])) for r in runs]
    for i, run in enumerate(runs):
        try:
            if cfg.launch == "local" and _status(cfg, steps[run]) != "finished":
                ensure_dataset(cfg, run.data)
                _train(run.train_overrides(cfg))
                steps[run] = checkpoint_state(cfg, run)
            status = _status(cfg, steps[run])
            metrics, note = ({}, "")
            if status == "finished":
                metrics, note = evaluate_run(cfg, run, steps[run], allow_generate=cfg.launch == "local")
                _log_run_scores(cfg, run, metrics)
            results[i] = _result(cfg, run, steps[run], status, metrics, note)
        except Exception as e:  # noqa: BLE001 - one failed run must not lose the others
            log.exception("run %s/%s failed", run.table, run.name)
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            results[i] = _result(cfg, run, steps[run], "failed", note=f"{type(e).__name__}: {first}")
        write_outputs(cfg, results)
    log_compare_wandb(cfg, results)
    return results


def _train(overrides: list[str]) -> None:
    from motionhmr.config import load_train_config
    from motionhmr.train import train

    train(load_train_config(overrides))


# -- outputs -------------------------------------------------------------------------------
def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}"


def summarise(results: list[Result]) -> list[Result]:
    """The rows of the tables and chart: ``results`` with each sweep of more than one run
    (``rgb+dann``) replaced, in place, by two rows as the paper reports it: ``<sweep> best``,
    the run with the lowest PA-MPJPE (on 3DPW when scored, else synthetic; its weight in the
    name), and ``<sweep> mean``, each metric averaged over the sweep's scored runs."""
    out, done = [], set()
    for r in results:
        members = [m for m in results if r.group and (m.table, m.group) == (r.table, r.group)]
        if len(members) < 2:
            out.append(r)
        elif (r.table, r.group) not in done:
            done.add((r.table, r.group))
            out += _sweep_rows(members)
    return out


def _sweep_rows(members: list[Result]) -> list[Result]:
    tests = scored_sets(members)
    by = "3dpw" if "3dpw" in tests else (tests[0] if tests else "synthetic")
    scored = [m for m in members if m.metrics.get(by, {}).get("pa_mpjpe") is not None]
    statuses = {m.status for m in members}
    status = ("finished" if statuses == {"finished"} else "partial" if statuses & {"finished", "partial"}
              else "failed" if "failed" in statuses else "missing")  # fmt: skip
    first, group = members[0], members[0].group
    weights = ", ".join(dict.fromkeys(f"{m.dann_weight:g}" for m in members))
    base = dict(table=first.table, inputs=first.inputs, data=first.data, frames=first.frames,
                steps=min(m.steps for m in members), target_steps=first.target_steps, status=status,
                out=str(Path(first.out).parent), group=group)  # fmt: skip
    if not scored:
        note = f"sweep of {len(members)} runs (weights {weights}): none scored"
        return [Result(name=f"{group} best", **base, note=note), Result(name=f"{group} mean", **base)]
    best = min(scored, key=lambda m: m.metrics[by]["pa_mpjpe"])
    mean = {t: {k: sum(vals) / len(vals) for k in METRICS
                if (vals := [m.metrics[t][k] for m in scored if m.metrics.get(t, {}).get(k) is not None])}
            for t in tests}  # fmt: skip
    per_weight = {}
    for m in scored:
        per_weight.setdefault(f"{m.dann_weight:g}", []).append(m.metrics[by]["pa_mpjpe"])
    label = TEST_LABELS.get(by, by)
    best_row = dataclasses.replace(best, name=f"{group} best (w={best.dann_weight:g})",
                                   note=f"best of the {len(scored)} scored runs by {label} PA-MPJPE: weight "
                                        f"{best.dann_weight:g} (run {best.name})")  # fmt: skip
    mean_note = (f"mean over {len(scored)} of {len(members)} runs (weights {weights}); {label} PA-MPJPE per weight: "
                 + ", ".join(f"{w}: {sum(v) / len(v):.1f}" for w, v in per_weight.items()))  # fmt: skip
    return [best_row, Result(name=f"{group} mean", **base, metrics=mean, note=mean_note)]


def scored_sets(results: list[Result]) -> list[str]:
    """The test sets scored in ``results``, synthetic first."""
    found = {t for r in results for t in r.metrics}
    return [t for t in ("synthetic", "3dpw") if t in found] + sorted(found - {"synthetic", "3dpw"})


def _columns(tests: list[str]) -> list[tuple[str, str, str]]:
    """``(header, test, metric)`` per metric column; plain headers when only one test set."""
    return [(HEADERS[m] if len(tests) == 1 else f"{TEST_LABELS.get(t, t)} {HEADERS[m]}", t, m)
            for t in tests for m in METRICS]  # fmt: skip


def _row(r: Result, columns) -> list[str]:
    steps = str(r.steps) if r.status == "finished" else f"{r.steps}/{r.target_steps} ({r.status})"
    return [r.name, r.inputs, r.data, str(r.frames), steps] + [_fmt(r.metrics.get(t, {}).get(m)) for _, t, m in columns]


def markdown_table(results: list[Result]) -> str:
    """One markdown table per paper table: run, inputs, data, frames, steps, then PA-MPJPE,
    MPJPE and accel on each test set (— where a run is not trained or not scored); a sweep
    is its best and mean rows (:func:`summarise`)."""
    tests = scored_sets(results) or ["synthetic"]
    results = summarise(results)
    columns = _columns(tests)
    head = ["run", "inputs", "data", "frames", "steps", *(c[0] for c in columns)]
    out = []
    for table in TABLES:
        rows = [r for r in results if r.table == table]
        if not rows:
            continue
        out += [f"**{TITLES[table]}**", "", "| " + " | ".join(head) + " |",
                "|" + "|".join(["---"] * 4 + ["---:"] * (len(head) - 4)) + "|"]  # fmt: skip
        out += ["| " + " | ".join(_row(r, columns)) + " |" for r in rows]
        out += [f"- `{r.name}`: {r.note}" for r in rows if r.note]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def require_matplotlib():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependency("matplotlib", "compare", "motionhmr compare's bar chart") from None
    return plt


def write_chart(results: list[Result], path: str | Path, title: str = "") -> Path:
    """A PNG bar chart of PA-MPJPE per run, one panel per paper table, one bar colour per
    test set; runs without a score have no bar and say why under their name."""
    import numpy as np

    plt = require_matplotlib()
    results = summarise(results)
    tables = [t for t in TABLES if any(r.table == t for r in results)]
    tests = scored_sets(results) or ["synthetic"]
    widths = [max(2, sum(r.table == t for r in results)) for t in tables]
    fig, axes = plt.subplots(1, len(tables), figsize=(1.0 + 1.3 * sum(widths), 4.2), squeeze=False,
                             gridspec_kw={"width_ratios": widths})  # fmt: skip
    bar = 0.8 / len(tests)
    for ax, table in zip(axes[0], tables):
        rows = [r for r in results if r.table == table]
        x = np.arange(len(rows))
        for j, test in enumerate(tests):
            values = [r.metrics.get(test, {}).get("pa_mpjpe") for r in rows]
            heights = [np.nan if v is None else v for v in values]
            bars = ax.bar(x + (j - (len(tests) - 1) / 2) * bar, heights, bar, label=TEST_LABELS.get(test, test), color=f"C{j}")
            ax.bar_label(bars, labels=["" if v is None else f"{v:.1f}" for v in values], fontsize=8, padding=2)
        ax.set_xticks(x, [r.name if r.metrics else f"{r.name}\n({r.status})" for r in rows], rotation=30, ha="right", fontsize=9)
        ax.set_title(TITLES[table], fontsize=10)
        ax.margins(y=0.15)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("PA-MPJPE (mm, lower is better)")
    if len(tests) > 1:
        axes[0][-1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def html_page(results: list[Result], png: bytes, intro: str = "") -> str:
    """A self-contained page: the chart (PNG embedded as base64) and the tables."""
    tests = scored_sets(results) or ["synthetic"]
    results = summarise(results)
    columns = _columns(tests)
    head = ["run", "inputs", "data", "frames", "steps", *(c[0] for c in columns)]
    parts = ["<!doctype html>", '<html><head><meta charset="utf-8"><title>motionhmr compare</title>',
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:4px 8px}td.num{text-align:right}</style></head><body>",
             "<h1>motionhmr compare</h1>"]  # fmt: skip
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    parts.append(f'<img alt="PA-MPJPE per run" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    for table in TABLES:
        rows = [r for r in results if r.table == table]
        if not rows:
            continue
        header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        parts.append(f"<h2>{html.escape(TITLES[table])}</h2><table><tr>{header}</tr>")
        for r in rows:
            cells = (f'<td{" class=num" if k >= 4 else ""}>{html.escape(c)}</td>' for k, c in enumerate(_row(r, columns)))
            parts.append(f"<tr>{''.join(cells)}</tr>")
        parts.append("</table>")
        parts += [f"<p><code>{html.escape(r.name)}</code>: {html.escape(r.note)}</p>" for r in rows if r.note]
    parts.append("</body></html>")
    return "\n".join(parts)


def describe(cfg: CompareConfig) -> str:
    """One paragraph: what was trained and scored, and what the numbers can and cannot show."""
    default = ModelConfig()
    sizes = [f"{k}={v}" for k, v in dataclasses.asdict(cfg.model).items() if v != getattr(default, k)]
    windows = f"{cfg.frames or CLIP_FRAMES}-frame windows"
    if cfg.table in ("frames", "all"):
        windows += " (Table 3: each row's own)"
    network = f"network {', '.join(sizes)}" if sizes else "the full network"
    scored = f"{cfg.val_n} held-out synthetic clips (seed {cfg.test_seed})" + (" and 3DPW" if cfg.threedpw else "")
    batch = f"{cfg.batch_size} clips"
    if cfg.table in ("frames", "all") and cfg.frames_batch_sizes:
        per_length = ", ".join(f"{b} at {f} frames" for f, b in zip(FRAME_RUNS, cfg.frames_batch_sizes))
        batch += f" (Table 3: {per_length})"
    text = (f"scale={cfg.scale}: {cfg.n} training clips per dataset, {cfg.steps} steps of {batch}, "
            f"{windows}, {network}; every run scored on the same {scored}.")  # fmt: skip
    if cfg.table in ("inputs", "all"):
        d = cfg.dann
        text += (f" rgb+dann: DANN weights {', '.join(f'{w:g}' for w in d.weights)} x {d.seeds} seed(s)"
                 + (", reported as the best run and the mean." if len(d.weights) * d.seeds > 1 else "."))  # fmt: skip
    if cfg.table in ("data", "all"):
        text += " Table 2's rows are cumulative: every row after full also has no occluders."
    if cfg.scale != "paper":
        text += " At this scale the numbers only show that the pipeline runs end to end, not the paper's effect."
    return text


def output_dir(cfg: CompareConfig) -> Path:
    """``<root>/compare/<table>/``: one folder per ``table=`` value, so sweeping the tables
    one after the other into one root keeps each table's results."""
    return Path(cfg.root) / "compare" / cfg.table


def write_outputs(cfg: CompareConfig, results: list[Result]) -> dict[str, Path]:
    """``<root>/compare/<table>/``: results.json (``runs``: every run; ``rows``: the tables'
    rows, sweeps as best and mean), results.md, chart.png, chart.html."""
    out = output_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    intro = describe(cfg)
    paths = {"json": out / "results.json", "md": out / "results.md", "png": out / "chart.png", "html": out / "chart.html"}
    rows = summarise(results)
    paths["json"].write_text(json.dumps({"config": to_dict(cfg), "description": intro,
                                         "runs": [dataclasses.asdict(r) for r in results],
                                         "rows": [dataclasses.asdict(r) for r in rows]}, indent=2))  # fmt: skip
    paths["md"].write_text(f"{intro}\n\n{markdown_table(results)}")
    scored = f"{cfg.val_n} held-out synthetic clips" + (" and 3DPW" if cfg.threedpw else "")
    write_chart(results, paths["png"], title=f"motionhmr compare, scale={cfg.scale}: PA-MPJPE on {scored}")
    paths["html"].write_text(html_page(results, paths["png"].read_bytes(), intro))
    return paths


# -- W&B -----------------------------------------------------------------------------------
def _wandb(cfg: CompareConfig, out: Path, group: str, name: str, tags: list[str], config: dict):
    from motionhmr.config import WandbConfig
    from motionhmr.wandb_run import Run

    wb = WandbConfig(mode=cfg.wandb.mode, project=cfg.wandb.project, entity=cfg.wandb.entity, group=group, name=name, tags=tags)
    return Run(wb, config, out, group=group, name=name)


def _log_run_scores(cfg: CompareConfig, run: RunSpec, metrics: dict) -> None:
    """The scores into the run's own W&B run (resumed by the id in ``<out>/wandb_id``), so the
    group ``compare-<table>`` shows them side by side."""
    if cfg.wandb.mode == "disabled" or not metrics:
        return
    wb = _wandb(cfg, run.out(cfg), f"compare-{run.table}", f"{run.table}-{run.name}", run.tags, {})
    wb.summary({f"test/{test}/{m}": v for test, values in metrics.items() for m, v in values.items()})
    wb.finish()


def log_compare_wandb(cfg: CompareConfig, results: list[Result]) -> None:
    """Per table, one W&B run in the group ``compare-<table>`` holding the table and chart."""
    if cfg.wandb.mode == "disabled":
        return
    import numpy as np
    from PIL import Image

    chart = output_dir(cfg) / "chart.png"
    tests = scored_sets(results) or ["synthetic"]
    columns = _columns(tests)
    results = summarise(results)
    for table in [t for t in TABLES if any(r.table == t for r in results)]:
        rows = [r for r in results if r.table == table]
        wb = _wandb(cfg, output_dir(cfg) / f"wandb-{table}", f"compare-{table}", f"compare-{table}",
                    ["compare", table, "summary"], to_dict(cfg))  # fmt: skip
        wb.table(f"compare/{table}", ["run", "inputs", "data", "frames", "steps", *(c[0] for c in columns)],
                 [_row(r, columns) for r in rows])  # fmt: skip
        if chart.exists():
            wb.images("compare/chart", [np.asarray(Image.open(chart).convert("RGB"))], step=0)
        wb.finish()
