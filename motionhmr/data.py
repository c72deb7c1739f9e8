"""Training data: shards of synthetic clips -> batches of network steps.

Contract
    :func:`make_loader` ``(cfg, spec, split, rank, world_size, epoch, seed, batches, skip)`` -> an
    iterable of batches, each a dict of torch tensors (batch dim ``B`` first):

    ``rgb``               uint8   ``[B, S, 224, 224, 3]``  crops (only when rgb is an input)
    ``flow``              int16   ``[B, S, 224, 224, 2]``  paired-box flow, 1/16 px (only with flow)
    ``rgb_input``,        float16 ``[B, S, 3, n, n]``    instead of ``rgb`` / ``flow`` when the
    ``flow_input``                                 data is a cache (:mod:`motionhmr.cache`)
    ``kp_input_visible``  bool    ``[B, T, 14]``     detector-style visibility (the keypoint input)
    ``joints3d``          float32 ``[B, T, 14, 3]``  camera frame, metres, EVAL_JOINTS order
    ``kp2d``              float32 ``[B, T, 14, 2]``  crop px of the frame's own box (0..224)
    ``kp_visible``        bool    ``[B, T, 14]``     true visibility
    ``kp2d_future``       float32 ``[B, S, 14, 2]``  frame t+1's keypoints in crop-t px
    ``kp_visible_future`` bool    ``[B, S, 14]``     ``kp_visible`` of frame t+1
    ``total_occlusion``   bool    ``[B, T]``
    ``key``               list[str]                  the clips' shard keys (global index)

    with ``T`` the clip's frames (31, or ``cfg.frames``) and ``S = T - 1`` steps. The network
    input is *not* built here: the loader hands over these compact arrays (uint8 crops, the
    stored flow integers, keypoints; ~16 MB a clip with flow instead of ~114 MB of float32
    channels) and :func:`motionhmr.inputs.assemble` builds ``x`` ``[B, S, C, H, W]`` on the
    training device: step t stacks, in :mod:`motionhmr.inputs` order, rgb ``t`` (ImageNet
    normalised), flow ``t -> t+1`` on paired box t (:func:`flow.contract.to_model_input`), the
    heatmaps of frame t (of ``kp_input_visible``) and the total-occlusion indicator: 1 where
    frame t is totally occluded, or, when flow is an input, frame t+1 is (its flow pair was
    zeroed). Totally occluded inputs are exactly 0 after normalisation (the paper zeroes the
    network input), so a hidden RGB frame is the dataset mean, not black. A keypoint-only
    model needs no image at all: its loader decodes ``arrays.npz`` alone.

Splits
    ``train`` and ``val`` are cut by clip key, not by shard: clip ``i`` is validation when
    ``i % cfg.val_every == 0``, so the two never overlap whatever the shard layout (the
    ``per_shard`` of the generator), and the same indices are held out in every dataset made
    with one seed (e.g. the tracked/static ablation). Reading the val split scans every
    shard (skipping train clips before decoding), so for large datasets generate a separate
    validation set (another ``--seed``) and pass it as ``cfg.val_path``: then ``train`` is
    all of ``cfg.path`` and ``val`` all of ``cfg.val_path``.

Ranks and workers
    Shards are dealt to ranks explicitly (shard ``j`` of the epoch's order goes to rank
    ``j % world_size``; the order is one permutation of (seed, epoch) shared by all ranks, so
    there is no overlap and every epoch deals anew), then to DataLoader workers with
    :func:`webdataset.split_by_worker`. A worker without a shard yields nothing, which
    webdataset reports as "No samples found", so the worker count is clamped to the rank's
    shards (logged). Shuffling: the rank's shard order and a buffer of
    ``cfg.shuffle_buffer`` raw records per worker, seeded from (seed, epoch, rank, worker).

Epochs under DDP
    Ranks with uneven shards (or uneven train clips per shard) would run out of data at
    different steps and hang DDP's all-reduce. Pass ``batches=N`` for training: each rank's
    stream then repeats its shards (reshuffled every pass) and the loader stops after exactly
    N batches, so all ranks step together; an "epoch" is N batches per rank, e.g.
    ``clips_in_train / (world_size * batch_size)``, not one exact pass over the data.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import itertools
import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.utils.data

from motionhmr.inputs import FLOW_STEPS, InputSpec, assemble, parse_inputs
from motionhmr.inputs import IMAGENET_MEAN as _IMAGENET_MEAN
from motionhmr.inputs import IMAGENET_STD as _IMAGENET_STD
from synth.crops import CROP, box_affine, to_crop
from synth.errors import InputError
from synth.shards.schema import ARRAYS, Sample, decode, heatmaps

log = logging.getLogger(__name__)

IMAGENET_MEAN = np.array(_IMAGENET_MEAN, np.float32)
IMAGENET_STD = np.array(_IMAGENET_STD, np.float32)
SPLITS = ("train", "val")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the shards are and how they are streamed.

    ``val_every``: clip ``i`` is held out for validation when ``i % val_every == 0``
    (0: nothing held out). Ignored when ``val_path`` names a separate validation set.
    ``shuffle_buffer``: raw records (about 1 MB each) per worker; 0 turns shuffling off.
    ``frames``: train on a window of this many frames of each clip (random for train,
    centred for val), for the clip-length ablation; None keeps the stored length.
    ``kp_offset_px``, ``kp_jitter_px``: detector-style noise on the training clips' 2D
    keypoints (crop px, the person ~150 px tall), :func:`detector_noise`; 0 turns it off.
    ``mirror``: mirror half the training clips left to right (:func:`mirror_steps`).
    """

    path: str
    val_path: str | None = None
    val_every: int = 20
    batch_size: int = 8
    workers: int = 4
    shuffle_buffer: int = 100
    frames: int | None = None
    kp_offset_px: float = 0.0
    kp_jitter_px: float = 0.0
    mirror: bool = False

    def __post_init__(self) -> None:
        if not self.path:
            raise InputError("data.path is empty: give the folder of shard-*.tar files")
        if self.val_every < 0:
            raise InputError(f"data.val_every={self.val_every} must be >= 0 (0: hold nothing out)")
        if self.batch_size < 1:
            raise InputError(f"data.batch_size={self.batch_size} must be >= 1")
        if self.kp_offset_px < 0 or self.kp_jitter_px < 0:
            raise InputError("data.kp_offset_px and data.kp_jitter_px must be >= 0 (crop px; 0 turns the noise off)")
        if self.workers < 0:
            raise InputError(f"data.workers={self.workers} must be >= 0 (0: load in the main process)")
        if self.shuffle_buffer < 0:
            raise InputError(f"data.shuffle_buffer={self.shuffle_buffer} must be >= 0 (0: no shuffling)")
        if self.frames is not None and self.frames < 2:
            raise InputError(f"data.frames={self.frames} must be >= 2 (one step needs two frames) or null")


# -- one clip ------------------------------------------------------------------------------
def sample_to_steps(sample: Sample, spec: InputSpec | str, cached: dict | None = None) -> dict:
    """One decoded clip -> the training dict of the module contract, without the batch dim:
    numpy arrays and ``key`` (str). The network input is handed over compact (module doc);
    :func:`motionhmr.inputs.assemble` builds ``x`` from it on the training device.

    Only the parts in ``spec`` are kept (``sample`` may lack the others, see
    :func:`synth.shards.schema.decode`). ``cached``: a cache's reduced inputs of this clip
    (``{"flow": float16 [T-1, 3, n, n]}`` etc., :func:`decode_record`), handed over as
    ``flow_input`` / ``rgb_input`` in place of the full-size field."""
    spec = parse_inputs(spec)
    cached = cached or {}
    a = sample.arrays
    t_len = sample.frames
    s_len = t_len - 1
    if s_len < 1:
        raise InputError(f"sample {sample.key} has {t_len} frame(s); a step needs two")
    total = a["total_occlusion"].astype(bool)
    out = {f"{part}_input": np.ascontiguousarray(x[:s_len]) for part, x in cached.items() if part in spec}
    if "rgb" in spec and "rgb" not in cached:
        out["rgb"] = np.ascontiguousarray(sample.rgb[:s_len])
    if "flow" in spec and "flow" not in cached:
        # the stored integers (1/16 px, exact): half the bytes of float32 px
        out["flow"] = np.rint(sample.flow[:s_len] * FLOW_STEPS).astype(np.int16)
    return {
        **out,
        "kp_input_visible": a["kp_input_visible"].astype(bool),
        "joints3d": a["joints3d"].astype(np.float32),
        "kp2d": a["kp2d"].astype(np.float32),
        "kp_visible": a["kp_visible"].astype(bool),
        "kp2d_future": future_keypoints(a["kp2d"], a["boxes"]),
        "kp_visible_future": a["kp_visible"][1:].astype(bool),
        "total_occlusion": total,
        "key": sample.key,
    }


def detector_noise(kp2d: np.ndarray, rng: np.random.Generator, offset_px: float, jitter_px: float) -> np.ndarray:
    """Keypoints ``[T, J, 2]`` crop px as a real 2D detector would place them: one offset per
    clip and keypoint (normal, sd ``offset_px``) plus independent per-frame jitter (sd
    ``jitter_px``).

    Why an offset per clip: a detector's keypoints are not the body model's joints. MediaPipe's
    hips, shoulders and knees sit a few cm from Anny's (measured on Pose2Sim's demo, the
    triangulated hip width is 197 mm where the prediction's is 222, and its shins are shorter
    than its thighs where Anny's are longer), and that difference holds for the whole clip.
    A model trained on exact projections reads such a shift as foreshortening, i.e. depth.
    The jitter is the detector's frame-to-frame noise. Only the input is perturbed for the
    3D loss; the 2D loss then sees the same shifted keypoints, as a detector's labels would."""
    t, j, _ = kp2d.shape
    noise = rng.normal(0.0, offset_px, (1, j, 2)) + rng.normal(0.0, jitter_px, (t, j, 2))
    return (kp2d + noise).astype(np.float32)


def mirror_steps(steps: dict) -> dict:
    """One clip's training dict (:func:`sample_to_steps`) mirrored left to right, as if the
    person did the motion with the other side: the crops flipped about their vertical centre
    line, 2D keypoints ``x -> 223 - x``, 3D joints ``x -> -x`` (camera frame), flow's ``u``
    negated, and every left joint's label given to its right twin (``EVAL_FLIP``).

    Why: 31 minutes of open mocap hold each motion with one handedness (a right-handed throw,
    a lunge on the left leg); a mirrored clip is as real a motion and costs nothing to make.
    The loss sees no body-model rotations (3D joints and 2D only), so no rotation is mirrored.
    Cached reduced inputs (``*_input``) are not mirrored: the caller refuses that case."""
    from synth.conventions import EVAL_FLIP

    flip = list(EVAL_FLIP)
    out = dict(steps)
    last = CROP - 1
    for key in ("kp2d", "kp2d_future"):
        kp = steps[key][:, flip].copy()
        kp[..., 0] = last - kp[..., 0]
        out[key] = kp
    for key in ("kp_input_visible", "kp_visible", "kp_visible_future"):
        out[key] = steps[key][:, flip].copy()
    joints = steps["joints3d"][:, flip].copy()
    joints[..., 0] = -joints[..., 0]
    out["joints3d"] = joints
    if "rgb" in steps:
        out["rgb"] = np.ascontiguousarray(steps["rgb"][:, :, ::-1])
    if "flow" in steps:
        flow = np.ascontiguousarray(steps["flow"][:, :, ::-1])
        flow[..., 0] = -flow[..., 0]
        out["flow"] = flow
    return out


def steps_input(sample: Sample, spec: InputSpec | str, size: int | None = None) -> np.ndarray:
    """The network input float32 ``[S, C, size, size]`` of one clip (``x`` of the old loader
    contract): :func:`sample_to_steps` then :func:`motionhmr.inputs.assemble`, on the CPU."""
    steps = collate([sample_to_steps(sample, spec)])
    return assemble(steps, spec, size)[0].numpy()


def image_fields(spec: InputSpec | str) -> tuple[str, ...]:
    """The image-like shard fields ``spec`` needs decoded (none for ``inputs=kp``)."""
    spec = parse_inputs(spec)
    return tuple(f for f in ("rgb", "flow") if f in spec)


def decode_record(record: dict, spec: InputSpec | str) -> tuple[Sample, dict[str, np.ndarray]]:
    """A raw record of a shard folder or of a cache -> (the clip with the image fields
    ``spec`` needs decoded, the cache's reduced inputs of those fields: ``{part: float16
    [T-1, 3, n, n]}``, empty for plain shards). A cached field is not decoded again."""
    from motionhmr.cache import CACHED_FILE

    cached = {}
    for part in image_fields(spec):
        name = CACHED_FILE[part]
        if name in record:
            cached[part] = np.load(io.BytesIO(record[name]), allow_pickle=False)
    return decode(record, tuple(f for f in image_fields(spec) if f not in cached)), cached


def future_keypoints(kp2d: np.ndarray, boxes: np.ndarray, crop: int = CROP) -> np.ndarray:
    """Frame t+1's keypoints in crop-t pixels, float32 ``[T-1, J, 2]``.

    ``kp2d`` ``[T, J, 2]`` crop px of each frame's own box; ``boxes`` ``[T, 3]`` (cx, cy, side)
    background px. Crop t+1 -> background (inverse of :func:`synth.crops.box_affine`) ->
    crop t (:func:`synth.crops.to_crop`): the window the flow of step t is measured in."""
    background = from_crop(kp2d[1:], boxes[1:], crop)
    return to_crop(background, boxes[:-1], crop)


def from_crop(points: np.ndarray, boxes: np.ndarray, crop: int = CROP) -> np.ndarray:
    """Crop pixels ``[T, J, 2]`` -> background pixels, inverting each frame's box."""
    a = np.stack([box_affine(b, crop) for b in boxes]).astype(np.float64)  # [T, 2, 3], x' = s x + o
    scale, offset = a[:, 0, 0], a[:, :, 2]
    return ((points - offset[:, None, :]) / scale[:, None, None]).astype(np.float32)


def crop_window(sample: Sample, start: int, frames: int) -> Sample:
    """Frames ``start .. start + frames - 1`` of a clip (and the flows between them)."""
    if not 0 <= start <= sample.frames - frames:
        raise InputError(f"sample {sample.key}: a {frames}-frame window at {start} exceeds its {sample.frames} frames")
    window = slice(start, start + frames)
    arrays = {k: (v[window] if ARRAYS[k][1][0] == "T" else v) for k, v in sample.arrays.items()}
    cut = lambda v, w: None if v is None else v[w]  # noqa: E731 (fields left undecoded stay None)
    return dataclasses.replace(
        sample,
        rgb=cut(sample.rgb, window),
        flow=cut(sample.flow, slice(start, start + frames - 1)),
        occluder=cut(sample.occluder, window),
        arrays=arrays,
        meta={**sample.meta, "frames": frames, "window_start": start},
    )


def collate(items: list[dict]) -> dict:
    """Per-clip dicts of :func:`sample_to_steps` -> the batch dict (torch tensors, ``key`` a list)."""
    batch = {k: torch.from_numpy(np.stack([it[k] for it in items])) for k in items[0] if k != "key"}
    batch["key"] = [it["key"] for it in items]
    return batch


# -- splits --------------------------------------------------------------------------------
def split_of(key: str, val_every: int) -> str:
    """``"val"`` when the clip's global index is a multiple of ``val_every`` (> 0), else ``"train"``."""
    if not key.isdigit():
        raise InputError(f"shard key {key!r} is not a clip index; were these shards written by synth generate?")
    return "val" if val_every > 0 and int(key) % val_every == 0 else "train"


def _in_split(split: str, val_every: int, record: dict) -> bool:
    return split_of(record["__key__"], val_every) == split


def shard_list(path: str | Path) -> list[str]:
    """The sorted ``shard-*.tar`` files of ``path``; a one-line InputError if there are none.

    ``path`` may name several folders, comma-separated (``data=shards_a/,shards_b/``): sets
    generated with different motion or backgrounds train together, folder after folder. Each
    folder's clips keep their own keys, so each holds out its own ``val_every``-th clips."""
    from synth.shards.reader import shard_files

    out = []
    for root in data_roots(path):
        try:
            out += [str(p) for p in shard_files(root)]
        except InputError as e:
            raise InputError(f"{e}: make training data with  synth generate --n N --out {root}") from None
    return out


def data_roots(path: str | Path) -> list[str]:
    """The folders of a ``data.path`` (one, or several comma-separated)."""
    return [p.strip() for p in str(path).split(",") if p.strip()]


def rank_shards(shards: list[str], rank: int, world_size: int, order_seed: tuple[int, ...] | None) -> list[str]:
    """Rank ``rank``'s shards: every ``world_size``-th of the list, after a permutation drawn
    from ``order_seed`` (the same on every rank, so ranks never share a shard) or none."""
    if not 0 <= rank < world_size:
        raise InputError(f"rank {rank} is outside 0..{world_size - 1}")
    order = list(shards)
    if order_seed is not None:
        order = [order[i] for i in np.random.default_rng(list(order_seed)).permutation(len(order))]
    mine = order[rank::world_size]
    if not mine:
        raise InputError(
            f"{len(shards)} shard(s) cannot feed {world_size} ranks: generate more, smaller shards (--per-shard)"
        )
    return mine


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


# -- streaming -----------------------------------------------------------------------------
class ShardDataset(torch.utils.data.IterableDataset):
    """An iterable dataset over one rank's shards: per-clip dicts of
    :func:`sample_to_steps`. Each DataLoader worker reads its own shards
    (the slice :func:`webdataset.split_by_worker` takes).

    ``keep(record) -> bool`` filters raw records before decoding (the split).
    ``window``: None keeps whole clips; ``(frames, "random" | "centre")`` cuts windows.
    ``shuffle``: shard order and a ``buffer``-record shuffle from ``seed`` (plus worker, pass).
    ``repeat``: cycle the shards forever (the loader bounds the epoch).
    ``skip_batches``: the loader's first batches of ``batch_size`` clips to pass over without
    decoding (a resumed run's position in its epoch). The DataLoader takes batch ``i`` from
    worker ``i % W``, so a resumed loader's worker ``j`` plays the uninterrupted run's worker
    ``(j + skip_batches) % W`` (its shards, seeds and place in the stream) and skips
    ``batch_size`` records per batch that worker already gave; order, shuffling and windows
    do not depend on decoding, so what follows is exactly what the uninterrupted run saw next.
    """

    def __init__(self, shards: list[str], spec: InputSpec, *, keep: Callable[[dict], bool] | None = None,
                 window: tuple[int, str] | None = None, shuffle: bool = False, buffer: int = 0,
                 seed: tuple[int, ...] = (0,), repeat: bool = False, skip_batches: int = 0,
                 batch_size: int = 1, kp_noise: tuple[float, float] = (0.0, 0.0),
                 mirror: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.shards, self.spec, self.keep, self.kp_noise = list(shards), spec, keep, kp_noise
        self.mirror = mirror
        self.window, self.shuffle, self.buffer, self.seed, self.repeat = window, shuffle, buffer, seed, repeat
        self.skip_batches, self.batch_size = skip_batches, batch_size

    def _role(self) -> tuple[int, int, int]:
        """(the worker this one plays, of how many, records it skips): see the class doc."""
        info = torch.utils.data.get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        role = (worker + self.skip_batches) % workers
        return role, workers, self.batch_size * len(range(role, self.skip_batches, workers))

    def __iter__(self) -> Iterator[dict]:
        import webdataset as wds

        # webdataset.split_by_worker's slice, but by role rather than by the process's id
        worker, workers, skip = self._role()
        mine = self.shards[worker::workers]
        for p in itertools.count() if self.repeat else (0,):
            order = list(mine)
            if self.shuffle:
                random.Random(_seed(*self.seed, worker, p, 0)).shuffle(order)
            records = wds.tarfile_to_samples()(iter([{"url": u} for u in order]))
            if self.keep is not None:
                records = (r for r in records if self.keep(r))
            if self.shuffle and self.buffer > 0:
                rng = random.Random(_seed(*self.seed, worker, p, 1))
                records = wds.shuffle(self.buffer, initial=self.buffer, rng=rng)(records)
            n = 0
            for record in records:
                n += 1
                if skip:  # resuming: this record went into a batch the run already trained on
                    skip -= 1
                    continue
                sample, cached = decode_record(record, self.spec)
                sample, cached = self._cut(sample, cached, p)
                steps = sample_to_steps(sample, self.spec, cached)
                if any(self.kp_noise):  # per clip and pass, independent of which worker reads it
                    rng = np.random.default_rng([*self.seed, p, int(sample.key), 1])
                    steps["kp2d"] = detector_noise(steps["kp2d"], rng, *self.kp_noise)
                if self.mirror and np.random.default_rng([*self.seed, p, int(sample.key), 2]).random() < 0.5:
                    if any(k.endswith("_input") for k in steps):
                        raise InputError("data.mirror=true does not mirror a cache's reduced inputs: train on the "
                                         "shards (or turn data.mirror off)")  # fmt: skip
                    steps = mirror_steps(steps)
                yield steps
            if self.repeat and n == 0:
                raise InputError(f"shards {mine} hold no clips of this split; a repeating stream would spin forever")

    def _cut(self, sample: Sample, cached: dict, p: int) -> tuple[Sample, dict]:
        if self.window is None:
            return sample, cached
        frames, how = self.window
        if frames > sample.frames:
            raise InputError(f"data.frames={frames} but clip {sample.key} has {sample.frames} frames")
        if how == "centre":
            start = (sample.frames - frames) // 2
        else:  # per clip and pass, independent of which worker reads it
            start = int(np.random.default_rng([*self.seed, p, int(sample.key)]).integers(sample.frames - frames + 1))
        steps = slice(start, start + frames - 1)
        return crop_window(sample, start, frames), {part: x[steps] for part, x in cached.items()}


@dataclasses.dataclass
class Loader:
    """Batches of one rank for one epoch. ``len()`` is ``batches`` when it was given."""

    loader: torch.utils.data.DataLoader
    batches: int | None
    workers: int
    shards: list[str]

    def __iter__(self) -> Iterator[dict]:
        it = iter(self.loader)
        return it if self.batches is None else itertools.islice(it, self.batches)

    def __len__(self) -> int:
        if self.batches is None:
            raise TypeError("this loader streams until its shards end; pass batches=N for a fixed length")
        return self.batches


def make_loader(cfg: DataConfig, spec: InputSpec | str, split: str = "train", *, rank: int = 0,
                world_size: int = 1, epoch: int = 0, seed: int = 0, batches: int | None = None,
                skip: int = 0) -> Loader:  # fmt: skip
    """Rank ``rank``'s batches of ``split`` for ``epoch`` (module docstring: contract, splits,
    ranks, DDP epochs). ``train`` shuffles, drops each worker's last partial batch and cuts
    random windows; ``val`` keeps the file order, partial batches and centred windows.
    ``batches``: for ``train`` the stream repeats and exactly this many batches come; for
    ``val`` at most this many. ``skip`` (train with ``batches``): start after the epoch's
    first ``skip`` batches, as a resumed run does, without decoding them; ``len()`` is then
    ``batches - skip``."""

    spec = parse_inputs(spec)
    if split not in SPLITS:
        raise InputError(f"split={split!r} is unknown; choose one of {', '.join(SPLITS)}")
    if batches is not None and batches < 1:
        raise InputError(f"batches={batches} must be >= 1 or None")
    train = split == "train"
    if skip and not (train and batches is not None and 0 <= skip < batches):
        raise InputError(f"skip={skip} needs the train split with batches=N and 0 <= skip < N")
    root = cfg.val_path if (not train and cfg.val_path) else cfg.path
    keep = None
    if not cfg.val_path:
        if not train and cfg.val_every == 0:
            raise InputError("no validation split: set data.val_every > 0 or data.val_path=DIR")
        keep = functools.partial(_in_split, split, cfg.val_every)
    shards = shard_list(root)
    if cfg.frames is not None:
        _check_frames(shards[0], cfg.frames, root)
    mine = rank_shards(shards, rank, world_size, (seed, epoch) if train else None)
    workers = min(cfg.workers, len(mine))
    if workers < cfg.workers:
        log.info("data: %d workers asked, rank %d has %d %s shard(s): using %d (a worker without a shard "
                 "would find no samples)", cfg.workers, rank, len(mine), split, workers)  # fmt: skip
    ds = ShardDataset(
        mine, spec, keep=keep,
        window=None if cfg.frames is None else (cfg.frames, "random" if train else "centre"),
        shuffle=train, buffer=cfg.shuffle_buffer, seed=(seed, epoch, rank),
        repeat=train and batches is not None, skip_batches=skip, batch_size=cfg.batch_size,
        kp_noise=(cfg.kp_offset_px, cfg.kp_jitter_px) if train else (0.0, 0.0), mirror=cfg.mirror and train,
    )  # fmt: skip
    loader = torch.utils.data.DataLoader(
        ds, batch_size=cfg.batch_size, collate_fn=collate, num_workers=workers,
        drop_last=train, pin_memory=torch.cuda.is_available(),
        # Its own generator: otherwise creating the iterator draws worker seeds from torch's
        # global RNG, so dropout after a resume would differ from the uninterrupted run.
        generator=torch.Generator().manual_seed(_seed(seed, epoch, rank)),
    )  # fmt: skip
    return Loader(loader, None if batches is None else batches - skip, workers, mine)


def training_poses(cfg: DataConfig, limit: int = 500) -> np.ndarray:
    """Local body-model poses float32 ``[N, P, 3, 3]`` of up to ``limit`` training clips (every
    frame; ``arrays.npz`` only, in file order): what :func:`motionhmr.model.regressor.mean_pose`
    averages for the IEF start (``model.init_pose=data``)."""
    from synth.shards.reader import iter_records

    poses = []
    keep = None if cfg.val_path else functools.partial(_in_split, "train", cfg.val_every)
    for shard in shard_list(cfg.path):
        for record in iter_records(Path(shard)):
            if keep is not None and not keep(record):
                continue
            with np.load(io.BytesIO(record["arrays.npz"])) as a:
                poses.append(a["pose"].astype(np.float32))
            if len(poses) >= limit:
                return np.concatenate(poses)
    if not poses:
        raise InputError(f"{cfg.path} holds no training clips to take the mean pose from (model.init_pose=data)")
    return np.concatenate(poses)


def _check_frames(shard: str, frames: int, root) -> None:
    """Fail at start-up, not in a worker, when the window is longer than the stored clips."""
    import json

    from synth.shards.reader import iter_records

    first = next(iter(iter_records(Path(shard))), None)
    if first is None:
        raise InputError(f"{shard} holds no clips")
    stored = int(json.loads(first["meta.json"])["frames"])
    if frames > stored:
        raise InputError(
            f"data.frames={frames} but the clips in {root} have {stored} frames: "
            f"generate longer clips with  synth generate ... frames={frames}"
        )
