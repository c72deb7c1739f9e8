"""W&B behind one small wrapper: offline by default, online with ``wandb.mode=online``, or
off (``disabled``, which never imports wandb).

Runs are grouped by their canonical ``inputs`` (``flow+kp``, ``rgb``, ...) unless
``wandb.group`` says otherwise, so one dashboard compares RGB and motion runs, and a resumed
run continues the same W&B run (its id is kept in ``<out>/wandb_id``).
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import numpy as np

from synth.errors import MissingDependency

log = logging.getLogger(__name__)


class Run:
    """``log(metrics, step)``, ``images(name, list of uint8 HxWx3, step)``, ``summary(dict)``,
    ``finish()``; every call is a no-op when disabled or on a non-zero rank."""

    def __init__(self, cfg, config: dict, out: Path, group: str, name: str | None = None, active: bool = True):
        self.wandb = None
        if cfg.mode == "disabled" or not active:
            return
        try:
            import wandb
        except ImportError:
            raise MissingDependency(
                "wandb is not installed: pip install wandb -c constraints.txt, or pass wandb.mode=disabled"
            ) from None
        out.mkdir(parents=True, exist_ok=True)
        id_file = out / "wandb_id"
        run_id = id_file.read_text().strip() if id_file.exists() else secrets.token_hex(4)
        id_file.write_text(run_id)
        os.environ.setdefault("WANDB_SILENT", "true")
        self.wandb = wandb
        self.run = wandb.init(
            project=cfg.project, entity=cfg.entity, group=cfg.group or group, name=cfg.name or name,
            tags=list(cfg.tags), config=config, dir=str(out), mode=cfg.mode, id=run_id, resume="allow",
        )  # fmt: skip
        log.info("W&B %s run %s (group %s) in %s", cfg.mode, run_id, cfg.group or group, out / "wandb")

    def log(self, metrics: dict, step: int) -> None:
        if self.wandb is not None:
            self.run.log({k: float(v) for k, v in metrics.items()}, step=step)

    def images(self, name: str, images: list[np.ndarray], step: int, caption: list[str] | None = None) -> None:
        if self.wandb is not None and images:
            caps = caption or [None] * len(images)
            self.run.log({name: [self.wandb.Image(im, caption=c) for im, c in zip(images, caps)]}, step=step)

    def summary(self, values: dict) -> None:
        if self.wandb is not None:
            self.run.summary.update(values)

    def table(self, name: str, columns: list[str], rows: list[list], step: int | None = None) -> None:
        if self.wandb is not None:
            self.run.log({name: self.wandb.Table(columns=columns, data=rows)}, step=step)

    def finish(self) -> None:
        if self.wandb is not None:
            self.run.finish()
            self.wandb = None
