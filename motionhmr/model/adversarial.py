"""Domain-adversarial training (DANN, Ganin & Lempitsky 2015) on the backbone features.

A domain classifier tells synthetic from real steps; the gradient reversal layer between it
and the backbone flips (and scales by ``lambda``) the gradient, so the classifier learns to
separate the domains while the backbone learns features that it cannot separate.

Contract
    ``grad_reverse(x, scale)``: identity forward; backward multiplies the gradient by ``-scale``.
    ``DomainClassifier(in_dim, hidden)(features [..., in_dim], scale) -> logits [...]``
    (positive = real); ``scale`` is the reversal's lambda (0 trains the classifier alone).
"""

from __future__ import annotations

import torch
from torch import nn


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.scale * grad, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Identity on the way forward, ``-scale * grad`` on the way back."""
    return _GradReverse.apply(x, float(scale))


class DomainClassifier(nn.Module):
    """Small MLP: ``in_dim -> hidden -> hidden -> 1`` with ReLUs, after gradient reversal."""

    def __init__(self, in_dim: int, hidden: int = 1024):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, features: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        return self.mlp(grad_reverse(features, scale)).squeeze(-1)
