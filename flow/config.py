"""Typed flow configuration (``flow.*`` in every Hydra config that computes flow)."""

from __future__ import annotations

import dataclasses

from synth.errors import InputError

DIS_PRESETS = ("ultrafast", "fast", "medium", "fine")


@dataclasses.dataclass
class FlowConfig:
    backend: str = "dis"  # a key of flow.BACKENDS: dis, farneback, tvl1, deepflow, ptlflow
    preset: str = "medium"  # dis only: ultrafast | fast | medium | fine
    model: str = "raft"  # ptlflow only: flownet2, flownetc, flownets, raft, raft_small, pwcnet, ...
    ckpt: str | None = None  # ptlflow only: checkpoint file; "random" = untrained (plumbing/speed only)
    device: str = "auto"  # ptlflow only: auto | cpu | cuda | cuda:<i>
    batch_size: int = 8  # ptlflow only: pairs per forward pass

    def __post_init__(self) -> None:
        from flow.registry import BACKENDS

        if self.backend not in BACKENDS:
            raise InputError(f"flow.backend={self.backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
        if self.backend == "dis" and self.preset not in DIS_PRESETS:
            raise InputError(f"flow.preset={self.preset!r} is unknown; choose one of {', '.join(DIS_PRESETS)}")
        if self.backend == "ptlflow" and not self.ckpt:
            raise InputError(
                f"flow.backend=ptlflow needs flow.ckpt=<path to a ptlflow checkpoint for {self.model}>: no "
                "pretrained flow weights ship with any package and the suite never downloads them"
            )
        if self.batch_size < 1:
            raise InputError(f"flow.batch_size must be >= 1; got {self.batch_size}")

    @property
    def label(self) -> str:
        """A short name for tables: ``dis:medium``, ``farneback``, ``ptlflow:raft``."""
        if self.backend == "dis":
            return f"dis:{self.preset}"
        if self.backend == "ptlflow":
            return f"ptlflow:{self.model}" + (" (untrained)" if self.ckpt == "random" else "")
        return self.backend


def parse_spec(spec: str, **kwargs) -> FlowConfig:
    """``"dis:fast"`` / ``"farneback"`` / ``"ptlflow:raft"`` -> :class:`FlowConfig`."""
    backend, _, variant = spec.partition(":")
    if variant and backend == "dis":
        kwargs["preset"] = variant
    elif variant and backend == "ptlflow":
        kwargs["model"] = variant
    elif variant:
        raise InputError(f"flow backend spec {spec!r}: only dis:<preset> and ptlflow:<model> take a variant")
    return FlowConfig(backend=backend, **kwargs)
