"""The ``inputs=`` string: canonical parts, channel counts and layout, errors."""

from __future__ import annotations

import itertools

import pytest

from motionhmr.inputs import CHANNELS, INDICATOR_CHANNELS, InputSpec, parse_inputs
from synth.errors import InputError

PARTS = ("rgb", "flow", "kp")
SUBSETS = [c for n in (1, 2, 3) for c in itertools.combinations(PARTS, n)]


@pytest.mark.parametrize("parts", SUBSETS, ids="+".join)
def test_every_subset_in_any_order_gives_one_canonical_spec(parts):
    specs = {parse_inputs("+".join(p)) for p in itertools.permutations(parts)}
    assert len(specs) == 1
    spec = specs.pop()
    assert spec.parts == parts  # combinations() keeps the canonical order rgb, flow, kp
    assert spec.name == "+".join(parts)
    assert spec.channels == sum({"rgb": 3, "flow": 3, "kp": 12}[p] for p in parts) + 1


@pytest.mark.parametrize("parts", SUBSETS, ids="+".join)
def test_slices_tile_the_channels_in_order(parts):
    spec = parse_inputs("+".join(parts))
    slices = spec.slices()
    assert list(slices) == [*parts, "occ"]
    start = 0
    for name, sl in slices.items():
        assert sl.start == start and sl.stop - sl.start == CHANNELS.get(name, INDICATOR_CHANNELS)
        start = sl.stop
    assert start == spec.channels
    assert slices["occ"] == slice(spec.channels - 1, spec.channels)


def test_flow_kp_layout():
    spec = parse_inputs("flow+kp")
    assert spec.channels == 16
    assert spec.slices() == {"flow": slice(0, 3), "kp": slice(3, 15), "occ": slice(15, 16)}
    assert "flow" in spec and "rgb" not in spec


def test_spelling_is_forgiving_about_case_and_spaces():
    assert parse_inputs(" KP + Flow ") == parse_inputs("flow+kp")


def test_a_spec_passes_through():
    spec = parse_inputs("rgb")
    assert parse_inputs(spec) is spec


@pytest.mark.parametrize("text", ["", "depth", "flow+flow", "flow+", "rgb+kp+occ", "flow,kp"])
def test_bad_values_are_one_line_input_errors(text):
    with pytest.raises(InputError, match=r"is not valid: join distinct parts from rgb, flow, kp with '\+'") as err:
        parse_inputs(text)
    assert repr(text) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("parts", [(), ("depth",)])
def test_spec_checks_itself(parts):
    with pytest.raises(InputError, match="is not valid"):
        InputSpec(parts)
