"""The training loader: one clip -> steps (hand-made samples), splits, ranks, workers,
shuffling and windows on small hand-made shards; the same on three real generated clips
(~7-10 s to generate once per module; those tests are marked slow)."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch

from flow.contract import to_model_input
from motionhmr.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    DataConfig,
    collate,
    crop_window,
    future_keypoints,
    make_loader,
    rank_shards,
    sample_to_steps,
    shard_list,
    split_of,
    steps_input,
)
from motionhmr.inputs import assemble, parse_inputs
from synth.crops import to_crop
from synth.errors import InputError
from synth.shards.schema import META, SCHEMA_VERSION, Sample, decode, heatmaps, key_of

SPECS = ["rgb", "flow", "kp", "flow+kp", "rgb+flow+kp"]


def fake_sample(index: int, t: int = 4, total: tuple[int, int] | None = (1, 2), seed: int = 0) -> Sample:
    """A schema-valid clip of ``t`` frames: person keypoints projected from 3D through K, boxes
    around them, random pixels and flow on the 1/16 px grid the codec stores exactly."""
    rng = np.random.default_rng([seed, index])
    occluded = np.zeros(t, np.uint8)
    if total is not None:
        occluded[total[0] : total[1]] = 1
    joints3d = (np.array([0.0, 0.0, 4.0]) + rng.uniform(-0.8, 0.8, (t, 14, 3))).astype(np.float32)
    K = np.tile(np.array([[300.0, 0, 160], [0, 300.0, 120], [0, 0, 1]], np.float32), (t, 1, 1))
    K[:, :2, 2] += rng.uniform(-5, 5, (t, 2)).astype(np.float32)  # camera tracking shifts
    bg = np.einsum("tij,tkj->tki", K, joints3d)
    bg = bg[..., :2] / bg[..., 2:]
    boxes = np.concatenate([bg.mean(1) + rng.uniform(-5, 5, (t, 2)), rng.uniform(150, 260, (t, 1))], 1)
    boxes = boxes.astype(np.float32)
    visible = rng.random((t, 14)) < 0.8
    visible[occluded.astype(bool)] = False
    flow = (np.round(rng.normal(0, 3, (t - 1, 224, 224, 2)) * 16) / 16).astype(np.float32)
    flow[occluded[:-1].astype(bool) | occluded[1:].astype(bool)] = 0
    rgb = rng.integers(0, 256, (t, 224, 224, 3), dtype=np.uint8)
    rgb[occluded.astype(bool)] = 0
    eye = np.tile(np.eye(3, dtype=np.float32), (t, 1, 1))
    arrays = {
        "kp2d": to_crop(bg.astype(np.float32), boxes), "kp_visible": visible,
        "kp_input_visible": visible & (rng.random((t, 14)) < 0.9), "joints3d": joints3d,
        "skeleton3d": rng.normal(size=(t, 5, 3)).astype(np.float32), "boxes": boxes,
        "total_occlusion": occluded, "pose": np.tile(eye[:, None], (1, 4, 1, 1)), "global_orient": eye,
        "transl": np.zeros((t, 3), np.float32), "shape": np.zeros(6, np.float32), "K": K, "R": eye,
        "t": np.zeros((t, 3), np.float32), "camera_xy": np.zeros((t, 2), np.float32),
    }  # fmt: skip
    meta = dict.fromkeys(META)
    meta.update(schema=SCHEMA_VERSION, index=index, seed=seed, frames=t, total_occlusion_span=None)
    return Sample(key_of(index), rgb, flow, np.zeros((t, 224, 224), bool), arrays, meta)


def write_shards(root, n: int, per_shard: int, t: int = 4) -> list[str]:
    import webdataset as wds

    from synth.shards.schema import encode

    root.mkdir(parents=True, exist_ok=True)
    for s in range(-(-n // per_shard)):
        with wds.TarWriter(str(root / f"shard-{s:06d}.tar"), encoder=False) as sink:
            for i in range(s * per_shard, min(n, (s + 1) * per_shard)):
                sink.write(encode(fake_sample(i, t)))
    return sorted(str(p) for p in root.glob("shard-*.tar"))


@pytest.fixture(scope="module")
def fake_shards(tmp_path_factory):
    """12 clips of 4 frames in 4 shards of 3."""
    root = tmp_path_factory.mktemp("fake") / "shards"
    write_shards(root, n=12, per_shard=3)
    return root


def keys_of(loader) -> list[str]:
    return [k for batch in loader for k in batch["key"]]


# -- one clip ------------------------------------------------------------------------------
@pytest.mark.parametrize("inputs", SPECS)
def test_steps_of_a_hand_made_clip(inputs):
    s = fake_sample(3, t=5, total=(2, 3))
    spec = parse_inputs(inputs)
    out = sample_to_steps(s, spec)
    x, where = steps_input(s, spec), spec.slices()
    assert x.shape == (4, spec.channels, 224, 224) and x.dtype == np.float32
    hidden = np.array([0, 1, 1, 0], bool) if "flow" in spec else np.array([0, 0, 1, 0], bool)
    np.testing.assert_array_equal(x[:, where["occ"]], np.broadcast_to(hidden[:, None, None, None], (4, 1, 224, 224)))
    if "rgb" in spec:
        want = ((s.rgb[:4] / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(0, 3, 1, 2)
        want[2] = 0.0  # frame 2 is totally occluded: zero network input, not black
        np.testing.assert_allclose(x[:, where["rgb"]], want, atol=1e-5)
    if "flow" in spec:
        np.testing.assert_allclose(x[:, where["flow"]], to_model_input(s.flow).transpose(0, 3, 1, 2), atol=1e-6)
        assert not x[1:3, where["flow"]].any()
    if "kp" in spec:
        np.testing.assert_allclose(x[:, where["kp"]], heatmaps(s.arrays["kp2d"][:4], s.arrays["kp_input_visible"][:4]),
                                   atol=1e-6)  # fmt: skip
        assert x[:, where["kp"]].max() <= 1.0 and not x[2, where["kp"]].any()
    assert out["joints3d"].shape == (5, 14, 3) and out["kp2d"].shape == (5, 14, 2)
    assert out["kp_visible"].dtype == bool and out["total_occlusion"].dtype == bool
    np.testing.assert_array_equal(out["total_occlusion"], [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(out["kp_visible_future"], s.arrays["kp_visible"][1:])
    assert out["kp2d_future"].shape == (4, 14, 2) and out["kp2d_future"].dtype == np.float32
    assert out["key"] == "000000003"
    # compact hand-over: only the parts the spec reads, as stored (uint8, 1/16 px integers)
    assert ("rgb" in out) == ("rgb" in spec) and ("flow" in out) == ("flow" in spec)
    if "rgb" in spec:
        assert out["rgb"].dtype == np.uint8 and out["rgb"].shape == (4, 224, 224, 3)
    if "flow" in spec:
        assert out["flow"].dtype == np.int16
        np.testing.assert_array_equal(out["flow"] / 16.0, s.flow)


def old_loader_input(sample, spec) -> np.ndarray:
    """The network input as the loader built it before it moved to the training device
    (motionhmr/data.py at a3ce919, numpy on the loader side): the reference the device-side
    assembly must reproduce."""
    a = sample.arrays
    s_len = sample.frames - 1
    total = a["total_occlusion"].astype(bool)
    hidden = total[:-1] | total[1:] if "flow" in spec else total[:-1]
    x = np.zeros((s_len, spec.channels, 224, 224), np.float32)
    where = spec.slices()
    if "rgb" in spec:
        rgb = (sample.rgb[:s_len].astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        rgb[total[:s_len]] = 0.0
        x[:, where["rgb"]] = rgb.transpose(0, 3, 1, 2)
    if "flow" in spec:
        x[:, where["flow"]] = to_model_input(sample.flow[:s_len]).transpose(0, 3, 1, 2)
    if "kp" in spec:
        x[:, where["kp"]] = heatmaps(a["kp2d"][:s_len], a["kp_input_visible"][:s_len])
    x[:, where["occ"]] = hidden[:, None, None, None]
    return x


@pytest.mark.parametrize("inputs", SPECS)
def test_device_side_input_equals_the_old_loader_side_input(inputs):
    spec = parse_inputs(inputs)
    for i, total in enumerate([(1, 3), None, (0, 1)]):
        s = fake_sample(10 + i, t=6, total=total)
        batch = collate([sample_to_steps(s, spec)])
        np.testing.assert_allclose(assemble(batch, spec)[0].numpy(), old_loader_input(s, spec), atol=2e-6, rtol=0)


@pytest.mark.parametrize("inputs", SPECS)
def test_device_side_input_at_input_size_matches_resizing_the_old_input(inputs):
    # model.input_size=64: the old path resized the loader's 224 px input in the model;
    # assemble resizes rgb and flow the same way and draws the heatmaps at 64 px directly.
    spec = parse_inputs(inputs)
    s = fake_sample(20, t=5, total=(2, 3))
    old = torch.nn.functional.interpolate(torch.from_numpy(old_loader_input(s, spec)), size=(64, 64),
                                          mode="bilinear", antialias=True)  # fmt: skip
    new = assemble(collate([sample_to_steps(s, spec)]), spec, size=64)[0]
    assert new.shape == (4, spec.channels, 64, 64)
    where = spec.slices()
    for part in spec.parts + ("occ",):
        tol = 0.03 if part == "kp" else 1e-4  # the heatmaps are drawn, not shrunk: peaks 1.0, not 0.98
        np.testing.assert_allclose(new[:, where[part]].numpy(), old[:, where[part]].numpy(), atol=tol, rtol=0,
                                   err_msg=part)  # fmt: skip


def test_keypoint_loader_decodes_no_image(fake_shards, monkeypatch):
    import synth.shards.schema as schema

    def refuse(*_):
        raise AssertionError("an image was decoded for inputs=kp")

    monkeypatch.setattr(schema, "_decode_jpeg", refuse)
    monkeypatch.setattr(schema, "_decode_bits", refuse)
    monkeypatch.setattr("flow.codec.decode_flow", refuse)
    batch = next(iter(make_loader(DataConfig(path=str(fake_shards), batch_size=2, workers=0), "kp", "val")))
    assert "rgb" not in batch and "flow" not in batch and batch["kp_input_visible"].shape[1:] == (4, 14)


def test_future_keypoints_by_hand():
    # box t: side 224 (scale 1) at (100, 100); box t+1: side 112 (scale 2) at (110, 100).
    boxes = np.array([[100, 100, 224], [110, 100, 112]], np.float32)
    kp = np.array([[[0, 0]], [[111.5, 111.5]]], np.float32)  # frame 1: crop centre = background (110, 100)
    np.testing.assert_allclose(future_keypoints(kp, boxes), [[[121.5, 111.5]]], atol=1e-4)


def test_future_keypoints_match_projection_through_the_previous_box():
    s = fake_sample(0, t=6)
    a = s.arrays
    p = np.einsum("tij,tkj->tki", a["K"], a["joints3d"])
    bg = (p[..., :2] / p[..., 2:]).astype(np.float32)  # each frame's own background px
    want = to_crop(bg[1:], a["boxes"][:-1])  # frame t+1 seen through box t (paired boxes)
    np.testing.assert_allclose(future_keypoints(a["kp2d"], a["boxes"]), want, atol=1e-3)
    assert np.abs(want - a["kp2d"][1:]).max() > 1.0  # the boxes move: the test can tell


def test_crop_window_slices_every_per_frame_field():
    s = fake_sample(1, t=6)
    w = crop_window(s, 2, 3)
    assert w.frames == 3 and w.flow.shape[0] == 2 and w.occluder.shape[0] == 3
    np.testing.assert_array_equal(w.rgb, s.rgb[2:5])
    np.testing.assert_array_equal(w.flow, s.flow[2:4])
    for k, v in w.arrays.items():
        np.testing.assert_array_equal(v, s.arrays[k] if k == "shape" else s.arrays[k][2:5])
    with pytest.raises(InputError, match="exceeds its 6 frames"):
        crop_window(s, 4, 3)


def test_collate_stacks_into_the_batch_contract():
    items = [sample_to_steps(fake_sample(i), "flow+kp") for i in range(2)]
    b = collate(items)
    assert b["key"] == ["000000000", "000000001"]
    assert b["flow"].shape == (2, 3, 224, 224, 2) and b["flow"].dtype == torch.int16
    assert b["kp_input_visible"].shape == (2, 4, 14) and b["kp_input_visible"].dtype == torch.bool
    assert assemble(b, "flow+kp").shape == (2, 3, 16, 224, 224)
    assert b["kp2d_future"].shape == (2, 3, 14, 2) and b["kp_visible_future"].dtype == torch.bool
    assert b["joints3d"].shape == (2, 4, 14, 3) and b["total_occlusion"].shape == (2, 4)


# -- splits, ranks, configs ----------------------------------------------------------------
@pytest.mark.parametrize("val_every", [0, 1, 7, 20])
def test_key_split_is_disjoint_and_covers_every_clip(val_every):
    keys = [key_of(i) for i in range(1000)]
    val = {k for k in keys if split_of(k, val_every) == "val"}
    train = {k for k in keys if split_of(k, val_every) == "train"}
    assert not val & train and val | train == set(keys)
    assert len(val) == (0 if val_every == 0 else -(-1000 // val_every))


@pytest.mark.parametrize("world", [1, 2, 3, 4])
@pytest.mark.parametrize("order_seed", [None, (0, 0), (0, 5)])
def test_ranks_share_no_shard_and_cover_all(world, order_seed):
    shards = [f"s{i}" for i in range(10)]
    parts = [rank_shards(shards, r, world, order_seed) for r in range(world)]
    flat = [s for p in parts for s in p]
    assert sorted(flat) == sorted(shards) and len(set(flat)) == 10


def test_epochs_deal_shards_anew_and_reproducibly():
    shards = [f"s{i}" for i in range(10)]
    assert rank_shards(shards, 0, 2, (0, 1)) == rank_shards(shards, 0, 2, (0, 1))
    assert rank_shards(shards, 0, 2, (0, 1)) != rank_shards(shards, 0, 2, (0, 2))
    assert rank_shards(shards, 1, 2, None) == ["s1", "s3", "s5", "s7", "s9"]


def test_rank_errors():
    with pytest.raises(InputError, match="2 shard\\(s\\) cannot feed 3 ranks"):
        rank_shards(["a", "b"], 2, 3, None)
    with pytest.raises(InputError, match="rank 3 is outside 0..1"):
        rank_shards(["a", "b"], 3, 2, None)


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"path": ""}, "data.path is empty"),
        ({"val_every": -1}, "data.val_every=-1 must be >= 0"),
        ({"batch_size": 0}, "data.batch_size=0 must be >= 1"),
        ({"workers": -1}, "data.workers=-1"),
        ({"shuffle_buffer": -2}, "data.shuffle_buffer=-2"),
        ({"frames": 1}, "data.frames=1 must be >= 2"),
        ({"kp_offset_px": -1.0}, "data.kp_offset_px and data.kp_jitter_px must be >= 0"),
    ],
)
def test_config_errors(kw, message):
    with pytest.raises(InputError, match=message) as e:
        DataConfig(**{"path": "x", **kw})
    assert "\n" not in str(e.value)


def test_missing_or_empty_data_dir_names_it_and_the_fix(tmp_path):
    for path in (tmp_path / "nope", tmp_path):
        with pytest.raises(InputError) as e:
            shard_list(path)
        msg = str(e.value)
        assert str(path) in msg and f"synth generate --n N --out {path}" in msg and "\n" not in msg
    with pytest.raises(InputError, match="synth generate"):
        make_loader(DataConfig(path=str(tmp_path / "nope")), "kp")


# -- streaming hand-made shards --------------------------------------------------------------
def test_train_and_val_loaders_are_disjoint_and_cover_the_data(fake_shards):
    cfg = DataConfig(path=str(fake_shards), val_every=4, batch_size=1, workers=0, shuffle_buffer=4)
    train, val = keys_of(make_loader(cfg, "kp")), keys_of(make_loader(cfg, "kp", "val"))
    assert val == ["000000000", "000000004", "000000008"]  # file order, no shuffling
    assert sorted(train) == [key_of(i) for i in range(12) if i % 4]
    fives = dataclasses.replace(cfg, batch_size=5)
    assert [len(b["key"]) for b in make_loader(fives, "kp")] == [5]  # 9 train clips: the partial batch is dropped
    assert [len(b["key"]) for b in make_loader(fives, "kp", "val")] == [3]  # val keeps it
    with pytest.raises(InputError, match="no validation split"):
        make_loader(DataConfig(path=str(fake_shards), val_every=0), "kp", "val")


def test_a_separate_val_path_is_used_whole_and_train_keeps_everything(fake_shards, tmp_path):
    other = tmp_path / "val"
    write_shards(other, n=2, per_shard=2)
    cfg = DataConfig(path=str(fake_shards), val_path=str(other), val_every=4, batch_size=1, workers=0)
    assert keys_of(make_loader(cfg, "kp", "val")) == ["000000000", "000000001"]
    assert sorted(keys_of(make_loader(cfg, "kp"))) == [key_of(i) for i in range(12)]


def test_ranks_read_disjoint_clips_that_cover_the_split(fake_shards):
    cfg = DataConfig(path=str(fake_shards), val_every=0, batch_size=1, workers=0, shuffle_buffer=3)
    per_rank = [keys_of(make_loader(cfg, "flow", rank=r, world_size=2, epoch=3)) for r in range(2)]
    assert not set(per_rank[0]) & set(per_rank[1])
    assert sorted(per_rank[0] + per_rank[1]) == [key_of(i) for i in range(12)]


def test_detector_noise_is_one_offset_per_clip_and_joint_plus_jitter():
    from motionhmr.data import detector_noise

    kp = np.zeros((400, 14, 2), np.float32)
    offset_only = detector_noise(kp, np.random.default_rng(0), 4.0, 0.0)
    assert np.all(offset_only == offset_only[:1])  # the same shift in every frame
    assert 2.5 < offset_only[0].std() < 5.5
    both = detector_noise(kp, np.random.default_rng(0), 4.0, 1.5)
    jitter = both - both.mean(0, keepdims=True)
    assert jitter.std() == pytest.approx(1.5, rel=0.05)
    assert both.dtype == np.float32


def test_keypoint_noise_reaches_training_clips_only_and_is_reproducible(fake_shards):
    quiet = DataConfig(path=str(fake_shards), val_every=4, batch_size=1, workers=0, shuffle_buffer=0)
    noisy = dataclasses.replace(quiet, kp_offset_px=3.0, kp_jitter_px=1.0)

    def kp_by_key(cfg, split):
        return {b["key"][0]: b["kp2d"][0].numpy() for b in make_loader(cfg, "kp", split, seed=3)}

    clean, a, b = kp_by_key(quiet, "train"), kp_by_key(noisy, "train"), kp_by_key(noisy, "train")
    for key in clean:
        shift = a[key] - clean[key]
        assert 0.3 < np.abs(shift).mean() < 6.0
        np.testing.assert_array_equal(a[key], b[key])  # same seed, epoch and pass: same noise
    val_clean, val_noisy = kp_by_key(quiet, "val"), kp_by_key(noisy, "val")
    for key in val_clean:
        np.testing.assert_array_equal(val_clean[key], val_noisy[key])  # validation sees the exact keypoints


def test_mirror_steps_is_the_mirror_image_of_the_clip(rng):
    from motionhmr.data import mirror_steps
    from synth.conventions import EVAL_JOINTS

    t, f = 3, 300.0
    joints = np.concatenate([rng.uniform(-0.5, 0.5, (t, 14, 2)), rng.uniform(3.0, 4.0, (t, 14, 1))], -1)

    def project(x):  # a pinhole centred on the crop
        return (f * x[..., :2] / x[..., 2:] + 111.5).astype(np.float32)

    steps = {
        "kp2d": project(joints), "kp2d_future": project(joints[1:]), "joints3d": joints.astype(np.float32),
        "kp_visible": rng.random((t, 14)) < 0.7, "kp_input_visible": rng.random((t, 14)) < 0.7,
        "kp_visible_future": rng.random((t - 1, 14)) < 0.7, "total_occlusion": np.zeros(t, bool),
        "rgb": rng.integers(0, 255, (t - 1, 224, 224, 3), dtype=np.uint8),
        "flow": rng.integers(-50, 50, (t - 1, 224, 224, 2)).astype(np.int16), "key": "000000001",
    }  # fmt: skip
    m = mirror_steps(steps)
    # the mirrored 3D projects onto the mirrored 2D: one consistent mirror image
    np.testing.assert_allclose(m["kp2d"], project(m["joints3d"]), atol=1e-3)
    li, ri = EVAL_JOINTS.index("l_wrist"), EVAL_JOINTS.index("r_wrist")
    assert m["joints3d"][0, li, 0] == -steps["joints3d"][0, ri, 0]  # the right wrist became the left one
    assert m["kp2d"][0, li, 0] == pytest.approx(223 - steps["kp2d"][0, ri, 0])
    np.testing.assert_array_equal(m["kp_visible"][:, li], steps["kp_visible"][:, ri])
    np.testing.assert_array_equal(m["rgb"][:, :, 0], steps["rgb"][:, :, -1])  # columns reversed
    np.testing.assert_array_equal(m["flow"][:, 5, 0, 0], -steps["flow"][:, 5, -1, 0])  # u negated
    np.testing.assert_array_equal(m["flow"][:, 5, 0, 1], steps["flow"][:, 5, -1, 1])  # v kept
    twice = mirror_steps(m)
    for key in ("kp2d", "kp2d_future", "joints3d", "kp_visible", "rgb", "flow"):
        np.testing.assert_allclose(twice[key], steps[key], atol=1e-4)


def test_mirroring_reaches_half_the_training_clips_only_and_is_reproducible(fake_shards):
    plain = DataConfig(path=str(fake_shards), val_every=4, batch_size=1, workers=0, shuffle_buffer=0)
    mirrored = dataclasses.replace(plain, mirror=True)

    def by_key(cfg, split):
        return {b["key"][0]: b["joints3d"][0].numpy() for b in make_loader(cfg, "kp", split, seed=3)}

    clean, a, b = by_key(plain, "train"), by_key(mirrored, "train"), by_key(mirrored, "train")
    flipped = [k for k in clean if not np.array_equal(a[k], clean[k])]
    assert 0 < len(flipped) < len(clean)
    for key in clean:
        np.testing.assert_array_equal(a[key], b[key])  # same seed, epoch and pass: same choice
    for key in flipped:
        np.testing.assert_allclose(np.sort(a[key][..., 0].ravel()), np.sort(-clean[key][..., 0].ravel()), atol=1e-6)
    val = by_key(dataclasses.replace(mirrored, mirror=True), "val")
    plain_val = by_key(plain, "val")
    assert all(np.array_equal(val[k], plain_val[k]) for k in val)


def test_shuffled_order_is_fixed_by_seed_and_epoch(fake_shards):
    cfg = DataConfig(path=str(fake_shards), val_every=0, batch_size=1, workers=0, shuffle_buffer=6)
    first = keys_of(make_loader(cfg, "kp", epoch=1, seed=5))
    assert keys_of(make_loader(cfg, "kp", epoch=1, seed=5)) == first
    assert keys_of(make_loader(cfg, "kp", epoch=2, seed=5)) != first
    assert keys_of(make_loader(cfg, "kp", epoch=1, seed=6)) != first
    assert sorted(first) == [key_of(i) for i in range(12)]
    plain = DataConfig(path=str(fake_shards), val_every=0, batch_size=1, workers=0, shuffle_buffer=0)
    # buffer off: shards are still dealt in a shuffled order, clips within a shard are not
    order = keys_of(make_loader(plain, "kp", epoch=1, seed=5))
    assert all(order[i : i + 3] == sorted(order[i : i + 3]) for i in range(0, 12, 3))
    assert not all(first[i : i + 3] == sorted(first[i : i + 3]) for i in range(0, 12, 3))  # the buffer mixes
    dealt = {tuple(make_loader(plain, "kp", rank=0, world_size=2, epoch=e).shards) for e in range(6)}
    assert len(dealt) > 1  # every epoch deals the shards to ranks anew


def test_workers_are_clamped_to_the_ranks_shards_and_all_clips_arrive(fake_shards, caplog):
    cfg = DataConfig(path=str(fake_shards), val_every=0, batch_size=1, workers=5, shuffle_buffer=2)
    with caplog.at_level(logging.INFO, logger="motionhmr.data"):
        loaders = [make_loader(cfg, "kp", rank=r, world_size=2) for r in range(2)]
    assert [ld.workers for ld in loaders] == [2, 2]
    assert "5 workers asked, rank 0 has 2 train shard(s): using 2" in caplog.text
    keys = [k for ld in loaders for k in keys_of(ld)]  # two worker processes per rank
    assert sorted(keys) == [key_of(i) for i in range(12)]


def test_fixed_batches_per_epoch_repeat_and_stay_equal_across_ranks(fake_shards):
    cfg = DataConfig(path=str(fake_shards), val_every=4, batch_size=2, workers=0, shuffle_buffer=2)
    counts = []
    for rank in range(3):  # 4 shards over 3 ranks: uneven
        loader = make_loader(cfg, "kp", rank=rank, world_size=3, batches=7)
        batches = list(loader)
        counts.append(len(batches))
        assert len(loader) == 7 and all(len(b["key"]) == 2 for b in batches)  # drop_last
        assert all(split_of(k, 4) == "train" for b in batches for k in b["key"])
    assert counts == [7, 7, 7]
    with pytest.raises(TypeError, match="batches=N"):
        len(make_loader(cfg, "kp"))


@pytest.mark.parametrize("workers", [0, 2])
def test_skipping_batches_resumes_the_same_stream_without_decoding_them(fake_shards, monkeypatch, workers):
    """make_loader(skip=k) yields exactly batches k.. of the uninterrupted epoch (what a
    resumed run trains on next), across passes and workers; skipped clips are never decoded."""
    import motionhmr.data as data

    cfg = DataConfig(path=str(fake_shards), val_every=4, batch_size=2, workers=workers, shuffle_buffer=3)
    whole = [b["key"] for b in make_loader(cfg, "kp", epoch=2, seed=7, batches=9)]  # 18 clips: 2+ passes
    for skip in (1, 4, 8):
        resumed = make_loader(cfg, "kp", epoch=2, seed=7, batches=9, skip=skip)
        assert len(resumed) == 9 - skip
        assert [b["key"] for b in resumed] == whole[skip:]
    if workers == 0:  # decoding happens in this process: count it
        calls = []
        monkeypatch.setattr(data, "decode", lambda record, *a: calls.append(1) or decode(record, *a))
        assert len(list(make_loader(cfg, "kp", epoch=2, seed=7, batches=9, skip=6))) == 3
        assert len(calls) == 3 * 2
    with pytest.raises(InputError, match="skip=9 needs the train split"):
        make_loader(cfg, "kp", batches=9, skip=9)


def test_frame_windows_and_their_limit(fake_shards):
    cfg = DataConfig(path=str(fake_shards), val_every=4, batch_size=1, workers=0, frames=3)
    batches = list(make_loader(cfg, "flow+kp", seed=0))
    b = batches[0]
    assert assemble(b, "flow+kp").shape == (1, 2, 16, 224, 224) and b["joints3d"].shape == (1, 3, 14, 3)
    assert b["kp2d_future"].shape == (1, 2, 14, 2) and b["total_occlusion"].shape == (1, 3)
    starts = set()
    for b in batches:  # each a window of the stored clip, at a random start
        full = fake_sample(int(b["key"][0])).arrays["kp2d"]
        starts |= {s for s in range(2) if np.array_equal(b["kp2d"][0].numpy(), full[s : s + 3])}
    assert starts == {0, 1}
    centred = DataConfig(path=str(fake_shards), val_every=4, batch_size=1, workers=0, frames=2)
    v = next(iter(make_loader(centred, "kp", "val")))  # frames 1..2 of 0..3
    np.testing.assert_array_equal(v["kp2d"][0].numpy(), fake_sample(0).arrays["kp2d"][1:3])
    with pytest.raises(InputError, match="data.frames=5 but the clips in .* have 4 frames.*frames=5"):
        make_loader(DataConfig(path=str(fake_shards), frames=5), "kp")


def test_decoded_shard_clip_matches_the_hand_made_one(fake_shards):
    from synth.shards.reader import iter_records

    s = decode(next(iter(iter_records(fake_shards / "shard-000001.tar"))))
    want = fake_sample(3)
    np.testing.assert_array_equal(s.flow, want.flow)
    np.testing.assert_array_equal(s.arrays["kp2d"], want.arrays["kp2d"])


# -- real generated shards (slow) -------------------------------------------------------------
@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from synth.cli import main

    out = tmp_path_factory.mktemp("generated")
    args = ["generate", "--n", "3", "--out", str(out), "--per-shard", "2", "--seed", "3",
            "total_occlusion.probability=1.0"]  # fmt: skip  (every clip gets a hidden span)
    assert main(args) == 0
    from synth.shards.reader import iter_records

    clips = [decode(r) for p in sorted(out.glob("shard-*.tar")) for r in iter_records(p)]
    return out, clips


@pytest.mark.slow
@pytest.mark.parametrize("inputs", ["rgb", "flow+kp", "rgb+flow+kp"])
def test_generated_clips_become_contract_steps(generated, inputs):
    _, clips = generated
    spec = parse_inputs(inputs)
    where = spec.slices()
    for s in clips:
        a, out = s.arrays, sample_to_steps(s, spec)
        x, total = steps_input(s, spec), a["total_occlusion"].astype(bool)
        np.testing.assert_allclose(x, old_loader_input(s, spec), atol=2e-6, rtol=0)
        assert x.shape == (30, spec.channels, 224, 224) and x.dtype == np.float32 and np.isfinite(x).all()
        assert total.any()
        hidden = (total[:-1] | total[1:]) if "flow" in spec else total[:-1]
        np.testing.assert_array_equal(x[:, where["occ"], 0, 0], hidden[:, None].astype(np.float32))
        if "rgb" in spec:
            rgb = x[:, where["rgb"]]
            assert -2.2 < rgb.min() and rgb.max() < 2.7 and rgb[~total[:30]].std() > 0.2
            assert not rgb[total[:30]].any()
        if "flow" in spec:
            np.testing.assert_allclose(x[:, where["flow"]], to_model_input(s.flow).transpose(0, 3, 1, 2), atol=1e-6)
            assert not x[hidden, where["flow"]].any() and x[~hidden, where["flow"]].any()
        if "kp" in spec:
            kp = x[:, where["kp"]]
            np.testing.assert_allclose(kp, heatmaps(a["kp2d"][:30], a["kp_input_visible"][:30]), atol=1e-6)
            assert 0 <= kp.min() and kp.max() <= 1 and not kp[total[:30]].any() and kp.max() > 0.9
        np.testing.assert_array_equal(out["total_occlusion"], total)
        assert out["kp_visible"].dtype == bool and out["kp2d"].dtype == np.float32


@pytest.mark.slow
def test_generated_future_keypoints_match_projected_joints(generated):
    _, clips = generated
    for s in clips:
        a = s.arrays
        p = np.einsum("tij,tkj->tki", a["K"], a["joints3d"])  # each frame's background px
        want = to_crop((p[..., :2] / p[..., 2:]).astype(np.float32)[1:], a["boxes"][:-1])
        got = sample_to_steps(s, "kp")["kp2d_future"]
        np.testing.assert_allclose(got, want, atol=0.01)


@pytest.mark.slow
def test_generated_loader_batches(generated):
    out, clips = generated
    cfg = DataConfig(path=str(out), val_every=2, batch_size=2, workers=2, shuffle_buffer=2, frames=8)
    assert list(make_loader(cfg, "kp")) == []  # one train clip, batches of 2: dropped (drop_last)
    one = dataclasses.replace(cfg, batch_size=1)
    assert [b["key"] for b in make_loader(one, "kp")] == [["000000001"]]
    val = list(make_loader(cfg, "rgb+flow+kp", "val"))
    assert sorted(k for b in val for k in b["key"]) == ["000000000", "000000002"]
    for b in val:
        n = len(b["key"])
        x = assemble(b, "rgb+flow+kp")
        assert x.shape == (n, 7, 19, 224, 224) and x.dtype == torch.float32
        assert b["joints3d"].shape == (n, 8, 14, 3) and b["kp2d"].shape == (n, 8, 14, 2)
        assert b["kp_visible"].dtype == torch.bool and b["kp2d_future"].shape == (n, 7, 14, 2)
        assert b["total_occlusion"].shape == (n, 8) and b["kp_visible_future"].shape == (n, 7, 14)
        z = b["joints3d"][..., 2]
        assert (z > 0.5).all()  # metres in front of the camera
    full = {c.key: c for c in clips}
    b = next(iter(make_loader(cfg, "kp", "val", batches=1)))
    start = (31 - 8) // 2  # centred window
    for i, key in enumerate(b["key"]):
        np.testing.assert_array_equal(b["kp2d"][i].numpy(), full[key].arrays["kp2d"][start : start + 8])
