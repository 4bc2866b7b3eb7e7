"""What kind of answer a question asks for: a procedure, a reason, a definition, a quantity...

Issue 8, fifth round. A question about one's own account that shares an entry's words ("how do
I change my TikTok username?" against the username rules, "why did my reach drop after I
switched?" against what switching changes) meets the entry on its topic words and nowhere else:
what it *asks* is something no way of asking that entry asks. English marks that at the start
of a clause ("how do I", "why did", "can I", "how many", "where is"), so the kind of question
is read from the clause openings alone, from general English, not from any question set:

* ``procedure``: how to do something ("how do I", "what should I do", "what are the steps");
* ``reason``: why something happened ("why", "how come", "what went wrong");
* ``what``: what something is ("what is", "which");
* ``consequence``: what follows from something ("what happens if", "what if");
* ``amount``: a quantity, a duration, a frequency ("how many", "how long", "how often");
* ``place``, ``time``, ``person``: "where", "when", "who";
* ``yes-no``: a question opening with an auxiliary verb ("can I", "does it", "is there").

An entry asks the kinds its title and phrasings ask. ``intent_gap`` is 1 when the question asks
only kinds the entry never asks (nor a kind that asks for the same answer: "what happens if" and
a yes-no question, "where" and "how do I"), 0 otherwise (or when the question asks no
recognisable kind, as chat often does: "spark code expired 4025??"). It is one input of the
matcher's fit, whose weight benchmarks/faq_calibrate.py refits like the others, and an entry
with a gap is answered outright only at a higher fit (``Calibration.gap_answer_fit``), else
offered. A gap is evidence, not a verdict: a knowledge base's phrasings cannot ask every
question every way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flows.faq.text import tokenise


def _words(text: str) -> frozenset[str]:
    """A set of words written as whitespace-separated text."""
    return frozenset(text.split())


PROCEDURE = "procedure"
REASON = "reason"
WHAT = "what"
AMOUNT = "amount"
PLACE = "place"
TIME = "time"
PERSON = "person"
YES_NO = "yes-no"
CONSEQUENCE = "consequence"

# Kinds of question that ask for the same kind of answer: "what happens to my ad if..." is
# answered by an entry asked as "does my ad stop if...", and "where do I find X" by one asked
# as "how do I find X".
_ANSWERED_BY: dict[str, frozenset[str]] = {
    CONSEQUENCE: frozenset({CONSEQUENCE, YES_NO}),
    YES_NO: frozenset({YES_NO, CONSEQUENCE}),
    PLACE: frozenset({PLACE, PROCEDURE}),
    PROCEDURE: frozenset({PROCEDURE, PLACE}),
}

# A clause ends at sentence punctuation, a comma or a parenthesis: "it expired, what now?"
# asks "what now".
_CLAUSES = re.compile(r"[.?!,;:()\n]+|\s[-–—]\s")
# Words of a clause that are read: enough for a few openers, the question word and the words
# after it that tell its kind.
_OPENING_WORDS = 12
# Words that may open a clause before its question word: "so how do I...", "ok but why...".
_OPENERS = _words(
    """
    so ok okay and but also hi hey hello sorry please pls plz um uh well then btw just yo quick
    question q now oh lol ugh honestly hmm anyway wait guys dear
    """
)
# Auxiliary verbs that open a yes-no question.
_AUXILIARIES = _words(
    """
    can could is are do does did will would should may might am was were has have had must
    shall
    """
)
# "how" followed by one of these asks for an amount, not a way.
_AMOUNTS = _words("many much long often old big far soon fast early late")
# "what" followed by one of these and a person asks what to do: "what should I do", "what can
# we do"; "what now" and "what to do" ask it without one. "What can the brand do" does not.
_WHAT_TO_DO = _words("should can shall do")
_DOERS = _words("i we you")
_WHAT_WORDS = _words("what whats wat which")
# "What is the maximum..." asks for an amount.
_LIMITS = _words("maximum minimum max min limit limits number cap price cost")


def _clause_intent(tokens: list[str]) -> str | None:
    """The kind of question a clause asks, from its opening words; None if it asks none."""
    start = 0
    while start < len(tokens) and tokens[start] in _OPENERS:
        start += 1
    if start == len(tokens):
        return None
    word = tokens[start]
    rest = tokens[start + 1 : start + 6]
    following = rest[0] if rest else ""
    if word == "why" or (word == "how" and following == "come"):
        return REASON
    if word == "how":
        return AMOUNT if following in _AMOUNTS else PROCEDURE
    if word in _WHAT_WORDS:
        if following in ("went", "wrong") or "wrong" in rest[:3] or "missing" in rest[:3]:
            return REASON
        # "what now", "now what", "what to do", "what are the steps"
        if "steps" in rest[:3] or following in ("now", "to", "next") or (
            not rest and start and tokens[start - 1] == "now"
        ):
            return PROCEDURE
        if following in ("is", "are") and not _LIMITS.isdisjoint(rest[1:3]):
            return AMOUNT
        if following in _WHAT_TO_DO and rest[1:2] and rest[1] in _DOERS and "do" in rest[2:4]:
            return PROCEDURE
        if following in ("happens", "happened", "happen", "if"):
            return CONSEQUENCE
        return WHAT
    if word in ("where", "wheres"):
        return PLACE
    if word == "when":
        return TIME
    if word in ("who", "whom", "whose"):
        return PERSON
    if word in _AUXILIARIES:
        return YES_NO
    return None


def intents(text: str) -> frozenset[str]:
    """The kinds of question a text asks, one per clause that opens like a question."""
    found = set()
    for clause in _CLAUSES.split(text.casefold()):
        # Only a clause's opening words matter (openers, a question word and a few after it).
        intent = _clause_intent(tokenise(" ".join(clause.split()[:_OPENING_WORDS])))
        if intent is not None:
            found.add(intent)
    return frozenset(found)


def entry_intents(texts: Iterable[str]) -> frozenset[str]:
    """The kinds of question an entry asks: those of its title and phrasings together."""
    found: set[str] = set()
    for text in texts:
        found |= intents(text)
    return frozenset(found)


def intent_gap(question: frozenset[str], entry: frozenset[str]) -> float:
    """1.0 when the question asks kinds of question, none of which the entry asks; else 0.0."""
    if not question:
        return 0.0
    for kind in question:
        if not entry.isdisjoint(_ANSWERED_BY.get(kind, (kind,))):
            return 0.0
    return 1.0
