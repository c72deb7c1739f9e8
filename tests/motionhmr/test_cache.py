"""motionhmr.cache: the reduced cache hands the trainer the same network input as the shards
it was built from (within float16), refuses runs it does not fit, and is written whole."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from motionhmr.cache import CACHE_JSON, build_cache, check_cache, read_cache_info
from motionhmr.cli import main
from motionhmr.data import DataConfig, make_loader
from motionhmr.inputs import assemble, parse_inputs
from synth.errors import InputError

from .test_data import write_shards

SIZE = 32


@pytest.fixture(scope="module")
def shards_and_cache(tmp_path_factory):
    """6 clips of 5 frames in 2 shards, and their 32-px cache of rgb and flow."""
    root = tmp_path_factory.mktemp("cache")
    shards = root / "shards"
    write_shards(shards, n=6, per_shard=3, t=5)
    (shards / "generate.yaml").write_text("flow:\n  backend: dis\n")
    info = build_cache(shards, root / "cache", SIZE, ("rgb", "flow"), workers=1, progress=False)
    return shards, root / "cache", info


def batches(root, spec, frames=None):
    cfg = DataConfig(path=str(root), batch_size=3, workers=0, val_every=1, frames=frames)
    return list(make_loader(cfg, spec, "val"))


@pytest.mark.parametrize("inputs", ["flow", "rgb", "flow+kp", "rgb+flow+kp"])
def test_cached_input_equals_the_input_built_from_the_shards(shards_and_cache, inputs):
    shards, cache, _ = shards_and_cache
    spec = parse_inputs(inputs)
    for full, small in zip(batches(shards, spec), batches(cache, spec), strict=True):
        assert full["key"] == small["key"]
        for part in ("rgb", "flow"):
            if part in spec:
                assert part not in small and small[f"{part}_input"].dtype == torch.float16
                assert tuple(small[f"{part}_input"].shape) == (3, 4, 3, SIZE, SIZE)
        want, got = assemble(full, spec, SIZE), assemble(small, spec, SIZE)
        assert got.shape == want.shape == (3, 4, spec.channels, SIZE, SIZE)
        # float16 storage: ~1e-3 relative on values of a few units
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=6e-3, rtol=0)
        occluded = full["total_occlusion"][:, :4]
        assert occluded.any() and (got[occluded] [:, :-1] == 0).all()  # hidden frames zeroed after the cache


def test_windows_cut_the_cached_steps_like_the_shards(shards_and_cache):
    shards, cache, _ = shards_and_cache
    full, small = batches(shards, "flow", frames=3)[0], batches(cache, "flow", frames=3)[0]
    assert small["flow_input"].shape[1] == 2
    np.testing.assert_allclose(assemble(small, "flow", SIZE).numpy(), assemble(full, "flow", SIZE).numpy(), atol=6e-3)


def test_cache_keeps_the_arrays_and_metadata_and_records_itself(shards_and_cache):
    shards, cache, info = shards_and_cache
    assert (info.size, info.parts, info.clips) == (SIZE, ("rgb", "flow"), 6)
    assert read_cache_info(cache) == info and read_cache_info(shards) is None
    assert (cache / "generate.yaml").read_text() == (shards / "generate.yaml").read_text()
    assert sorted(p.name for p in cache.glob("shard-*.tar")) == sorted(p.name for p in shards.glob("shard-*.tar"))
    kp_full, kp_small = batches(shards, "kp"), batches(cache, "kp")
    for a, b in zip(kp_full, kp_small, strict=True):
        for k in ("kp2d", "joints3d", "kp_input_visible", "total_occlusion", "kp2d_future"):
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_a_run_the_cache_does_not_fit_is_refused_in_one_line(shards_and_cache, tmp_path):
    shards, cache, _ = shards_and_cache
    assert check_cache(shards, ("flow",), 64) is None  # plain shards: anything goes
    assert check_cache(cache, ("flow",), SIZE).size == SIZE
    assert check_cache(cache, (), None).size == SIZE  # inputs=kp reads only the arrays
    with pytest.raises(InputError, match=r"32-px cache: train with model.input_size=32"):
        check_cache(cache, ("flow",), 64)
    build_cache(shards, tmp_path / "flow_only", SIZE, ("flow",), workers=1, progress=False)
    with pytest.raises(InputError, match=r"cache of flow only; these inputs need rgb"):
        check_cache(tmp_path / "flow_only", ("rgb", "flow"), SIZE)


def test_mirroring_a_caches_reduced_inputs_is_refused_in_one_line(shards_and_cache):
    _, cache, _ = shards_and_cache
    cfg = DataConfig(path=str(cache), batch_size=1, workers=0, val_every=0, shuffle_buffer=0, mirror=True)
    with pytest.raises(InputError, match="data.mirror=true does not mirror a cache's reduced inputs"):
        list(make_loader(cfg, "flow", "train"))
    assert len(list(make_loader(cfg, "kp", "train"))) == 6  # kp reads only the arrays: mirrored as from shards


def test_rerun_finishes_an_interrupted_cache_and_skips_whole_shards(shards_and_cache, tmp_path):
    shards, cache, _ = shards_and_cache
    out = tmp_path / "c"
    build_cache(shards, out, SIZE, ("flow",), workers=1, progress=False)
    done = out / "shard-000000.tar"
    (out / "shard-000001.tar").unlink()
    (out / "shard-000001.tar.tmp-999").write_bytes(b"partial")
    stamp = done.stat().st_mtime_ns
    info = build_cache(shards, out, SIZE, ("flow",), workers=1, progress=False)
    assert info.clips == 6 and done.stat().st_mtime_ns == stamp
    assert not list(out.glob("*.tmp-*"))
    with pytest.raises(InputError, match="holds a 32-px cache of flow: pick another folder"):
        build_cache(shards, out, 48, ("flow",), workers=1, progress=False)
    with pytest.raises(InputError, match="already a cache"):
        build_cache(out, tmp_path / "d", SIZE, ("flow",), workers=1, progress=False)


def test_cli_builds_a_cache_and_names_bad_parts(shards_and_cache, tmp_path, capsys):
    shards, _, _ = shards_and_cache
    assert main(["cache", str(shards), str(tmp_path / "c"), "--size", "40", "--workers", "2"]) == 0
    assert "cached 6 clips (flow at 40 px)" in capsys.readouterr().out
    assert json.loads((tmp_path / "c" / CACHE_JSON).read_text())["size"] == 40
    assert main(["cache", str(shards), str(tmp_path / "e"), "--size", "32", "--parts", "kp"]) == 2
    assert "--parts 'kp': cache rgb and/or flow" in capsys.readouterr().err
