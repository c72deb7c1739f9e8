"""Flow configuration and the backend registry."""

from __future__ import annotations

import numpy as np
import pytest

from flow import BACKENDS, FlowConfig, build_backend, parse_spec
from synth.errors import InputError


def test_default_is_dis_medium():
    cfg = FlowConfig()
    assert (cfg.backend, cfg.preset, cfg.label) == ("dis", "medium", "dis:medium")
    assert build_backend(cfg).name == "dis:medium"


def test_specs_parse():
    assert parse_spec("dis:fine").preset == "fine"
    assert parse_spec("ptlflow:pwcnet", ckpt="x").model == "pwcnet"
    assert parse_spec("tvl1").label == "tvl1"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backend": "flownet"}, r"flow.backend='flownet' is unknown; choose one of dis, farneback, tvl1, deepflow, ptlflow"),
        ({"preset": "turbo"}, r"flow.preset='turbo' is unknown; choose one of ultrafast, fast, medium, fine"),
        ({"batch_size": 0}, "flow.batch_size must be >= 1"),
    ],
)
def test_bad_config_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        FlowConfig(**kwargs)


def test_bad_spec_variant():
    with pytest.raises(InputError, match="only dis:<preset> and ptlflow:<model> take a variant"):
        parse_spec("farneback:fast")


def test_registry_is_lazy():
    """Importing ``flow`` must not import a backend module (ptlflow takes seconds)."""
    import subprocess
    import sys

    code = "import sys, flow; print('flow.ptlflow_backend' in sys.modules, 'ptlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert set(BACKENDS) == {"dis", "farneback", "tvl1", "deepflow", "ptlflow"}


def test_build_from_mapping(photo):
    backend = build_backend({"backend": "dis", "preset": "ultrafast"})
    assert backend(np.stack([photo, photo])).shape == (1, 256, 256, 2)
