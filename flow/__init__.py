"""``flow``: optical flow for the suite, behind one contract.

    pairs uint8 [N, 2, H, W, 3] RGB (frame t, frame t+1)  ->  flow float32 [N, H, W, 2] px

Backends (``flow.backend=``): ``dis`` (default; presets ultrafast|fast|medium|fine),
``farneback``, ``tvl1``, ``deepflow`` from OpenCV, and ``ptlflow`` (FlowNet2/C/S, RAFT,
PWC-Net, ... with ``flow.model=`` and a checkpoint file ``flow.ckpt=``; optional extra).

    from flow import build_backend, to_model_input
    backend = build_backend("dis:medium")
    flow = backend(pairs)                 # [N, H, W, 2] pixels
    x = to_model_input(flow)              # [N, H, W, 3] network input

``flow bench`` measures speed and accuracy against ground truth (see :mod:`flow.bench`).
"""

from flow.codec import decode_flow, encode_flow
from flow.config import FlowConfig, parse_spec
from flow.contract import FLOW_INPUT_SCALE, to_model_input, warp
from flow.metrics import endpoint_error
from flow.registry import BACKENDS, FlowBackend, build_backend

__all__ = [
    "BACKENDS",
    "FLOW_INPUT_SCALE",
    "FlowBackend",
    "FlowConfig",
    "build_backend",
    "decode_flow",
    "encode_flow",
    "endpoint_error",
    "parse_spec",
    "to_model_input",
    "warp",
]
