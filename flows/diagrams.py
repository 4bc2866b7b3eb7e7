"""Mermaid diagrams of the flows, generated from the same transition tables the machines use.

`python -m flows.diagrams` rewrites the `.mmd` files next to the flows; a test fails when a
committed diagram is stale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transitions.extensions import GraphMachine

from flows import link_flow, request_flow, spark_flow

HERE = Path(__file__).parent
DIAGRAMS = {
    "link_flow.mmd": link_flow.graph_source,
    "request_flow.mmd": request_flow.graph_source,
    "spark_flow.mmd": spark_flow.graph_source,  # Spark codes (issue 10)
}


class _Model:
    """A bare model: the diagram needs one to draw from."""


def mermaid(states: list[str], transitions: list[dict[str, Any]], initial: str,
            title: str) -> str:
    """The Mermaid source of one flow, conditions shown on the edges."""
    model = _Model()
    GraphMachine(model=model, states=states, transitions=transitions, initial=initial,
                 auto_transitions=False, graph_engine="mermaid", show_conditions=True,
                 title=title)
    source: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return source.rstrip() + "\n"


def render_all() -> dict[Path, str]:
    """Every flow's diagram, keyed by the file it is committed in."""
    return {HERE / name: mermaid(*source(), title=name.removesuffix(".mmd"))
            for name, source in DIAGRAMS.items()}


def main() -> None:
    for path, text in render_all().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
