import numpy as np
import pytest

from synth.appearance import (
    FOOT, HAND, HEAD, PARTS, SHIN, THIGH, TORSO, UPPER_ARM,
    body_parts, load_photo, sample_appearance, sample_lighting,
)  # fmt: skip


@pytest.fixture(scope="module")
def rest(anny_body):
    verts = anny_body.rest(anny_body.default_shape(1)).vertices[0].numpy()
    return verts, body_parts(anny_body.skeleton, anny_body.vertex_joint())


def test_parts_are_anatomical(rest):
    verts, parts = rest
    assert set(np.unique(parts)) == set(range(len(PARTS)))
    height = {p: verts[parts == p, 1].mean() for p in range(len(PARTS))}
    assert height[HEAD] > height[TORSO] > height[THIGH] > height[SHIN] > height[FOOT]
    assert np.abs(verts[parts == HAND, 0]).mean() > np.abs(verts[parts == TORSO, 0]).mean() + 0.2
    for p in (UPPER_ARM, HAND, THIGH, FOOT):  # left and right halves equally sized
        left, right = (verts[parts == p, 0] > 0).sum(), (verts[parts == p, 0] < 0).sum()
        assert abs(left - right) <= 0.1 * max(left, right)


def test_appearance_contract_and_determinism(rest):
    verts, parts = rest
    a = sample_appearance(np.random.default_rng(1), verts, parts)
    b = sample_appearance(np.random.default_rng(1), verts, parts)
    c = sample_appearance(np.random.default_rng(2), verts, parts)
    assert a.shape == (len(verts), 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_solid_versus_textured_garments(rest):
    verts, parts = rest
    torso = parts == TORSO
    solid = sample_appearance(np.random.default_rng(0), verts, parts, kinds=["solid"])
    stripes = sample_appearance(np.random.default_rng(0), verts, parts, kinds=["stripes"])
    upper = torso & (verts[:, 1] > 0.3)  # above any waistline: the top garment
    # Solid cloth varies only by the small shading noise; stripes alternate two colours.
    assert solid[upper].astype(float).std(0).max() < 12
    assert stripes[upper].astype(float).std(0).max() > 20


def test_skin_shared_by_head_and_hands(rest):
    verts, parts = rest
    col = sample_appearance(np.random.default_rng(4), verts, parts).astype(float)
    face = (parts == HEAD) & (verts[:, 2] > 0.05) & (verts[:, 1] < verts[parts == HEAD, 1].mean())
    hands = parts == HAND
    assert np.abs(np.median(col[face], 0) - np.median(col[hands], 0)).max() < 20


def test_photo_patches_come_from_the_photo(rest):
    verts, parts = rest
    col = sample_appearance(np.random.default_rng(3), verts, parts, kinds=["photo"], photos=["coffee"])
    photo = load_photo("coffee").reshape(-1, 3).astype(float)
    garment = col[(parts == TORSO) & (verts[:, 1] > 0.3)].astype(float)
    # Every garment colour has a near twin among the photo's pixels (up to shading noise).
    sub = photo[np.random.default_rng(0).choice(len(photo), 20000, replace=False)]
    nearest = np.sqrt(((garment[:300, None] - sub[None]) ** 2).sum(-1)).min(1)
    assert np.median(nearest) < 15


def test_lighting(rng):
    a, b = sample_lighting(np.random.default_rng(5)), sample_lighting(np.random.default_rng(5))
    assert np.allclose(a.ambient, b.ambient) and len(a.lights) == len(b.lights)
    for _ in range(20):
        light = sample_lighting(rng)
        assert 1 <= len(light.lights) <= 3
        key = light.lights[0]
        assert np.linalg.norm(key.direction) == pytest.approx(1.0) and key.direction[1] < 0  # from above
        assert np.all((0 <= light.ambient) & (light.ambient <= 1))
