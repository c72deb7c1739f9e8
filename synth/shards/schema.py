"""The shard schema: one versioned definition shared by the writer, ``synth verify``,
``synth show`` and the training loader.

A sample is one clip of ``T`` frames (31 by default) and its ``T - 1`` paired-box flows.
WebDataset keys (``__key__`` = the global clip index, 9 digits, no dots):

``rgb.jpg``       RGB crops uint8 ``[T, 224, 224, 3]``, stacked vertically in one JPEG
``flow.png``      flow on paired boxes float32 ``[T-1, 224, 224, 2]`` px (crop t applied to
                  frames t and t+1), 16-bit PNG via :mod:`flow.codec` at 1/16 px
``occluder.png``  occluder mask in crop pixels bool ``[T, 224, 224]``, stacked, 1-bit PNG
``arrays.npz``    the arrays of :data:`ARRAYS` (exact, uncompressed-then-deflated)
``meta.json``     :data:`META` fields: schema version, index, seed, sources, settings

Coordinates: 2D keypoints are crop pixels (x right, y down, 0..224); ``boxes`` are
``(cx, cy, side)`` in background-frame pixels (320x240); 3D joints are metres in the
OpenCV camera frame of the background frame (x right, y down, z forward); ``K``, ``R``,
``t`` map world to that frame, and ``camera_xy`` is the per-frame image shift applied for
camera tracking (already folded into ``K``'s principal point per frame).

Total occlusion (``total_occlusion[t] == 1``): frame t's RGB, its keypoint heatmaps and
the flows of pairs touching it are zero in the stored data, exactly as the network sees
them. Keypoint heatmaps are not stored: :func:`heatmaps` renders them from ``kp2d`` and
``kp_input_visible`` identically in the loader and in ``synth show``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import zipfile

import numpy as np

from synth.errors import InputError

#: Version 2 (2026-12): the same fields and layout as version 1, made by a generator that
#: boxes the crops on the keypoints a detector reports (the randomised input visibility,
#: :func:`synth.crops.detector_boxes`, the test-time rule), unhides hidden legs once per clip
#: for all leg keypoints (:mod:`synth.keypoints`), and draws each kind of random choice from
#: its own stream (:mod:`synth.generate`). Version-1 shards still decode (:data:`READABLE`):
#: their fields mean the same; only the crops and keypoint noise were drawn by the old rules,
#: so a model trained on them saw a train/test gap in framing.
SCHEMA_VERSION = 2
#: Schema versions :func:`decode` reads.
READABLE = (1, 2)
CROP = 224
HEATMAP_SIGMA = 10.0  # px in the 224 crop (paper, Appendix B)
N_HEATMAPS = 12  # the limb keypoints: first 12 of the 14 evaluation joints
JPEG_QUALITY = 90
# Flow is stored at 1/16 px (adds ~0.02 px EPE, under the 0.05 px target) rather than
# KITTI's 1/64: DIS flow on real textures is noisy in its low bits, and each bit costs
# ~20 % of the clip's bytes (measured on generated clips: 1.3 MB at 1/64, 0.8 MB at 1/16).
FLOW_SCALE = 16.0
# zlib level 2: as fast as level 1 (~0.08 s per clip) and 4 % smaller; level 3 takes 0.11 s
# for 8 % fewer bytes (measured on generated clips: 0.96 MB vs 0.88 MB of flow).
FLOW_PNG_LEVEL = 2

# name -> (dtype, shape with symbolic T/J/A/S), checked by validate()
ARRAYS = {
    "kp2d": ("float32", ("T", 14, 2)),  # evaluation joints, crop px
    "kp_visible": ("bool", ("T", 14)),  # true visibility (frame, body depth, occluder, total occlusion)
    "kp_input_visible": ("bool", ("T", 14)),  # after detector-style randomisation: what the heatmaps show
    "joints3d": ("float32", ("T", 14, 3)),  # evaluation joints, camera frame, metres
    "skeleton3d": ("float32", ("T", "A", 3)),  # all joints of the body model's skeleton, camera frame
    "boxes": ("float32", ("T", 3)),  # crop boxes (cx, cy, side), background px
    "total_occlusion": ("uint8", ("T",)),
    "pose": ("float32", ("T", "P", 3, 3)),  # body-model joint rotations (local), world frame
    "global_orient": ("float32", ("T", 3, 3)),
    "transl": ("float32", ("T", 3)),  # root joint position, world, metres
    "shape": ("float32", ("S",)),
    "K": ("float32", ("T", 3, 3)),  # per-frame intrinsics (principal point carries camera_xy)
    "R": ("float32", ("T", 3, 3)),
    "t": ("float32", ("T", 3)),
    "camera_xy": ("float32", ("T", 2)),  # person shift from camera tracking, background px
}
META = (
    "schema", "index", "seed", "frames", "background", "motion", "body", "mode", "flow",
    "occluded", "occlusion_reason", "total_occlusion_span",
)  # fmt: skip


@dataclasses.dataclass
class Sample:
    key: str
    rgb: np.ndarray | None  # uint8 [T, 224, 224, 3] (None: not decoded, see decode)
    flow: np.ndarray | None  # float32 [T-1, 224, 224, 2]
    occluder: np.ndarray | None  # bool [T, 224, 224]
    arrays: dict[str, np.ndarray]
    meta: dict

    @property
    def frames(self) -> int:
        return int(self.arrays["total_occlusion"].shape[0]) if self.rgb is None else int(self.rgb.shape[0])


def key_of(index: int) -> str:
    return f"{index:09d}"


def encode(sample: Sample) -> dict[str, bytes | str]:
    """Sample -> the WebDataset dict (``__key__`` plus one bytes value per extension)."""
    from flow.codec import encode_flow

    if sample.rgb is None or sample.flow is None or sample.occluder is None:
        raise InputError(f"sample {sample.key}: encode needs every image field (rgb, flow, occluder)")
    validate(sample)
    return {
        "__key__": sample.key,
        "rgb.jpg": _encode_jpeg(sample.rgb.reshape(-1, CROP, 3)),
        "flow.png": encode_flow(sample.flow, scale=FLOW_SCALE, compress_level=FLOW_PNG_LEVEL),
        "occluder.png": _encode_bits(sample.occluder.reshape(-1, CROP)),
        "arrays.npz": _encode_npz(sample.arrays),
        "meta.json": json.dumps(sample.meta, sort_keys=True).encode(),
    }


#: The image-like fields, which :func:`decode` can leave undecoded (None) when not needed.
IMAGE_FIELDS = ("rgb", "flow", "occluder")


def decode(record: dict, images: tuple[str, ...] = IMAGE_FIELDS) -> Sample:
    """A raw WebDataset record (bytes values) -> :class:`Sample`; checks it against the schema.

    ``images``: which of :data:`IMAGE_FIELDS` to decode; the others stay None (a keypoint
    model's loader needs none of them: ``arrays.npz`` alone decodes in ~1 ms, the images in
    ~0.1 s)."""
    from flow.codec import decode_flow

    # only what is decoded must be there: a cache (motionhmr.cache) keeps arrays and meta alone
    files = {"rgb": "rgb.jpg", "flow": "flow.png", "occluder": "occluder.png"}
    needed = ("arrays.npz", "meta.json", *(files[f] for f in IMAGE_FIELDS if f in images))
    missing = [k for k in needed if k not in record]
    if missing:
        raise InputError(f"sample {record.get('__key__')!r} lacks {', '.join(missing)}")
    meta = json.loads(record["meta.json"])
    if meta.get("schema") not in READABLE:
        raise InputError(
            f"sample {record['__key__']!r} has schema {meta.get('schema')}; this code reads schema "
            f"{', '.join(map(str, READABLE))}: regenerate the shards with this version's `synth generate`"
        )
    t = int(meta["frames"])
    unknown = set(images) - set(IMAGE_FIELDS)
    if unknown:
        raise ValueError(f"decode(images=...) takes fields of {IMAGE_FIELDS}, got {sorted(unknown)}")
    sample = Sample(
        key=record["__key__"],
        rgb=_decode_jpeg(record["rgb.jpg"]).reshape(t, CROP, CROP, 3) if "rgb" in images else None,
        flow=decode_flow(record["flow.png"]) if "flow" in images else None,
        occluder=_decode_bits(record["occluder.png"]).reshape(t, CROP, CROP) if "occluder" in images else None,
        arrays=dict(np.load(io.BytesIO(record["arrays.npz"]))),
        meta=meta,
    )
    # JPEG's chroma upsampling bleeds a few grey levels across frame borders in the
    # stacked image; totally occluded frames must be exactly zero, as written.
    if sample.rgb is not None:
        sample.rgb[sample.arrays["total_occlusion"].astype(bool)] = 0
    validate(sample)
    return sample


def validate(sample: Sample) -> None:
    """Raise InputError naming the first field that breaks the schema."""
    t = sample.frames
    if sample.rgb is not None:
        _check("rgb", sample.rgb, "uint8", (t, CROP, CROP, 3))
    if sample.flow is not None:
        _check("flow", sample.flow, "float32", (t - 1, CROP, CROP, 2))
    if sample.occluder is not None:
        _check("occluder", sample.occluder, "bool", (t, CROP, CROP))
    sizes = {"T": t}
    for name, (dtype, shape) in ARRAYS.items():
        if name not in sample.arrays:
            raise InputError(f"sample {sample.key}: arrays lack {name!r}")
        arr = sample.arrays[name]
        if len(arr.shape) != len(shape):
            raise InputError(f"sample {sample.key}: {name} has shape {arr.shape}, expected {shape}")
        want = []
        for dim, got in zip(shape, arr.shape):
            if isinstance(dim, str):
                dim = sizes.setdefault(dim, got)
            want.append(dim)
        _check(name, arr, dtype, tuple(want), sample.key)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise InputError(f"sample {sample.key}: {name} has non-finite values")
    unknown = set(sample.arrays) - set(ARRAYS)
    if unknown:
        raise InputError(f"sample {sample.key}: unknown arrays {sorted(unknown)}")
    missing = [m for m in META if m not in sample.meta]
    if missing:
        raise InputError(f"sample {sample.key}: meta lacks {missing}")


def heatmaps(kp2d: np.ndarray, visible: np.ndarray, size: int = CROP, sigma: float = HEATMAP_SIGMA) -> np.ndarray:
    """Keypoint heatmaps float32 ``[T, 12, size, size]`` in [0, 1]: a Gaussian (peak 1,
    ``sigma`` px) at each visible limb keypoint, all zero for hidden ones.

    ``kp2d`` ``[T, >=12, 2]`` crop pixels; ``visible`` ``[T, >=12]`` (the input visibility,
    ``kp_input_visible``). Separable: exp(-dx^2/2s^2) * exp(-dy^2/2s^2)."""
    kp = np.asarray(kp2d, np.float32)[:, :N_HEATMAPS]
    vis = np.asarray(visible, bool)[:, :N_HEATMAPS]
    grid = np.arange(size, dtype=np.float32)
    gx = np.exp(-((grid[None, None, :] - kp[..., 0:1]) ** 2) / (2 * sigma**2))  # [T, 12, W]
    gy = np.exp(-((grid[None, None, :] - kp[..., 1:2]) ** 2) / (2 * sigma**2))  # [T, 12, H]
    maps = gy[..., :, None] * gx[..., None, :]
    return maps * vis[..., None, None]


def _check(name, arr, dtype, shape, key="") -> None:
    if str(arr.dtype) != dtype or tuple(arr.shape) != tuple(shape):
        raise InputError(f"sample {key}: {name} is {arr.dtype} {tuple(arr.shape)}, expected {dtype} {tuple(shape)}")


def _encode_jpeg(img: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return buf.tobytes()


def _decode_jpeg(data: bytes) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError("rgb.jpg does not decode")
    return np.ascontiguousarray(img[..., ::-1])


def _encode_bits(mask: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(mask.astype(bool)).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def _decode_bits(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("1"), dtype=bool)


def _encode_npz(arrays: dict[str, np.ndarray]) -> bytes:
    """Like ``np.savez_compressed`` but byte-for-byte deterministic: numpy stamps each zip
    entry with the current time, so the same clip would give different bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name in sorted(arrays):
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), npy.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip
    return buf.getvalue()
