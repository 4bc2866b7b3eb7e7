"""Meta partner access (issue 10): Instagram's and Facebook Pages' identifier rules, the
agency's Business ID, the length of temporary access, and each platform's prerequisite
branches in the link conversation. Pure and fast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows.link_flow import S, editable_fields, fire, start, submit_text
from flows.platforms import (
    FACEBOOK_PAGE,
    INSTAGRAM,
    TIKTOK,
    AnswerProblem,
    HandleProblem,
    InvalidAnswer,
    InvalidHandle,
    available_platforms,
    normalise_access_days,
    normalise_business_id,
)
from flows.request_flow import Refused, Role, Status, decide

IG, FB = INSTAGRAM.handle_rule, FACEBOOK_PAGE.handle_rule


def test_link_offers_tiktok_instagram_and_facebook_page() -> None:
    assert [p.id for p in available_platforms()] == ["tiktok", "instagram", "facebook"]


# --- Instagram usernames ------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "expected"), [
    ("owen.makes", "owen.makes"),
    ("@Owen_Makes", "Owen_Makes"),
    ("o", "o"),  # the only source on a minimum says 1
    ("a" * 30, "a" * 30),
    ("owen.", "owen."),  # rules on periods are unverified, so not enforced
    ("https://www.instagram.com/owen.makes/", "owen.makes"),
    ("instagram.com/owen.makes?igsh=MWQ1ZGUxMzBkMA==", "owen.makes"),
    ("http://m.instagram.com/@owen.makes", "owen.makes"),
])
def test_instagram_accepts(typed: str, expected: str) -> None:
    assert IG.normalise(typed) == expected


@pytest.mark.parametrize(("typed", "problem", "detail", "limit"), [
    ("a" * 31, HandleProblem.TOO_LONG, "", 30),
    ("owen-makes", HandleProblem.BAD_CHARACTERS, "-", 0),
    ("owen makes", HandleProblem.SPACES, "", 0),
    ("@", HandleProblem.EMPTY, "", 0),
    ("https://www.instagram.com/p/C1a2B3c4D5e/", HandleProblem.VIDEO_LINK, "", 0),
    ("https://www.instagram.com/reel/C1a2B3c4D5e/?igsh=abc", HandleProblem.VIDEO_LINK, "", 0),
    ("instagram.com/owen.makes/p/C1a2B3c4D5e/", HandleProblem.VIDEO_LINK, "owen.makes", 0),
    ("https://www.instagram.com/stories/owen.makes/3281234567890/", HandleProblem.VIDEO_LINK,
     "owen.makes", 0),
    ("https://www.tiktok.com/@owen.makes", HandleProblem.BAD_CHARACTERS, ":/@", 0),
])
def test_instagram_refuses_with_the_reason(typed: str, problem: HandleProblem, detail: str,
                                           limit: int) -> None:
    with pytest.raises(InvalidHandle) as refused:
        IG.normalise(typed)
    assert refused.value.problem is problem
    assert refused.value.detail == detail
    assert refused.value.limit == limit


def test_instagram_usernames_compare_without_case_only() -> None:
    assert IG.key("Owen.Makes") == IG.key("owen.makes")
    assert IG.key("owen.makes") != IG.key("owenmakes")


# --- Facebook Page identifiers ------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "expected"), [
    ("acme.shoes", "acme.shoes"),
    ("@AcmeShoes", "AcmeShoes"),
    ("acme5", "acme5"),
    ("https://www.facebook.com/acme.shoes", "acme.shoes"),
    ("facebook.com/acme.shoes/?ref=page_internal", "acme.shoes"),
    ("https://m.facebook.com/acme.shoes/", "acme.shoes"),
    ("fb.com/acme.shoes", "acme.shoes"),
    # Numeric Page ids, bare or in the addresses Pages without a username have.
    ("100064212345678", "100064212345678"),
    ("https://www.facebook.com/profile.php?id=100064212345678", "100064212345678"),
    ("facebook.com/profile.php?id=100064212345678&sk=about", "100064212345678"),
    ("https://www.facebook.com/profile.php?sk=about&id=100064212345678", "100064212345678"),
    ("https://www.facebook.com/people/Acme-Shoes/100064212345678/", "100064212345678"),
    ("https://www.facebook.com/pages/Acme-Shoes/100064212345678", "100064212345678"),
])
def test_facebook_page_accepts(typed: str, expected: str) -> None:
    assert FB.normalise(typed) == expected


@pytest.mark.parametrize(("typed", "problem", "detail", "limit"), [
    ("acme", HandleProblem.TOO_SHORT, "", 5),
    ("acme_shoes", HandleProblem.BAD_CHARACTERS, "_", 0),
    ("acme shoes", HandleProblem.SPACES, "", 0),
    ("a" * 51, HandleProblem.TOO_LONG, "", 50),
    ("https://www.facebook.com/profile.php", HandleProblem.BAD_CHARACTERS, ":/", 0),
    ("https://www.facebook.com/groups/acmefans", HandleProblem.BAD_CHARACTERS, ":/", 0),
    ("https://www.facebook.com/acme.shoes/posts/pfbid02abc", HandleProblem.VIDEO_LINK,
     "acme.shoes", 0),
    ("https://www.facebook.com/watch/?v=1234567890", HandleProblem.VIDEO_LINK, "", 0),
    ("https://fb.watch/abcDEF123/", HandleProblem.VIDEO_LINK, "", 0),
])
def test_facebook_page_refuses_with_the_reason(typed: str, problem: HandleProblem,
                                               detail: str, limit: int) -> None:
    with pytest.raises(InvalidHandle) as refused:
        FB.normalise(typed)
    assert refused.value.problem is problem
    assert refused.value.detail == detail
    assert refused.value.limit == limit


@pytest.mark.parametrize(("one", "other"), [
    ("johnsmith55", "John.Smith55"),
    ("John.Smith55", "john.smith.55"),
    ("acme.shoes", "ACMESHOES"),
])
def test_facebook_page_usernames_compare_without_periods_or_case(one: str, other: str) -> None:
    assert FB.key(FB.normalise(one)) == FB.key(FB.normalise(other))


def test_tiktok_usernames_still_tell_periods_apart() -> None:
    assert TIKTOK.handle_rule.key("owen.makes") != TIKTOK.handle_rule.key("owenmakes")


# --- the agency's Business ID and the length of temporary access --------------------------------

@pytest.mark.parametrize(("typed", "expected"), [
    ("1234567890123456", "1234567890123456"),
    (" 1234 5678 9012 3456 ", "1234567890123456"),
    ("1234-5678-9012-3456", "1234567890123456"),
    ("123456789012345", "123456789012345"),
    ("12345678901234567", "12345678901234567"),
])
def test_business_id_accepts(typed: str, expected: str) -> None:
    assert normalise_business_id(typed) == expected


@pytest.mark.parametrize(("typed", "problem", "length"), [
    ("", AnswerProblem.EMPTY, 0),
    ("  ", AnswerProblem.EMPTY, 0),
    ("BM-1234567890123456", AnswerProblem.NOT_DIGITS, 0),
    ("١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦", AnswerProblem.NOT_DIGITS, 0),  # digits, but not ASCII ones
    ("12345678901234", AnswerProblem.TOO_SHORT, 14),
    ("123456789012345678", AnswerProblem.TOO_LONG, 18),
])
def test_business_id_refuses_with_the_reason(typed: str, problem: AnswerProblem,
                                             length: int) -> None:
    with pytest.raises(InvalidAnswer) as refused:
        normalise_business_id(typed)
    assert (refused.value.field, refused.value.problem) == ("business_id", problem)
    assert refused.value.length == length


@pytest.mark.parametrize(("typed", "days"), [("3", 3), ("75", 75), ("30 days", 30),
                                              ("14d", 14), (" 1 day ".replace("1", "5"), 5)])
def test_access_days_accepts(typed: str, days: int) -> None:
    assert normalise_access_days(INSTAGRAM, typed) == days


@pytest.mark.parametrize(("typed", "problem"), [
    ("2", AnswerProblem.OUT_OF_RANGE), ("76", AnswerProblem.OUT_OF_RANGE),
    ("0", AnswerProblem.OUT_OF_RANGE), ("a month", AnswerProblem.NOT_DIGITS),
    ("-5", AnswerProblem.NOT_DIGITS), ("", AnswerProblem.EMPTY),
])
def test_access_days_refuses_with_the_reason(typed: str, problem: AnswerProblem) -> None:
    with pytest.raises(InvalidAnswer) as refused:
        normalise_access_days(FACEBOOK_PAGE, typed)
    assert refused.value.problem is problem
    assert (refused.value.low, refused.value.high) == (3, 75)


# --- prerequisite branches ----------------------------------------------------------------------

PREREQUISITES = {
    "instagram": ["agency_portfolio", "professional_account", "connected_page",
                  "page_in_portfolio"],
    "facebook": ["agency_portfolio", "page_portfolio", "approver_full_control", "two_factor"],
}


@pytest.mark.parametrize("platform", PREREQUISITES)
def test_each_prerequisite_is_asked_in_order_and_a_no_asks_for_its_fix(platform: str) -> None:
    p = fire(start(), "choose_platform", platform=platform)
    asked = []
    for index, prerequisite in enumerate(PREREQUISITES[platform]):
        assert (p.state, p.prerequisite) == (S.PREREQUISITE, prerequisite)
        asked.append(p.prerequisite)
        fix = fire(p, "answer_no")
        assert (fix.state, fix.prerequisite) == (S.PREREQUISITE_FIX, prerequisite)
        # "Done" after a fix carries on where a Yes would have.
        assert fire(fix, "fixed").state == fire(p, "answer_yes").state
        p = fire(p, "answer_yes") if index % 2 else fire(fix, "fixed")
    assert asked == PREREQUISITES[platform]
    assert p.state == S.AD_ACCOUNT


def meta_at_permissions(platform: str) -> object:
    p = fire(start(), "choose_platform", platform=platform)
    for _ in PREREQUISITES[platform]:
        p = fire(p, "answer_yes")
    p = submit_text(p, "Acme Ads")
    assert p.state == S.BUSINESS_ID  # Meta asks for the agency's Business ID next
    p = submit_text(p, "1234 5678 9012 3456")
    assert p.state == S.HANDLE and p.data["business_id"] == "1234567890123456"
    return submit_text(p, "acme.shoes")


@pytest.mark.parametrize("platform", PREREQUISITES)
def test_full_control_stands_alone_and_tasks_go_together(platform: str) -> None:
    p = meta_at_permissions(platform)
    p = fire(fire(p, "toggle_scope", scope="insights"), "toggle_scope", scope="content")
    assert p.data["scopes"] == ["content", "insights"]  # in Meta's order
    p = fire(p, "toggle_scope", scope="full_control")
    assert p.data["scopes"] == ["full_control"]
    p = fire(p, "toggle_scope", scope="ads")
    assert p.data["scopes"] == ["ads"]


@pytest.mark.parametrize(("how", "days"), [(("choose_duration", "0"), 0),
                                           (("choose_duration", "30"), 30),
                                           (("text", "12"), 12)])
def test_meta_asks_how_long_after_the_permissions(how: tuple[str, str], days: int) -> None:
    p = fire(fire(meta_at_permissions("instagram"), "toggle_scope", scope="ads"),
             "confirm_scopes")
    assert p.state == S.DURATION
    event, value = how
    p = submit_text(p, value) if event == "text" else fire(p, event, days=value)
    assert p.state == S.SUMMARY and p.data["access_days"] == days
    assert fire(p, "back").state == S.DURATION


def test_a_length_outside_meta_s_range_is_refused() -> None:
    p = fire(fire(meta_at_permissions("facebook"), "toggle_scope", scope="ads"),
             "confirm_scopes")
    with pytest.raises(InvalidAnswer):
        submit_text(p, "90")
    with pytest.raises(Exception, match="choose_duration"):
        fire(p, "choose_duration", days="90")  # a forged button


def test_the_business_id_can_be_edited_on_meta_only() -> None:
    assert "business_id" in editable_fields("instagram")
    assert "business_id" not in editable_fields("tiktok")
    p = fire(fire(meta_at_permissions("instagram"), "toggle_scope", scope="ads"),
             "confirm_scopes")
    p = fire(fire(fire(p, "choose_duration", days="0"), "edit"), "edit_field",
             field="business_id")
    assert p.state == S.BUSINESS_ID
    p = submit_text(p, "6543210987654321")
    assert p.state == S.SUMMARY and p.data["business_id"] == "6543210987654321"


def test_tiktok_asks_no_business_id_nor_a_length() -> None:
    p = fire(start(), "choose_platform", platform="tiktok")
    for _ in TIKTOK.prerequisites:
        p = fire(p, "answer_yes")
    p = submit_text(submit_text(p, "Acme Ads"), "owen.makes")
    p = fire(fire(p, "toggle_scope", scope="existing_posts"), "confirm_scopes")
    assert p.state == S.SUMMARY


# --- temporary access in the request's lifecycle ------------------------------------------------

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_temporary_access_ends_only_for_the_clock_and_only_once_due() -> None:
    ends = NOW + timedelta(days=30)
    assert decide("authorized", "end", Role.SYSTEM, now=ends, ends_at=ends).to is Status.ENDED
    with pytest.raises(Refused) as early:
        decide("authorized", "end", Role.SYSTEM, now=ends - timedelta(seconds=1), ends_at=ends)
    assert early.value.reason == "not_due"
    with pytest.raises(Refused):
        decide("authorized", "end", Role.SYSTEM, now=ends, ends_at=None)  # not temporary
    for role in (Role.OWNER, Role.REQUESTER):
        with pytest.raises(Refused):
            decide("authorized", "end", role, now=ends, ends_at=ends)
    with pytest.raises(Refused):
        decide("revoked", "end", Role.SYSTEM, now=ends, ends_at=ends)


def test_choosing_another_platform_after_going_back_drops_its_answers() -> None:
    p = fire(fire(meta_at_permissions("instagram"), "toggle_scope", scope="ads"),
             "confirm_scopes")
    p = fire(p, "choose_duration", days="30")
    while p.state != S.PLATFORM:
        p = fire(p, "back")
    p = fire(p, "choose_platform", platform="tiktok")
    assert p.data["scopes"] == []
    assert not {"handle", "business_id", "access_days"} & set(p.data)
    assert p.data["ad_account"] == "Acme Ads"  # an ad account is no platform's rule
    same = fire(fire(p, "back"), "choose_platform", platform="tiktok")
    assert same.data["ad_account"] == "Acme Ads"
