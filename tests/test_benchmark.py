"""The throughput benchmark compares equal work: every bot it times answers every update as
expected and makes the same Bot API calls per update, the PostgreSQL floors included.

A few users, one round: the figures mean nothing here, only that they are figures of the same
work (the benchmark counts an update a bot did not answer as expected, and prints it)."""

from __future__ import annotations

import importlib.util
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import pytest

from tests import pg

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "throughput.py"
ROUND_LINE = re.compile(r"^  round \d+: (\S+) .*Bot API calls/update (\d+\.\d+) \((.*)\)$")


def _throughput() -> ModuleType:
    spec = importlib.util.spec_from_file_location("throughput_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_every_bot_timed_makes_the_same_calls_and_answers_every_update(
        postgres: pg.PostgresServer, capsys: pytest.CaptureFixture[str]) -> None:
    throughput = _throughput()
    args = throughput.parse_args(["--users", "3", "--rounds", "1", "--no-memory", "--pickle",
                                  "--postgres", "--batch", "2", "--concurrent", "3"])
    with ThreadPoolExecutor(1) as pool:  # the benchmark runs event loops of its own
        assert pool.submit(throughput._run, args, postgres).result() == 0
    printed = capsys.readouterr().out

    assert "FAILED" not in printed
    calls: dict[str, set[str]] = {}
    for line in printed.splitlines():
        matched = ROUND_LINE.match(line)
        if matched:
            name, per_update, by_method = matched.groups()
            calls.setdefault(name, set()).add(f"{per_update} ({by_method})")
    assert set(calls) == {"linkpilot", "baseline", "linkpilot-pg", "linkpilot-wh", "floor-w",
                          "floor-rw", "pickle-each", "pickle-60s"}
    # One flow, the same calls: 2.50 per update, every bot, every leg.
    assert {c for seen in calls.values() for c in seen} == {
        "2.50 (answerCallbackQuery 0.75, editMessageText 0.75, sendMessage 1.00)"}
    assert "floor-w (the baseline + a PostgreSQL write per update)/baseline" in printed
    assert "floor-rw (the baseline + a PostgreSQL read and write per update)/baseline" in printed
    assert "Linkpilot on PostgreSQL/floor-rw throughput" in printed
    assert "Linkpilot/floor" not in printed  # the floors are PostgreSQL's
