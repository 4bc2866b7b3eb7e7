"""Issue 8, fourth round: questions about one's own account or content that share words with an
entry are declined, while the entry's own questions (which name what it is about: advertising,
linking, codes) are still answered; foreign questions full of product names get the
English-only note. Matcher tests on the real knowledge base, the bot-visible ones through the
real bot."""

from __future__ import annotations

import pytest

from bot.local_api import Person
from flows.faq import FaqMatcher
from tests.conftest import World
from tests.test_faq_matcher import KB_PATH, load_entries


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher(load_entries(KB_PATH))


# Each shares a word with an entry ("comments", "rejected", "caption", "deleted") but asks about
# the person's own account or content, which Linkpilot does not cover.
OWN_ACCOUNT_QUESTIONS = [
    "how do I switch off comments under my own videos",
    "my ad was rejected because of the advertising policy",
    "help me write a caption for my reel",
    "how can I get back my deleted instagram account",
]


@pytest.mark.parametrize("question", OWN_ACCOUNT_QUESTIONS)
def test_questions_about_ones_own_account_are_declined_without_buttons(
    matcher: FaqMatcher, question: str
) -> None:
    result = matcher.lookup(question)
    assert result.decision == "decline", result
    assert result.choices == ()


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("the account owner rejected my authorization request", "tiktok-owner-rejects"),
        ("can I reply to comments on my spark ads inside ads manager",
         "tiktok-comments-management"),
        ("the creator wants to edit the caption of the video we run as a spark ad",
         "spark-caption-locked"),
        ("how do I remove an agency partner from my facebook page", "meta-remove-partner"),
    ],
)
def test_the_same_words_about_the_entrys_concept_are_answered(
    matcher: FaqMatcher, question: str, entry_id: str
) -> None:
    result = matcher.lookup(question)
    assert result.decision == "answer" and result.best is not None, result
    assert result.best.entry_id == entry_id


def test_a_vague_question_of_generic_words_is_still_offered_choices(matcher: FaqMatcher) -> None:
    # Naming no concept sinks a specific question about something else, not a vague one.
    assert matcher.lookup("tiktok account").decision == "choose"


def test_many_accounts_is_several_and_how_many_is_a_limit(matcher: FaqMatcher) -> None:
    several = matcher.lookup("can I link many tiktok accounts")
    limit = matcher.lookup("how many tiktok accounts can a business center hold")
    assert several.best is not None and several.best.entry_id == "tiktok-multiple-accounts"
    assert limit.best is not None and limit.best.entry_id == "tiktok-linking-limits"


# --------------------------------------------------------------------------------------------
# through the bot


@pytest.mark.parametrize("question", OWN_ACCOUNT_QUESTIONS[:2])
async def test_the_bot_declines_an_own_account_question_with_only_the_topic_list(
    world: World, ada: Person, question: str
) -> None:
    await ada.send(question)
    assert "don't know the answer" in ada.last.plain
    assert ada.last.labels == ["All topics"]


async def test_the_bot_tells_a_portuguese_question_about_spark_ads_it_answers_in_english(
    ada: Person,
) -> None:
    await ada.send("Posso trocar a legenda de um vídeo no Spark Ads pelo Ads Manager?")
    assert "answers questions in English" in ada.last.plain
    assert len(ada.last.labels) >= 6  # the topic categories
