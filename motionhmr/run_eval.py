"""``motionhmr eval``: score a checkpoint on 3DPW (the paper's protocol) or held-out shards.

    motionhmr eval ckpt=runs/flow+kp/last.pt data=3dpw data.path=/data/3DPW [body.model_path=/data/smpl]
    motionhmr eval ckpt=runs/flow+kp/last.pt data=synthetic data.path=shards_val/

3DPW: the test split's images and 3DPW's own 2D detections become the network inputs
exactly as real video does in ``predict`` (:mod:`motionhmr.realvideo`: detector-style boxes,
paired-box flow with the training flow backend, heatmaps; frames with < 7 detections are
total occlusions), then :func:`motionhmr.evaluate.evaluate_3dpw` scores them. PVE needs the
SMPL files (``body.model_path``) and a model trained with ``body=smpl``; else it is n/a.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from synth.errors import InputError

log = logging.getLogger(__name__)
DATASETS = ("3dpw", "synthetic")
MAX_SIDE = 960  # px: 3DPW frames are decoded at most this large


@dataclasses.dataclass
class EvalDataConfig:
    name: str = "synthetic"  # 3dpw | synthetic
    path: str | None = None
    split: str = "test"  # 3dpw split
    max_clips: int | None = None  # synthetic: score at most this many clips


@dataclasses.dataclass
class EvalConfig:
    ckpt: str = "???"
    data: EvalDataConfig = dataclasses.field(default_factory=EvalDataConfig)
    device: str = "auto"
    flow: str | None = None  # flow backend spec for real frames; None: the generator default (dis:medium)
    smpl_path: str | None = None  # SMPL model folder: ground-truth meshes for PVE on 3DPW
    out: str | None = None  # write results JSON here
    wandb: str = "disabled"  # offline | online | disabled: log the table to W&B

    def __post_init__(self) -> None:
        if self.data.name not in DATASETS:
            raise InputError(f"data={self.data.name!r} is unknown; choose one of {', '.join(DATASETS)}")
        if not self.data.path:
            raise InputError(f"data.path is missing: the folder of {'3DPW (with sequenceFiles/)' if self.data.name == '3dpw' else 'shard-*.tar files'}")


def parse_eval_args(overrides: list[str]) -> EvalConfig:
    """``key=value`` overrides (``data=3dpw`` names the dataset) -> a checked EvalConfig."""
    from omegaconf import OmegaConf

    from synth.config import typed

    items = []
    for o in overrides:
        key, sep, value = o.partition("=")
        if not sep:
            raise InputError(f"expected key=value, got {o!r}")
        items.append(f"data.name={value}" if key == "data" else o)
    try:
        raw = OmegaConf.from_dotlist(items)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"bad override: {e}") from None
    cfg = typed(raw, EvalConfig)
    if cfg.ckpt == "???":
        raise InputError("ckpt=FILE is required (a last.pt written by motionhmr train)")
    return cfg


def evaluate_checkpoint(cfg: EvalConfig):
    from motionhmr.evaluate import evaluate_3dpw, evaluate_synthetic
    from motionhmr.inference import Predictor

    predictor = Predictor.from_checkpoint(cfg.ckpt, cfg.device)
    if cfg.data.name == "synthetic":
        from motionhmr.data import image_fields, sample_to_steps
        from synth.shards.reader import iter_records, shard_files
        from synth.shards.schema import decode

        def samples():
            count = 0
            for shard in shard_files(cfg.data.path):
                for record in iter_records(shard):
                    if cfg.data.max_clips is not None and count >= cfg.data.max_clips:
                        return
                    count += 1
                    yield decode(record, image_fields(predictor.spec))

        results = evaluate_synthetic(lambda s: predictor(sample_to_steps(s, predictor.spec)).joints3d, samples())
    else:
        from motionhmr.threedpw import gendered_smpl, load_split

        flow = _flow_backend(cfg.flow)
        body = gendered_smpl(cfg.smpl_path) if cfg.smpl_path else None
        results = evaluate_3dpw(_threedpw_predict_fn(predictor, flow), load_split(cfg.data.path, cfg.data.split), body=body)
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        Path(cfg.out).write_text(json.dumps({"ckpt": cfg.ckpt, **results.to_dict()}, indent=2))
    if cfg.wandb != "disabled":
        _log_wandb(cfg, predictor, results)
    return results


def _flow_backend(spec: str | None):
    from flow import build_backend

    return build_backend(spec or "dis:medium")


def _threedpw_predict_fn(predictor, flow):
    """3DPW person track -> per-frame camera-frame joints, through the real-video pipeline."""
    import cv2

    from motionhmr.realvideo import steps as real_steps

    from motionhmr.keypoint_files import CONF_THRESHOLD

    def predict(seq, person, kp2d, conf, occluded, windows):
        # 3DPW frames are 1080x1920: decode at half size (a person box still spans > 224 px)
        # so a 1,000-frame sequence fits in memory; the keypoints scale with them.
        frames, scale = [], 1.0
        for i in range(person.num_frames):
            img = cv2.imread(str(seq.image_path(i)))
            if img is None:
                raise InputError(f"cannot read 3DPW image {seq.image_path(i)}")
            scale = min(1.0, MAX_SIDE / max(img.shape[:2]))
            frames.append(cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)[..., ::-1])
        # The same rule as the protocol's: conf > CONF_THRESHOLD, < 7 visible = total occlusion.
        clip = real_steps(np.stack(frames), kp2d * scale, conf, predictor.spec, flow, conf_threshold=CONF_THRESHOLD)
        return predictor(clip.inputs).joints3d

    return predict


def _log_wandb(cfg: EvalConfig, predictor, results) -> None:
    from motionhmr.config import WandbConfig
    from motionhmr.wandb_run import Run

    out = Path(cfg.ckpt).parent
    run = Run(WandbConfig(mode=cfg.wandb), {"eval": dataclasses.asdict(cfg)}, out / "eval", group=predictor.spec.name,
              name=f"eval-{cfg.data.name}-{out.name}")  # fmt: skip
    run.summary(results.to_dict())
    rows = [[p.sequence, p.person, p.scored, p.pa_mpjpe, p.mpjpe, p.accel] for p in results.people]
    run.table(f"eval/{cfg.data.name}", ["sequence", "person", "scored", "pa_mpjpe", "mpjpe", "accel"], rows)
    run.finish()
