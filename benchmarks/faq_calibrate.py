"""Refit every fitted weight of the FAQ matcher from the data in the repository; print the figures.

Usage (from the repository root)::

    python benchmarks/faq_calibrate.py            # refit, print, compare with the defaults
    python benchmarks/faq_calibrate.py --quick    # skip stage 1 (keep the retrieval weights)
    python benchmarks/faq_calibrate.py --leave-out holdout-v3   # fit without a set, score it

Everything is fitted on the tuning questions only: benchmarks/data/dev-set.yaml,
benchmarks/data/tuning/*.yaml, benchmarks/data/holdout-v1/*.yaml to holdout-v5/*.yaml (the earlier
hold-outs, each reported once before it joined the tuning data). The current hold-out
(benchmarks/data/holdout/) is never read here. The out-of-scope class the matcher competes with is
its own data (flows/faq/out_of_scope.yaml), not a question set. ``--leave-out`` fits without one
tuning folder or file and then scores it with the weights that fit chose: whether the fit
generalises to questions it did not see. The run is deterministic: the same data gives the same
numbers, which are then copied into the defaults of ``flows.faq.index.IndexTuning`` and
``flows.faq.matcher.Calibration`` (the last lines say whether they already agree).

Stages, each on the result of the one before:

1. Retrieval weights (``IndexTuning``, the reranking boosts and the per-word weights): a
   coordinate search, two passes over each weight's candidate values, maximising how often the
   right entry ranks first (and in the top three) among the entries, on in-scope questions.
2. The fit (the logistic function that says whether a candidate is about the question at all):
   for each softmax temperature, a logistic regression (Newton's method, small L2 penalty) of
   "this candidate is the right entry" on the fit's inputs (``FIT_FEATURES``) of the best three
   candidates of every English question; out-of-scope questions give negatives only. The
   temperature with the best penalised log-likelihood wins.
3. Decision parameters (when to answer, offer or decline): a grid search of the objective the
   issue's targets imply: answered right plus right topic answered or offered, minus heavy
   penalties for a wrong answer and for answering an out-of-scope question, and a smaller one
   for offering an out-of-scope question choices.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.faq_bench import (  # noqa: E402
    DEFAULT_KB,
    SETS,
    DevQuestion,
    load_dev,
    load_entries,
    report_files,
    report_sets,
)
from flows.faq import FaqMatcher, KbEntry  # noqa: E402
from flows.faq.index import IndexTuning  # noqa: E402
from flows.faq.language import language_of  # noqa: E402
from flows.faq.matcher import FIT_FEATURES, Calibration, Ranking  # noqa: E402

# Stage 1: candidate values per retrieval weight (the current default is always tried too).
RETRIEVAL_GRID: dict[str, tuple[float, ...]] = {
    "index.question_k": (0.2, 0.3, 0.5),
    "index.answer_weight": (0.1, 0.2, 0.3),
    "index.bigram_weight": (0.25, 0.5, 1.0),
    "index.title_weight": (1.0, 2.0),
    "index.lead_weight": (0.0, 0.5, 1.0),
    "similarity_boost": (1.5, 2.5, 3.5),
    "answer_boost": (0.5, 1.0, 1.5),
    "clash_penalty": (0.5, 1.0, 2.0),
    "concept_penalty": (0.0, 1.0, 2.0, 3.0, 4.0),
    "corrected_weight": (0.6, 0.8, 1.0),
    "weak_weight": (0.3, 0.5, 0.7),
    "context_weight": (0.2, 0.3, 0.45),
}
# Stage 2.
TEMPERATURES = (0.35, 0.5, 0.75)
L2 = 0.01
# Candidates per question the fit learns from: the best one, which is what gets answered.
SAMPLED = 1
# Stage 3.
DECISION_GRID: dict[str, tuple[float, ...]] = {
    "fit_threshold": (0.3, 0.4, 0.5),
    "plausible_fit": (0.1, 0.15, 0.2, 0.25),
    "answer_threshold": (0.3, 0.4, 0.5),
    "answer_margin": (0.1, 0.2, 0.3),
    "choice_ratio": (0.03, 0.05, 0.1, 0.25),
    "plausible_terms": (1, 2),
    "theme_ratio": (0.25, 0.5, 0.75, 1.0),
    "gap_answer_fit": (0.5, 0.8, 0.95, 1.01),
}
# Answering right outright is worth this much more than offering the right topic among others.
RIGHT_WEIGHT = 2.0
WRONG_PENALTY = 3.0
OUT_ANSWERED_PENALTY = 5.0
# Offering choices to an out-of-scope question is no answer, but buttons for a question the
# bot cannot answer waste the person's time: small talk and clear themes should be declined.
OUT_OFFERED_PENALTY = 1.0


@dataclasses.dataclass(frozen=True)
class Settings:
    """One point of the search: the index weights and the calibration."""

    index: IndexTuning
    calibration: Calibration

    def with_value(self, name: str, value: float) -> Settings:
        if name.startswith("index."):
            field = name.removeprefix("index.")
            index = dataclasses.replace(self.index, **{field: value})
            return dataclasses.replace(self, index=index)
        return dataclasses.replace(
            self, calibration=dataclasses.replace(self.calibration, **{name: value})
        )

    def value(self, name: str) -> Any:
        if name.startswith("index."):
            return getattr(self.index, name.removeprefix("index."))
        return getattr(self.calibration, name)

    def matcher(self, entries: Sequence[KbEntry]) -> FaqMatcher:
        return FaqMatcher(entries, tuning=self.index, calibration=self.calibration)


def tuning_files(left_out: Sequence[str] = ()) -> tuple[list[Path], list[Path]]:
    """The tuning files to fit on, and those left out (``left_out`` names their folders, or
    files as ``folder/stem``)."""
    fit, held = [], []
    for path in SETS["tuning"]:
        names = {path.parent.name, f"{path.parent.name}/{path.stem}", path.stem}
        (held if names & set(left_out) else fit).append(path)
    return fit, held


def tuning_questions(paths: Sequence[Path] | None = None) -> list[DevQuestion]:
    return [q for path in (SETS["tuning"] if paths is None else paths) for q in load_dev(path)]


# --- stage 1 -----------------------------------------------------------------------------


def ranking_score(matcher: FaqMatcher, questions: Sequence[DevQuestion]) -> float:
    """Right entry first among the entries (1) or in their top three (0.5), by retrieval order."""
    score = 0.0
    for q in questions:
        ranked = [
            entry_id
            for entry_id, features in sorted(
                matcher.fit_features(q.text), key=lambda row: row[1][4], reverse=True
            )
            if entry_id in _ENTRY_IDS
        ]
        if ranked[:1] == [q.expected]:
            score += 1.0
        elif q.expected in ranked[:3]:
            score += 0.5
    return score


_ENTRY_IDS: set[str] = set()


def fit_retrieval(
    entries: Sequence[KbEntry], questions: Sequence[DevQuestion], start: Settings
) -> Settings:
    in_scope = [q for q in questions if q.expected and not q.language]
    best, best_score = start, ranking_score(start.matcher(entries), in_scope)
    print(f"stage 1: retrieval, {len(in_scope)} in-scope questions; start {best_score:.1f}")
    for _ in range(2):
        for name, values in RETRIEVAL_GRID.items():
            for value in sorted({*values, best.value(name)}):
                trial = best.with_value(name, value)
                score = ranking_score(trial.matcher(entries), in_scope)
                # Strictly better only: ties keep the earlier (current) value.
                if score > best_score + 1e-9:
                    best, best_score = trial, score
        print(f"  after a pass: {best_score:.1f}")
    for name in RETRIEVAL_GRID:
        print(f"  {name} = {best.value(name)}")
    return best


# --- stage 2 -----------------------------------------------------------------------------


Sample = tuple[tuple[float, ...], int, float]


def samples(matcher: FaqMatcher, questions: Sequence[DevQuestion]) -> list[Sample]:
    """(fit inputs, 1 if right, weight) for each English question's best entry.

    An out-of-scope question's best entry is a negative weighing ``OUT_ANSWERED_PENALTY``, as
    answering it costs that much in stage 3's objective; the others weigh 1.
    """
    rows = []
    for q in questions:
        if q.language:
            continue
        candidates = [row for row in matcher.fit_features(q.text) if row[0] in _ENTRY_IDS]
        for entry_id, features in candidates[:SAMPLED]:
            weight = 1.0 if q.expected else OUT_ANSWERED_PENALTY
            rows.append((features, int(entry_id == q.expected), weight))
    return rows


def logistic(rows: Sequence[Sample]) -> tuple[list[float], float]:
    """Weights (bias last) by Newton's method with an L2 penalty; and the mean log-likelihood."""
    width = len(rows[0][0]) + 1
    mass = sum(weight for _, _, weight in rows)
    w = [0.0] * width
    for _ in range(50):
        gradient = [0.0] * width
        hessian = [[0.0] * width for _ in range(width)]
        for features, label, weight in rows:
            x = (*features, 1.0)
            p = _sigmoid(sum(a * b for a, b in zip(w, x, strict=True)))
            for i in range(width):
                gradient[i] += weight * (label - p) * x[i]
                for j in range(width):
                    hessian[i][j] -= weight * p * (1 - p) * x[i] * x[j]
        for i in range(width - 1):  # the bias is not penalised
            gradient[i] -= L2 * mass * w[i]
            hessian[i][i] -= L2 * mass
        step = _solve(hessian, gradient)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-9:
            break
    likelihood = 0.0
    for features, label, weight in rows:
        p = _sigmoid(sum(a * b for a, b in zip(w, (*features, 1.0), strict=True)))
        likelihood += weight * math.log(max(p if label else 1 - p, 1e-12))
    return w, likelihood / mass


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z > -50 else 0.0


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the systems here are 9 x 9)."""
    n = len(vector)
    a = [[*row, value] for row, value in zip(matrix, vector, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col and a[col][col]:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][n] / a[i][i] for i in range(n)]


def fit_weights(
    entries: Sequence[KbEntry], questions: Sequence[DevQuestion], start: Settings
) -> Settings:
    """The fit's weights for the start's softmax temperature."""
    rows = samples(start.matcher(entries), questions)
    weights, likelihood = logistic(rows)
    values = dict(zip(FIT_FEATURES, weights, strict=False))
    values["bias"] = weights[-1]
    fitted = dataclasses.replace(
        start,
        calibration=dataclasses.replace(
            start.calibration, **{k: round(v, 2) for k, v in values.items()}
        ),
    )
    print(f"stage 2, temperature {start.calibration.temperature}: {len(rows)} candidates, "
          f"log-likelihood {likelihood:.4f}; "
          + ", ".join(f"{name}={fitted.value(name)}" for name in (*FIT_FEATURES, "bias")))
    return fitted


# --- stage 3 -----------------------------------------------------------------------------


def objective(
    matcher: FaqMatcher,
    questions: Sequence[DevQuestion],
    ranked: Sequence[Ranking | None] | None = None,
) -> float:
    """Higher is better; see the module docstring.

    ``ranked`` holds each question's ranking (see :func:`rankings`) when only the decision
    parameters changed since it was made; the decision is then all that runs.
    """
    score = 0.0
    for i, q in enumerate(questions):
        ranking = ranked[i] if ranked is not None else None
        result = matcher.lookup(q.text) if ranking is None else matcher.decide(ranking)
        top = result.best.entry_id if result.best else None
        answered = result.decision == "answer"
        if q.language:
            score -= WRONG_PENALTY * (answered and top != q.expected)
        elif q.expected:
            right = answered and top == q.expected
            offered = result.decision == "choose" and q.expected in {
                c.entry_id for c in result.choices
            }
            score += (
                RIGHT_WEIGHT * right + (right or offered) - WRONG_PENALTY * (answered and not right)
            )
        else:
            score -= OUT_ANSWERED_PENALTY * answered
            score -= OUT_OFFERED_PENALTY * (result.decision == "choose")
    return score


def rankings(matcher: FaqMatcher, questions: Sequence[DevQuestion]) -> list[Ranking | None]:
    """Each English question's ranking, which the decision parameters do not change (None for
    a question in another language: ``lookup`` declines it before ranking)."""
    return [matcher.rank(q.text) if language_of(q.text) == "en" else None for q in questions]


def fit_decisions(
    entries: Sequence[KbEntry], questions: Sequence[DevQuestion], start: Settings
) -> tuple[float, Settings]:
    """The best decision parameters for the start's fit, and their objective."""
    print("stage 3: decision parameters")
    names = list(DECISION_GRID)
    results = []
    # One index and one ranking per question for the whole grid: only the decision changes.
    matcher = start.matcher(entries)
    ranked = rankings(matcher, questions)
    for values in itertools.product(*(DECISION_GRID[name] for name in names)):
        calibration = dataclasses.replace(
            start.calibration, **dict(zip(names, values, strict=True))
        )
        matcher._calibration = calibration  # the decision reads it per lookup
        results.append((objective(matcher, questions, ranked), values))
    # Best score; among equals, the earliest in grid order (deterministic).
    best_score = max(score for score, _ in results)
    values = next(values for score, values in results if score == best_score)
    for score, row in sorted(results, key=lambda r: r[0], reverse=True)[:5]:
        shown = ", ".join(f"{n}={v}" for n, v in zip(names, row, strict=True))
        print(f"  {score:7.2f}  {shown}")
    chosen = start
    for name, value in zip(names, values, strict=True):
        chosen = chosen.with_value(name, value)
    return best_score, chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip stage 1")
    parser.add_argument(
        "--leave-out",
        action="append",
        default=[],
        metavar="SET",
        help="fit without this tuning folder or file (e.g. holdout-v2, holdout-v1/chat) and "
        "score it with the refit weights: a check that the fit generalises",
    )
    args = parser.parse_args(argv)
    entries = load_entries(DEFAULT_KB)
    _ENTRY_IDS.update(e.id for e in entries)
    fit_paths, held_paths = tuning_files(args.leave_out)
    if args.leave_out and not held_paths:
        parser.error(f"no tuning file matches {args.leave_out}")
    questions = tuning_questions(fit_paths)
    print(f"tuning questions: {len(questions)} from "
          f"{', '.join(f'{p.parent.name}/{p.name}' for p in fit_paths)}")
    settings = Settings(IndexTuning(), Calibration())
    if not args.quick:
        settings = fit_retrieval(entries, questions, settings)
    # Stages 2 and 3 per softmax temperature; the temperature whose result scores best wins
    # (the earliest among equals).
    best: tuple[float, Settings] | None = None
    for temperature in TEMPERATURES:
        fitted = fit_weights(entries, questions, settings.with_value("temperature", temperature))
        score, decided = fit_decisions(entries, questions, fitted)
        if best is None or score > best[0]:
            best = (score, decided)
    assert best is not None
    settings = best[1]
    print(f"chosen: temperature {settings.calibration.temperature}, objective {best[0]:.2f}")

    print("\nrefit settings on the tuning sets:")
    report_sets(settings.matcher(entries), "tuning", show=False)
    if held_paths:
        print("\nleft out of this fit (scored with its weights; the rows above include them):")
        report_files(settings.matcher(entries), held_paths, show=False)
        return 0
    defaults = Settings(IndexTuning(), Calibration())
    differ = [
        f"{name}: default {defaults.value(name)}, refit {settings.value(name)}"
        for name in [
            *RETRIEVAL_GRID, "temperature", *FIT_FEATURES, "bias", *DECISION_GRID,
        ]
        if defaults.value(name) != settings.value(name)
    ]
    print("\ndefaults equal the refit" if not differ else "\ndefaults differ from the refit:")
    for line in differ:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
