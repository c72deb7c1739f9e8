"""The ptlflow backend with a real ptlflow model (random weights: this tests the plumbing,
not the accuracy; no pretrained flow weights exist offline).

ptlflow is part of the ``test`` extra, so these tests run wherever the suite's tests do;
an import failure here is a broken install, not a reason to skip."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from flow import FlowConfig, build_backend
from synth.errors import InputError, MissingDependency

from .conftest import shifted_pair

# FlowNetS: with random weights its output is finite (random RAFT and PWC-Net give NaN,
# which the contract rejects), and it is the fastest of the FlowNet family on CPU.
MODEL = "flownets"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A checkpoint file in ptlflow's Lightning layout, holding random FlowNetS weights."""
    from flow.ptlflow_backend import import_ptlflow

    torch.manual_seed(0)
    net = import_ptlflow().get_model(MODEL)
    path = tmp_path_factory.mktemp("ckpt") / f"{MODEL}.ckpt"
    torch.save({"state_dict": net.state_dict(), "hyper_parameters": {"train_size": None}}, path)
    return path


@pytest.fixture(scope="module")
def backend(ckpt):
    return build_backend(FlowConfig("ptlflow", model=MODEL, ckpt=str(ckpt), device="cpu", batch_size=2))


def test_contract_shapes_dtype_and_batching(backend, photo):
    pairs = np.stack([shifted_pair(photo[:96, :128], dx, 0.0) for dx in (0.0, 2.0, 4.0)])
    flow = backend(pairs)
    assert flow.shape == (3, 96, 128, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    one_by_one = np.concatenate([backend(p) for p in pairs])  # batch_size=2 splits 3 pairs as 2 + 1
    np.testing.assert_allclose(flow, one_by_one, atol=1e-4)


def test_odd_sizes_are_padded_inside_ptlflow(backend, photo):
    flow = backend(shifted_pair(photo[:70, :90], 1.0, 1.0))
    assert flow.shape == (1, 70, 90, 2)


def test_checkpoint_weights_are_loaded(ckpt, photo):
    """Two backends from the same file agree; a differently-initialised model does not."""
    a = build_backend(FlowConfig("ptlflow", model=MODEL, ckpt=str(ckpt), device="cpu"))
    b = build_backend(FlowConfig("ptlflow", model=MODEL, ckpt=str(ckpt), device="cpu"))
    torch.manual_seed(123)
    c = build_backend(FlowConfig("ptlflow", model=MODEL, ckpt="random", device="cpu"))
    pair = shifted_pair(photo[:64, :64], 2.0, 0.0)
    np.testing.assert_allclose(a(pair), b(pair), atol=1e-5)
    assert np.abs(a(pair) - c(pair)).max() > 1e-3


def test_bare_state_dict_checkpoint_loads(tmp_path, photo):
    from flow.ptlflow_backend import import_ptlflow

    path = tmp_path / "bare.pt"
    torch.save(import_ptlflow().get_model("neuflow").state_dict(), path)
    flow = build_backend(FlowConfig("ptlflow", model="neuflow", ckpt=str(path), device="cpu"))(
        shifted_pair(photo[:64, :64], 1.0, 0.0)
    )
    assert flow.shape == (1, 64, 64, 2)


def test_non_finite_flow_is_an_error_not_zeros(photo):
    """Untrained RAFT outputs NaN; the contract refuses it rather than storing zeros."""
    torch.manual_seed(0)
    raft = build_backend(FlowConfig("ptlflow", model="raft_small", ckpt="random", device="cpu"))
    with pytest.raises(RuntimeError, match="ptlflow:raft_small returned non-finite flow"):
        raft(shifted_pair(photo[:64, :64], 1.0, 0.0))


def test_missing_checkpoint_says_a_path_is_needed():
    with pytest.raises(InputError, match=r"flow.backend=ptlflow needs flow.ckpt=<path .*raft"):
        FlowConfig("ptlflow", model="raft")


def test_checkpoint_file_that_does_not_exist(tmp_path):
    with pytest.raises(InputError, match=r"flow.ckpt=.*nope.ckpt: no such file.*flownets checkpoint"):
        build_backend(FlowConfig("ptlflow", model=MODEL, ckpt=str(tmp_path / "nope.ckpt")))


def test_checkpoint_of_another_model(ckpt):
    with pytest.raises(InputError, match=r"does not fit ptlflow model 'flownetc'"):
        build_backend(FlowConfig("ptlflow", model="flownetc", ckpt=str(ckpt)))


def test_corrupt_checkpoint(tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(InputError, match=r"bad.ckpt: not a readable torch checkpoint"):
        build_backend(FlowConfig("ptlflow", model=MODEL, ckpt=str(bad)))


def test_unknown_model_lists_the_valid_ones(ckpt):
    with pytest.raises(InputError, match=r"flow.model='flownet9' is not a ptlflow model; choose one of .*flownets"):
        build_backend(FlowConfig("ptlflow", model="flownet9", ckpt=str(ckpt)))


def test_cuda_device_without_cuda_is_a_clear_error(ckpt):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the error is for machines without it")
    with pytest.raises(InputError, match="flow.device=cuda but torch sees no CUDA device"):
        build_backend(FlowConfig("ptlflow", model=MODEL, ckpt=str(ckpt), device="cuda"))


def test_missing_ptlflow_gives_the_install_hint(monkeypatch, ckpt):
    """No silent fallback to OpenCV: the error names the extra to install."""
    from flow import ptlflow_backend

    monkeypatch.setitem(sys.modules, "ptlflow", None)  # makes `import ptlflow` fail
    with pytest.raises(MissingDependency, match=r"optional package 'ptlflow'.*\.\[ptlflow\]"):
        ptlflow_backend.Ptlflow(MODEL, str(ckpt), "cpu")
