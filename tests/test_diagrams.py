"""The committed Mermaid diagrams are generated from the machines' own tables and kept current."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from flows import diagrams

SOURCES = {diagrams.HERE / name: source for name, source in diagrams.DIAGRAMS.items()}
PATHS = sorted(SOURCES)


@cache
def rendered() -> dict[Path, str]:
    return diagrams.render_all()


def test_every_flow_has_a_diagram() -> None:
    assert set(rendered()) == set(SOURCES)
    assert {p.name for p in rendered()} == {"link_flow.mmd", "request_flow.mmd",
                                            "spark_flow.mmd"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_committed_diagram_is_current(path: Path) -> None:
    """A change to a flow's transitions must come with its regenerated diagram."""
    assert path.exists(), f"{path.name} is missing: run `python -m flows.diagrams`"
    committed = path.read_text(encoding="utf-8")
    assert committed == rendered()[path], (
        f"{path.name} is stale: run `python -m flows.diagrams` and commit the result")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_diagram_mentions_every_state_and_trigger(path: Path) -> None:
    states, transitions, initial = SOURCES[path]()
    text = rendered()[path]
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    assert set(states) <= words, f"states missing from {path.name}"
    triggers = {t["trigger"] for t in transitions}
    assert triggers <= words, f"triggers missing from {path.name}: {triggers - words}"
    assert f"[*] --> {initial}" in text


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_transition_is_drawn_as_an_edge(path: Path) -> None:
    """Each (source, dest, trigger) of the table appears on an edge line of the diagram."""
    _, transitions, _ = SOURCES[path]()
    edges = [line.strip() for line in rendered()[path].splitlines() if "-->" in line]
    for t in transitions:
        sources = t["source"] if isinstance(t["source"], list) else [t["source"]]
        for source in sources:
            dest = source if t["dest"] is None else t["dest"]
            prefix = f"{source} --> {dest}:"
            assert any(e.startswith(prefix) and re.search(rf"\b{t['trigger']}\b", e)
                       for e in edges), f"no edge {source} -> {dest} for {t['trigger']}"
