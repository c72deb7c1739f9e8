"""Temporal modules over the network steps of a clip.

Contract
    ``module(features)``: float ``[B, S, D]`` per-step backbone features -> float
    ``[B, S, module.out_dim]``, for any number of steps ``S >= 1`` (so clip-length ablations
    need no other change). ``TEMPORAL`` maps config names to builders
    ``(in_dim, hidden) -> module``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class BiLSTM(nn.Module):
    """One bi-directional LSTM layer (paper Appendix B: 1024 hidden units per direction).

    Output ``[B, S, 2 * hidden]``: forward and backward hidden states concatenated, so the
    prediction at step t sees the whole clip.
    """

    def __init__(self, in_dim: int, hidden: int):
        super().__init__()
        self.lstm = nn.LSTM(in_dim, hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.out_dim = 2 * hidden

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(features)
        return out


class NoTemporal(nn.Module):
    """Identity: each step on its own (the single-frame ablation)."""

    def __init__(self, in_dim: int, hidden: int = 0):
        super().__init__()
        self.out_dim = in_dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


TEMPORAL: dict[str, Callable[[int, int], nn.Module]] = {"lstm": BiLSTM, "none": NoTemporal}


def build_temporal(name: str, in_dim: int, hidden: int) -> nn.Module:
    """The temporal module called ``name`` (a key of :data:`TEMPORAL`)."""
    if name not in TEMPORAL:
        from synth.errors import InputError

        raise InputError(f"model.temporal={name!r} is unknown; choose one of {', '.join(TEMPORAL)}")
    return TEMPORAL[name](in_dim, hidden)
