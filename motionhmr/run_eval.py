"""``motionhmr eval``: score a checkpoint on 3DPW (the paper's protocol) or held-out shards.

    motionhmr eval ckpt=runs/flow+kp/last.pt data=3dpw data.path=/data/3DPW \
        smpl_path=/data/smpl data.regressor=/data/hmr/neutral_smpl_with_cocoplus_reg.pkl
    motionhmr eval ckpt=runs/flow+kp/last.pt data=synthetic data.path=shards_val/
    motionhmr eval ckpt=runs/flow+kp/last.pt data=multiview data.path=embedded [data.view=cam01] [refine=true]
    motionhmr eval data=multiview data.path=embedded          # no ckpt=: the shipped model

Multiview (:mod:`motionhmr.multiview`): a calibrated multi-camera recording; MediaPipe on
every view is triangulated into a 3D reference, and the model runs on one view at a time
(:mod:`motionhmr.multiview.score`), next to the best constant pose on the same frames.

3DPW: the test split's images and 3DPW's own 2D detections become the network inputs
exactly as real video does in ``predict`` (:mod:`motionhmr.realvideo`: frames decoded at the
training frame height, detector-style boxes, paired-box flow with the training flow backend,
heatmaps, all from the checkpoint's data contract, :mod:`motionhmr.contract`; frames with
< 7 detections are total occlusions), then :func:`motionhmr.evaluate.evaluate_3dpw` scores
them. PVE needs the SMPL files (``smpl_path``) and a model trained with ``body=smpl``;
else it is n/a.

3DPW ground-truth joints, ``data.joints``: ``mesh`` (the paper's protocol: 14 joints regressed
from the gendered SMPL mesh with HMR's cocoplus regressor; needs ``smpl_path`` and
``data.regressor``), ``skeleton`` (SMPL's skeleton joints; not comparable with published
figures) or ``auto`` (the default: ``mesh`` when both files are given, else ``skeleton`` with
a warning). The results JSON records the choice as ``3dpw/gt_joints``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from synth.errors import InputError

log = logging.getLogger(__name__)
DATASETS = ("3dpw", "synthetic", "multiview")
GT_JOINTS = ("auto", "mesh", "skeleton")  # data.joints: 3DPW ground truth (module docstring)


@dataclasses.dataclass
class EvalDataConfig:
    name: str = "synthetic"  # 3dpw | synthetic | multiview
    path: str | None = None  # multiview: a recording folder, or "embedded" (Pose2Sim's demo)
    split: str = "test"  # 3dpw split
    joints: str = "auto"  # 3dpw ground-truth joints: auto | mesh | skeleton (module docstring)
    regressor: str | None = None  # 3dpw: HMR's cocoplus joint regressor (.pkl/.npy/.npz) for mesh joints
    max_clips: int | None = None  # synthetic: score at most this many clips
    view: str | None = None  # multiview: score this camera only (default: each camera in turn)


@dataclasses.dataclass
class EvalConfig:
    ckpt: str = "???"
    data: EvalDataConfig = dataclasses.field(default_factory=EvalDataConfig)
    device: str = "auto"
    flow: str | None = None  # flow backend spec for real frames; None: the checkpoint's (its data contract)
    smpl_path: str | None = None  # SMPL model folder: ground-truth meshes for PVE on 3DPW
    out: str | None = None  # write results JSON here
    wandb: str = "disabled"  # offline | online | disabled: log the table to W&B
    refine: bool = False  # multiview: fit each view's bodies to its detections (motionhmr/refine.py)

    def __post_init__(self) -> None:
        if self.data.name not in DATASETS:
            raise InputError(f"data={self.data.name!r} is unknown; choose one of {', '.join(DATASETS)}")
        if self.data.joints not in GT_JOINTS:
            raise InputError(f"data.joints={self.data.joints!r} is unknown; choose one of {', '.join(GT_JOINTS)}")
        if self.data.name == "3dpw" and self.data.joints != "skeleton":
            if self.data.regressor and not self.smpl_path:
                raise InputError("data.regressor is applied to the SMPL mesh: also give "
                                 "smpl_path=<folder with smpl/SMPL_MALE.npz, SMPL_FEMALE.npz>")
            if self.data.joints == "mesh" and not (self.data.regressor and self.smpl_path):
                raise InputError("data.joints=mesh needs smpl_path=<SMPL folder> and data.regressor=<HMR's "
                                 "neutral_smpl_with_cocoplus_reg.pkl or its cocoplus_regressor as .npy>")
        if not self.data.path:
            what = {"3dpw": "3DPW (with sequenceFiles/)", "synthetic": "shard-*.tar files",
                    "multiview": "a calibrated recording (calibration/, videos/), or data.path=embedded"}
            raise InputError(f"data.path is missing: the folder of {what[self.data.name]}")
        if self.refine and self.data.name != "multiview":
            raise InputError("refine=true is wired for data=multiview (and motionhmr predict --refine); "
                             f"data={self.data.name} scores the network alone")  # fmt: skip
        if self.data.view is not None and self.data.name != "multiview":
            raise InputError("data.view picks a camera of data=multiview; it means nothing for data=" + self.data.name)


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
    if "ckpt" not in raw:
        from motionhmr.weights import default_checkpoint

        raw.ckpt = str(default_checkpoint("kp"))
        log.info("no ckpt=: scoring the shipped model %s", raw.ckpt)
    return typed(raw, EvalConfig)


def evaluate_checkpoint(cfg: EvalConfig):
    from motionhmr.contract import choose_flow, of_checkpoint
    from motionhmr.evaluate import evaluate_3dpw, evaluate_synthetic
    from motionhmr.inference import Predictor

    # The data contract first: a flow= the model was not trained on fails before the build.
    spec, contract = of_checkpoint(cfg.ckpt)
    real = cfg.data.name in ("3dpw", "multiview")
    flow_cfg = choose_flow(contract, cfg.flow, cfg.ckpt, "flow=") if real and "flow" in spec else None
    predictor = Predictor.from_checkpoint(cfg.ckpt, cfg.device, contract=contract)
    if cfg.data.name == "synthetic":
        _compare_contracts(cfg.ckpt, contract, cfg.data.path)
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
    elif cfg.data.name == "multiview":
        from motionhmr.multiview.recording import build_reference, open_recording
        from motionhmr.multiview.score import evaluate_multiview

        rec = open_recording(cfg.data.path)
        views = [rec.camera(cfg.data.view).name] if cfg.data.view else None  # a bad name fails before detection
        results = evaluate_multiview(predictor, rec, build_reference(rec), views, _flow_backend(flow_cfg),
                                     refine=cfg.refine)  # fmt: skip
    else:
        from motionhmr.threedpw import gendered_smpl, load_joint_regressor, load_split

        flow = _flow_backend(flow_cfg)
        body = gendered_smpl(cfg.smpl_path) if cfg.smpl_path else None
        use_mesh = cfg.data.joints != "skeleton" and bool(cfg.data.regressor)
        regressor = load_joint_regressor(cfg.data.regressor) if use_mesh else None
        # the predicted mesh: for PVE, and for regressing the predicted joints like the ground truth
        vertices = body is not None and getattr(predictor.body, "name", None) == "smpl"
        results = evaluate_3dpw(_threedpw_predict_fn(predictor, flow, vertices), load_split(cfg.data.path, cfg.data.split),
                                body=body, regressor=regressor)  # fmt: skip
    if cfg.out:
        Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
        gt_joints = {f"{results.dataset}/gt_joints": results.gt_joints} if results.gt_joints else {}
        Path(cfg.out).write_text(json.dumps({"ckpt": cfg.ckpt, **gt_joints, **results.to_dict()}, indent=2))
    if cfg.wandb != "disabled":
        _log_wandb(cfg, predictor, results)
    return results


def _flow_backend(flow_cfg):
    """The backend of a :class:`flow.config.FlowConfig` (None: the model reads no flow)."""
    from flow import build_backend

    return None if flow_cfg is None else build_backend(flow_cfg)


def _compare_contracts(ckpt: str, contract, path: str) -> None:
    """Warn, naming the fields, when held-out shards were made with other input settings than
    the training shards (a warning, not an error: scoring across them can be the point)."""
    from motionhmr.contract import GENERATE_YAML, differences, read_contract

    if not (Path(path) / GENERATE_YAML).is_file():
        return  # read_contract would warn about the file; the clips decode all the same
    # The clip length may differ: the Predictor's windows take any.
    changed = [d for d in differences(contract, read_contract(path)) if not d.startswith("clip_frames ")]
    if changed:
        log.warning("%s was trained on shards made with other input settings than %s: %s", ckpt, path, ", ".join(changed))


def _threedpw_predict_fn(predictor, flow, vertices: bool = False):
    """3DPW person track -> per-frame camera-frame joints (and, with ``vertices``, the
    predicted SMPL meshes as a TrackPrediction), through the real-video pipeline."""
    import cv2

    from motionhmr.realvideo import steps as real_steps

    from motionhmr.keypoint_files import CONF_THRESHOLD

    def predict(seq, person, kp2d, conf, occluded, windows):
        # At the training frame height (the data contract), as predict decodes real video: the
        # crops are then as sharp as the training crops; the keypoints scale with the frames.
        frames, scale, height = [], 1.0, predictor.contract.frame_height
        for i in range(person.num_frames):
            img = cv2.imread(str(seq.image_path(i)))
            if img is None:
                raise InputError(f"cannot read 3DPW image {seq.image_path(i)}")
            scale = height / img.shape[0]
            size = (max(1, round(img.shape[1] * scale)), height)
            frames.append(cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)[..., ::-1])
        # The same rule as the protocol's: conf > CONF_THRESHOLD, < 7 visible = total occlusion.
        clip = real_steps(np.stack(frames), kp2d * scale, conf, predictor.spec, flow, conf_threshold=CONF_THRESHOLD,
                          person_px=predictor.contract.person_px)  # fmt: skip
        bodies = predictor(clip.inputs)
        if vertices:
            from motionhmr.evaluate import TrackPrediction

            return TrackPrediction(joints3d=bodies.joints3d, vertices=bodies.vertices(predictor.body))
        return bodies.joints3d

    return predict


def _log_wandb(cfg: EvalConfig, predictor, results) -> None:
    from motionhmr.config import WandbConfig
    from motionhmr.wandb_run import Run

    from motionhmr.weights import HERE

    out = Path(cfg.ckpt).parent
    if out.resolve() == HERE:  # the shipped model: never write into the installed package
        out = Path("runs") / "shipped"
    run = Run(WandbConfig(mode=cfg.wandb), {"eval": dataclasses.asdict(cfg)}, out / "eval", group=predictor.spec.name,
              name=f"eval-{cfg.data.name}-{out.name}")  # fmt: skip
    run.summary(results.to_dict())
    rows = [[p.sequence, p.person, p.scored, p.pa_mpjpe, p.mpjpe, p.accel] for p in results.people]
    run.table(f"eval/{cfg.data.name}", ["sequence", "person", "scored", "pa_mpjpe", "mpjpe", "accel"], rows)
    run.finish()
