"""Fixtures for the motion tests: the shared real test data (``../shared/data``)."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The shared test data, beside the repository (never copied into it; see its README).
SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared data {name}/ not found at {path}")
    return path


@pytest.fixture(scope="session")
def cmu_bvh_dir() -> Path:
    """The 56 CMU BVH clips and MANIFEST.tsv; skips when the shared data is absent."""
    return _shared("cmu_bvh")


@pytest.fixture(scope="session")
def cmu_asfamc_dir() -> Path:
    """The same 56 CMU clips as CMU ships them: <subject>/<subject>.asf + <subject>_<trial>.amc."""
    return _shared("cmu_asfamc")


@pytest.fixture(scope="session")
def cmu_daz_bvh_dir() -> Path:
    """The 142 CMU clips in the "Daz-friendly" rig (hip, abdomen, lThigh, ...); skips when absent."""
    return _shared("cmu_daz_bvh")
