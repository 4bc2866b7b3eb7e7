"""Questions typed the way people chat (issue 8, third round): shorthand, questions put to the
bot itself, "how many" limits apart from "several accounts", durations in words, idioms of
taking access back, and unsure questions offered as choices. Matcher tests on the real
knowledge base, and the bot-visible ones through the real bot."""

from __future__ import annotations

import pytest

from bot.local_api import Person
from flows.faq import FaqMatcher
from flows.faq.text import tokenise
from tests.conftest import World
from tests.test_faq_matcher import KB_PATH, load_entries


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_entries(KB_PATH))


def answered(matcher: FaqMatcher, question: str) -> str | None:
    """The entry the bot answers outright, or None when it offers choices or declines."""
    result = matcher.lookup(question)
    return result.best.entry_id if result.decision == "answer" and result.best else None


# --------------------------------------------------------------------------------------------
# chat shorthand


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("what can u do", ["what", "can", "you", "do"]),
        ("wat r ur limits", ["what", "are", "your", "limits"]),
        ("b4 linking", ["before", "linking"]),
        ("my vids", ["my", "videos"]),
    ],
)
def test_chat_shorthand_is_read_as_the_words_it_stands_for(
    text: str, expected: list[str]
) -> None:
    assert tokenise(text) == expected


def test_shorthand_reaches_the_same_answer_as_the_words(matcher: FaqMatcher) -> None:
    assert answered(matcher, "what can u do") == answered(matcher, "what can you do")
    assert answered(matcher, "what can u do") == "bot-what-can-you-do"


# --------------------------------------------------------------------------------------------
# questions put to the bot itself


@pytest.mark.parametrize(
    "question",
    ["what do you keep about me?", "what do you know about me", "whats ur privacy policy"],
)
def test_questions_to_the_bot_about_itself_are_answered(
    matcher: FaqMatcher, question: str
) -> None:
    assert answered(matcher, question) == "bot-data-privacy"


@pytest.mark.parametrize(
    "question",
    ["can you tell me a joke", "do you like pizza", "are you a robot", "what is your name"],
)
def test_small_talk_with_the_bot_is_still_declined(matcher: FaqMatcher, question: str) -> None:
    result = matcher.lookup(question)
    assert result.decision == "decline", result
    assert result.choices == ()


# --------------------------------------------------------------------------------------------
# near-duplicate entries kept apart


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("how many tiktok accounts can I link to a business center", "tiktok-linking-limits"),
        ("how many spark ads can I run", "spark-limits"),
        ("can I link several tiktok accounts to one ad account", "tiktok-multiple-accounts"),
        ("can I link many tiktok accounts", "tiktok-multiple-accounts"),
        ("are facebook and instagram linked to each other", "meta-fb-ig-connected"),
        ("can one campaign run on both facebook and instagram", "meta-single-campaign-both"),
    ],
)
def test_limits_and_several_accounts_and_meta_links_are_told_apart(
    matcher: FaqMatcher, question: str, entry_id: str
) -> None:
    assert answered(matcher, question) == entry_id


@pytest.mark.parametrize(
    "question",
    ["how many videos should I post a day", "how many hashtags should I use"],
)
def test_how_many_about_growth_is_not_answered_with_a_limit(
    matcher: FaqMatcher, question: str
) -> None:
    assert matcher.lookup(question).decision != "answer"


def test_a_duration_in_words_meets_the_day_counts(matcher: FaqMatcher) -> None:
    assert answered(matcher, "can a spark code be valid for a year?") == "spark-code-validity"


def test_taking_access_back_is_revoking_it(matcher: FaqMatcher) -> None:
    result = matcher.lookup("I approved the agency's request on tiktok, can I take it back?")
    assert result.decision != "decline", result
    shown = [result.best] if result.decision == "answer" else list(result.choices)
    assert "tiktok-revoke-access" in [c.entry_id for c in shown if c is not None]


# --------------------------------------------------------------------------------------------
# unsure questions: offered, not declined; themes still declined


def test_context_words_leave_an_unsure_question_offered_with_the_right_topic(
    matcher: FaqMatcher,
) -> None:
    result = matcher.lookup("we lost the client, how do i remove their tiktok from our ads manager")
    assert result.decision == "choose", result
    assert 2 <= len(result.choices) <= 3
    assert result.choices[0].entry_id == "tiktok-unlink"


def test_shorthand_in_an_idiom_still_reads(matcher: FaqMatcher) -> None:
    assert answered(matcher, "the link thing didnt go thru i think") == "tiktok-check-linked"


@pytest.mark.parametrize(
    "question",
    [
        "how do I report a fake profile on tiktok",
        "someone is pretending to be me on instagram",
        "my tiktok got hacked, what do I do",
    ],
)
def test_a_theme_explains_it_so_no_buttons_are_offered(matcher: FaqMatcher, question: str) -> None:
    result = matcher.lookup(question)
    assert result.decision == "decline", result


# --------------------------------------------------------------------------------------------
# through the bot


async def test_the_bot_offers_the_topics_of_an_unsure_chat_question(
    world: World, ada: Person
) -> None:
    question = "we lost the client, how do i remove their tiktok from our ads manager"
    found = world.deps.faq.lookup(question)
    await ada.send(question)
    offer = ada.last
    assert "Did you mean" in offer.plain
    titles = [world.deps.faq.entry(c.entry_id).title for c in found.choices]  # type: ignore[union-attr]
    assert offer.labels == [*titles, "None of these"]
    assert world.deps.faq.entry("tiktok-unlink").title in titles  # type: ignore[union-attr]
    await ada.press(world.deps.faq.entry("tiktok-unlink").title, offer)  # type: ignore[union-attr]
    assert "removes it from the account" in ada.last.plain  # the unlink answer


async def test_the_bot_answers_shorthand_about_itself(world: World, ada: Person) -> None:
    await ada.send("what can u do")
    assert world.deps.faq.entry("bot-what-can-you-do").title in ada.last.plain  # type: ignore[union-attr]


async def test_the_bot_answers_what_it_keeps_about_a_person(world: World, ada: Person) -> None:
    await ada.send("what do you keep about me?")
    assert world.deps.faq.entry("bot-data-privacy").title in ada.last.plain  # type: ignore[union-attr]


async def test_the_bot_declines_small_talk_without_buttons_for_topics(ada: Person) -> None:
    await ada.send("can you tell me a joke")
    assert "don't know the answer" in ada.last.plain
    assert ada.last.labels == ["All topics"]
