"""Benchmark the FAQ matcher: accuracy on the development questions and lookup latency.

Usage (from the repository root)::

    python benchmarks/faq_bench.py [--kb PATH] [--dev PATH] [--synthetic N] [--rounds N]
                                   [--loo] [--loo-misses]

Prints top-1 accuracy on in-scope development questions (strict: decision "answer" with the
right entry; lenient: "answer" or "choose" with the right entry first), the share of
out-of-scope questions declined, every miss, and the median and p99 latency of one lookup on
the real knowledge base and on a synthetic one of ``--synthetic`` entries (the real entries
plus generated ones). Exits non-zero when a target is missed.

``--loo`` adds a leave-one-phrasing-out score: every phrasing of the knowledge base is removed
from its entry and asked as a question of the rest, which measures how well the matcher
generalises from an entry's meaning rather than from a near-copy of the question. It is
reported (strict, lenient, and wrong answers) but has no target; ``--loo-misses`` lists the
phrasings it gets wrong.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    # Run as a plain script from anywhere: make the repository importable.
    sys.path.insert(0, str(REPO))

from flows.faq import FaqMatcher, KbEntry  # noqa: E402
from flows.faq.text import tokenise  # noqa: E402

DEFAULT_KB = REPO / "storage" / "knowledge" / "faq.yaml"
DEFAULT_DEV = REPO / "benchmarks" / "data" / "dev-set.yaml"

TARGET_ACCURACY = 0.95
TARGET_DECLINED = 0.95
TARGET_P99_REAL_MS = 1.0  # issue 8: under 1 ms p99 on the real knowledge base
TARGET_MEDIAN_SYNTHETIC_MS = 5.0
SEED = 20240611


@dataclass(frozen=True, slots=True)
class DevQuestion:
    """One development question and the entry id that answers it (None: out of scope).

    ``language`` is set for questions in another language; those must be declined.
    """

    text: str
    expected: str | None
    language: str | None = None


def load_entries(path: Path) -> list[KbEntry]:
    """Read the knowledge-base YAML into entries."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        KbEntry(
            id=str(raw["id"]),
            title=str(raw["title"]),
            phrasings=tuple(str(p) for p in raw.get("phrasings") or ()),
            answer=str(raw.get("answer") or ""),
            platform=str(raw.get("platform") or "general"),
            category=str(raw.get("category") or ""),
            related=tuple(str(r) for r in raw.get("related") or ()),
            sources=tuple(str(s) for s in raw.get("sources") or ()),
        )
        for raw in data["entries"]
    ]


def load_dev(path: Path) -> list[DevQuestion]:
    """Read the development questions."""
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [DevQuestion(str(item["q"]), item.get("id"), item.get("lang")) for item in items]


def synthetic_entries(real: Sequence[KbEntry], total: int, seed: int = SEED) -> list[KbEntry]:
    """The real entries plus generated ones, ``total`` in all, identical for the same seed.

    Words come from the real entries' vocabulary and from made-up syllable words, drawn with a
    Zipf-like distribution so that, as in a real knowledge base, a few words (some of them
    domain words such as "tiktok" or "account") occur in thousands of entries and most occur in
    a handful. That is the hard case for an inverted index.
    """
    rng = random.Random(seed)
    counts = Counter(t for e in real for t in tokenise(" ".join((e.title, *e.phrasings, e.answer))))
    # Real words keep their real frequency order, so domain words ("tiktok", "account",
    # "link") land near the top and appear in a large share of the synthetic entries.
    vocabulary = sorted(counts, key=lambda word: (-counts[word], word))
    syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"]
    invented = sorted(
        {"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(30_000)}
        - set(vocabulary)
    )
    rng.shuffle(invented)
    # One real word for every two invented ones, down the frequency ranks.
    words: list[str] = []
    for rank in range(max(len(vocabulary), len(invented) // 2)):
        words.extend(vocabulary[rank : rank + 1])
        words.extend(invented[2 * rank : 2 * rank + 2])
    cumulative = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))

    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(low, high)))

    entries = list(real)
    for number in range(total - len(real)):
        entries.append(
            KbEntry(
                id=f"synthetic-{number:05d}",
                title=sentence(5, 9).capitalize() + "?",
                phrasings=tuple(sentence(3, 8) for _ in range(rng.randint(6, 10))),
                answer=sentence(40, 90) + ".",
                platform=rng.choice(("tiktok", "meta", "instagram", "facebook", "general")),
                category="synthetic",
            )
        )
    return entries


def evaluate(matcher: FaqMatcher, questions: Sequence[DevQuestion]) -> tuple[float, float, float]:
    """Print every miss; return (strict accuracy, lenient accuracy, declined share)."""
    in_scope = [q for q in questions if q.expected]
    out_of_scope = [q for q in questions if not q.expected]
    strict = lenient = declined = 0
    printed = False
    print("misses (and weak hits: right entry first, but offered as a choice):")
    for question in questions:
        result = matcher.lookup(question.text)
        top = result.best.entry_id if result.best else None
        shown = " ".join(f"{c.entry_id}:{c.score:.2f}" for c in result.candidates)
        if question.expected:
            strict += result.decision == "answer" and top == question.expected
            hit = result.decision != "decline" and top == question.expected
            lenient += hit
            if not hit or result.decision != "answer":
                label = "  weak" if hit else "  MISS"
                printed = True
                print(
                    f"{label} {question.text!r} want={question.expected} "
                    f"got={result.decision} [{shown}]"
                )
        else:
            declined += result.decision == "decline"
            if result.decision != "decline":
                printed = True
                print(f"  MISS {question.text!r} want=decline got={result.decision} [{shown}]")
    if not printed:
        print("  (none)")
    return (
        strict / max(len(in_scope), 1),
        lenient / max(len(in_scope), 1),
        declined / max(len(out_of_scope), 1),
    )


DATA = REPO / "benchmarks" / "data"
# The tuning set is what the weights were set on; the hold-out is frozen and reported once.
# Each earlier hold-out (holdout-v1 to -v5) was reported once and then joined the tuning
# data; the current hold-out (holdout/) is written before the tuning that follows it.
SETS = {
    "tuning": [
        DATA / "dev-set.yaml",
        *sorted((DATA / "tuning").glob("*.yaml")),
        *sorted((DATA / "holdout-v1").glob("*.yaml")),
        *sorted((DATA / "holdout-v2").glob("*.yaml")),
        *sorted((DATA / "holdout-v3").glob("*.yaml")),
        *sorted((DATA / "holdout-v4").glob("*.yaml")),
        *sorted((DATA / "holdout-v5").glob("*.yaml")),
    ],
    "holdout": sorted((DATA / "holdout").glob("*.yaml")),
}


@dataclass(frozen=True, slots=True)
class SetScore:
    """One question file scored with the bot's own decision rules."""

    name: str
    in_scope: int
    answered_right: int
    offered_right: int
    wrong_answers: int
    out_of_scope: int
    out_answered: int
    out_declined: int
    foreign: int
    foreign_flagged: int


def score_set(
    matcher: FaqMatcher, name: str, questions: Sequence[DevQuestion], *, show: bool
) -> SetScore:
    """Score a file: answered right outright, right topic answered or offered, wrong answers.

    "Offered" means the right entry is among the buttons the bot shows (``choices``); the
    candidates it never shows do not count. Questions in another language count as flagged
    when the bot declines them and recognises the language.
    """
    in_scope = answered = offered = wrong = 0
    out = out_answered = out_declined = foreign = flagged = 0
    for q in questions:
        result = matcher.lookup(q.text)
        top = result.best.entry_id if result.best else None
        choices = [c.entry_id for c in result.choices]
        shown = " ".join(f"{c.entry_id}:{c.score:.2f}" for c in result.candidates)
        if q.language:
            foreign += 1
            ok = result.decision == "decline" and result.language != "en"
            flagged += ok
            wrong += result.decision == "answer" and top != q.expected
            if show and not ok:
                print(f"  [{name}] FOREIGN {q.text!r} got={result.decision} {result.language}")
        elif q.expected:
            in_scope += 1
            right = result.decision == "answer" and top == q.expected
            answered += right
            hit = right or (result.decision == "choose" and q.expected in choices)
            offered += hit
            wrong += result.decision == "answer" and top != q.expected
            if show and not right:
                label = "offer" if hit else "MISS "
                print(
                    f"  [{name}] {label} {q.text!r} want={q.expected} got={result.decision} "
                    f"choices={choices} [{shown}]"
                )
        else:
            out += 1
            out_answered += result.decision == "answer"
            out_declined += result.decision == "decline"
            if show and result.decision != "decline":
                print(f"  [{name}] OUT   {q.text!r} got={result.decision} [{shown}]")
    return SetScore(
        name, in_scope, answered, offered, wrong, out, out_answered, out_declined, foreign, flagged
    )


def _label(path: Path) -> str:
    """A question file's name in the tables: its folder and stem ("holdout-v1/chat")."""
    return path.stem if path.parent == DATA else f"{path.parent.name}/{path.stem}"


def report_sets(matcher: FaqMatcher, which: str, *, show: bool) -> None:
    """Print the per-file table for the tuning set or the frozen hold-out."""
    print(f"\n{which} sets (same decision rules as the bot):")
    if not SETS[which]:
        print(f"  (no question files in {DATA / which})")
        return
    report_files(matcher, SETS[which], show=show)


def report_files(matcher: FaqMatcher, paths: Sequence[Path], *, show: bool) -> None:
    """Print the per-file table of these question files."""
    scores = [score_set(matcher, _label(path), load_dev(path), show=show) for path in paths]

    def pct(part: int, whole: int) -> str:
        return f"{part / whole:6.1%}" if whole else "     -"

    print(
        f"{'set':<24} {'n':>4} {'answered':>9} {'offered':>8} {'wrong':>6} "
        f"{'out n':>6} {'out ans':>8} {'out decl':>9} {'lang ok':>8}"
    )
    for s in scores:
        n = s.in_scope + s.foreign
        print(
            f"{s.name:<24} {n:>4} {pct(s.answered_right, s.in_scope):>9} "
            f"{pct(s.offered_right, s.in_scope):>8} {s.wrong_answers:>6} {s.out_of_scope:>6} "
            f"{pct(s.out_answered, s.out_of_scope):>8} {pct(s.out_declined, s.out_of_scope):>9} "
            f"{pct(s.foreign_flagged, s.foreign):>8}"
        )


@dataclass(frozen=True, slots=True)
class LooResult:
    """Leave-one-phrasing-out counts."""

    asked: int
    strict: int
    lenient: int
    wrong_answers: int


def leave_one_out(entries: Sequence[KbEntry], *, show_misses: bool = False) -> LooResult:
    """Ask every phrasing of the knowledge base with that phrasing removed from its entry.

    Strict and lenient are as for the development questions; a wrong answer is a decision
    "answer" with another entry (a miss that a user would actually be shown).
    """
    asked = strict = lenient = wrong = 0
    for position, entry in enumerate(entries):
        for skipped, phrasing in enumerate(entry.phrasings):
            reduced = list(entries)
            reduced[position] = dataclasses.replace(
                entry, phrasings=entry.phrasings[:skipped] + entry.phrasings[skipped + 1 :]
            )
            result = FaqMatcher(reduced).lookup(phrasing)
            top = result.best.entry_id if result.best else None
            hit = result.decision != "decline" and top == entry.id
            asked += 1
            lenient += hit
            strict += hit and result.decision == "answer"
            wrong += result.decision == "answer" and top != entry.id
            if show_misses and not hit:
                shown = " ".join(f"{c.entry_id}:{c.score:.2f}" for c in result.candidates)
                print(f"  LOO {phrasing!r} want={entry.id} got={result.decision} [{shown}]")
    return LooResult(asked, strict, lenient, wrong)


def latency(matcher: FaqMatcher, texts: Sequence[str], rounds: int) -> tuple[float, float]:
    """Median and p99 milliseconds per lookup over ``rounds`` passes (after one warm-up pass)."""
    for text in texts:
        matcher.lookup(text)
    samples: list[float] = []
    clock = time.perf_counter
    for _ in range(rounds):
        for text in texts:
            start = clock()
            matcher.lookup(text)
            samples.append((clock() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def cold_latency(entries: Sequence[KbEntry], texts: Sequence[str]) -> tuple[float, float]:
    """Median and p99 ms of each question's first lookup on a fresh matcher (no caches warm).

    Chat-style questions bring typos and words the knowledge base never uses, so this is the
    cost a person's first, misspelled question really pays (spelling lookups included).
    """
    matcher = FaqMatcher(entries)
    samples: list[float] = []
    clock = time.perf_counter
    for text in texts:
        start = clock()
        matcher.lookup(text)
        samples.append((clock() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return 0 when every target is met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB, help="knowledge-base YAML")
    parser.add_argument("--dev", type=Path, default=DEFAULT_DEV, help="development questions")
    parser.add_argument("--synthetic", type=int, default=10_000, help="synthetic KB size")
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over the questions")
    parser.add_argument(
        "--loo", action="store_true", help="also score leave-one-phrasing-out (slower)"
    )
    parser.add_argument(
        "--loo-misses", action="store_true", help="with --loo, list the phrasings it misses"
    )
    parser.add_argument(
        "--sets",
        choices=sorted(SETS),
        help="only score the tuning set or the frozen hold-out (per file), then stop",
    )
    parser.add_argument("--quiet", action="store_true", help="with --sets, no per-question lines")
    args = parser.parse_args(argv)

    entries = load_entries(args.kb)
    if args.sets:
        report_sets(FaqMatcher(entries), args.sets, show=not args.quiet)
        return 0
    questions = load_dev(args.dev)
    texts = [q.text for q in questions]

    started = time.perf_counter()
    matcher = FaqMatcher(entries)
    built_ms = (time.perf_counter() - started) * 1000
    print(f"knowledge base: {args.kb} ({len(matcher)} entries, index built in {built_ms:.0f} ms)")
    print(
        f"dev questions: {args.dev} ({sum(1 for q in questions if q.expected)} in scope, "
        f"{sum(1 for q in questions if not q.expected)} out of scope)"
    )
    strict, lenient, declined = evaluate(matcher, questions)
    loo = None
    if args.loo:
        if args.loo_misses:
            print("leave-one-phrasing-out misses:")
        loo = leave_one_out(entries, show_misses=args.loo_misses)
    median_real, p99_real = latency(matcher, texts, args.rounds)
    tuning_texts = [q.text for path in SETS["tuning"] for q in load_dev(path)]
    median_cold, p99_cold = cold_latency(entries, tuning_texts)

    synthetic = synthetic_entries(entries, args.synthetic)
    started = time.perf_counter()
    big = FaqMatcher(synthetic)
    built_big_s = time.perf_counter() - started
    median_big, p99_big = latency(big, texts, max(1, args.rounds // 4))

    print()
    print(f"top-1 accuracy, strict (answer, right entry):            {strict:7.1%}")
    print(f"top-1 accuracy, lenient (answer or choose, right first): {lenient:7.1%}")
    print(f"out-of-scope declined:                                   {declined:7.1%}")
    if loo is not None:
        asked = max(loo.asked, 1)
        print(
            f"leave-one-phrasing-out ({loo.asked} phrasings): strict {loo.strict / asked:.1%}, "
            f"lenient {loo.lenient / asked:.1%}, wrong answers {loo.wrong_answers / asked:.1%}"
        )
    print(
        f"latency, real KB ({len(matcher)} entries):        "
        f"median {median_real:.3f} ms, p99 {p99_real:.3f} ms"
    )
    print(
        f"latency, real KB, first lookup of each tuning question (cold caches): "
        f"median {median_cold:.3f} ms, p99 {p99_cold:.3f} ms"
    )
    print(
        f"latency, synthetic KB ({len(big)} entries): "
        f"median {median_big:.3f} ms, p99 {p99_big:.3f} ms (index built in {built_big_s:.1f} s)"
    )

    failures = [
        name
        for name, ok in (
            ("accuracy", lenient >= TARGET_ACCURACY),
            ("declined", declined >= TARGET_DECLINED),
            ("latency (real, p99)", p99_real < TARGET_P99_REAL_MS),
            ("latency (synthetic)", median_big < TARGET_MEDIAN_SYNTHETIC_MS),
        )
        if not ok
    ]
    print("targets:", "all met" if not failures else "missed " + ", ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
