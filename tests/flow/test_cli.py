"""``flow bench`` and ``flow backends`` end to end."""

from __future__ import annotations

import json

from flow.cli import main


def test_bench_prints_the_table_and_writes_json(tmp_path, capsys, anny_body):
    out = tmp_path / "bench.json"
    assert main(["bench", "--pairs", "2", "--backends", "dis:ultrafast,farneback", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| zero flow (baseline) |" in table and "| dis:ultrafast |" in table and "| farneback |" in table
    assert "codec (16-bit PNG, 1/64 px)" in table
    figures = json.loads(out.read_text())
    assert [r["backend"] for r in figures["rows"]] == ["zero flow (baseline)", "dis:ultrafast", "farneback"]
    zero, dis = figures["rows"][0], figures["rows"][1]
    assert dis["pairs_per_s"] > 0 and dis["body"]["epe"] < zero["body"]["epe"]
    assert figures["codec"]["epe_added"] < 0.05


def test_bench_ptlflow_without_checkpoint_is_a_one_line_error(capsys):
    assert main(["bench", "--backends", "", "--ptlflow", "raft"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --ptlflow 'raft': expected MODEL=CHECKPOINT_FILE") and err.count("\n") == 1


def test_bench_unknown_backend(capsys):
    assert main(["bench", "--backends", "flownet"]) == 2
    assert "flow.backend='flownet' is unknown" in capsys.readouterr().err


def test_backends_lists_registry_and_ptlflow_models(capsys):
    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    assert "dis\tflow.opencv:DIS" in out and "raft_small" in out
