"""Issue 8, fifth round: a question that shares an entry's words but asks something no way of
asking that entry asks ("how do I change my username" against the username rules) is not
answered with it; asked the entry's way, the same words are. An entry about Linkpilot itself is
not answered to a question about a platform. Matcher tests on the real knowledge base, the
bot-visible ones through the real bot."""

from __future__ import annotations

import pytest

from bot.local_api import Person
from flows.faq import FaqMatcher
from flows.faq.intent import (
    AMOUNT,
    CONSEQUENCE,
    PLACE,
    PROCEDURE,
    REASON,
    TIME,
    WHAT,
    YES_NO,
    intent_gap,
    intents,
)
from tests.test_faq_matcher import KB_PATH, load_entries


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_entries(KB_PATH))


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("How do I rename my page?", {PROCEDURE}),
        ("so why did it stop working", {REASON}),
        ("how come nobody sees it", {REASON}),
        ("how many accounts fit in one business center", {AMOUNT}),
        ("how long is it valid", {AMOUNT}),
        ("what is the maximum number of codes", {AMOUNT}),
        ("what is a pixel", {WHAT}),
        ("what happens to the ad if she deletes the video", {CONSEQUENCE}),
        ("the request expired, what now?", {PROCEDURE}),
        ("what should we do next", {PROCEDURE}),
        ("what can the brand do with my account", {WHAT}),
        ("where is the button", {PLACE}),
        ("when does it start", {TIME}),
        ("can I pay by card", {YES_NO}),
        ("it expired. why? and how do I renew it", {REASON, PROCEDURE}),
        ("spark code expired 4025 help", set()),
    ],
)
def test_the_kind_of_question_is_read_from_each_clause_opening(
    question: str, kinds: set[str]
) -> None:
    assert intents(question) == kinds


def test_a_gap_needs_the_question_to_ask_something_the_entry_never_asks() -> None:
    entry = frozenset({WHAT, YES_NO})
    assert intent_gap(frozenset({PROCEDURE}), entry) == 1.0
    assert intent_gap(frozenset({PROCEDURE, WHAT}), entry) == 0.0
    # "what happens if" is answered by an entry asked as "does it stop if", and back
    assert intent_gap(frozenset({CONSEQUENCE}), entry) == 0.0
    assert intent_gap(frozenset({PLACE}), frozenset({PROCEDURE})) == 0.0
    # chat that asks no recognisable kind of question is never gapped
    assert intent_gap(frozenset(), entry) == 0.0


# (asked the entry's way: answered, asked for something the entry does not do: not answered)
PAIRS = [
    (
        "how often can I change my tiktok username",
        "how do I change my tiktok username",
        "tiktok-username-rules",
    ),
    (
        "what happens to my videos if I switch to a business account",
        "why did my follower count fall after switching to a business account",
        "tiktok-switch-to-business",
    ),
]


@pytest.mark.parametrize(("asked_its_way", "asked_otherwise", "entry_id"), PAIRS)
def test_the_same_words_are_answered_only_when_asked_as_the_entry_is(
    matcher: FaqMatcher, asked_its_way: str, asked_otherwise: str, entry_id: str
) -> None:
    answered = matcher.lookup(asked_its_way)
    assert answered.decision == "answer" and answered.best is not None, answered
    assert answered.best.entry_id == entry_id
    other = matcher.lookup(asked_otherwise)
    assert other.decision != "answer", other


def test_how_long_a_code_lasts_is_not_answered_with_what_to_do_once_it_expired(
    matcher: FaqMatcher,
) -> None:
    result = matcher.lookup("how long do spark codes stay valid")
    assert result.decision == "answer" and result.best is not None, result
    assert result.best.entry_id == "spark-code-validity"


def test_a_question_about_a_platform_is_not_answered_with_what_linkpilot_stores(
    matcher: FaqMatcher,
) -> None:
    about_tiktok = matcher.lookup("how do I delete my data from tiktok")
    assert about_tiktok.decision != "answer", about_tiktok
    for to_the_bot in ("delete my data", "how do I delete my data from linkpilot"):
        result = matcher.lookup(to_the_bot)
        assert result.decision == "answer" and result.best is not None, result
        assert result.best.entry_id == "bot-data-privacy"


# --------------------------------------------------------------------------------------------
# through the bot


async def test_the_bot_does_not_answer_how_to_change_a_username_with_the_username_rules(
    ada: Person,
) -> None:
    await ada.send("how do I change my tiktok username")
    reply = ada.last
    assert "underscores" not in reply.plain  # the rules entry's answer
    assert "Did you mean" in reply.plain or "don't know the answer" in reply.plain
    await ada.send("how often can I change my tiktok username")
    assert "underscores" in ada.last.plain


async def test_the_bot_offers_rather_than_answers_a_data_question_about_tiktok(
    ada: Person,
) -> None:
    await ada.send("how do I delete my data from tiktok")
    assert "Only what's needed" not in ada.last.plain  # the privacy entry's answer
    await ada.send("delete my data")
    assert "Only what's needed" in ada.last.plain
