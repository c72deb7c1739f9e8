"""Per-vertex appearance (skin, clothes, hair) and lighting for synthetic people.

The renderer colours meshes per vertex (no UV textures), so everything here produces one
RGB colour per vertex of the *rest* mesh; the colours then travel with the vertices into
any pose. Frames follow :mod:`synth.conventions` (Y up, the person faces +Z).

Contract
--------
``PARTS``
    ``("head", "torso", "upper_arm", "forearm", "hand", "thigh", "shin", "foot")``; the
    integer part labels below index this tuple. Left and right limbs share a label.

``body_parts(skeleton, vertex_joint) -> [V] int64``
    Each vertex's dominant joint is walked up the skeleton to the nearest joint with a
    canonical name, which fixes the part (pelvis/spine/chest/collars -> torso, neck/head ->
    head, shoulder -> upper_arm, elbow -> forearm, wrist -> hand, hip -> thigh, knee ->
    shin, ankle/toe -> foot). Fingers, thumbs, ``LHipJoint`` and the like thus take the
    part of their nearest canonical ancestor; a root chain with no canonical joint at all
    counts as torso.

``sample_appearance(rng, rest_vertices [V,3], parts [V], kinds=None, photos=None,
shading_noise=0.03) -> [V,3] uint8``
    One outfit: a skin tone from the Monk skin-tone scale (light to dark) on head, hands
    and, with short sleeves / shorts, forearms / shins; a top on torso + upper arms
    (+ forearms with long sleeves); bottoms on the lower torso (below a random waist) and
    thighs (+ shins with long trousers); shoes on the feet; hair on the top and back of
    the head. Top and bottoms are each painted with one of ``KINDS``: a solid colour,
    stripes (random angle, 3-12 cm period), checks, smooth value noise, a patch of a real
    photo from scikit-image (``PHOTOS``) or a tinted real grey-level material photo
    (``FABRICS``). ``kinds`` restricts the kinds drawn from and ``photos`` the photos
    (both mainly so tests can force them). Texture coordinates are cylindrical around
    each body segment's long axis, in metres, so patterns have a physical size. A small
    per-vertex brightness noise (std ``shading_noise``, 0 turns it off) is applied last.
    Photos are loaded lazily on first use and cached (``load_photo``, ``load_fabric``).

``sample_lighting(rng) -> Lighting``
    Ambient RGB in [0, 1] plus 1-3 ``DirectionalLight`` (unit ``direction`` pointing from
    the light towards the scene, world frame; RGB ``color`` with max channel 1 from a
    3000-7500 K colour temperature; ``intensity``). The first light is the key light,
    always from above (elevation 20-75 deg), intensity in [1.5, 4.0] which suits
    pyrender's ``DirectionalLight``; fill lights are dimmer (20-60 % of the key) and may
    come from slightly below the horizon (ground bounce). Plain numpy, renderer-agnostic.

Every function that samples takes an explicit ``np.random.Generator``: the same seed
gives the same output.
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from synth.bodies.base import Skeleton

PARTS: tuple[str, ...] = ("head", "torso", "upper_arm", "forearm", "hand", "thigh", "shin", "foot")
HEAD, TORSO, UPPER_ARM, FOREARM, HAND, THIGH, SHIN, FOOT = range(len(PARTS))
#: Parts that come in a left and a right copy.
LIMB_PARTS: tuple[int, ...] = (UPPER_ARM, FOREARM, HAND, THIGH, SHIN, FOOT)

_CANONICAL_PART: dict[str, int] = {
    "pelvis": TORSO, "spine": TORSO, "chest": TORSO, "l_collar": TORSO, "r_collar": TORSO,
    "neck": HEAD, "head": HEAD,
    "l_shoulder": UPPER_ARM, "r_shoulder": UPPER_ARM,
    "l_elbow": FOREARM, "r_elbow": FOREARM,
    "l_wrist": HAND, "r_wrist": HAND,
    "l_hip": THIGH, "r_hip": THIGH,
    "l_knee": SHIN, "r_knee": SHIN,
    "l_ankle": FOOT, "r_ankle": FOOT, "l_toe": FOOT, "r_toe": FOOT,
}  # fmt: skip

#: Garment colourings. "photo" and "fabric" use real photographs shipped in scikit-image.
KINDS: tuple[str, ...] = ("solid", "stripes", "checks", "noise", "photo", "fabric")
_KIND_WEIGHTS: dict[str, float] = {
    "solid": 0.35, "stripes": 0.15, "checks": 0.10, "noise": 0.15, "photo": 0.15, "fabric": 0.10,
}  # fmt: skip

#: Natural colour photos in the scikit-image wheel (no network needed). Left out:
#: ``cat`` (the same image as ``chelsea``), ``hubble_deep_field`` (almost all black),
#: ``retina``/``immunohistochemistry`` (medical, mostly flat background), and the
#: ``lily``/``kidney``/``skin``/``eagle`` images, which need a pooch download.
PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle")
#: Grey-level photos of real materials, tinted with a garment colour ("fabric" kind).
FABRICS: tuple[str, ...] = ("brick", "grass", "gravel")

# Monk Skin Tone scale (Google, 10 swatches, lightest to darkest), sRGB.
_SKIN_TONES = np.array([
    [246, 237, 228], [243, 231, 219], [247, 234, 208], [234, 218, 186], [215, 189, 150],
    [160, 126, 86], [130, 92, 67], [96, 65, 52], [58, 49, 42], [41, 36, 32],
], dtype=np.float64) / 255.0  # fmt: skip

_HAIR = np.array([
    [20, 17, 15], [44, 34, 30], [80, 58, 42], [128, 92, 60], [196, 164, 108],
    [140, 62, 32], [150, 150, 150], [225, 222, 215],
], dtype=np.float64) / 255.0  # fmt: skip
_HAIR_WEIGHTS = np.array([0.25, 0.25, 0.18, 0.1, 0.08, 0.05, 0.05, 0.04])

# Common clothing neutrals: black, white, greys, navy, denim, beige, khaki, brown, olive.
_NEUTRALS = np.array([
    [20, 20, 22], [235, 235, 230], [128, 128, 128], [70, 70, 75], [30, 40, 80],
    [60, 85, 125], [215, 200, 170], [170, 150, 105], [95, 65, 45], [85, 90, 55],
], dtype=np.float64) / 255.0  # fmt: skip

# -- body parts --------------------------------------------------------------------------


def joint_parts(skeleton: Skeleton) -> np.ndarray:
    """``[J]`` part label of every skeleton joint (see :func:`body_parts`)."""
    canonical_part = {j: _CANONICAL_PART[c] for c, j in skeleton.canonical.items()}
    part = np.empty(skeleton.num_joints, dtype=np.int64)
    for j, parent in enumerate(skeleton.parents):  # parents precede children
        if j in canonical_part:
            part[j] = canonical_part[j]
        elif parent >= 0:
            part[j] = part[parent]
        else:
            part[j] = TORSO  # a root above every canonical joint is part of the trunk
    return part


def body_parts(skeleton: Skeleton, vertex_joint: np.ndarray) -> np.ndarray:
    """``[V]`` index into ``PARTS`` for each vertex, from its dominant skeleton joint."""
    return joint_parts(skeleton)[np.asarray(vertex_joint, dtype=np.int64)]


# -- photos ------------------------------------------------------------------------------


@functools.cache
def load_photo(name: str) -> np.ndarray:
    """A photo from ``PHOTOS`` as ``[H, W, 3]`` uint8 (loaded once, then cached)."""
    import skimage.data  # imported lazily: only the photo kinds need it

    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; choose from {PHOTOS}")
    if name == "motorcycle":
        image = skimage.data.stereo_motorcycle()[0]  # the left view of the stereo pair
    else:
        image = getattr(skimage.data, name)()
    image = np.ascontiguousarray(image[..., :3], dtype=np.uint8)
    image.setflags(write=False)  # shared through the cache
    return image


@functools.cache
def load_fabric(name: str) -> np.ndarray:
    """A material photo from ``FABRICS`` as ``[H, W]`` float32, contrast-stretched to [0, 1]."""
    import skimage.data

    if name not in FABRICS:
        raise ValueError(f"unknown fabric {name!r}; choose from {FABRICS}")
    image = getattr(skimage.data, name)().astype(np.float32)
    lo, hi = np.percentile(image, [2, 98])
    image = np.clip((image - lo) / max(hi - lo, 1.0), 0.0, 1.0)
    image.setflags(write=False)
    return image


# -- appearance --------------------------------------------------------------------------


def sample_appearance(
    rng: np.random.Generator,
    rest_vertices: np.ndarray,
    parts: np.ndarray,
    kinds: Sequence[str] | None = None,
    photos: Sequence[str] | None = None,
    shading_noise: float = 0.03,
) -> np.ndarray:
    """``[V, 3]`` uint8 vertex colours of one random outfit (see the module docstring).

    ``shading_noise`` is the std of the per-vertex brightness factor (0 turns it off).
    """
    verts = np.asarray(rest_vertices, dtype=np.float64)
    parts = np.asarray(parts)
    kinds = tuple(kinds) if kinds is not None else KINDS
    photos = tuple(photos) if photos is not None else PHOTOS
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"unknown texture kind {k!r}; choose from {KINDS}")
    weights = np.array([_KIND_WEIGHTS[k] for k in kinds])
    weights /= weights.sum()

    u, v = _surface_coords(rng, verts, parts)
    colours = np.empty_like(verts)

    skin = _skin_tone(rng)
    long_sleeves = rng.random() < 0.5
    long_trousers = rng.random() < 0.7
    is_top = np.isin(parts, (TORSO, UPPER_ARM, FOREARM) if long_sleeves else (TORSO, UPPER_ARM))
    is_bottom = np.isin(parts, (THIGH, SHIN) if long_trousers else (THIGH,))
    # The waistline: trousers cover the hips and buttocks, i.e. the lowest part of the torso.
    torso = parts == TORSO
    if torso.any():
        y_lo, y_hi = verts[torso, 1].min(), verts[torso, 1].max()
        waist = y_lo + rng.uniform(0.15, 0.35) * (y_hi - y_lo)
        below = torso & (verts[:, 1] < waist)
        is_top &= ~below
        is_bottom |= below

    colours[:] = skin  # head, hands and whatever the garments leave bare
    for mask in (is_top, is_bottom):
        kind = kinds[rng.choice(len(kinds), p=weights)]
        colours[mask] = _paint(rng, kind, u[mask], v[mask], photos)
    colours[parts == FOOT] = _shoe_colour(rng)
    hair = _hair_mask(rng, verts, parts)
    colours[hair] = _HAIR[rng.choice(len(_HAIR), p=_HAIR_WEIGHTS)] * rng.uniform(0.9, 1.1)

    # Brightness noise breaks up perfectly flat regions (real skin and cloth are never flat).
    clip = 2.5 * shading_noise
    shade = np.clip(1.0 + rng.normal(0.0, shading_noise, len(verts)), 1 - clip, 1 + clip)
    colours *= shade[:, None]
    return np.clip(colours * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _surface_coords(
    rng: np.random.Generator, verts: np.ndarray, parts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cylindrical texture coordinates in metres, per body segment.

    Each segment (a part, split into left/right for limbs) gets a cylinder along its
    principal axis (vertical for torso and legs, along the arm for arms in any rest pose):
    ``u`` is the arc length around the axis (angle times the mean radius, the seam at the
    back), ``v`` the height along it. A random offset per segment decorrelates the
    patterns of e.g. the two sleeves, as if cut from different parts of the cloth.
    """
    u = np.zeros(len(verts))
    v = np.zeros(len(verts))
    torso = parts == TORSO
    x_mid = verts[torso, 0].mean() if torso.any() else 0.0
    side = np.isin(parts, LIMB_PARTS) & (verts[:, 0] > x_mid)
    segment = parts * 2 + side
    forward = np.array([0.0, 0.0, 1.0])
    for s in range(2 * len(PARTS)):
        idx = np.flatnonzero(segment == s)
        if len(idx) < 3:
            continue
        d = verts[idx] - verts[idx].mean(axis=0)
        axis = np.linalg.eigh(d.T @ d)[1][:, -1]
        axis *= np.sign(axis[np.argmax(np.abs(axis))])  # a fixed sign: stable stripe angles
        ref = forward - (forward @ axis) * axis
        if np.linalg.norm(ref) < 0.3:  # a segment along z (the feet): measure angles from x
            ref = np.array([1.0, 0.0, 0.0]) - axis[0] * axis
        ref /= np.linalg.norm(ref)
        ortho = np.cross(axis, ref)
        h = d @ axis
        radial = d - h[:, None] * axis
        angle = np.arctan2(radial @ ortho, radial @ ref)  # 0 at the front, +-pi at the back
        radius = np.linalg.norm(radial, axis=1).mean()
        offset = rng.uniform(0.0, 5.0, 2)
        u[idx] = angle * radius + offset[0]
        v[idx] = h + offset[1]
    return u, v


def _paint(
    rng: np.random.Generator, kind: str, u: np.ndarray, v: np.ndarray, photos: Sequence[str]
) -> np.ndarray:
    """``[n, 3]`` float colours of one garment of the given kind at texture coords (u, v)."""
    if kind == "solid":
        return np.broadcast_to(_garment_colour(rng), (len(u), 3))
    if kind == "stripes":
        c1, c2 = _colour_pair(rng)
        a, _ = _rotate(u, v, rng.uniform(0.0, np.pi))
        period = rng.uniform(0.03, 0.12)  # coarser than ~3 cm aliases at Anny's ~1.2 cm mesh
        on = np.mod(a / period, 1.0) < rng.uniform(0.3, 0.7)
        return np.where(on[:, None], c1, c2)
    if kind == "checks":
        c1, c2 = _colour_pair(rng)
        a, b = _rotate(u, v, rng.uniform(0.0, np.pi / 2))
        period = rng.uniform(0.04, 0.15)
        on = (np.floor(a / period) + np.floor(b / period)) % 2 == 0
        return np.where(on[:, None], c1, c2)
    if kind == "noise":
        c1, c2 = _colour_pair(rng)
        t = _value_noise(rng, u, v, cell=rng.uniform(0.03, 0.2))
        return c1 + t[:, None] * (c2 - c1)
    if kind == "photo":
        image = load_photo(photos[rng.integers(len(photos))])
        # The photo's shorter side spans 0.3-1.5 m: a print from logo to all-over size.
        return _sample_image(rng, image, u, v, extent=rng.uniform(0.3, 1.5)) / 255.0
    if kind == "fabric":
        image = load_fabric(FABRICS[rng.integers(len(FABRICS))])
        g = _sample_image(rng, image, u, v, extent=rng.uniform(0.15, 0.6))
        # Keep the hue of the tint and let the material photo modulate its brightness.
        return np.clip(_garment_colour(rng) * (0.6 + 0.8 * g[:, None]), 0.0, 1.0)
    raise ValueError(f"unknown texture kind {kind!r}")


def _rotate(u: np.ndarray, v: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(theta), np.sin(theta)
    return c * u + s * v, -s * u + c * v


def _sample_image(
    rng: np.random.Generator, image: np.ndarray, u: np.ndarray, v: np.ndarray, extent: float
) -> np.ndarray:
    """Nearest-pixel lookup of a randomly placed and rotated image tiled (mirrored) over
    (u, v); ``extent`` is the physical size in metres of the image's shorter side."""
    h, w = image.shape[:2]
    a, b = _rotate(u, v, rng.uniform(0.0, 2 * np.pi))
    px_per_m = min(h, w) / extent
    col = np.floor(a * px_per_m + rng.uniform(0, w)).astype(np.int64)
    row = np.floor(-b * px_per_m + rng.uniform(0, h)).astype(np.int64)  # v up, rows down
    return image[_mirror(row, h), _mirror(col, w)].astype(np.float64)


def _mirror(i: np.ndarray, n: int) -> np.ndarray:
    """Reflect integer pixel indices into [0, n): mirrored tiling has no seams."""
    i = np.mod(i, 2 * n)
    return np.where(i >= n, 2 * n - 1 - i, i)


def _value_noise(rng: np.random.Generator, u: np.ndarray, v: np.ndarray, cell: float) -> np.ndarray:
    """Smooth value noise in [0, 1]: two octaves of smoothstep-interpolated lattice values."""
    size = 64  # the lattice wraps after size cells, far beyond a garment at >= 3 cm cells
    total = np.zeros(len(u))
    for octave, weight in ((1.0, 1.0), (2.0, 0.5)):
        table = rng.random((size, size))
        x, y = u * octave / cell, v * octave / cell
        ix, iy = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        fx, fy = x - ix, y - iy
        sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
        x0, x1, y0, y1 = ix % size, (ix + 1) % size, iy % size, (iy + 1) % size
        top = table[x0, y0] + sx * (table[x1, y0] - table[x0, y0])
        bottom = table[x0, y1] + sx * (table[x1, y1] - table[x0, y1])
        total += weight * (top + sy * (bottom - top))
    lo, hi = (total.min(), total.max()) if len(total) else (0.0, 1.0)
    return (total - lo) / max(hi - lo, 1e-9)  # use the full colour range on every garment


def _garment_colour(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour: often a neutral, otherwise a random hue of moderate saturation."""
    if rng.random() < 0.4:
        return np.clip(_NEUTRALS[rng.integers(len(_NEUTRALS))] * rng.uniform(0.9, 1.1), 0.0, 1.0)
    hue, sat, val = rng.random(), rng.uniform(0.25, 0.9), rng.uniform(0.25, 0.95)
    return np.array(colorsys.hsv_to_rgb(hue, sat, val))


def _colour_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two garment colours far enough apart for the pattern to be visible."""
    c1 = _garment_colour(rng)
    for _ in range(10):
        c2 = _garment_colour(rng)
        if np.linalg.norm(c2 - c1) > 0.35:
            break
    return c1, c2


def _skin_tone(rng: np.random.Generator) -> np.ndarray:
    """A base skin colour anywhere along the Monk scale, with a slight per-channel jitter."""
    t = rng.uniform(0.0, len(_SKIN_TONES) - 1)
    i = min(int(t), len(_SKIN_TONES) - 2)
    tone = _SKIN_TONES[i] + (t - i) * (_SKIN_TONES[i + 1] - _SKIN_TONES[i])
    return np.clip(tone * rng.uniform(0.96, 1.04, 3), 0.0, 1.0)


def _shoe_colour(rng: np.random.Generator) -> np.ndarray:
    # Mostly dark or white shoes, sometimes any colour (trainers).
    if rng.random() < 0.7:
        return np.clip(_NEUTRALS[rng.choice([0, 1, 3, 8])] * rng.uniform(0.85, 1.15), 0.0, 1.0)
    return _garment_colour(rng)


def _hair_mask(rng: np.random.Generator, verts: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Head vertices above a random hairline and behind a random face plane (z), or none
    for a bald person. The head part includes the neck, so the hairline is a fraction of
    the whole part's height: low fractions give long hair down the back of the neck."""
    head = parts == HEAD
    if not head.any() or rng.random() < 0.07:
        return np.zeros(len(verts), dtype=bool)
    y, z = verts[:, 1], verts[:, 2]
    y_lo, y_hi = y[head].min(), y[head].max()
    hairline = y_lo + rng.uniform(0.4, 0.75) * (y_hi - y_lo)
    z_lo, z_hi = z[head].min(), z[head].max()
    face = z_lo + rng.uniform(0.4, 0.6) * (z_hi - z_lo)
    # Vertices close to the crown are hair even in front of the face plane (a fringe).
    crown = y_hi - rng.uniform(0.1, 0.25) * (y_hi - y_lo)
    return head & (y > hairline) & ((z < face) | (y > crown))


# -- lighting ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DirectionalLight:
    """A light at infinity. ``direction``: unit [3], from the light towards the scene."""

    direction: np.ndarray
    color: np.ndarray  # [3] RGB, max channel 1
    intensity: float


@dataclasses.dataclass(frozen=True)
class Lighting:
    ambient: np.ndarray  # [3] RGB in [0, 1]
    lights: list[DirectionalLight]  # the key light first


def sample_lighting(rng: np.random.Generator) -> Lighting:
    """Random ambient + 1-3 directional lights (see the module docstring)."""
    ambient = rng.uniform(0.15, 0.45) * _temperature_rgb(_sample_temperature(rng))
    key_intensity = rng.uniform(1.5, 4.0)
    key_colour = _temperature_rgb(_sample_temperature(rng))
    lights = [DirectionalLight(_direction(rng, 20.0, 75.0), key_colour, key_intensity)]
    for _ in range(rng.integers(0, 3)):
        lights.append(
            DirectionalLight(
                _direction(rng, -10.0, 60.0),
                _temperature_rgb(_sample_temperature(rng)),
                key_intensity * rng.uniform(0.2, 0.6),
            )
        )
    return Lighting(ambient=ambient, lights=lights)


def _direction(rng: np.random.Generator, min_elev_deg: float, max_elev_deg: float) -> np.ndarray:
    """Unit vector from a light at a random azimuth and elevation towards the origin."""
    elev = np.radians(rng.uniform(min_elev_deg, max_elev_deg))
    azim = rng.uniform(0.0, 2 * np.pi)
    to_light = np.array([np.cos(elev) * np.sin(azim), np.sin(elev), np.cos(elev) * np.cos(azim)])
    return -to_light


def _sample_temperature(rng: np.random.Generator) -> float:
    # Uniform in mireds (1e6 / K), which is closer to perceptually uniform than kelvin.
    return 1e6 / rng.uniform(1e6 / 7500.0, 1e6 / 3000.0)


def _temperature_rgb(kelvin: float) -> np.ndarray:
    """RGB of a black body at ``kelvin`` (Tanner Helland's fit), scaled to max channel 1."""
    t = kelvin / 100.0
    if t <= 66:
        r = 255.0
        g = 99.4708025861 * np.log(t) - 161.1195681661
    else:
        r = 329.698727446 * (t - 60) ** -0.1332047592
        g = 288.1221695283 * (t - 60) ** -0.0755148492
    if t >= 66:
        b = 255.0
    elif t <= 19:
        b = 0.0
    else:
        b = 138.5177312231 * np.log(t - 10) - 305.0447927307
    rgb = np.clip(np.array([r, g, b]), 0.0, 255.0)
    return rgb / rgb.max()
