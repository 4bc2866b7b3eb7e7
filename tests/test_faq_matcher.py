"""Behaviour of the FAQ matcher on the real knowledge base: synonyms, typos, declines, choices."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.faq import FaqMatcher, KbEntry, Lookup

REPO = Path(__file__).resolve().parents[1]
KB_PATH = REPO / "storage" / "knowledge" / "faq.yaml"
DEV_SET = REPO / "benchmarks" / "data" / "dev-set.yaml"


def load_entries(path: Path) -> list[KbEntry]:
    """Read the knowledge-base YAML the way the bot does, into matcher entries."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        KbEntry(
            id=raw["id"],
            title=raw["title"],
            phrasings=tuple(raw.get("phrasings") or ()),
            answer=raw.get("answer") or "",
            platform=raw.get("platform") or "general",
            category=raw.get("category") or "",
            related=tuple(raw.get("related") or ()),
            sources=tuple(raw.get("sources") or ()),
        )
        for raw in data["entries"]
    ]


@pytest.fixture(scope="module")
def entries() -> list[KbEntry]:
    return load_entries(KB_PATH)


@pytest.fixture(scope="module")
def matcher(entries: list[KbEntry]) -> FaqMatcher:
    return FaqMatcher(entries)


def assert_found(result: Lookup, entry_id: str) -> None:
    """The question is answered, or offered as a choice, with this entry first."""
    assert result.decision != "decline", result
    assert result.best is not None
    assert result.best.entry_id == entry_id, result


# --------------------------------------------------------------------------------------------
# the API


def test_len_and_entry_lookup(matcher: FaqMatcher, entries: list[KbEntry]) -> None:
    assert len(matcher) == len(entries)
    assert matcher.entry("tiktok-unlink") == next(e for e in entries if e.id == "tiktok-unlink")
    with pytest.raises(KeyError):
        matcher.entry("no-such-entry")


def test_duplicate_ids_are_rejected(entries: list[KbEntry]) -> None:
    with pytest.raises(ValueError, match="duplicate"):
        FaqMatcher([entries[0], entries[0]])


def test_candidates_are_top_three_best_first_with_scores_in_unit_range(
    matcher: FaqMatcher,
) -> None:
    result = matcher.lookup("how do I link my tiktok account")
    assert 1 <= len(result.candidates) <= 3
    scores = [c.score for c in result.candidates]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert result.best == result.candidates[0]


def test_an_empty_knowledge_base_declines_everything() -> None:
    result = FaqMatcher([]).lookup("how do I link my tiktok account")
    assert result == Lookup("decline", None, ())


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "?!", "..."])
def test_empty_or_blank_input_declines(matcher: FaqMatcher, question: str) -> None:
    assert matcher.lookup(question) == Lookup("decline", None, ())


# --------------------------------------------------------------------------------------------
# normalisation, synonyms and typos


@pytest.mark.parametrize(
    "question",
    [
        "how to disconnect my tik tok from ads manager",
        "remove my TikTok account from the ad account",
        "How do I UNLINK my TikTok\u2019s account??",
        "detach tiktok from my advertiser account",
    ],
)
def test_unlink_synonyms_and_spelling_variants(matcher: FaqMatcher, question: str) -> None:
    result = matcher.lookup(question)
    assert result.decision == "answer"
    assert_found(result, "tiktok-unlink")


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("how do I connect my ig to my fb page", "meta-connect-instagram-to-page"),
        ("does my insta need to be a professional account", "meta-instagram-professional-required"),
        ("can I message ig users from messenger", "meta-messaging"),
        ("share insta posts on fb", "meta-cross-posting"),
    ],
)
def test_instagram_and_facebook_abbreviations(
    matcher: FaqMatcher, question: str, entry_id: str
) -> None:
    assert_found(matcher.lookup(question), entry_id)


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("my ad code expired", "spark-code-expired"),
        ("how does a creator make a video code", "spark-code-generate"),
        ("how many tiktok accounts can a bc have", "tiktok-linking-limits"),
        ("how do I take back an advertiser's access to my tiktok", "tiktok-revoke-access"),
        ("the owner said no to my request", "tiktok-owner-rejects"),
    ],
)
def test_domain_synonyms(matcher: FaqMatcher, question: str, entry_id: str) -> None:
    assert_found(matcher.lookup(question), entry_id)


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        ("how do i unlnik my tiktok acount", "tiktok-unlink"),
        ("can i conect my instagarm to a facebok page", "meta-connect-instagram-to-page"),
        ("my spark cdoe has exipred", "spark-code-expired"),
    ],
)
def test_typos_are_tolerated(matcher: FaqMatcher, question: str, entry_id: str) -> None:
    assert_found(matcher.lookup(question), entry_id)


# --------------------------------------------------------------------------------------------
# out of scope


@pytest.mark.parametrize(
    "question",
    [
        "what's the capital of Peru",
        "write me a poem",
        "asdfgh",
        "how do I bake bread",
        "hi",
        "hello there!",
        "thanks a lot",
        "tell me a joke",
        "what is 12 times 7",
        "how do I reset my router",
        "who won the football match yesterday",
        "how do I link my spotify to discord",
        "zxcvbnm qwerty",
    ],
)
def test_out_of_scope_questions_decline(matcher: FaqMatcher, question: str) -> None:
    result = matcher.lookup(question)
    assert result.decision == "decline", result
    assert result.best is None


# --------------------------------------------------------------------------------------------
# domain-adjacent questions: the platforms' own words, but no topic of this bot


@pytest.mark.parametrize(
    "question",
    [
        "who is the founder of instagram",
        "who founded linkpilot",
        "how can I gain more followers on instagram",
        "how do I start a live stream on tiktok",
        "will the government ban tiktok",
        "how do I run ads on snapchat",
        "when is the best hour to upload a tiktok",
        "how do I change my instagram bio",
        "how do I get a verified badge on tiktok",
        "can you recommend a good camera for reels",
        "how do I close my facebook account for good",
        "what is the most popular song on tiktok right now",
        "how do I link my tiktok to my youtube channel",
        "pair my headphones with my laptop",
    ],
)
def test_domain_adjacent_questions_decline(matcher: FaqMatcher, question: str) -> None:
    result = matcher.lookup(question)
    assert result.decision == "decline", result
    assert result.best is None


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        # share "go live", "followers", "delete", "who", "business account" with the above
        ("when will my tiktok campaign go live", "tiktok-launch-campaign"),
        ("does my tiktok need many followers before I can link it", "tiktok-requirements"),
        (
            "can the creator delete the spark code while my ad is running",
            "spark-delete-post-or-code",
        ),
        ("who can request access to a tiktok account in business center", "ads-manager-roles"),
        ("I want to delete the data this bot keeps about me", "bot-data-privacy"),
        (
            "can I set up one campaign that runs on instagram and facebook",
            "meta-single-campaign-both",
        ),
        ("switch my tiktok to a business profile, will I lose videos", "tiktok-switch-to-business"),
    ],
)
def test_in_scope_neighbours_of_adjacent_questions_are_answered(
    matcher: FaqMatcher, question: str, entry_id: str
) -> None:
    result = matcher.lookup(question)
    assert result.decision == "answer", result
    assert_found(result, entry_id)


def test_a_question_about_one_platform_prefers_that_platforms_entry(matcher: FaqMatcher) -> None:
    # Instagram has an entry on needing a business account too; the question names TikTok.
    result = matcher.lookup("does my tiktok have to be a business account to link it")
    assert_found(result, "tiktok-business-vs-personal")


# --------------------------------------------------------------------------------------------
# ambiguity


@pytest.mark.parametrize("question", ["spark code", "tiktok account", "access"])
def test_ambiguous_queries_offer_a_choice(matcher: FaqMatcher, question: str) -> None:
    result = matcher.lookup(question)
    assert result.decision == "choose", result
    assert len(result.candidates) == 3
    assert result.best == result.candidates[0]
    # A choice means no candidate is a clear winner.
    assert result.candidates[0].score < 0.5


def test_choose_offers_the_plausible_entries(matcher: FaqMatcher) -> None:
    result = matcher.lookup("spark code")
    assert {c.entry_id for c in result.candidates} <= {
        "spark-code-generate",
        "spark-code-apply",
        "spark-code-validity",
        "spark-code-expired",
        "spark-code-invalid",
        "spark-delete-post-or-code",
    }


def test_a_clear_question_is_answered_with_high_confidence(matcher: FaqMatcher) -> None:
    result = matcher.lookup("what happens if the owner rejects my authorization request")
    assert result.decision == "answer"
    assert result.best is not None
    assert result.best.entry_id == "tiktok-owner-rejects"
    assert result.best.score >= 0.5


# --------------------------------------------------------------------------------------------
# development-set floor


def test_dev_set_accuracy_floor(matcher: FaqMatcher) -> None:
    questions = yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))
    in_scope = [q for q in questions if q["id"]]
    out_of_scope = [q for q in questions if not q["id"]]
    hits = [q["q"] for q in in_scope if _top(matcher, q["q"]) == q["id"]]
    declined = [q["q"] for q in out_of_scope if matcher.lookup(q["q"]).decision == "decline"]
    missed = sorted({q["q"] for q in in_scope} - set(hits))
    leaked = sorted({q["q"] for q in out_of_scope} - set(declined))
    assert len(hits) / len(in_scope) >= 0.95, missed
    assert len(declined) / len(out_of_scope) >= 0.95, leaked


def _top(matcher: FaqMatcher, question: str) -> str | None:
    """The entry the bot would put first (answer or first choice), None when it declines."""
    result = matcher.lookup(question)
    return result.best.entry_id if result.decision != "decline" and result.best else None


# --------------------------------------------------------------------------------------------
# how people really type (issue 8)


@pytest.mark.parametrize(
    "word", ["stuff", "scared", "waste", "fired", "marketing", "getting", "unblock"]
)
def test_real_english_words_are_never_corrected(word: str) -> None:
    from collections import Counter

    from flows.faq.english import english_frequencies
    from flows.faq.spelling import SpellingCorrector

    kb_words = Counter(["staff", "shared", "paste", "fixed", "targeting", "setting", "unlock"])
    speller = SpellingCorrector(kb_words, english=english_frequencies())
    assert speller.correct(word) == word


def test_a_non_word_is_corrected_to_the_knowledge_base_word_first() -> None:
    from collections import Counter

    from flows.faq.english import common_english, english_frequencies
    from flows.faq.spelling import SpellingCorrector

    speller = SpellingCorrector(
        Counter(["access", "account"]),
        english=english_frequencies(),
        english_targets=common_english(20_000),
    )
    # "acess" is one edit from "access" and from the English "aces": the KB's word wins.
    assert speller.correct("acess") == "access"
    assert speller.correct("acount") == "account"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my boss wants the 'spark code'", ["my", "boss", "wants", "the", "spark", "code"]),
        ("'Send a QR code' where?", ["send", "a", "qr", "code", "where"]),
        ("the creator's video", ["the", "creator", "video"]),
    ],
)
def test_single_quotes_are_not_taken_for_contractions(text: str, expected: list[str]) -> None:
    from flows.faq.text import tokenise

    assert tokenise(text) == expected


def test_a_blocking_question_is_not_answered_with_a_linking_entry(matcher: FaqMatcher) -> None:
    assert matcher.lookup("how can I unblock a guy on tiktok").decision == "decline"


@pytest.mark.parametrize(
    ("question", "entry_id"),
    [
        (
            "my boss is angry, I have to unlink the tiktok account from our ad account by friday",
            "tiktok-unlink",
        ),
        ("we fired the freelancer, how do I revoke his access to my tiktok",
         "tiktok-revoke-access"),
        ("sorry for the stupid question but how long does a spark code last",
         "spark-code-validity"),
    ],
)
def test_context_words_do_not_sink_a_question(
    matcher: FaqMatcher, question: str, entry_id: str
) -> None:
    result = matcher.lookup(question)
    assert result.decision == "answer", result
    assert_found(result, entry_id)


def test_questions_about_the_bot_itself_pass_the_domain_gate(matcher: FaqMatcher) -> None:
    assert_found(matcher.lookup("can you erase what you saved about me?"), "bot-data-privacy")


@pytest.mark.parametrize(
    "question",
    [
        "how much does the tiktok creator fund pay per 1000 views",
        "how do I get a blue tick on instagram",
        "what CPM should I expect on tiktok ads",
        "how to make my tiktok go viral",
    ],
)
def test_domain_adjacent_traps_are_not_answered(matcher: FaqMatcher, question: str) -> None:
    assert matcher.lookup(question).decision != "answer"


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("¿Cómo desvinculo mi cuenta de TikTok del administrador de anuncios?", "es"),
        ("Como eu desvinculo minha conta do TikTok?", "pt"),
        ("Как отвязать аккаунт TikTok от рекламного кабинета?", "ru"),
    ],
)
def test_other_languages_are_declined_and_recognised(
    matcher: FaqMatcher, question: str, language: str
) -> None:
    result = matcher.lookup(question)
    assert result.decision == "decline"
    assert result.language == language


def test_english_questions_are_english(matcher: FaqMatcher) -> None:
    assert matcher.lookup("how do I unlink my tiktok account").language == "en"


@pytest.mark.parametrize(
    ("question", "language"),
    [
        # Product names are English words in any language; they must not make these English.
        ("Posso mudar a legenda de um vídeo do Spark Ads no Ads Manager?", "pt"),
        ("¿Dónde pongo el código de Spark Ads en el Business Center?", "es"),
        # Fewer Cyrillic letters than Latin ones, all the Latin ones a product's name.
        ("Что такое TikTok Business Center?", "ru"),
    ],
)
def test_foreign_questions_with_product_names_get_the_english_only_note(
    matcher: FaqMatcher, question: str, language: str
) -> None:
    result = matcher.lookup(question)
    assert (result.decision, result.language) == ("decline", language)


@pytest.mark.parametrize(
    "question",
    ["can I link a tiktok account de facto owned by a client", "is there a no code way to link"],
)
def test_english_with_one_foreign_looking_word_stays_english(
    matcher: FaqMatcher, question: str
) -> None:
    assert matcher.lookup(question).language == "en"


def test_choices_are_offered_only_when_choosing(matcher: FaqMatcher) -> None:
    chosen = matcher.lookup("spark code")
    assert chosen.decision == "choose"
    assert 1 <= len(chosen.choices) <= 3
    assert chosen.choices[0] == chosen.best
    assert set(chosen.choices) <= set(chosen.candidates)
    assert matcher.lookup("how do I unlink my tiktok account").choices == ()
    declined = matcher.lookup("how do I bake bread")
    assert declined.choices == () and declined.best is None
