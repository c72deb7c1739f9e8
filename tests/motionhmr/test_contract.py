"""The data contract: read from a shard folder's generate.yaml and meta.json, stored in the
checkpoint, and set against the user's choices at inference (:mod:`motionhmr.contract`)."""

from __future__ import annotations

import json
import logging

import pytest
import torch
import yaml

from motionhmr import checkpoint
from motionhmr.contract import ASSUMED, DataContract, choose_flow, for_inference, read_contract
from synth.errors import InputError
from synth.shards.schema import HEATMAP_SIGMA, SCHEMA_VERSION


def _shards(root, meta: dict, generate: dict | None):
    """A shard folder holding one record (only its meta.json: all the contract reads) and,
    unless None, a generate.yaml."""
    import webdataset as wds

    root.mkdir(parents=True)
    with wds.TarWriter(str(root / "shard-000000.tar"), encoder=False) as sink:
        sink.write({"__key__": "000000000", "meta.json": json.dumps(meta).encode()})
    if generate is not None:
        (root / "generate.yaml").write_text(yaml.safe_dump(generate))
    return root


GENERATE = {"flow": {"backend": "farneback"}, "background": {"height": 180, "width": 320, "mode": "tracked"},
            "crop": {"size": 224, "person_px": 140.0}, "fps": 25.0, "frames": 8, "n": 10}  # fmt: skip
META = {"schema": SCHEMA_VERSION, "flow": "farneback", "frames": 8}


def test_the_contract_is_read_from_generate_yaml_and_meta_json(tmp_path):
    c = read_contract(_shards(tmp_path / "s", META, GENERATE))
    assert (c.flow, c.frame_height, c.frame_width, c.crop, c.person_px) == ("farneback", 180, 320, 224, 140.0)
    assert (c.fps, c.clip_frames, c.schema, c.heatmap_sigma) == (25.0, 8, SCHEMA_VERSION, HEATMAP_SIGMA)
    assert c.source == "generate.yaml" and c.unknown == ()
    assert DataContract.from_dict(c.to_dict()) == c
    dis = read_contract(_shards(tmp_path / "d", {**META, "flow": "dis:fine"}, {**GENERATE, "flow": {"backend": "dis", "preset": "fine"}}))
    assert dis.flow == "dis:fine"


def test_several_folders_train_together_when_their_contracts_agree(tmp_path):
    from motionhmr.data import shard_list

    a = _shards(tmp_path / "a", META, GENERATE)
    b = _shards(tmp_path / "b", META, {**GENERATE, "motion": {"source": "bvh"}, "n": 99})  # other motion: fine
    both = f"{a},{b}"
    assert read_contract(both) == read_contract(a)
    assert shard_list(both) == [str(a / "shard-000000.tar"), str(b / "shard-000000.tar")]
    c = _shards(tmp_path / "c", META, {**GENERATE, "crop": {"size": 224, "person_px": 150.0}})
    with pytest.raises(InputError, match=r"c was generated with other input settings than .*a \(person_px 140.0 -> 150.0\)"):
        read_contract(f"{a},{c}")
    with pytest.raises(InputError, match="no shard-"):
        shard_list(f"{a},{tmp_path}")


def test_shards_without_generate_yaml_record_meta_json_and_warn(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, "motionhmr.contract"):
        c = read_contract(_shards(tmp_path / "s", META, None))
    assert (c.flow, c.clip_frames, c.schema, c.source) == ("farneback", 8, SCHEMA_VERSION, "meta.json")
    assert c.frame_height is None and c.person_px is None and c.fps is None
    assert set(c.unknown) == {"frame_height", "frame_width", "person_px", "fps"}
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "no generate.yaml" in warning and "frame_height" in warning and "frames 240 px tall" in warning


def test_the_checkpoint_carries_the_contract(tmp_path):
    model = torch.nn.Linear(2, 2)
    contract = read_contract(_shards(tmp_path / "s", META, GENERATE)).to_dict()
    path = checkpoint.save(tmp_path / "last.pt", model, None, None, 3, {"inputs": "kp"}, contract)
    assert checkpoint.load(path)["data_contract"] == contract  # weights_only reads it back


def test_an_old_checkpoint_gets_the_assumed_defaults_with_one_warning(caplog):
    with caplog.at_level(logging.WARNING, "motionhmr.contract"):
        c = for_inference(None, "old.pt")
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "old.pt has no data contract" in warning and "\n" not in warning
    assert all(s in warning for s in ("flow dis:medium", "frames 240 px tall", "person_px 150", "sigma 10 px"))
    assert (c.flow, c.frame_height, c.person_px, c.clip_frames) == ("dis:medium", 240, 150.0, 31)


def test_a_contract_with_unknown_fields_fills_them_with_a_warning(caplog):
    stored = DataContract(flow="farneback", crop=224, heatmap_sigma=HEATMAP_SIGMA, clip_frames=8, schema=1,
                          source="meta.json").to_dict()  # fmt: skip
    with caplog.at_level(logging.WARNING, "motionhmr.contract"):
        c = for_inference(stored, "m.pt")
    assert (c.flow, c.frame_height, c.person_px, c.fps, c.clip_frames) == ("farneback", 240, 150.0, 30.0, 8)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "does not know frame_height, person_px, fps" in warning and "frames 240 px tall" in warning


@pytest.mark.parametrize("field, value, message", [("crop", 256, "256-px crops"), ("heatmap_sigma", 6.0, "sigma 6 px")])
def test_a_crop_or_sigma_this_code_does_not_build_is_an_error(field, value, message):
    stored = {**ASSUMED.to_dict(), field: value, "source": "generate.yaml"}
    with pytest.raises(InputError, match=message):
        for_inference(stored, "m.pt")


DIS = DataContract(flow="dis:medium", frame_height=240, crop=224, person_px=150.0, heatmap_sigma=HEATMAP_SIGMA,
                   fps=30.0, clip_frames=31, source="generate.yaml")  # fmt: skip


@pytest.mark.parametrize("asked", [None, "dis", "dis:medium"])
def test_the_contract_flow_is_the_default(asked):
    assert choose_flow(DIS, asked, "m.pt").label == "dis:medium"


def test_another_flow_backend_is_a_one_line_error_naming_both():
    with pytest.raises(InputError) as err:
        choose_flow(DIS, "farneback", "m.pt")
    message = str(err.value)
    assert "--flow farneback" in message and "trained on dis:medium flow" in message and "\n" not in message
    with pytest.raises(InputError, match="flow=tvl1 conflicts"):
        choose_flow(DIS, "tvl1", "m.pt", "flow=")


def test_another_dis_preset_or_an_assumed_flow_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING, "motionhmr.contract"):
        assert choose_flow(DIS, "dis:fast", "m.pt").label == "dis:fast"
        old = for_inference(None, "old.pt")
        assert choose_flow(old, "farneback", "old.pt").label == "farneback"
    preset, _, assumed = [r.getMessage() for r in caplog.records]
    assert "dis:fast" in preset and "dis:medium" in preset
    assert "farneback" in assumed and "dis:medium assumed" in assumed
