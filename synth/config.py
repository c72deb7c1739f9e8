"""Typed configs for the ``synth`` commands.

Hydra composes the YAML files in ``configs/`` (shipped inside the package) and applies
command-line overrides; :func:`typed` then checks the result against these dataclasses,
so a misspelt key or a wrong type fails at start-up with one line, not deep in a run.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from flow.config import FlowConfig
from synth.errors import InputError
from synth.occluders.occlude import OccluderConfig

BODY_BACKENDS = ("anny", "smpl")
MOTION_SOURCES = ("deepmimic", "bvh", "asfamc", "amass")


@dataclasses.dataclass
class BodyConfig:
    name: str = "anny"
    # anny
    topology: str = "anny"
    cache_dir: str | None = None
    # smpl
    model_path: str | None = None
    model_type: str = "smpl"
    gender: str = "neutral"
    num_betas: int = 10

    def __post_init__(self) -> None:
        if self.name not in BODY_BACKENDS:
            raise InputError(f"body={self.name!r} is unknown; choose one of {', '.join(BODY_BACKENDS)}")
        if self.name == "smpl" and not self.model_path:
            raise InputError("body=smpl needs body.model_path=<folder holding smpl/SMPL_NEUTRAL.npz>")


@dataclasses.dataclass
class MotionConfig:
    source: str = "deepmimic"
    clip: str = "walk"  # clip name: DeepMimic name, BVH / AMC file stem, AMASS file stem
    path: str | None = None  # file or folder of the collection (bvh, asfamc, amass)
    body_model_path: str | None = None  # SMPL-H folder, to read AMASS skeletons
    fps: float = 30.0
    speed: float = 1.0
    mirror: bool = False
    yaw_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.source not in MOTION_SOURCES:
            raise InputError(f"motion.source={self.source!r} is unknown; choose one of {', '.join(MOTION_SOURCES)}")
        if self.source in ("bvh", "asfamc", "amass") and not self.path:
            raise InputError(f"motion={self.source} needs motion.path=<file or folder of the collection>")
        if self.fps <= 0 or self.speed <= 0:
            raise InputError("motion.fps and motion.speed must be positive")


@dataclasses.dataclass
class RenderConfig:
    width: int = 320
    height: int = 240
    fov_deg: float = 50.0
    azimuth_deg: float = 35.0
    elevation_deg: float = 10.0
    fill: float = 0.75


@dataclasses.dataclass
class PreviewConfig:
    body: BodyConfig = dataclasses.field(default_factory=BodyConfig)
    motion: MotionConfig = dataclasses.field(default_factory=MotionConfig)
    render: RenderConfig = dataclasses.field(default_factory=RenderConfig)
    out: str = "preview/preview.mp4"  # .mp4 or .gif
    sheet: str = "preview/preview_sheet.png"
    frames: int = 0  # 0: the whole clip
    sheet_frames: int = 8
    seed: int = 0
    random_shape: bool = False

    def __post_init__(self) -> None:
        if Path(self.out).suffix.lower() not in (".mp4", ".gif"):
            raise InputError(f"out={self.out!r} must end in .mp4 or .gif")


TRACKING_MODES = ("tracked", "untracked", "static")


@dataclasses.dataclass
class BackgroundConfig:
    path: str | None = None  # folder of videos (e.g. Kinetics: class folders of .mp4); None = embedded
    mode: str = "tracked"  # tracked | untracked | static (the paper's Table 2 ablation)
    height: int = 240
    width: int = 320
    tracking_scale: float = 0.5  # camera tracking flow runs at this share of the frame size
    tracking_flow: FlowConfig = dataclasses.field(default_factory=lambda: FlowConfig(backend="dis", preset="medium"))
    cache_mb: float = 512.0  # decode a short video list once per worker if it fits (0 = never)

    def __post_init__(self) -> None:
        if self.mode not in TRACKING_MODES:
            raise InputError(f"background.mode={self.mode!r} is unknown; choose one of {', '.join(TRACKING_MODES)}")


@dataclasses.dataclass
class CropConfig:
    size: int = 224
    person_px: float = 150.0  # person height in the crop (HMR's procedure)
    center_jitter: float = 0.05  # share of the box side
    scale_jitter: float = 0.08


@dataclasses.dataclass
class TotalOcclusionConfig:
    probability: float = 0.25  # share of clips with a totally occluded span
    max_frames: int = 15


@dataclasses.dataclass
class KeypointNoiseConfig:
    p_unhide_legs: float = 0.5
    p_flip: float = 0.05


@dataclasses.dataclass
class GenerateConfig:
    body: BodyConfig = dataclasses.field(default_factory=BodyConfig)
    motion: MotionConfig = dataclasses.field(default_factory=lambda: MotionConfig(clip="all"))
    background: BackgroundConfig = dataclasses.field(default_factory=BackgroundConfig)
    occluders: OccluderConfig = dataclasses.field(default_factory=OccluderConfig)
    flow: FlowConfig = dataclasses.field(default_factory=FlowConfig)
    crop: CropConfig = dataclasses.field(default_factory=CropConfig)
    total_occlusion: TotalOcclusionConfig = dataclasses.field(default_factory=TotalOcclusionConfig)
    keypoints: KeypointNoiseConfig = dataclasses.field(default_factory=KeypointNoiseConfig)
    n: int = 100  # clips in the whole dataset (all workers, all nodes)
    out: str = "shards"
    seed: int = 0
    frames: int = 31
    fps: float = 30.0
    per_shard: int = 50  # clips per shard-%06d.tar
    workers: int = 1  # local processes
    shard_index: int | None = None  # this node's index (also from Slurm / Kubernetes env)
    num_shards: int | None = None  # how many nodes split the shards

    def __post_init__(self) -> None:
        if self.n < 1 or self.per_shard < 1 or self.workers < 1 or self.frames < 2:
            raise InputError("n, per_shard and workers must be >= 1 and frames >= 2")


def typed(cfg: DictConfig | dict, cls: type) -> Any:
    """Validate ``cfg`` against dataclass ``cls``: unknown keys and bad types fail."""
    try:
        base = OmegaConf.structured(cls)
        _writable(base)  # frozen dataclasses (e.g. ModelConfig) become read-only nodes
        merged = OmegaConf.merge(base, cfg)
        return OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        raise InputError(f"bad config{f' value for {key}' if key else ''}: {_first_line(e)}") from None


def _writable(node) -> None:
    """Clear the read-only flag OmegaConf sets on every node of a frozen dataclass, so that
    overrides can merge in; ``to_object`` still builds the frozen dataclass."""
    node._set_flag("readonly", None)
    if isinstance(node, DictConfig):
        for key in node.keys():
            _writable(node._get_node(key))


def compose(config_name: str, overrides: list[str]) -> DictConfig:
    """Compose ``configs/<config_name>.yaml`` with Hydra command-line style overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException

    try:
        with initialize_config_module(config_module="configs", version_base="1.3"):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as e:
        raise InputError(f"bad config override: {_first_line(e)}") from None


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
