"""``motionhmr train``: fit Motion-HMR on synthetic shards.

``train(cfg)`` is the loop (callable from Python); ``train_step`` is one optimizer step on
one batch; building, validation, images and checkpointing are small functions around it.

Runs on CPU, one GPU, or many under ``torchrun`` (DDP: the data loader deals shards to
ranks, see :mod:`motionhmr.data`). On CUDA the network runs under bf16 autocast; the body
model and the losses always run in float32. ``<out>/last.pt`` is rewritten every
``ckpt_every`` steps and at the end, and a rerun with the same ``out`` continues from it:
same weights, optimizer, schedule, RNG state and data position, so with
``deterministic=true`` the resumed run's next loss is the uninterrupted run's. Every
checkpoint carries the training shards' data contract (:mod:`motionhmr.contract`, read from
their ``generate.yaml`` at start-up), which inference follows.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from pathlib import Path

import numpy as np
import torch

from motionhmr import checkpoint
from motionhmr.config import TrainConfig, to_dict
from motionhmr.data import IMAGENET_MEAN, IMAGENET_STD, make_loader
from motionhmr.cache import check_cache
from motionhmr.data import data_roots, image_fields
from motionhmr.inputs import InputSpec, assemble, parse_inputs
from motionhmr.losses import MotionHMRLoss, domain_loss, normalised_to_px, pa_mpjpe, project_weak
from motionhmr.model import MotionHMR

log = logging.getLogger(__name__)


# -- set-up --------------------------------------------------------------------------------
def distributed() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)``; joins the process group when run by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    from synth.errors import InputError

    if name == "auto":
        name = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device={name} but this torch has no usable CUDA; use device=cpu")
    return torch.device(name)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA when ``auto``; None (plain fp32) otherwise."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def build(cfg: TrainConfig, device: torch.device, pose: torch.Tensor | None = None) -> tuple[MotionHMR, MotionHMRLoss]:
    """The network and its loss (with the body model), on ``device``; IEF starts from
    ``pose`` (local rotations ``[J-1, 3, 3]``) or the rest pose."""
    from synth.bodies import build_body

    body = build_body(cfg.body).to(device)
    body.requires_grad_(False)
    if pose is not None and tuple(pose.shape) != (body.skeleton.num_joints - 1, 3, 3):
        from synth.errors import InputError

        raise InputError(f"the shards in {cfg.data.path} hold poses of {pose.shape[0]} joints, body={body.name} has "
                         f"{body.skeleton.num_joints - 1}: train with the body they were generated with")  # fmt: skip
    model = MotionHMR.from_body(cfg.inputs, cfg.model, body, pose).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    return model, MotionHMRLoss(body, cfg.loss).to(device)


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module):
    """Adam + linear warm-up, then cosine decay to 0 (or constant) over ``optim.steps``."""
    o = cfg.optim
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)

    def factor(step: int) -> float:
        if step < o.warmup:
            return (step + 1) / o.warmup
        if o.schedule == "constant":
            return 1.0
        done = min(1.0, (step - o.warmup) / max(1, o.steps - o.warmup))
        return 0.5 * (1.0 + math.cos(math.pi * done))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DDP around ``model``. Without DANN the domain classifier's weights get no gradient,
    every step; plain DDP then never finishes that bucket's all-reduce and leaves each rank
    with its own gradient (measured: 30-80 % off the whole batch's; ``static_graph=True``
    did the same here). ``find_unused_parameters`` marks them each step and reduces the rest
    exactly, for the price of one walk over the autograd graph (tests/motionhmr/test_ddp.py)."""
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=True
    )


def to_device(batch: dict, device: torch.device) -> dict:
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) if torch.is_tensor(v) else v for k, v in batch.items()}


# -- one step ------------------------------------------------------------------------------
def train_step(model, loss_fn, batch: dict, optimizer, scheduler, cfg: TrainConfig,
               dtype: torch.dtype | None, real: dict | None = None) -> dict[str, float]:  # fmt: skip
    """One optimizer step on a synthetic ``batch`` (and, with DANN, a ``real`` batch)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    device = batch["joints3d"].device
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        pred = model(batch)  # the network input is assembled on this device (motionhmr.inputs)
        losses = loss_fn(pred, batch)
        total = losses["loss"]
        if real is not None and cfg.dann.weight > 0:
            net = model.module if hasattr(model, "module") else model
            synthetic_logits = net.domain_logits(pred.current.features, cfg.dann.grl)
            real_logits = net.domain_logits(net.encode(real["x"]), cfg.dann.grl)
            losses["dann"] = domain_loss(synthetic_logits.float(), real_logits.float())
            total = total + cfg.dann.weight * losses["dann"]
    if not torch.isfinite(total):
        raise FloatingPointError(f"non-finite loss {total.item()} ({', '.join(f'{k}={v.item():.4g}' for k, v in losses.items())})")
    total.backward()
    if cfg.optim.grad_clip > 0:
        losses["grad_norm"] = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
    optimizer.step()
    scheduler.step()
    out = {k: float(v.detach()) for k, v in losses.items()}  # a CPU-GPU sync point, once per step
    out["lr"] = scheduler.get_last_lr()[0]
    return out


# -- validation and images -----------------------------------------------------------------
@torch.no_grad()
def validate(model, loss_fn, loader, device, dtype) -> dict[str, float]:
    """Mean loss and PA-MPJPE (mm) over the validation batches, by the synthetic test
    protocol (:func:`motionhmr.evaluate.evaluate_synthetic`): every current prediction plus
    the last future one (the test-time outputs), frames with >= 7 truly visible keypoints
    (so not the totally occluded ones), averaged per clip, then over clips."""
    from motionhmr.evaluate import MIN_VISIBLE

    model.eval()
    per_clip, totals = [], []
    for batch in loader:
        batch = to_device(batch, device)
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            pred = model(batch)
            totals.append(float(loss_fn(pred, batch)["loss"]))
        frames = pred.per_frame()
        t = frames.rotmat.shape[1]
        joints = loss_fn.joints(frames.rotmat, frames.shape)
        err = pa_mpjpe(joints, batch["joints3d"][:, :t].float()).cpu()  # [B, T]
        scored = batch["kp_visible"][:, :t].sum(-1).cpu() >= MIN_VISIBLE
        for e, ok in zip(err, scored):
            if ok.any():
                per_clip.append(float(e[ok].mean()))
    if not per_clip:
        return {}
    return {"val/pa_mpjpe_mm": 1000 * float(np.mean(per_clip)), "val/loss": float(np.mean(totals)),
            "val/clips": float(len(per_clip))}  # fmt: skip


@torch.no_grad()
def joint_images(model, loss_fn, batch: dict, spec: InputSpec, frames: int = 4) -> list[np.ndarray]:
    """Predicted (red) and true (green, visible only) 2D joints over the first clip's input
    crops, at ``frames`` evenly spaced steps: what the W&B panel shows."""
    import cv2

    model.eval()
    first = {k: v[:1] for k, v in batch.items() if torch.is_tensor(v)}
    x = assemble(first, spec)
    pred = model(first).current
    uv = normalised_to_px(project_weak(loss_fn.joints(pred.rotmat, pred.shape), pred.cam.float()))[0].cpu().numpy()
    s = x.shape[1]
    images = []
    for t in np.linspace(0, s - 1, frames).round().astype(int):
        img = input_picture(x[0, t].float().cpu().numpy(), spec)
        for (u, v), ok in zip(batch["kp2d"][0, t].cpu().numpy(), batch["kp_visible"][0, t].cpu().numpy()):
            if ok:
                cv2.circle(img, (int(round(u)), int(round(v))), 4, (0, 255, 0), 1, cv2.LINE_AA)
        for u, v in uv[t]:
            if np.isfinite([u, v]).all():
                cv2.circle(img, (int(round(u)), int(round(v))), 3, (255, 0, 0), -1, cv2.LINE_AA)
        images.append(img)
    return images


def input_picture(x: np.ndarray, spec: InputSpec) -> np.ndarray:
    """One step's input ``[C, H, W]`` as a uint8 RGB picture: the crop if RGB is an input,
    else colour-coded flow, else the heatmaps' maximum."""
    sl = spec.slices()
    if "rgb" in spec:
        rgb = x[sl["rgb"]].transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
        return np.ascontiguousarray((rgb.clip(0, 1) * 255).astype(np.uint8))
    if "flow" in spec:
        from synth.show import flow_to_color

        return np.ascontiguousarray(flow_to_color(x[sl["flow"]][:2].transpose(1, 2, 0) * 20.0))
    grey = (x[sl["kp"]].max(0).clip(0, 1) * 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))


# -- the loop ------------------------------------------------------------------------------
def train(cfg: TrainConfig) -> dict:
    """Train until ``optim.steps``; returns the last logged metrics and the run folder."""
    from tqdm import tqdm

    from motionhmr.wandb_run import Run

    rank, world, local_rank = distributed()
    device = pick_device(cfg.device, local_rank)
    dtype = autocast_dtype(cfg.precision, device)
    spec = parse_inputs(cfg.inputs)
    out = Path(cfg.out)
    seed_everything(cfg.seed + rank, cfg.deterministic)
    for path in filter(None, (cfg.data.path, cfg.data.val_path)):  # a cache must match the run (one line)
        for root in data_roots(path):
            check_cache(root, image_fields(spec), cfg.model.input_size)
    contract = data_contract(cfg) if rank == 0 else None
    model, loss_fn = build(cfg, device, start_pose(cfg, out))
    if cfg.memory_check:
        from motionhmr import memory

        memory.check(cfg, model, loss_fn, device)  # one line now, rather than the OOM killer's silence later
    optimizer, scheduler = make_optimizer(cfg, model)
    step = resume(cfg, out, model, optimizer, scheduler, contract)
    if world > 1:
        model = wrap_ddp(model, device)
    config = to_dict(cfg)
    run = Run(cfg.wandb, config, out, group=spec.name, name=out.name, active=rank == 0)
    real_batches = real_stream(cfg, spec, rank) if cfg.dann.weight > 0 else None
    metrics: dict[str, float] = {}
    bar = tqdm(total=cfg.optim.steps, initial=step, desc=f"train {spec.name}", unit="step", disable=rank != 0)
    seen, t0 = 0, time.perf_counter()
    minutes0 = _trained_minutes(out) if step else 0.0  # a resumed run's clock goes on
    while step < cfg.optim.steps:
        epoch, skip = divmod(step, cfg.epoch_batches)
        # resuming mid-epoch: the same stream, starting after the batches already trained on
        loader = make_loader(cfg.data, spec, "train", rank=rank, world_size=world, epoch=epoch,
                             seed=cfg.seed, batches=cfg.epoch_batches, skip=skip)  # fmt: skip
        for batch in loader:
            batch = to_device(batch, device)
            real = to_device(next(real_batches), device) if real_batches is not None else None
            metrics = train_step(model, loss_fn, batch, optimizer, scheduler, cfg, dtype, real)
            step += 1
            seen += batch["joints3d"].shape[0] * world
            rate = seen / (time.perf_counter() - t0)
            metrics["clips_per_s"] = rate
            metrics["minutes"] = minutes0 + (time.perf_counter() - t0) / 60
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}", clips_s=f"{rate:.2f}")
            if rank == 0:
                periodic(cfg, step, run, model, loss_fn, optimizer, scheduler, batch, spec, device, dtype, metrics, out,
                         contract)  # fmt: skip
            if step >= cfg.optim.steps:
                break
    bar.close()
    if rank == 0:
        checkpoint.save(out / "last.pt", model, optimizer, scheduler, step, config, contract)
        run.summary({k: v for k, v in metrics.items()})
    run.finish()
    return {"step": step, "out": str(out), **metrics}


def periodic(cfg, step, run, model, loss_fn, optimizer, scheduler, batch, spec, device, dtype, metrics, out,
             contract=None) -> None:  # fmt: skip
    """Rank 0's logging, validation, images and checkpoints after ``step``."""
    net = model.module if hasattr(model, "module") else model
    if step % cfg.log_every == 0 or step == 1:
        run.log({f"train/{k}": v for k, v in metrics.items()}, step)
    if cfg.val_every and step % cfg.val_every == 0:
        val = make_loader(cfg.data, spec, "val", seed=cfg.seed, batches=cfg.val_batches)
        metrics.update(validate(net, loss_fn, val, device, dtype))
        run.log({k: v for k, v in metrics.items() if k.startswith("val/")}, step)
        _append_curve(out, step, metrics)
        log.info("step %d: %s", step, ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k.startswith("val/")))
    if cfg.image_every and step % cfg.image_every == 0:
        run.images("train/joints", joint_images(net, loss_fn, batch, spec), step)
    if cfg.ckpt_every and step % cfg.ckpt_every == 0:
        checkpoint.save(out / "last.pt", net, optimizer, scheduler, step, to_dict(cfg), contract)


#: Validation figures per step, one JSON object a line (the learning curve; W&B has the same).
CURVE = "curve.jsonl"


def _append_curve(out: Path, step: int, metrics: dict) -> None:
    import json

    out.mkdir(parents=True, exist_ok=True)
    row = {"step": step, "minutes": round(metrics.get("minutes", 0.0), 3),
           **{k: v for k, v in metrics.items() if k.startswith("val/")}}  # fmt: skip
    with open(out / CURVE, "a") as f:
        f.write(json.dumps(row) + "\n")


def _trained_minutes(out: Path) -> float:
    """The training minutes of the last row of ``out/curve.jsonl`` (0 without one)."""
    import json

    try:
        lines = (out / CURVE).read_text().splitlines()
        return float(json.loads(lines[-1])["minutes"]) if lines else 0.0
    except (OSError, ValueError, KeyError):
        return 0.0


def data_contract(cfg: TrainConfig) -> dict:
    """The training shards' data contract as the checkpoint stores it (:mod:`motionhmr.contract`:
    read from ``data.path/generate.yaml`` and the first sample's meta.json)."""
    from motionhmr.contract import read_contract
    from motionhmr.data import shard_list

    shard_list(cfg.data.path)  # no shards: the loader's one-line error (with its hint) first
    contract = read_contract(cfg.data.path)
    log.info("data contract of %s (from %s): %s", cfg.data.path, contract.source, contract.describe())
    return contract.to_dict()


def start_pose(cfg: TrainConfig, out: Path) -> torch.Tensor | None:
    """IEF's start pose for a new run with ``model.init_pose=data``: the per-joint mean local
    rotation of the training clips (:func:`motionhmr.data.training_poses`). None for
    ``rest``, and when resuming (the checkpoint holds the start it was trained from)."""
    from motionhmr.data import training_poses
    from motionhmr.model.regressor import mean_pose

    resuming = (cfg.resume == "auto" and (out / "last.pt").exists()) or (cfg.resume not in (None, "auto"))
    if cfg.model.init_pose != "data" or resuming:
        return None
    pose = mean_pose(torch.from_numpy(training_poses(cfg.data)))
    log.info("IEF starts from the mean pose of the training clips (model.init_pose=data)")
    return pose


def resume(cfg: TrainConfig, out: Path, model, optimizer, scheduler, contract: dict | None = None) -> int:
    """Restore from ``cfg.resume`` (``auto``: ``out/last.pt`` if present); the step to go on from.
    Shards whose data contract differs from the checkpoint's are a warning naming the fields
    (fine-tuning on other data is allowed; the checkpoints from here on carry the new one)."""
    from synth.errors import InputError

    path = out / "last.pt" if cfg.resume == "auto" else (Path(cfg.resume) if cfg.resume else None)
    if path is None or (cfg.resume == "auto" and not path.exists()):
        return 0
    blob = checkpoint.load(path)
    if blob.get("inference_only"):
        raise InputError(f"{path} is an inference-only export (motionhmr export: no optimizer state); resume from "
                         "the training run's last.pt, or start a new run with out=")  # fmt: skip
    if blob["inputs"] != cfg.inputs and parse_inputs(blob["inputs"]) != parse_inputs(cfg.inputs):
        raise InputError(f"{path} was trained with inputs={blob['inputs']}, this run asks for inputs={cfg.inputs}")
    ours, theirs = to_dict(cfg)["model"], blob["config"].get("model", {})
    differ = [k for k in ours if k != "backbone_weights" and theirs.get(k) != ours[k]]
    if differ:
        raise InputError(f"{path} holds another network ({', '.join(f'model.{k}={theirs.get(k)}' for k in differ)}); "
                         f"use those settings or another out=")  # fmt: skip
    if contract and blob.get("data_contract"):
        from motionhmr.contract import DataContract, differences

        changed = differences(DataContract.from_dict(blob["data_contract"]), DataContract.from_dict(contract))
        if changed:
            log.warning("%s was trained on shards with another data contract (%s); these checkpoints will carry the "
                        "new one", path, ", ".join(changed))  # fmt: skip
    model.load_state_dict(blob["model"])
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    checkpoint.restore_rng(blob["rng"])
    log.info("resumed from %s at step %d", path, blob["step"])
    return int(blob["step"])


def real_stream(cfg: TrainConfig, spec: InputSpec, rank: int):
    """Endless batches of unlabelled real clips for DANN (``{"x": [B, S, C, 224, 224]}``).

    ``dann.real=embedded`` uses the real videos shipped in PyPI packages. Workers are
    spawned, not forked: MediaPipe (the person detector) is not fork-safe."""
    from motionhmr.realvideo import RealClipDataset
    from synth.backgrounds import embedded_videos

    videos = [str(p) for p in embedded_videos()] if cfg.dann.real == "embedded" else cfg.dann.real
    frames = cfg.data.frames or 31
    ds = RealClipDataset(videos, spec, frames=frames, rng=np.random.default_rng([cfg.seed, 1000 + rank]))
    workers = min(cfg.data.workers, 2)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=cfg.data.batch_size, num_workers=workers,
        multiprocessing_context="spawn" if workers else None,
        generator=torch.Generator().manual_seed(cfg.seed + 1000 + rank),
    )  # fmt: skip
    return iter(loader)
