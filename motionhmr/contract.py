"""The data contract: the settings of the training shards that define the network input.

A network trained on DIS flow of 240-px frames, with people 150 px tall in 224-px crops and
heatmaps of sigma 10 px, has learnt *that* input distribution. Real video at inference must
be turned into the same input, so every checkpoint carries the settings it was trained on
and ``predict`` / ``eval`` follow them instead of assuming the generator's defaults.

Contract
    ``read_contract(root) -> DataContract`` reads the shard folder ``root`` (what
    ``motionhmr train`` calls at start-up): ``root/generate.yaml`` (written by
    ``synth generate``) and the first sample's ``meta.json``. The fields, ``None`` where
    unknown (then also named in ``unknown``):

    ``flow``           flow backend as :func:`flow.config.parse_spec` spells it: ``dis:medium``,
                       ``farneback``, ``tvl1``, ``deepflow``, ``ptlflow:<model>`` (meta.json's
                       ``flow``, the backend that really ran, wins over generate.yaml)
    ``flow_ckpt``      ptlflow only: the weights file the shards' flow came from
    ``frame_height``, ``frame_width``   background frame px (``background.height/width``)
    ``crop``           crop side px (``crop.size``)
    ``person_px``      person height in the crop px (``crop.person_px``), the box rule
    ``heatmap_sigma``  px in the crop (:data:`synth.shards.schema.HEATMAP_SIGMA`: the loader
                       draws the heatmaps, the generator does not choose it)
    ``fps``            clip frame rate (``fps``)
    ``clip_frames``    frames per stored clip (meta.json ``frames``)
    ``schema``         shard schema version (meta.json ``schema``)
    ``source``         ``generate.yaml``, ``meta.json`` (no generate.yaml: only what the
                       samples say; a warning is logged) or ``assumed`` (see below)

    ``DataContract.to_dict()`` is what ``checkpoint.save(..., contract=...)`` stores as
    ``data_contract`` (plain types: ``torch.load(weights_only=True)`` reads it).

    ``for_inference(stored, name)``: the contract inference follows. Fields the checkpoint
    does not know (all of them for a checkpoint written before it carried one) come from
    :data:`ASSUMED`, the defaults every earlier checkpoint was trained and run with, and one
    warning line names them; ``of_checkpoint(ckpt)`` gives a checkpoint's inputs and that
    contract without building the network. ``choose_flow`` sets an explicit flow choice
    against it (its docstring says when that is an error and when a warning).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from synth.errors import InputError

log = logging.getLogger(__name__)

GENERATE_YAML = "generate.yaml"
#: Fields a contract records (besides ``source`` and ``unknown``).
FIELDS = ("flow", "flow_ckpt", "frame_height", "frame_width", "crop", "person_px", "heatmap_sigma", "fps",
          "clip_frames", "schema")  # fmt: skip
#: The fields inference reads; an unknown one is filled from ASSUMED with a warning.
INFERENCE_FIELDS = ("flow", "frame_height", "crop", "person_px", "heatmap_sigma", "fps", "clip_frames")


@dataclasses.dataclass(frozen=True)
class DataContract:
    """The network-input settings of a training set (module docstring: the fields)."""

    flow: str | None = None
    flow_ckpt: str | None = None
    frame_height: int | None = None
    frame_width: int | None = None
    crop: int | None = None
    person_px: float | None = None
    heatmap_sigma: float | None = None
    fps: float | None = None
    clip_frames: int | None = None
    schema: int | None = None
    source: str = "assumed"
    unknown: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Plain types only (the checkpoint is read with ``weights_only=True``)."""
        return {**dataclasses.asdict(self), "unknown": list(self.unknown)}

    @classmethod
    def from_dict(cls, d: dict) -> DataContract:
        """Tolerant of other versions: unknown keys are dropped, missing fields are unknown."""
        known = {f: d[f] for f in FIELDS if d.get(f) is not None}
        missing = [f for f in FIELDS if f not in known and not (f == "flow_ckpt" and not _is_ptlflow(known.get("flow")))]
        unknown = tuple(dict.fromkeys([*d.get("unknown", ()), *missing]))
        return cls(**known, source=str(d.get("source", "assumed")), unknown=unknown)

    def describe(self, fields: tuple[str, ...] = INFERENCE_FIELDS) -> str:
        """``flow dis:medium, frames 240 px tall, ...`` for the given fields."""
        words = {
            "flow": lambda v: f"flow {v}", "flow_ckpt": lambda v: f"flow weights {v}",
            "frame_height": lambda v: f"frames {v} px tall", "frame_width": lambda v: f"frames {v} px wide",
            "crop": lambda v: f"{v}-px crops", "person_px": lambda v: f"person_px {v:g}",
            "heatmap_sigma": lambda v: f"heatmap sigma {v:g} px", "fps": lambda v: f"{v:g} fps",
            "clip_frames": lambda v: f"{v}-frame clips", "schema": lambda v: f"shard schema {v}",
        }  # fmt: skip
        return ", ".join(words[f](getattr(self, f)) for f in fields if getattr(self, f) is not None)

    def flow_config(self):
        """The :class:`flow.config.FlowConfig` that reproduces the training flow."""
        from flow.config import FlowConfig, parse_spec

        backend, variant = _flow_parts(self.flow)
        if backend != "ptlflow":
            return parse_spec(self.flow)
        if not self.flow_ckpt:
            raise InputError(f"the model was trained on {self.flow} flow, but its data contract names no ptlflow "
                             f"checkpoint file to compute that flow with")  # fmt: skip
        return FlowConfig(backend="ptlflow", model=variant, ckpt=self.flow_ckpt)


#: What every checkpoint written before the contract was trained on (the generator's defaults
#: then: DIS medium flow of 320x240 frames, people 150 px tall in 224-px crops, sigma 10 px,
#: 31 frames at 30 fps) and what inference assumed. Literal on purpose: later changes to the
#: generator's defaults must not change what an old checkpoint is taken to mean.
ASSUMED = DataContract(flow="dis:medium", frame_height=240, frame_width=320, crop=224, person_px=150.0,
                       heatmap_sigma=10.0, fps=30.0, clip_frames=31, source="assumed")  # fmt: skip


# -- reading the shards --------------------------------------------------------------------
def read_contract(root: str | Path) -> DataContract:
    """The contract of the shards in ``root`` (module docstring); logs a warning naming the
    unknown fields when ``root`` has no generate.yaml. Several comma-separated folders
    (:func:`motionhmr.data.shard_list`) must agree on every field that defines the network
    input: else a one-line error naming the folder and the fields."""
    from motionhmr.data import data_roots

    roots = data_roots(root)
    if len(roots) > 1:
        first = read_contract(roots[0])
        for other in roots[1:]:
            changed = differences(first, read_contract(other))
            if changed:
                raise InputError(f"{other} was generated with other input settings than {roots[0]} "
                                 f"({', '.join(changed)}): they cannot train one network together")  # fmt: skip
        return first
    return _read_one_contract(root)


def _read_one_contract(root: str | Path) -> DataContract:
    from synth.shards.schema import CROP, HEATMAP_SIGMA

    root = Path(root)
    meta = first_meta(root)
    path = root / GENERATE_YAML
    values: dict = {"heatmap_sigma": float(HEATMAP_SIGMA)}
    if path.is_file():
        values.update(_from_generate_yaml(path))
        source = GENERATE_YAML
    else:
        values["crop"] = int(CROP)  # the schema fixes the stored crop size
        source = "meta.json"
    if meta.get("flow"):
        if values.get("flow") and values["flow"] != meta["flow"]:
            log.warning("%s says flow %s but the samples' meta.json says %s: the contract records %s (what ran)",
                        path, values["flow"], meta["flow"], meta["flow"])  # fmt: skip
        values["flow"] = str(meta["flow"])
    if meta.get("frames") is not None:
        values["clip_frames"] = int(meta["frames"])
    if meta.get("schema") is not None:
        values["schema"] = int(meta["schema"])
    contract = DataContract.from_dict({**values, "source": source})
    if source != GENERATE_YAML:
        assumed = tuple(f for f in contract.unknown if f in INFERENCE_FIELDS)
        log.warning("%s has no %s: the checkpoint's data contract records what meta.json says (%s); unknown: %s, "
                    "so inference will assume %s", root, GENERATE_YAML, contract.describe(("flow", "clip_frames", "schema")),
                    ", ".join(contract.unknown), ASSUMED.describe(assumed))  # fmt: skip
    return contract


def first_meta(root: Path) -> dict:
    """The first sample's meta.json (``{}`` when there is none to read)."""
    from synth.shards.reader import iter_records, shard_files

    try:
        record = next(iter(iter_records(shard_files(root)[0])), None)
        return json.loads(record["meta.json"]) if record and "meta.json" in record else {}
    except (InputError, OSError, ValueError, KeyError):
        return {}


def _from_generate_yaml(path: Path) -> dict:
    """The contract's fields from a generate.yaml (missing keys stay unknown)."""
    from omegaconf import OmegaConf

    raw = OmegaConf.load(path)

    def get(key, kind):
        value = OmegaConf.select(raw, key, default=None)
        return None if value is None else kind(value)

    backend = get("flow.backend", str)
    flow, ckpt = None, None
    if backend == "dis":
        flow = f"dis:{get('flow.preset', str) or 'medium'}"  # FlowConfig's default preset
    elif backend == "ptlflow":
        flow, ckpt = f"ptlflow:{get('flow.model', str) or 'raft'}", get("flow.ckpt", str)
    elif backend:
        flow = backend
    return {"flow": flow, "flow_ckpt": ckpt, "frame_height": get("background.height", int),
            "frame_width": get("background.width", int), "crop": get("crop.size", int),
            "person_px": get("crop.person_px", float), "fps": get("fps", float),
            "clip_frames": get("frames", int)}  # fmt: skip


# -- inference -----------------------------------------------------------------------------
def for_inference(stored: dict | None, name: str) -> DataContract:
    """The contract inference follows for checkpoint ``name``: the stored one, unknown fields
    taken from :data:`ASSUMED` (one warning line names them). A crop size or heatmap sigma
    that this code does not build is a one-line InputError: the network would see inputs it
    never saw in training."""
    from synth.shards.schema import CROP, HEATMAP_SIGMA

    if not stored:
        log.warning("%s has no data contract (written before checkpoints carried one): assuming the generator "
                    "defaults %s", name, ASSUMED.describe())  # fmt: skip
        return dataclasses.replace(ASSUMED, unknown=INFERENCE_FIELDS)
    contract = DataContract.from_dict(stored)
    missing = tuple(f for f in INFERENCE_FIELDS if getattr(contract, f) is None)
    if missing:
        log.warning("%s: its data contract (from %s) does not know %s: assuming %s", name, contract.source,
                    ", ".join(missing), ASSUMED.describe(missing))  # fmt: skip
        contract = dataclasses.replace(contract, **{f: getattr(ASSUMED, f) for f in missing})
    if contract.crop != CROP:
        raise InputError(f"{name} was trained on {contract.crop}-px crops (its data contract); this code builds "
                         f"{CROP}-px crops")  # fmt: skip
    if contract.heatmap_sigma != HEATMAP_SIGMA:
        raise InputError(f"{name} was trained on heatmaps of sigma {contract.heatmap_sigma:g} px (its data "
                         f"contract); this code draws sigma {HEATMAP_SIGMA:g} px")  # fmt: skip
    return contract


def of_checkpoint(ckpt):
    """``(InputSpec, DataContract)`` of a checkpoint path (read without its weights, and the
    contract resolved by :func:`for_inference`) or of a :class:`motionhmr.inference.Predictor`."""
    from motionhmr import checkpoint
    from motionhmr.inputs import parse_inputs

    if not isinstance(ckpt, (str, Path)):
        return ckpt.spec, ckpt.contract
    blob = checkpoint.load_head(ckpt)
    return parse_inputs(blob.get("inputs") or blob["config"]["inputs"]), for_inference(blob.get("data_contract"), str(ckpt))


def choose_flow(contract: DataContract, asked: str | None, name: str, option: str = "--flow"):
    """The :class:`flow.config.FlowConfig` for real frames: the contract's flow when
    ``asked`` is None or names it.

    Another backend (or another ptlflow model) is a one-line InputError naming both: each
    estimator smooths, fills occlusions and errs in its own way, so its flow of the same
    motion is a different input distribution from the one the network learnt, and its
    predictions would not mean what they did in training. Another DIS preset is the same
    estimator at other settings: a warning, and the asked preset is used. If the contract's
    flow was only assumed (an old checkpoint), an explicit choice wins, with a warning."""
    from flow.config import parse_spec
    from flow.registry import BACKENDS

    trained = contract.flow
    if asked is None or _flow_parts(asked) == _flow_parts(trained):
        return contract.flow_config()
    (want_backend, _), (have_backend, _) = _flow_parts(asked), _flow_parts(trained)
    if want_backend not in BACKENDS:
        parse_spec(asked)  # the registry's one-line error listing the backends
    shown = f"{option}{asked}" if option.endswith("=") else f"{option} {asked}"  # flow=x or --flow x
    if "flow" in contract.unknown:
        log.warning("%s: %s does not record its training flow (%s assumed); using %s as asked",
                    shown, name, trained, asked)  # fmt: skip
    elif want_backend == have_backend == "dis":
        log.warning("%s: %s was trained on %s flow; another DIS preset gives smoother or noisier flow than the "
                    "network learnt on (using %s as asked)", shown, name, trained, asked)  # fmt: skip
    else:
        raise InputError(f"{shown} conflicts with the data contract of {name}: it was trained on {trained} flow, "
                         f"and another estimator's flow of the same motion (its own smoothing and errors) is an "
                         f"input the network never saw; leave {option.rstrip('=')} out to use {trained}")  # fmt: skip
    return parse_spec(asked)


def differences(a: DataContract, b: DataContract) -> list[str]:
    """``field a -> b`` for the fields both contracts know and disagree on."""
    return [f"{f} {getattr(a, f)} -> {getattr(b, f)}" for f in FIELDS
            if getattr(a, f) is not None and getattr(b, f) is not None and getattr(a, f) != getattr(b, f)]  # fmt: skip


def _flow_parts(spec: str | None) -> tuple[str, str]:
    """``dis`` / ``dis:medium`` -> ``("dis", "medium")``; ``ptlflow`` -> ``("ptlflow", "raft")``;
    ``farneback`` -> ``("farneback", "")`` (FlowConfig's defaults fill a missing variant)."""
    backend, _, variant = str(spec).partition(":")
    backend = backend.strip().lower()
    if backend == "dis":
        return backend, variant or "medium"
    if backend == "ptlflow":
        return backend, variant or "raft"
    return backend, variant


def _is_ptlflow(spec: str | None) -> bool:
    return spec is not None and _flow_parts(spec)[0] == "ptlflow"
