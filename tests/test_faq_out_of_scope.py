"""The matcher's out-of-scope class: what Linkpilot deliberately does not answer is declined
because it matches an out-of-scope theme (flows/faq/out_of_scope.yaml), not a word list."""

from __future__ import annotations

import pytest

from bot.local_api import Person
from flows.faq import FaqMatcher, KbEntry
from flows.faq.declined import THEME_PREFIX, out_of_scope_themes
from tests.test_faq_matcher import KB_PATH, load_entries

TRAPS = [
    "how to get verified",
    "how to get verified on tiktok",
    "how do I block someone on instagram",
    "what is a good cpm for spark ads",
    "how much do creators earn from the creator fund",
]


@pytest.fixture(scope="module")
def entries() -> list[KbEntry]:
    return load_entries(KB_PATH)


@pytest.fixture(scope="module")
def matcher(entries: list[KbEntry]) -> FaqMatcher:
    return FaqMatcher(entries)


@pytest.mark.parametrize("question", TRAPS)
def test_domain_adjacent_traps_are_declined(matcher: FaqMatcher, question: str) -> None:
    result = matcher.lookup(question)
    assert result.decision == "decline", result


def test_the_themes_are_what_declines_them(entries: list[KbEntry]) -> None:
    # The same knowledge base without the out-of-scope class answers or offers some of them:
    # the class carries the decision, not a hand-written list of words.
    bare = FaqMatcher(entries, out_of_scope={})
    assert any(bare.lookup(q).decision != "decline" for q in TRAPS)


def test_a_theme_is_never_shown_as_a_candidate_or_choice(matcher: FaqMatcher) -> None:
    ids = {e.id for e in load_entries(KB_PATH)}
    for examples in out_of_scope_themes().values():
        for question in (*examples, *TRAPS, "spark code", "block", "verified account"):
            result = matcher.lookup(question)
            shown = [c.entry_id for c in (*result.candidates, *result.choices)]
            assert all(s in ids and not s.startswith(THEME_PREFIX) for s in shown), result


def test_the_themes_example_questions_are_declined(matcher: FaqMatcher) -> None:
    for examples in out_of_scope_themes().values():
        for question in examples:
            assert matcher.lookup(question).decision == "decline", question


def test_a_theme_close_behind_keeps_an_in_scope_question_answerable(matcher: FaqMatcher) -> None:
    # "verify" is a theme's word too, yet checking a link is the knowledge base's own topic.
    result = matcher.lookup("how do I verify that the link worked")
    assert result.decision != "decline" and result.best is not None
    assert result.best.entry_id == "tiktok-check-linked"


async def test_the_bot_declines_how_to_get_verified(ada: Person) -> None:
    await ada.send("how to get verified")
    assert "don't know the answer" in ada.last.plain
    assert ada.last.labels == ["All topics"]
