"""Input hygiene (issue 11): the rules free text and usernames must meet, pure and fast."""

from __future__ import annotations

import unicodedata

import pytest

from flows.platforms import (
    SHOWN_BAD,
    TIKTOK,
    AdAccountProblem,
    HandleProblem,
    InvalidAdAccountName,
    InvalidHandle,
    TextProblem,
    UnsafeText,
    clean_text,
    display_name,
    normalise_ad_account_name,
    scrubbed,
)

RULE = TIKTOK.handle_rule


@pytest.mark.parametrize("typed", [
    "tiktok.com/@owen.makes",
    "https://www.tiktok.com/@owen.makes",
    "http://m.tiktok.com/@owen.makes/",
    "www.tiktok.com/@owen.makes?lang=en&is_from_webapp=1",
    "https://www.tiktok.com/@owen.makes/?_t=8abc&_r=1",
    "https://www.tiktok.com/@owen.makes?" + "&".join(f"utm_p{i}=MS4wLjABAAAA" for i in range(40)),
    "  @owen.makes  ",
])
def test_a_profile_address_is_read_as_its_username(typed: str) -> None:
    assert RULE.normalise(typed) == "owen.makes"


@pytest.mark.parametrize("typed", [
    "https://www.tiktok.com/@owen.makes/video/7312345678901234567",
    "tiktok.com/@owen.makes/video/7312345678901234567?is_from_webapp=1&sender_device=pc",
    "m.tiktok.com/@owen.makes/video/7312345678901234567/",
])
def test_a_video_address_names_the_account_it_is_from(typed: str) -> None:
    with pytest.raises(InvalidHandle) as refused:
        RULE.normalise(typed)
    assert refused.value.problem is HandleProblem.VIDEO_LINK
    assert refused.value.detail == "owen.makes"


@pytest.mark.parametrize("typed", [
    "https://vm.tiktok.com/ZMhvqjR8t/", "vm.tiktok.com/ZMhvqjR8t", "https://vt.tiktok.com/ZS2abc/",
    "https://www.tiktok.com/t/ZTRabc123/",
    # A video address whose account part is no valid username names no account.
    "https://www.tiktok.com/@bad$name/video/7312345678901234567",
])
def test_a_short_video_link_is_recognised_without_an_account(typed: str) -> None:
    with pytest.raises(InvalidHandle) as refused:
        RULE.normalise(typed)
    assert refused.value.problem is HandleProblem.VIDEO_LINK
    assert refused.value.detail == ""


@pytest.mark.parametrize("bad", ["\u202e", "\u202a", "\u2066", "\u2069", "\u200e", "\u200f",
                                 "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",
                                 "\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f"])
def test_control_direction_and_zero_width_characters_are_refused(bad: str) -> None:
    for text in (f"Acme{bad}Ads", f"{bad}Acme Ads"):
        with pytest.raises(UnsafeText) as refused:
            clean_text(text, max_length=100)
        assert refused.value.problem is TextProblem.INVISIBLE
        assert refused.value.shown == (bad,)
    with pytest.raises(UnsafeText):
        RULE.normalise(f"@owen{bad}makes")
    for text in (f"Acme{bad} Ads", f"{bad}Acme Ads", f"Acme Ads{bad}"):
        with pytest.raises(UnsafeText):
            normalise_ad_account_name(text)


def test_zero_width_only_and_whitespace_only_text_is_refused() -> None:
    with pytest.raises(UnsafeText) as refused:
        clean_text("\u200b\u200b\u2060", max_length=100)
    assert refused.value.problem is TextProblem.INVISIBLE
    for blank in ("", "   ", "\t\n "):
        with pytest.raises(UnsafeText) as refused:
            clean_text(blank, max_length=100, multiline=True)
        assert refused.value.problem is TextProblem.BLANK
    with pytest.raises(UnsafeText):
        RULE.normalise("\u200b")
    with pytest.raises(InvalidHandle) as empty:
        RULE.normalise("  ")
    assert empty.value.problem is HandleProblem.EMPTY
    with pytest.raises(InvalidAdAccountName):
        normalise_ad_account_name("   ")


def test_tab_is_allowed_and_newline_only_where_the_field_takes_lines() -> None:
    assert clean_text("too\tvague", max_length=100) == "too\tvague"
    assert clean_text("line one\nline two", max_length=100, multiline=True) == \
        "line one\nline two"
    with pytest.raises(UnsafeText):
        clean_text("line one\nline two", max_length=100)
    assert normalise_ad_account_name("Acme\tAds") == "Acme Ads"
    with pytest.raises(InvalidAdAccountName) as refused:
        normalise_ad_account_name("Acme\nAds")
    assert refused.value.problem is AdAccountProblem.MULTILINE


def test_text_is_kept_in_nfc() -> None:
    decomposed = "Cafe\u0301 Ads"  # e + combining acute
    kept = normalise_ad_account_name(decomposed)
    assert kept == "Caf\u00e9 Ads" and unicodedata.is_normalized("NFC", kept)
    assert clean_text(decomposed, max_length=100) == "Caf\u00e9 Ads"


def test_lengths_are_bounded() -> None:
    with pytest.raises(UnsafeText) as refused:
        clean_text("x" * 501, max_length=500)
    assert (refused.value.problem, refused.value.limit, refused.value.length) == \
        (TextProblem.TOO_LONG, 500, 501)
    with pytest.raises(InvalidHandle) as handle:
        RULE.normalise("a" * 5000)
    assert handle.value.problem is HandleProblem.TOO_LONG
    with pytest.raises(InvalidAdAccountName) as name:
        normalise_ad_account_name("a" * 5000)
    assert name.value.problem is AdAccountProblem.TOO_LONG


def test_a_refusal_names_a_few_characters_and_counts_the_rest() -> None:
    many = "".join(chr(c) for c in range(0x80, 0xA0)) + "\u200b" * 3000 + "\u202e"
    with pytest.raises(UnsafeText) as refused:
        clean_text("Acme" + many, max_length=100_000)
    assert refused.value.shown == ("\x80", "\x81", "\x82")
    assert refused.value.more == 32 + 2 - SHOWN_BAD  # distinct: 32 C1, U+200B, U+202E
    cyrillic = "".join(chr(0x410 + i) for i in range(20))
    with pytest.raises(InvalidHandle) as handle:
        RULE.normalise("a" + cyrillic[:20])
    assert handle.value.detail == cyrillic[:3] and handle.value.more == 17


def test_a_name_from_telegram_is_shown_without_tricks() -> None:
    assert display_name("Ada\u202e\u200b Lovelace\x07") == "Ada Lovelace"
    assert display_name("\u200b") == "?"
    assert len(display_name("A" * 500)) == 64


def test_a_question_is_kept_scrubbed() -> None:
    assert scrubbed("what\u202e is\u200b a spark\x07 code?\n", 1000) == "what is a spark code?"
    assert len(scrubbed("why " * 1000, 1000)) == 1000
