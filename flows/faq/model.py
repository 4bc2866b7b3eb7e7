"""Value types of the FAQ engine: knowledge-base entries and lookup results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Decision = Literal["answer", "choose", "decline"]


@dataclass(frozen=True, slots=True)
class KbEntry:
    """One knowledge-base topic: the question it answers, other ways to ask it, and the answer."""

    id: str
    title: str
    phrasings: tuple[str, ...]
    answer: str
    platform: str
    category: str
    related: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scored:
    """A candidate entry with a calibrated confidence in [0, 1] that it answers the question."""

    entry_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Lookup:
    """What to do with a question: answer it, offer a choice of topics, or decline.

    ``best`` is the top candidate when the decision is "answer" or "choose" and None when it is
    "decline"; ``candidates`` always holds up to three entries, best first, so a declined question
    can still be logged with what it nearly matched. ``choices`` are the entries to offer as
    buttons (best first, at most three) when the decision is "choose", and empty otherwise: a
    candidate that is not plausible is never shown. ``language`` is "en", or the language the
    question seems to be written in ("es", "pt", "ru", "other"), which is always declined.
    """

    decision: Decision
    best: Scored | None
    candidates: tuple[Scored, ...]
    choices: tuple[Scored, ...] = ()
    language: str = "en"
