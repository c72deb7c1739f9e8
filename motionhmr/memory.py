"""A memory check before the first training step: refuse, with one line, a run that would be
killed for memory (the kernel's OOM killer prints nothing in the run's own log).

The estimate is measured, not tabulated: one frame goes forward through the real encoder at
a small size while ``torch.autograd.graph.saved_tensors_hooks`` adds up the bytes autograd
keeps for the backward pass; conv activations scale with the pixel count, so that figure
times ``(size / probe)^2`` times the frames of a batch (B x S) is the encoder's share. To it
are added the parameters with their gradients and Adam's two moments (4 copies), the
assembled input, the full-size intermediates of assembling rgb/flow before resizing, the
heads' and body model's share (measured the same way on the real step), and a fixed
allowance for the interpreter, torch and the body model.

``check(cfg, model, loss_fn, device, available=None)`` raises :class:`InputError` when the
estimate exceeds ``FRACTION`` of the available memory (``MemAvailable`` of
``/proc/meminfo`` on CPU, ``torch.cuda.mem_get_info`` on CUDA), naming the estimate and the
settings that shrink it.
"""

from __future__ import annotations

import logging

import torch

from synth.errors import InputError

log = logging.getLogger(__name__)

#: Refuse above this share of the available memory (the loader's workers need the rest).
FRACTION = 0.85
#: Interpreter, torch, Anny and the loader's buffers: measured ~1.2 GiB resident before the first step.
BASE_BYTES = 1.5 * 2**30
PROBE = 64


def _saved_bytes(fn, exclude: torch.nn.Module | None = None) -> int:
    """Bytes of the tensors autograd saves while ``fn()`` runs (each storage counted once),
    leaving out the parameters of ``exclude`` (weights are saved too, but they are counted
    once, not per frame)."""
    seen: dict[int, int] = {}
    skip = set() if exclude is None else {p.untyped_storage().data_ptr() for p in exclude.parameters()}

    def pack(t):
        try:
            key = t.untyped_storage().data_ptr()
            if key in skip:
                return t
            seen[key] = max(seen.get(key, 0), t.untyped_storage().nbytes())
        except (RuntimeError, NotImplementedError):  # tensors without storage (e.g. meta)
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(seen.values())


def estimate(cfg, model, loss_fn, device: torch.device) -> dict[str, float]:
    """Bytes per part of one training step of ``cfg`` (see the module doc)."""
    from motionhmr.inputs import parse_inputs

    spec = parse_inputs(cfg.inputs)
    net = model.module if hasattr(model, "module") else model
    b = cfg.data.batch_size
    s = (cfg.data.frames or 31) - 1
    size = cfg.model.input_size or 224
    params = sum(p.numel() * p.element_size() for p in net.parameters())
    parts = {"params+grads+adam": 4.0 * params, "base": BASE_BYTES}
    cnn = getattr(net.backbone, "cnn", None if net.reads_keypoints else net.backbone)
    if cnn is None:  # keypoint coordinates only
        parts["encoder"] = 0.0
    else:
        spec = getattr(net.backbone, "cnn_spec", spec)  # a hybrid's CNN sees the cues but kp
        x = torch.zeros(1, spec.channels, PROBE, PROBE, device=device, requires_grad=True)
        was = net.training
        net.train()
        probe = _saved_bytes(lambda: cnn(x).sum(), net)
        net.train(was)
        parts["encoder"] = probe * (size / PROBE) ** 2 * b * s
        parts["input"] = 4.0 * b * s * spec.channels * size**2 * 2  # x and its resized copy
        full = sum(3 for p in ("rgb", "flow") if p in spec)
        parts["assembly"] = 4.0 * b * s * full * 224**2 * 3  # full-size float intermediates
    # heads + body model + losses: autograd's saved bytes per predicted pose, measured on 4 poses
    rot = torch.eye(3, device=device).expand(4, net.n_rotations, 3, 3).clone().requires_grad_(True)
    shape = torch.zeros(4, net.shape_dim, device=device, requires_grad=True)
    per_pose = _saved_bytes(lambda: loss_fn.joints(rot, shape).sum(), loss_fn) / 4
    parts["heads+body"] = per_pose * b * s * 2 + 4.0 * b * s * cfg.model.head_hidden * 16
    return parts


def available_bytes(device: torch.device) -> int | None:
    """Free memory for the run: CUDA's free bytes, or ``MemAvailable`` on Linux; None if unknown."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check(cfg, model, loss_fn, device: torch.device, available: int | None = None) -> float:
    """Raise :class:`InputError` if one step of ``cfg`` would not fit; returns the estimate (bytes)."""
    parts = estimate(cfg, model, loss_fn, device)
    need = sum(parts.values())
    avail = available if available is not None else available_bytes(device)
    gib = 2**30
    log.info("memory: ~%.1f GiB per training step (%s)", need / gib,
             ", ".join(f"{k} {v / gib:.1f}" for k, v in parts.items()))  # fmt: skip
    if avail is not None and need > FRACTION * avail:
        where = "GPU" if device.type == "cuda" else "RAM"
        raise InputError(
            f"one training step needs ~{need / gib:.1f} GiB but {avail / gib:.1f} GiB of {where} is available "
            f"(data.batch_size={cfg.data.batch_size}, data.frames={cfg.data.frames or 31}, "
            f"model.input_size={cfg.model.input_size or 224}, model.encoder={cfg.model.encoder}): lower "
            f"data.batch_size or data.frames, or set model.input_size=64 / model.encoder=resnet18"
        )
    return need
