"""Reading shards back: iteration with plain WebDataset, and ``synth verify``'s checks."""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from pathlib import Path

import numpy as np

from synth.errors import InputError

log = logging.getLogger(__name__)


def shard_files(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root} is not a directory of shards")
    files = sorted(root.glob("shard-*.tar"))
    if not files:
        raise InputError(f"no shard-*.tar files in {root}")
    return files


def iter_records(path: Path):
    """Raw records (``__key__`` plus bytes per extension) of one shard, in order."""
    import webdataset as wds

    yield from wds.WebDataset(str(path), shardshuffle=False, empty_check=False)


@dataclasses.dataclass
class Report:
    shards: int = 0
    clips: int = 0
    bad_shards: dict = dataclasses.field(default_factory=dict)  # name -> error
    duplicate_keys: list = dataclasses.field(default_factory=list)
    partial_files: list = dataclasses.field(default_factory=list)
    bytes_total: int = 0
    bytes_per_field: Counter = dataclasses.field(default_factory=Counter)
    occluded: int = 0
    total_occluded_clips: int = 0
    visible_per_frame: list = dataclasses.field(default_factory=list)
    input_visible_per_frame: list = dataclasses.field(default_factory=list)
    backgrounds: Counter = dataclasses.field(default_factory=Counter)
    motions: Counter = dataclasses.field(default_factory=Counter)
    modes: Counter = dataclasses.field(default_factory=Counter)

    @property
    def ok(self) -> bool:
        return not self.bad_shards and not self.duplicate_keys

    def summary(self) -> str:
        n = max(self.clips, 1)
        lines = [
            f"shards: {self.shards} ({len(self.bad_shards)} bad), clips: {self.clips}, "
            f"duplicate keys: {len(self.duplicate_keys)}, partial files: {len(self.partial_files)}",
            f"occluder kept: {100 * self.occluded / n:.1f} % of clips; total-occlusion span: "
            f"{100 * self.total_occluded_clips / n:.1f} % of clips",
            f"visible keypoints per frame (of 14): true {np.mean(self.visible_per_frame or [0]):.2f}, "
            f"detector-style input {np.mean(self.input_visible_per_frame or [0]):.2f}",
            f"bytes per clip: {self.bytes_total / n / 1e6:.3f} MB ("
            + ", ".join(f"{k} {v / n / 1e3:.0f} kB" for k, v in sorted(self.bytes_per_field.items()))
            + ")",
            "modes: " + ", ".join(f"{k} {v}" for k, v in self.modes.most_common()),
            "backgrounds: " + ", ".join(f"{k} {v}" for k, v in self.backgrounds.most_common(8)),
            "motions: " + ", ".join(f"{k} {v}" for k, v in self.motions.most_common(8)),
        ]
        for name, err in self.bad_shards.items():
            lines.append(f"BAD {name}: {err}")
        if self.duplicate_keys:
            lines.append(f"DUPLICATE keys: {self.duplicate_keys[:10]}")
        return "\n".join(lines)


def verify(root: str | Path, progress=None) -> Report:
    """Decode every sample of every shard against the schema and gather statistics."""
    from synth.shards.schema import decode

    report = Report()
    report.partial_files = [p.name for p in Path(root).glob("shard-*.tar.tmp-*")]
    seen: set[str] = set()
    for path in shard_files(root):
        report.shards += 1
        try:
            for record in iter_records(path):
                sample = decode(record)
                if sample.key in seen:
                    report.duplicate_keys.append(sample.key)
                seen.add(sample.key)
                _accumulate(report, record, sample)
                if progress:
                    progress(1)
        except Exception as e:  # noqa: BLE001 - report the shard, keep checking the others
            report.bad_shards[path.name] = f"{type(e).__name__}: {e}"
    return report


def _accumulate(report: Report, record: dict, sample) -> None:
    report.clips += 1
    for k, v in record.items():
        if isinstance(v, bytes):
            report.bytes_total += len(v)
            report.bytes_per_field[k] += len(v)
    report.occluded += bool(sample.meta["occluded"])
    report.total_occluded_clips += sample.meta["total_occlusion_span"] is not None
    report.visible_per_frame.extend(sample.arrays["kp_visible"].sum(1).tolist())
    report.input_visible_per_frame.extend(sample.arrays["kp_input_visible"].sum(1).tolist())
    report.backgrounds[sample.meta["background"].split("@")[0]] += 1
    report.motions[sample.meta["motion"]] += 1
    report.modes[sample.meta["mode"]] += 1
