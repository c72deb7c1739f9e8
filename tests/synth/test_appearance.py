"""Tests for synth.appearance: body parts on Anny, outfits, photo textures, lighting."""

from __future__ import annotations


import numpy as np
import pytest
from scipy.spatial import cKDTree

from synth.appearance import (
    FOOT,
    HAND,
    HEAD,
    PARTS,
    PHOTOS,
    SHIN,
    THIGH,
    TORSO,
    UPPER_ARM,
    body_parts,
    load_photo,
    sample_appearance,
    sample_lighting,
)


@pytest.fixture(scope="module")
def anny():
    from synth.bodies.anny_body import AnnyBody

    body = AnnyBody()
    rest = body.rest(body.default_shape()).vertices[0].detach().numpy().astype(np.float64)
    parts = body_parts(body.skeleton, body.vertex_joint())
    return rest, parts


# -- body parts --------------------------------------------------------------------------


def test_every_part_present(anny):
    _, parts = anny
    assert parts.dtype.kind == "i"
    assert set(np.unique(parts)) == set(range(len(PARTS)))


def test_parts_anatomically_placed(anny):
    rest, parts = anny
    mean_y = [rest[parts == p, 1].mean() for p in (HEAD, TORSO, THIGH, SHIN, FOOT)]
    assert all(a > b for a, b in zip(mean_y, mean_y[1:])), mean_y
    assert np.abs(rest[parts == HAND, 0]).mean() > np.abs(rest[parts == TORSO, 0]).mean() + 0.2


@pytest.mark.parametrize("part", [UPPER_ARM, HAND, THIGH, SHIN, FOOT])
def test_limbs_left_right_symmetric(anny, part):
    rest, parts = anny
    left = np.count_nonzero((parts == part) & (rest[:, 0] > 0))
    right = np.count_nonzero((parts == part) & (rest[:, 0] < 0))
    assert abs(left - right) <= 0.1 * max(left, right)


def test_unnamed_joints_take_nearest_canonical_ancestor():
    from synth.appearance import joint_parts
    from synth.bodies.base import Skeleton
    from synth.conventions import EVAL_JOINTS

    # A minimal chain: Root -> Extra (no canonical name) -> the 14 eval joints, plus a finger.
    names = ("Root", "Extra", *EVAL_JOINTS, "LFinger")
    parents = (-1, 0, *([1] * len(EVAL_JOINTS)), 2 + EVAL_JOINTS.index("l_wrist"))
    canonical = {n: 2 + i for i, n in enumerate(EVAL_JOINTS)}
    part = joint_parts(Skeleton(names=names, parents=parents, canonical=canonical))
    assert part[0] == part[1] == TORSO
    assert part[-1] == HAND


# -- appearance --------------------------------------------------------------------------


def test_appearance_shape_dtype_deterministic(anny):
    rest, parts = anny
    a = sample_appearance(np.random.default_rng(7), rest, parts)
    b = sample_appearance(np.random.default_rng(7), rest, parts)
    c = sample_appearance(np.random.default_rng(8), rest, parts)
    assert a.shape == (len(rest), 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 5


def _spread(colours: np.ndarray) -> float:
    """Per-channel std of colours, summed (0-255 units)."""
    return float(colours.astype(np.float64).std(axis=0).sum())


@pytest.mark.parametrize("kind", ["stripes", "checks", "noise", "photo", "fabric"])
def test_textures_vary_solid_does_not(anny, kind):
    rest, parts = anny
    upper = parts == UPPER_ARM  # always covered by the top
    for seed in range(5):
        textured = sample_appearance(np.random.default_rng(seed), rest, parts, kinds=[kind])
        solid = sample_appearance(np.random.default_rng(seed), rest, parts, kinds=["solid"])
        # Solid colours vary only by the small shading noise; textures vary far more.
        assert _spread(solid[upper]) < 15
        assert _spread(textured[upper]) > 25, (kind, seed)


def test_default_mix_has_solid_and_textured_garments(anny):
    rest, parts = anny
    thigh = parts == THIGH  # always covered by the bottoms
    colours = [sample_appearance(np.random.default_rng(seed), rest, parts) for seed in range(40)]
    spreads = [_spread(c[thigh]) for c in colours]
    assert min(spreads) < 15 and max(spreads) > 40


def test_hand_skin_matches_head(anny):
    rest, parts = anny
    for seed in range(10):
        colours = sample_appearance(np.random.default_rng(seed), rest, parts).astype(np.float64)
        hand = np.median(colours[parts == HAND], axis=0)
        # The hands are all skin, with only the shading noise on top.
        assert np.abs(colours[parts == HAND] - hand).max(axis=1).mean() < 12
        # Much of the head (face, ears, neck: what hair leaves bare) has the same skin.
        head = colours[parts == HEAD]
        close = np.abs(head - hand).max(axis=1) < 0.1 * hand.max() + 6
        assert close.mean() > 0.3, seed


def _colour_keys(colours: np.ndarray) -> np.ndarray:
    c = colours.reshape(-1, 3).astype(np.int64)
    return (c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]


@pytest.fixture(scope="module")
def palettes():
    """Each photo's set of distinct colours, as packed integer keys."""
    return {name: np.unique(_colour_keys(load_photo(name))) for name in PHOTOS}


@pytest.mark.parametrize("photo", PHOTOS)
def test_photo_texture_comes_from_the_photo(anny, palettes, photo):
    rest, parts = anny
    upper = parts == UPPER_ARM  # always covered by the top
    for seed in range(3):
        # Without shading noise every garment colour is exactly a pixel of the source photo,
        # while another photo holds well under all of them.
        rng = np.random.default_rng(seed)
        exact = sample_appearance(rng, rest, parts, ["photo"], photos=[photo], shading_noise=0.0)
        keys = _colour_keys(exact[upper])
        found = {name: np.isin(keys, pal).mean() for name, pal in palettes.items()}
        assert found.pop(photo) == 1.0
        assert max(found.values()) < 0.7, found
        # With the default shading noise the colours stay within a few units of the photo's.
        rng = np.random.default_rng(seed)
        noisy = sample_appearance(rng, rest, parts, kinds=["photo"], photos=[photo])
        pal = palettes[photo]
        tree = cKDTree(np.stack([pal >> 16, (pal >> 8) & 255, pal & 255], axis=1).astype(float))
        assert np.mean(tree.query(noisy[upper].astype(np.float64))[0]) < 3


def test_unknown_kind_rejected(anny):
    rest, parts = anny
    with pytest.raises(ValueError):
        sample_appearance(np.random.default_rng(0), rest, parts, kinds=["velvet"])


# -- lighting ----------------------------------------------------------------------------


def test_lighting():
    keys_y, all_y = [], []
    for seed in range(200):
        light = sample_lighting(np.random.default_rng(seed))
        assert light.ambient.shape == (3,) and np.all((light.ambient >= 0) & (light.ambient <= 1))
        assert 1 <= len(light.lights) <= 3
        for d in light.lights:
            assert d.direction.shape == (3,) and d.color.shape == (3,)
            np.testing.assert_allclose(np.linalg.norm(d.direction), 1.0, atol=1e-9)
            assert d.color.max() == pytest.approx(1.0) and d.color.min() > 0.3
            assert 0.2 < d.intensity <= 4.0
            all_y.append(d.direction[1])
        keys_y.append(light.lights[0].direction[1])
        assert 1.5 <= light.lights[0].intensity <= 4.0
    assert max(keys_y) < -0.3  # the key light is always from above
    assert np.mean(np.array(all_y) < 0) > 0.8  # lights come mostly from above


def test_lighting_deterministic():
    a = sample_lighting(np.random.default_rng(3))
    b = sample_lighting(np.random.default_rng(3))
    np.testing.assert_array_equal(a.ambient, b.ambient)
    assert len(a.lights) == len(b.lights)
    for la, lb in zip(a.lights, b.lights):
        np.testing.assert_array_equal(la.direction, lb.direction)
        np.testing.assert_array_equal(la.color, lb.color)
        assert la.intensity == lb.intensity
