"""Set the FAQ matcher's decision parameters on the tuning set, reproducibly.

Usage (from the repository root)::

    python benchmarks/faq_calibrate.py

Grid-searches the parameters issue 8 introduced (how much a context word counts, the off-topic
penalty, the fit below which a question is declined rather than offered, the fit needed to
answer outright) on the tuning questions only: benchmarks/data/dev-set.yaml and
benchmarks/data/tuning/*.yaml. The frozen hold-out (benchmarks/data/holdout/) is never read
here. Prints the best settings and the score of the current defaults in
``flows.faq.matcher.Calibration``; the defaults were copied from this output.

The objective follows the issue's targets: answered right outright plus right topic answered or
offered, minus heavy penalties for a wrong answer and for answering an out-of-scope question.
The logistic weights of the fit itself were fitted earlier (see ``Calibration``) and are not
searched here.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.faq_bench import DEFAULT_KB, SETS, load_dev, load_entries  # noqa: E402
from flows.faq import FaqMatcher  # noqa: E402
from flows.faq.matcher import Calibration  # noqa: E402

GRID = {
    "context_weight": (0.2, 0.3, 0.45),
    "off_topic_weight": (-2.0, -3.0, -4.0),
    "plausible_fit": (0.1, 0.15, 0.2, 0.25),
    "fit_threshold": (0.3, 0.4, 0.5),
    "choice_ratio": (0.1, 0.25),
}
WRONG_PENALTY = 3.0
OUT_ANSWERED_PENALTY = 5.0


def objective(matcher: FaqMatcher, questions: list[tuple[str, str | None, bool]]) -> float:
    """Higher is better; see the module docstring."""
    score = 0.0
    for text, expected, foreign in questions:
        result = matcher.lookup(text)
        top = result.best.entry_id if result.best else None
        answered = result.decision == "answer"
        if foreign:
            score -= WRONG_PENALTY * (answered and top != expected)
        elif expected:
            right = answered and top == expected
            offered = result.decision == "choose" and expected in {
                c.entry_id for c in result.choices
            }
            score += right + (right or offered) - WRONG_PENALTY * (answered and not right)
        else:
            score -= OUT_ANSWERED_PENALTY * answered
            score -= 0.25 * (result.decision == "choose")
    return score


def main() -> int:
    entries = load_entries(DEFAULT_KB)
    questions = [
        (q.text, q.expected, bool(q.language)) for path in SETS["tuning"] for q in load_dev(path)
    ]
    print(f"tuning questions: {len(questions)} from {', '.join(p.name for p in SETS['tuning'])}")
    results = []
    names = list(GRID)
    for values in itertools.product(*(GRID[name] for name in names)):
        calibration = dataclasses.replace(Calibration(), **dict(zip(names, values, strict=True)))
        results.append((objective(FaqMatcher(entries, calibration=calibration), questions), values))
    results.sort(key=lambda row: row[0], reverse=True)
    print("best settings:")
    for score, values in results[:5]:
        shown = ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))
        print(f"  {score:7.2f}  {shown}")
    current = objective(FaqMatcher(entries), questions)
    defaults = Calibration()
    print(
        f"current defaults: {current:7.2f}  "
        + ", ".join(f"{n}={getattr(defaults, n)}" for n in names)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
