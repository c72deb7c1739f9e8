"""Typed configs for ``motionhmr train`` / ``eval`` / ``compare``.

Hydra composes ``configs/train.yaml`` (shipped inside the package, so an installed CLI works
anywhere) with command-line overrides; :func:`load_train_config` checks the result against
:class:`TrainConfig`, so a misspelt key or a bad value fails at start-up with one line.

Shorthands the paper's commands use are expanded before Hydra sees them:
``data=DIR`` -> ``data.path=DIR`` and ``ckpt=FILE`` -> ``resume=FILE``.
"""

from __future__ import annotations

import dataclasses

from omegaconf import OmegaConf

from motionhmr.data import DataConfig
from motionhmr.inputs import parse_inputs
from motionhmr.model.config import LossConfig, ModelConfig
from synth.config import BodyConfig, compose, typed
from synth.errors import InputError

SCHEDULES = ("cosine", "constant")
PRECISIONS = ("auto", "bf16", "fp32")
WANDB_MODES = ("offline", "online", "disabled")


@dataclasses.dataclass
class OptimConfig:
    """Adam with linear warm-up then a cosine (or constant) learning rate."""

    lr: float = 1e-4
    weight_decay: float = 0.0
    steps: int = 100_000  # optimizer steps in the whole run
    warmup: int = 1000
    schedule: str = "cosine"
    grad_clip: float = 1.0  # max global grad norm; 0 = off

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise InputError(f"optim.schedule={self.schedule!r} is unknown; choose one of {', '.join(SCHEDULES)}")
        if not self.lr > 0 or self.steps < 1 or self.warmup < 0 or self.grad_clip < 0:
            raise InputError("optim: lr must be > 0, steps >= 1, warmup >= 0 and grad_clip >= 0")


@dataclasses.dataclass
class DannConfig:
    """Domain-adversarial training (Ganin & Lempitsky 2015) against unlabelled real clips.

    ``weight`` > 0 turns it on; ``real`` is a folder of videos (Kinetics layout works) or
    ``embedded`` for the real videos shipped in PyPI packages."""

    weight: float = 0.0
    real: str | None = None
    grl: float = 1.0  # gradient reversal strength

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise InputError(f"dann.weight={self.weight} must be >= 0")
        if self.weight > 0 and not self.real:
            raise InputError("dann.weight > 0 needs dann.real=DIR (a folder of real videos) or dann.real=embedded")


@dataclasses.dataclass
class WandbConfig:
    """W&B: offline by default (no network, no key; ``wandb sync`` uploads later)."""

    mode: str = "offline"
    project: str = "motionhmr"
    entity: str | None = None
    group: str | None = None  # None: the canonical inputs (e.g. flow+kp), so one dashboard compares them
    name: str | None = None
    tags: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mode not in WANDB_MODES:
            raise InputError(f"wandb.mode={self.mode!r} is unknown; choose one of {', '.join(WANDB_MODES)}")


@dataclasses.dataclass
class TrainConfig:
    inputs: str = "flow+kp"
    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(path="shards"))
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    loss: LossConfig = dataclasses.field(default_factory=LossConfig)
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    dann: DannConfig = dataclasses.field(default_factory=DannConfig)
    body: BodyConfig = dataclasses.field(default_factory=BodyConfig)
    wandb: WandbConfig = dataclasses.field(default_factory=WandbConfig)
    out: str = "runs/${inputs}"  # run folder: checkpoints, config, W&B files
    seed: int = 0
    deterministic: bool = False  # torch deterministic algorithms (and no cuDNN autotuning)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on CPU
    epoch_batches: int = 1000  # batches per rank per "epoch" (see motionhmr.data: DDP epochs)
    log_every: int = 10
    val_every: int = 500  # steps between validations (0 = never)
    val_batches: int = 20
    ckpt_every: int = 500  # steps between checkpoints (last.pt); one is always written at the end
    image_every: int = 500  # steps between W&B images of predicted joints (0 = never)
    resume: str | None = "auto"  # auto: out/last.pt if it exists; a path; null: start afresh
    memory_check: bool = True  # refuse a step that would not fit in memory (motionhmr.memory)

    def __post_init__(self) -> None:
        parse_inputs(self.inputs)
        if self.precision not in PRECISIONS:
            raise InputError(f"precision={self.precision!r} is unknown; choose one of {', '.join(PRECISIONS)}")
        for key in ("epoch_batches", "log_every"):
            if getattr(self, key) < 1:
                raise InputError(f"{key}={getattr(self, key)} must be >= 1")
        for key in ("val_every", "val_batches", "ckpt_every", "image_every"):
            if getattr(self, key) < 0:
                raise InputError(f"{key}={getattr(self, key)} must be >= 0")


#: Keys whose value may list several folders, comma-separated (``data=shards_a,shards_b``).
PATH_LISTS = ("data.path", "data.val_path")


def expand_shorthands(overrides: list[str]) -> list[str]:
    """``data=DIR`` -> ``data.path=DIR``; ``ckpt=FILE`` -> ``resume=FILE``; a folder list
    ``data.path=A,B`` is quoted, since Hydra would read an unquoted comma as a sweep."""
    out = []
    for o in overrides:
        key, sep, value = o.partition("=")
        if sep and key == "data" and not value.startswith("{"):
            key, o = "data.path", f"data.path={value}"
        elif sep and key == "ckpt":
            o = f"resume={value}"
        if sep and key in PATH_LISTS and "," in value and value[:1] not in ("'", '"'):
            o = f"{key}='{value}'" if "'" not in value else f'{key}="{value}"'
        out.append(o)
    return out


def load_train_config(overrides: list[str] | None = None) -> TrainConfig:
    """Compose ``configs/train.yaml`` with ``overrides`` and check it (one-line errors)."""
    cfg = compose("train", expand_shorthands(list(overrides or [])))
    return typed(cfg, TrainConfig)


def to_dict(cfg: TrainConfig) -> dict:
    """Plain, resolved dict of a config: stored in checkpoints, logged to W&B."""
    return OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True)


def from_dict(d: dict) -> TrainConfig:
    return typed(OmegaConf.create(d), TrainConfig)
