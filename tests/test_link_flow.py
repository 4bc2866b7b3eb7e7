"""The advertiser's link conversation: every transition, guard and validator of flows.link_flow."""

from __future__ import annotations

import copy
import gc
import weakref
from collections.abc import Callable
from typing import Any

import pytest

from flows import link_flow
from flows.link_flow import (
    FINAL_STATES,
    TEXT_STATES,
    Draft,
    FlowError,
    NoScopeChosen,
    NothingToUndo,
    NotNow,
    Position,
    S,
    UnknownChoice,
    fire,
    start,
    submit_text,
)
from flows.platforms import (
    TIKTOK,
    AdAccountProblem,
    HandleProblem,
    InvalidAdAccountName,
    InvalidHandle,
    looks_like_question,
    normalise_ad_account_name,
)

PREREQS = TIKTOK.prerequisites
EXISTING, NEW_VIDEOS = "existing_posts", "new_videos"

# Every event the flow knows, and the ones each non-final state accepts.
ALL_EVENTS = (
    "choose_platform", "answer_yes", "answer_no", "fixed", "enter_ad_account", "enter_handle",
    "toggle_scope", "confirm_scopes", "choose_visibility", "edit", "edit_field", "send",
    "back", "cancel",
)
ACCEPTED = {
    S.PLATFORM: {"choose_platform", "cancel", "back"},
    S.PREREQUISITE: {"answer_yes", "answer_no", "back", "cancel"},
    S.PREREQUISITE_FIX: {"fixed", "back", "cancel"},
    S.PREREQUISITE_RECAP: {"all_still_true", "review", "back", "cancel"},
    S.AD_ACCOUNT: {"enter_ad_account", "back", "cancel"},
    S.HANDLE: {"enter_handle", "back", "cancel"},
    S.PERMISSIONS: {"toggle_scope", "confirm_scopes", "back", "cancel"},
    S.VISIBILITY: {"choose_visibility", "back", "cancel"},
    S.SUMMARY: {"edit", "send", "back", "cancel"},
    S.EDIT_CHOICE: {"edit_field", "back", "cancel"},
}


# --- walking helpers ------------------------------------------------------------------------


def at_prerequisite(index: int = 0) -> Position:
    p = fire(start(), "choose_platform", platform="tiktok")
    for _ in range(index):
        p = fire(p, "answer_yes")
    return p


def at_recap() -> Position:
    """An advertiser who confirmed TikTok's prerequisites before."""
    return fire(start(["tiktok"]), "choose_platform", platform="tiktok")


def at_fix(index: int = 0) -> Position:
    return fire(at_prerequisite(index), "answer_no")


def at_ad_account() -> Position:
    return fire(at_prerequisite(len(PREREQS) - 1), "answer_yes")


def at_handle(name: str = "Acme Ads") -> Position:
    return submit_text(at_ad_account(), name)


def at_permissions(handle: str = "@owen.makes") -> Position:
    return submit_text(at_handle(), handle)


def at_visibility() -> Position:
    p = fire(at_permissions(), "toggle_scope", scope=NEW_VIDEOS)
    return fire(p, "confirm_scopes")


def at_summary(*, publishing: bool = False) -> Position:
    if publishing:
        return fire(at_visibility(), "choose_visibility", option="ads_only")
    p = fire(at_permissions(), "toggle_scope", scope=EXISTING)
    return fire(p, "confirm_scopes")


def at_edit_choice() -> Position:
    return fire(at_summary(), "edit")


def at_submitted() -> Position:
    return fire(at_summary(), "send")


def at_cancelled() -> Position:
    return fire(at_summary(), "cancel")


BUILDERS: dict[S, Callable[[], Position]] = {
    S.PLATFORM: start,
    S.PREREQUISITE: at_prerequisite,
    S.PREREQUISITE_FIX: at_fix,
    S.PREREQUISITE_RECAP: at_recap,
    S.AD_ACCOUNT: at_ad_account,
    S.HANDLE: at_handle,
    S.PERMISSIONS: at_permissions,
    S.VISIBILITY: at_visibility,
    S.SUMMARY: at_summary,
    S.EDIT_CHOICE: at_edit_choice,
    S.SUBMITTED: at_submitted,
    S.CANCELLED: at_cancelled,
}
NON_FINAL = [s for s in S if s not in FINAL_STATES]


# Meta partner access: the Business ID and the access length, reached on Instagram.
def at_business_id() -> Position:
    p = fire(start(), "choose_platform", platform="instagram")
    for _ in range(3):
        p = fire(p, "answer_yes")
    return submit_text(fire(p, "answer_yes"), "Acme Ads")


def at_duration() -> Position:
    p = submit_text(submit_text(at_business_id(), "1234567890123456"), "owen.makes")
    return fire(fire(p, "toggle_scope", scope="ads"), "confirm_scopes")


BUILDERS.update({S.BUSINESS_ID: at_business_id, S.DURATION: at_duration})
ACCEPTED.update({S.BUSINESS_ID: {"enter_business_id", "back", "cancel"},
                 S.DURATION: {"choose_duration", "back", "cancel"}})
ALL_EVENTS += ("enter_business_id", "choose_duration")


def where(p: Position) -> tuple[str, str | None]:
    """The question a position asks: its state and, for prerequisites, which one."""
    return p.state, p.prerequisite


def assert_refused(position: Position, event: str, error: type[FlowError], **kwargs: Any) -> None:
    """The event raises `error` and the caller's position is exactly as it was."""
    before = copy.deepcopy(position)
    with pytest.raises(error):
        fire(position, event, **kwargs)
    assert position == before


# --- starting and choosing a platform -------------------------------------------------------


def test_new_conversation_starts_at_platform_choice_with_empty_draft() -> None:
    """/link opens on the platform question with no answers and nothing to undo."""
    p = start()
    assert p.state == S.PLATFORM
    assert p.data == {"history": [], "scopes": []}
    assert not p.can_go_back and not p.finished and not p.expects_text


def test_choosing_offered_platform_asks_first_prerequisite() -> None:
    """Picking TikTok records the platform and asks the first prerequisite."""
    p = fire(start(), "choose_platform", platform="tiktok")
    assert p.state == S.PREREQUISITE
    assert p.platform == "tiktok"
    assert p.prerequisite == PREREQS[0]
    assert p.can_go_back


def test_a_move_leaves_every_earlier_position_as_it_was() -> None:
    """Positions are values: each step gets its own copy of the answers, down to the nested
    history and scope lists, so an earlier position (a stored row, an undo) never changes."""
    walked = [start()]
    for event, kwargs in [("choose_platform", {"platform": "tiktok"}), ("answer_yes", {}),
                          ("back", {}), ("answer_yes", {}), ("answer_yes", {})]:
        before = [copy.deepcopy(p) for p in walked]
        walked.append(fire(walked[-1], event, **kwargs))
        assert walked[:-1] == before
    assert walked[-1].data["history"] is not walked[-2].data["history"]


@pytest.mark.parametrize("platform", ["threads", "TikTok", "", None, "tiktok "])
def test_platform_not_offered_is_unknown_choice(platform: str | None) -> None:
    """A stale or forged platform button is refused and the conversation stays put."""
    assert_refused(start(), "choose_platform", UnknownChoice, platform=platform)


def test_choose_platform_without_a_value_is_unknown_choice() -> None:
    assert_refused(start(), "choose_platform", UnknownChoice)


# --- prerequisites --------------------------------------------------------------------------


def test_each_yes_asks_the_next_prerequisite_in_order() -> None:
    """Answering Yes walks through the platform's prerequisites in their listed order."""
    p = fire(start(), "choose_platform", platform="tiktok")
    asked = [p.prerequisite]
    for _ in range(len(PREREQS) - 1):
        p = fire(p, "answer_yes")
        assert p.state == S.PREREQUISITE
        asked.append(p.prerequisite)
    assert asked == list(PREREQS)


def test_yes_to_last_prerequisite_asks_for_ad_account() -> None:
    p = fire(at_prerequisite(len(PREREQS) - 1), "answer_yes")
    assert p.state == S.AD_ACCOUNT
    assert p.expects_text
    assert p.prerequisite is None


@pytest.mark.parametrize("index", range(len(PREREQS)))
def test_no_shows_how_to_fix_the_same_prerequisite(index: int) -> None:
    """Answering No keeps the advertiser on that prerequisite, on its fix-it screen."""
    p = fire(at_prerequisite(index), "answer_no")
    assert p.state == S.PREREQUISITE_FIX
    assert p.prerequisite == PREREQS[index]


@pytest.mark.parametrize("index", range(len(PREREQS) - 1))
def test_fixed_asks_the_next_prerequisite(index: int) -> None:
    p = fire(at_fix(index), "fixed")
    assert p.state == S.PREREQUISITE
    assert p.prerequisite == PREREQS[index + 1]


def test_fixed_on_last_prerequisite_asks_for_ad_account() -> None:
    p = fire(at_fix(len(PREREQS) - 1), "fixed")
    assert p.state == S.AD_ACCOUNT


# --- typed answers --------------------------------------------------------------------------


def test_ad_account_answer_is_cleaned_and_handle_asked_next() -> None:
    p = submit_text(at_ad_account(), "  Acme   Ads  ")
    assert p.state == S.HANDLE
    assert p.data["ad_account"] == "Acme Ads"
    assert p.expects_text


def test_handle_answer_is_stored_without_at_sign_and_permissions_asked_next() -> None:
    p = submit_text(at_handle(), "https://www.tiktok.com/@Owen.Makes?lang=en")
    assert p.state == S.PERMISSIONS
    assert p.data["handle"] == "Owen.Makes"
    assert not p.expects_text


def test_invalid_ad_account_is_refused_with_reason_and_position_unchanged() -> None:
    p = at_ad_account()
    before = copy.deepcopy(p)
    with pytest.raises(InvalidAdAccountName) as info:
        submit_text(p, "What is an ad account?")
    assert info.value.problem is AdAccountProblem.QUESTION
    assert p == before


def test_invalid_handle_is_refused_with_reason_and_position_unchanged() -> None:
    p = at_handle()
    before = copy.deepcopy(p)
    with pytest.raises(InvalidHandle) as info:
        submit_text(p, "owen makes")
    assert info.value.problem is HandleProblem.SPACES
    assert p == before


@pytest.mark.parametrize("state", [s for s in S if s not in TEXT_STATES])
def test_typed_text_where_a_button_is_expected_is_not_now(state: S) -> None:
    """Text typed at a button question is not taken as an answer."""
    p = BUILDERS[state]()
    with pytest.raises(NotNow):
        submit_text(p, "Acme Ads")


# --- permissions and visibility -------------------------------------------------------------


def test_toggling_a_scope_on_keeps_the_question_open_without_history() -> None:
    """A scope toggle is not a step: it stays on the question and adds nothing to undo."""
    p = at_permissions()
    toggled = fire(p, "toggle_scope", scope=EXISTING)
    assert toggled.state == S.PERMISSIONS
    assert toggled.data["scopes"] == [EXISTING]
    assert toggled.data["history"] == p.data["history"]


def test_toggling_a_scope_twice_removes_it() -> None:
    p = fire(at_permissions(), "toggle_scope", scope=EXISTING)
    p = fire(p, "toggle_scope", scope=EXISTING)
    assert p.data["scopes"] == []


def test_scopes_are_kept_in_platform_order_whatever_the_toggle_order() -> None:
    p = fire(at_permissions(), "toggle_scope", scope=NEW_VIDEOS)
    p = fire(p, "toggle_scope", scope=EXISTING)
    assert p.data["scopes"] == list(TIKTOK.scopes)
    p = fire(p, "toggle_scope", scope=NEW_VIDEOS)
    p = fire(p, "toggle_scope", scope=NEW_VIDEOS)
    assert p.data["scopes"] == [EXISTING, NEW_VIDEOS]


@pytest.mark.parametrize("scope", ["delete_account", "", None, "Existing_Posts"])
def test_scope_not_offered_is_unknown_choice(scope: str | None) -> None:
    assert_refused(at_permissions(), "toggle_scope", UnknownChoice, scope=scope)


def test_confirm_without_any_scope_is_refused() -> None:
    assert_refused(at_permissions(), "confirm_scopes", NoScopeChosen)


def test_confirm_after_toggling_the_only_scope_off_is_refused() -> None:
    p = fire(at_permissions(), "toggle_scope", scope=EXISTING)
    p = fire(p, "toggle_scope", scope=EXISTING)
    assert_refused(p, "confirm_scopes", NoScopeChosen)


def test_non_publishing_scope_goes_straight_to_summary() -> None:
    """Visibility is only asked about when new videos will be published."""
    p = fire(fire(at_permissions(), "toggle_scope", scope=EXISTING), "confirm_scopes")
    assert p.state == S.SUMMARY
    assert "visibility" not in p.data


@pytest.mark.parametrize("scopes", [[NEW_VIDEOS], [EXISTING, NEW_VIDEOS]])
def test_publishing_scope_asks_for_visibility(scopes: list[str]) -> None:
    p = at_permissions()
    for scope in scopes:
        p = fire(p, "toggle_scope", scope=scope)
    p = fire(p, "confirm_scopes")
    assert p.state == S.VISIBILITY


@pytest.mark.parametrize("option", TIKTOK.visibility_options)
def test_choosing_visibility_records_it_and_shows_summary(option: str) -> None:
    p = fire(at_visibility(), "choose_visibility", option=option)
    assert p.state == S.SUMMARY
    assert p.data["visibility"] == option


@pytest.mark.parametrize("option", ["public", "", None])
def test_visibility_not_offered_is_unknown_choice(option: str | None) -> None:
    assert_refused(at_visibility(), "choose_visibility", UnknownChoice, option=option)


def test_visibility_is_cleared_when_publishing_scope_is_dropped_in_an_edit() -> None:
    """A stale visibility must not travel with a request that no longer publishes videos."""
    p = at_summary(publishing=True)
    assert p.data["visibility"] == "ads_only"
    p = fire(fire(p, "edit"), "edit_field", field="permissions")
    p = fire(p, "toggle_scope", scope=NEW_VIDEOS)
    p = fire(fire(p, "toggle_scope", scope=EXISTING), "confirm_scopes")
    assert p.state == S.SUMMARY
    assert p.data["scopes"] == [EXISTING]
    assert "visibility" not in p.data


def test_visibility_is_cleared_when_publishing_scope_is_dropped_after_going_back() -> None:
    p = at_summary(publishing=True)
    p = fire(fire(p, "back"), "back")
    assert p.state == S.PERMISSIONS
    p = fire(fire(p, "toggle_scope", scope=EXISTING), "toggle_scope", scope=NEW_VIDEOS)
    p = fire(p, "confirm_scopes")
    assert p.state == S.SUMMARY
    assert "visibility" not in p.data


# --- summary, edit and send -----------------------------------------------------------------


def test_summary_holds_every_answer() -> None:
    p = at_summary(publishing=True)
    assert {k: p.data[k] for k in ("platform", "ad_account", "handle", "scopes", "visibility")} \
        == {"platform": "tiktok", "ad_account": "Acme Ads", "handle": "owen.makes",
            "scopes": [NEW_VIDEOS], "visibility": "ads_only"}


def test_edit_from_summary_offers_field_choice() -> None:
    assert fire(at_summary(), "edit").state == S.EDIT_CHOICE


@pytest.mark.parametrize(("field", "state"), [("ad_account", S.AD_ACCOUNT), ("handle", S.HANDLE),
                                              ("permissions", S.PERMISSIONS)])
def test_edit_field_opens_that_question(field: str, state: S) -> None:
    assert fire(at_edit_choice(), "edit_field", field=field).state == state


@pytest.mark.parametrize("field", ["platform", "visibility", "", None])
def test_unknown_edit_field_is_unknown_choice(field: str | None) -> None:
    assert_refused(at_edit_choice(), "edit_field", UnknownChoice, field=field)


def test_editing_ad_account_returns_to_summary_not_onward() -> None:
    """After an edit the advertiser is shown the summary again, not the next question."""
    summary = at_summary()
    p = fire(fire(summary, "edit"), "edit_field", field="ad_account")
    p = submit_text(p, "Beta Brand")
    assert p.state == S.SUMMARY
    assert p.data["ad_account"] == "Beta Brand"
    assert "editing" not in p.data
    unchanged = {k: v for k, v in summary.data.items() if k not in ("ad_account", "history")}
    assert {k: v for k, v in p.data.items() if k not in ("ad_account", "history")} == unchanged


def test_editing_handle_returns_to_summary_not_onward() -> None:
    summary = at_summary()
    p = fire(fire(summary, "edit"), "edit_field", field="handle")
    p = submit_text(p, "@new.handle")
    assert p.state == S.SUMMARY
    assert p.data["handle"] == "new.handle"
    assert p.data["scopes"] == summary.data["scopes"]
    assert "editing" not in p.data


def test_editing_permissions_returns_to_summary() -> None:
    """Re-confirming non-publishing permissions goes straight back to the summary."""
    summary = at_summary()
    p = fire(fire(summary, "edit"), "edit_field", field="permissions")
    p = fire(fire(p, "toggle_scope", scope=EXISTING), "toggle_scope", scope=EXISTING)
    p = fire(p, "confirm_scopes")
    assert p.state == S.SUMMARY
    assert p.data["scopes"] == [EXISTING]
    assert p.data["handle"] == summary.data["handle"]
    assert "editing" not in p.data


def test_editing_permissions_to_add_publishing_asks_visibility_then_summary() -> None:
    p = fire(fire(at_summary(), "edit"), "edit_field", field="permissions")
    p = fire(fire(p, "toggle_scope", scope=NEW_VIDEOS), "confirm_scopes")
    assert p.state == S.VISIBILITY
    p = fire(p, "choose_visibility", option="profile_and_ads")
    assert p.state == S.SUMMARY
    assert p.data["visibility"] == "profile_and_ads"
    assert "editing" not in p.data


def test_send_from_summary_submits() -> None:
    p = fire(at_summary(), "send")
    assert p.state == S.SUBMITTED
    assert p.finished and not p.can_go_back


# --- back -----------------------------------------------------------------------------------


def test_back_at_first_question_has_nothing_to_undo() -> None:
    assert_refused(start(), "back", NothingToUndo)


def test_back_from_first_prerequisite_returns_to_platform_choice() -> None:
    p = fire(at_prerequisite(0), "back")
    assert p.state == S.PLATFORM
    assert p.data["history"] == []
    assert not p.can_go_back


@pytest.mark.parametrize("index", range(1, len(PREREQS)))
def test_back_between_prerequisites_restores_the_previous_one(index: int) -> None:
    p = fire(at_prerequisite(index), "back")
    assert where(p) == (S.PREREQUISITE, PREREQS[index - 1])


@pytest.mark.parametrize("index", range(len(PREREQS)))
def test_back_after_no_returns_to_the_same_prerequisite(index: int) -> None:
    p = fire(at_fix(index), "back")
    assert where(p) == (S.PREREQUISITE, PREREQS[index])


def test_back_after_fixed_returns_to_the_fix_screen_of_that_prerequisite() -> None:
    p = fire(fire(at_fix(1), "fixed"), "back")
    assert where(p) == (S.PREREQUISITE_FIX, PREREQS[1])


def test_back_from_ad_account_returns_to_last_prerequisite() -> None:
    p = fire(at_ad_account(), "back")
    assert where(p) == (S.PREREQUISITE, PREREQS[-1])


def test_back_from_ad_account_reached_by_fix_returns_to_that_fix_screen() -> None:
    p = fire(fire(at_fix(len(PREREQS) - 1), "fixed"), "back")
    assert where(p) == (S.PREREQUISITE_FIX, PREREQS[-1])


def test_back_from_handle_returns_to_ad_account_keeping_the_answer() -> None:
    p = fire(at_handle("Acme Ads"), "back")
    assert p.state == S.AD_ACCOUNT
    assert p.data["ad_account"] == "Acme Ads"


def test_back_from_permissions_returns_to_handle_even_after_toggles() -> None:
    """Toggles are not steps: back leaves the permissions question, keeping the choices."""
    p = fire(fire(at_permissions(), "toggle_scope", scope=EXISTING), "back")
    assert p.state == S.HANDLE
    assert p.data["scopes"] == [EXISTING]


def test_back_from_visibility_returns_to_permissions() -> None:
    p = fire(at_visibility(), "back")
    assert p.state == S.PERMISSIONS
    assert p.data["scopes"] == [NEW_VIDEOS]


def test_back_from_summary_returns_to_visibility_when_it_was_asked() -> None:
    assert fire(at_summary(publishing=True), "back").state == S.VISIBILITY


def test_back_from_summary_returns_to_permissions_when_visibility_was_skipped() -> None:
    assert fire(at_summary(publishing=False), "back").state == S.PERMISSIONS


def test_back_from_edit_choice_returns_to_summary() -> None:
    summary = at_summary()
    p = fire(fire(summary, "edit"), "back")
    assert p == summary


@pytest.mark.parametrize("field", ["ad_account", "handle", "permissions"])
def test_back_from_edited_question_returns_to_edit_choice(field: str) -> None:
    p = fire(fire(fire(at_summary(), "edit"), "edit_field", field=field), "back")
    assert p.state == S.EDIT_CHOICE


def test_backing_out_of_an_edit_leaves_no_edit_mode_behind() -> None:
    """Summary -> edit -> field -> back -> back is the same summary as before the detour.

    Afterwards, going back further and re-answering the handle must continue to the permissions
    question, exactly as without the abandoned edit."""
    summary = at_summary()
    detour = fire(fire(fire(fire(summary, "edit"), "edit_field", field="ad_account"),
                       "back"), "back")
    assert detour.state == S.SUMMARY
    assert detour.data == summary.data

    to_handle = fire(fire(detour, "back"), "back")
    assert to_handle.state == S.HANDLE
    assert submit_text(to_handle, "@owen.makes").state == S.PERMISSIONS


PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "all_yes_no_visibility": [
        ("choose_platform", {"platform": "tiktok"}),
        ("answer_yes", {}), ("answer_yes", {}), ("answer_yes", {}),
        ("enter_ad_account", {"value": "Acme Ads"}),
        ("enter_handle", {"value": "owen.makes"}),
        ("toggle_scope", {"scope": EXISTING}),
        ("confirm_scopes", {}),
    ],
    "fixes_and_visibility": [
        ("choose_platform", {"platform": "tiktok"}),
        ("answer_no", {}), ("fixed", {}),
        ("answer_yes", {}),
        ("answer_no", {}), ("fixed", {}),
        ("enter_ad_account", {"value": "Acme Ads"}),
        ("enter_handle", {"value": "owen.makes"}),
        ("toggle_scope", {"scope": NEW_VIDEOS}),
        ("confirm_scopes", {}),
        ("choose_visibility", {"option": "ads_only"}),
        ("edit", {}),
        ("edit_field", {"field": "handle"}),
    ],
}


@pytest.mark.parametrize("path", PATHS.values(), ids=PATHS.keys())
def test_back_repeatedly_retraces_every_question_to_the_start(
        path: list[tuple[str, dict[str, Any]]]) -> None:
    """From the end of a walk, each back lands on exactly the question asked one step earlier."""
    p = start()
    asked = [where(p)]
    for event, kwargs in path:
        p = fire(p, event, **kwargs)
        if event != "toggle_scope":
            asked.append(where(p))
    retraced = [where(p)]
    while p.can_go_back:
        p = fire(p, "back")
        retraced.append(where(p))
    assert retraced == asked[::-1]
    assert_refused(p, "back", NothingToUndo)


# --- cancel and final states ----------------------------------------------------------------


@pytest.mark.parametrize("state", NON_FINAL)
def test_cancel_from_every_open_state(state: S) -> None:
    p = fire(BUILDERS[state](), "cancel")
    assert p.state == S.CANCELLED
    assert p.finished


@pytest.mark.parametrize("event", [e for e in ALL_EVENTS if e != "back"])
@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_no_event_applies_after_a_final_state(state: S, event: str) -> None:
    """A submitted or cancelled conversation cannot be moved by stale buttons."""
    kwargs = {"platform": "tiktok", "scope": EXISTING, "option": "ads_only",
              "field": "handle", "value": "x"}
    assert_refused(BUILDERS[state](), event, NotNow, **kwargs)


@pytest.mark.parametrize("state", sorted(FINAL_STATES))
def test_back_after_a_final_state_is_refused(state: S) -> None:
    p = BUILDERS[state]()
    assert not p.can_go_back
    assert_refused(p, "back", NothingToUndo)


# --- events out of place --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "event"),
    [(s, e) for s in NON_FINAL for e in ALL_EVENTS if e not in ACCEPTED[s]],
)
def test_event_that_does_not_apply_in_a_state_is_not_now(state: S, event: str) -> None:
    """A stale button from an earlier question does not move the conversation."""
    kwargs = {"platform": "tiktok", "scope": EXISTING, "option": "ads_only",
              "field": "handle", "value": "Acme Ads"}
    assert_refused(BUILDERS[state](), event, NotNow, **kwargs)


@pytest.mark.parametrize("event", ["approve", "to_summary", "to_submitted", "", "trigger",
                                   "SEND", "state"])
def test_unknown_event_name_is_not_now(event: str) -> None:
    assert_refused(at_summary(), event, NotNow)


@pytest.mark.parametrize("event", ["cancel", "send", "answer_yes", "back"])
def test_stored_state_name_unknown_is_not_now(event: str) -> None:
    """A row saved by an older version with a since-renamed state cannot be driven."""
    p = Position("waiting_for_owner", {"history": [["summary", 0]], "scopes": [],
                                       "platform": "tiktok"})
    assert_refused(p, event, NotNow)


# --- the caller's data ----------------------------------------------------------------------


def test_fire_never_mutates_the_callers_position() -> None:
    p = at_permissions()
    before = copy.deepcopy(p)
    after = fire(p, "toggle_scope", scope=EXISTING)
    assert p == before
    assert after.data["scopes"] == [EXISTING]


def test_result_shares_no_mutable_data_with_the_input() -> None:
    """Changing the returned draft (as a caller might) cannot reach back into the old one."""
    p = at_permissions()
    after = fire(p, "toggle_scope", scope=EXISTING)
    assert after.data["history"] is not p.data["history"]
    assert after.data["scopes"] is not p.data["scopes"]
    after.data["history"].append(["x", 0])
    assert ["x", 0] not in p.data["history"]


def test_back_does_not_mutate_the_callers_history() -> None:
    p = at_summary(publishing=True)
    before = copy.deepcopy(p)
    fire(p, "back")
    assert p == before


def test_a_refused_event_leaves_an_enum_state_position_unchanged() -> None:
    """Callers may hold state as the S enum; refused events still change nothing."""
    p = Position(S.PERMISSIONS, copy.deepcopy(at_permissions().data))
    assert_refused(p, "confirm_scopes", NoScopeChosen)
    assert fire(fire(p, "toggle_scope", scope=EXISTING), "confirm_scopes").state == S.SUMMARY


# --- memory ---------------------------------------------------------------------------------


def test_many_events_over_many_positions_keep_drafts_pooled_and_bounded() -> None:
    """Thousands of users' events reuse a handful of drafts: nothing piles up on the machine."""
    gc.collect()
    positions = [start(), at_prerequisite(1), at_fix(2), at_ad_account(), at_handle(),
                 at_permissions(), at_visibility(), at_summary(), at_edit_choice(),
                 at_submitted()]
    moves: list[tuple[str, dict[str, Any]]] = [
        ("choose_platform", {"platform": "tiktok"}), ("answer_yes", {}), ("fixed", {}),
        ("enter_ad_account", {"value": "Acme Ads"}), ("enter_handle", {"value": "owen"}),
        ("toggle_scope", {"scope": EXISTING}), ("choose_visibility", {"option": "ads_only"}),
        ("edit", {}), ("edit_field", {"field": "handle"}), ("back", {}), ("cancel", {}),
        ("send", {}),
    ]
    fired = refused = 0
    for i in range(5000):
        base = positions[i % len(positions)]
        # A distinct position per user: its own data dict, as loaded from its own row.
        user = Position(base.state, {**copy.deepcopy(base.data), "user": i})
        event, kwargs = moves[(i // len(positions) + i) % len(moves)]
        try:
            fire(user, event, **kwargs)
            fired += 1
        except FlowError:
            refused += 1
    assert fired > 1000 and refused > 1000

    assert len(link_flow._POOL) <= 4
    drafts_on_machine = [m for m in link_flow._MACHINE.models if isinstance(m, Draft)]
    assert len(drafts_on_machine) <= 4
    # Pooled drafts hold no user's data between events.
    assert all(d.data == {"history": [], "scopes": []} for d in link_flow._POOL)

    pooled = {id(d) for d in link_flow._POOL}
    refs = [weakref.ref(o) for o in gc.get_objects() if isinstance(o, Draft)]
    gc.collect()
    survivors = [r() for r in refs if r() is not None and id(r()) not in pooled]
    assert survivors == []


# --- validators -----------------------------------------------------------------------------

VALID_HANDLES = [
    ("owen.makes", "owen.makes"),
    ("@owen.makes", "owen.makes"),
    ("  @owen_makes  ", "owen_makes"),
    ("Owen.Makes_99", "Owen.Makes_99"),
    ("ab", "ab"),
    ("a" * 24, "a" * 24),
    ("@" + "b" * 24, "b" * 24),
    (".dot.first", ".dot.first"),
    ("https://www.tiktok.com/@owen.makes", "owen.makes"),
    ("http://www.tiktok.com/@owen.makes", "owen.makes"),
    ("https://tiktok.com/@owen.makes", "owen.makes"),
    ("www.tiktok.com/@owen.makes", "owen.makes"),
    ("tiktok.com/@owen.makes", "owen.makes"),
    ("https://m.tiktok.com/@owen.makes", "owen.makes"),
    ("https://www.tiktok.com/@owen.makes/", "owen.makes"),
    ("https://www.tiktok.com/@owen.makes?lang=en", "owen.makes"),
    ("https://www.tiktok.com/@owen.makes/?is_from_webapp=1&sender_device=pc", "owen.makes"),
    ("tiktok.com/@owen.makes?lang=en", "owen.makes"),
    ("HTTPS://WWW.TIKTOK.COM/@Owen.Makes", "Owen.Makes"),
]


@pytest.mark.parametrize(("raw", "expected"), VALID_HANDLES)
def test_valid_tiktok_handles_normalise(raw: str, expected: str) -> None:
    assert TIKTOK.handle_rule.normalise(raw) == expected


INVALID_HANDLES = [
    ("", HandleProblem.EMPTY, "", 0),
    ("   ", HandleProblem.EMPTY, "", 0),
    ("@", HandleProblem.EMPTY, "", 0),
    (" @ ", HandleProblem.EMPTY, "", 0),
    ("owen makes", HandleProblem.SPACES, "", 0),
    ("@owen makes", HandleProblem.SPACES, "", 0),
    ("owen\tmakes", HandleProblem.SPACES, "", 0),
    ("owen-makes", HandleProblem.BAD_CHARACTERS, "-", 0),
    ("owen!#makes!", HandleProblem.BAD_CHARACTERS, "!#", 0),
    ("ówen", HandleProblem.BAD_CHARACTERS, "ó", 0),
    ("owen@makes", HandleProblem.BAD_CHARACTERS, "@", 0),
    ("@@owen", HandleProblem.BAD_CHARACTERS, "@", 0),
    ("own,er;", HandleProblem.BAD_CHARACTERS, ",;", 0),
    ("owen.", HandleProblem.TRAILING_PERIOD, "", 0),
    ("@owen.makes.", HandleProblem.TRAILING_PERIOD, "", 0),
    ("https://www.tiktok.com/@owen.", HandleProblem.TRAILING_PERIOD, "", 0),
    ("a", HandleProblem.TOO_SHORT, "", 2),
    ("@a", HandleProblem.TOO_SHORT, "", 2),
    ("tiktok.com/@a", HandleProblem.TOO_SHORT, "", 2),
    ("a" * 25, HandleProblem.TOO_LONG, "", 24),
    ("https://www.tiktok.com/@" + "a" * 25, HandleProblem.TOO_LONG, "", 24),
]


@pytest.mark.parametrize(("raw", "problem", "detail", "limit"), INVALID_HANDLES)
def test_invalid_tiktok_handles_name_the_exact_problem(raw: str, problem: HandleProblem,
                                                       detail: str, limit: int) -> None:
    with pytest.raises(InvalidHandle) as info:
        TIKTOK.handle_rule.normalise(raw)
    assert info.value.problem is problem
    assert info.value.detail == detail
    assert info.value.limit == limit


@pytest.mark.parametrize("raw", ["https://www.instagram.com/@owen", "https://tiktok.com/owen"])
def test_urls_that_are_not_tiktok_profiles_are_refused(raw: str) -> None:
    with pytest.raises(InvalidHandle) as info:
        TIKTOK.handle_rule.normalise(raw)
    assert info.value.problem is HandleProblem.BAD_CHARACTERS


def test_handle_key_is_case_insensitive() -> None:
    assert TIKTOK.handle_rule.key("Owen.Makes") == TIKTOK.handle_rule.key("owen.makes")


@pytest.mark.parametrize(("raw", "expected"), [
    ("Acme Ads", "Acme Ads"),
    ("  Acme   Ads  ", "Acme Ads"),
    ("Acme\tAds", "Acme Ads"),
    ("Acme Ads\n", "Acme Ads"),
    ("AB", "AB"),
    ("A" * 100, "A" * 100),
    ("A" * 50 + " " * 10 + "B" * 49, "A" * 50 + " " + "B" * 49),
    ("brand.name", "brand.name"),
])
def test_valid_ad_account_names_are_cleaned(raw: str, expected: str) -> None:
    assert normalise_ad_account_name(raw) == expected


@pytest.mark.parametrize(("raw", "problem"), [
    ("", AdAccountProblem.TOO_SHORT),
    ("A", AdAccountProblem.TOO_SHORT),
    ("   A   ", AdAccountProblem.TOO_SHORT),
    ("A" * 101, AdAccountProblem.TOO_LONG),
    ("Acme\nAds", AdAccountProblem.MULTILINE),
    ("Acme\r\nAds", AdAccountProblem.MULTILINE),
    ("Acme Ads?", AdAccountProblem.QUESTION),
    ("what is my ad account?", AdAccountProblem.QUESTION),
    ("?", AdAccountProblem.QUESTION),
])
def test_invalid_ad_account_names_name_the_problem(raw: str, problem: AdAccountProblem) -> None:
    with pytest.raises(InvalidAdAccountName) as info:
        normalise_ad_account_name(raw)
    assert info.value.problem is problem


@pytest.mark.parametrize("text", [
    "what is a business center",
    "How do I link my account",
    "why is my request still pending",
    "Can I link two accounts",
    "tell me about spark ads",
    "WHAT'S THE POINT OF LINKING",
    "ok?",
    "Acme Ads?",
    "  where do I find it?  ",
])
def test_looks_like_question_positives(text: str) -> None:
    assert looks_like_question(text)


@pytest.mark.parametrize("text", [
    "brand.name",
    "Acme Ads",
    "owen.makes",
    "what",
    "how come",
    "Howard Media Group",
    "Cannes Lions Agency",
    "Whatnot Studio Ads",
    "",
])
def test_looks_like_question_negatives(text: str) -> None:
    assert not looks_like_question(text)


# --- prerequisites confirmed before -------------------------------------------------------------


def test_confirmed_prerequisites_are_recapped_not_asked_again() -> None:
    recap = at_recap()
    assert recap.state == S.PREREQUISITE_RECAP
    assert fire(recap, "all_still_true").state == S.AD_ACCOUNT
    reviewed = fire(recap, "review")
    assert (reviewed.state, reviewed.data["prereq"]) == (S.PREREQUISITE, 0)
    assert fire(fire(recap, "all_still_true"), "back").state == S.PREREQUISITE_RECAP
    assert fire(recap, "back").state == S.PLATFORM
    # Confirmed for another platform only: asked as usual.
    fresh = fire(start(["instagram"]), "choose_platform", platform="tiktok")
    assert fresh.state == S.PREREQUISITE


def test_passing_the_last_prerequisite_is_noticed() -> None:
    last = at_prerequisite(2)
    assert link_flow.passed_prerequisites(last.state, fire(last, "answer_yes")) == "tiktok"
    assert link_flow.passed_prerequisites(S.PREREQUISITE, at_prerequisite(1)) is None
    fix = at_fix(2)
    assert link_flow.passed_prerequisites(fix.state, fire(fix, "fixed")) == "tiktok"


@pytest.mark.parametrize(("builder", "typed", "expected"), [
    (at_prerequisite, "yes", ("answer_yes", {})),
    (at_prerequisite, "Yep!", ("answer_yes", {})),
    (at_prerequisite, "no", ("answer_no", {})),
    (at_prerequisite, "done", link_flow.AMBIGUOUS),
    (at_fix, "done", ("fixed", {})),
    (at_fix, "OK", ("fixed", {})),
    (at_fix, "no", link_flow.AMBIGUOUS),
    (at_recap, "yes", ("all_still_true", {})),
    (at_recap, "no", ("review", {})),
    (at_permissions, "done", ("confirm_scopes", {})),
    (at_permissions, "yes", link_flow.AMBIGUOUS),
    (start, "tiktok", ("choose_platform", {"platform": "tiktok"})),
    (start, "ok", link_flow.AMBIGUOUS),
    (at_summary, "ok", link_flow.AMBIGUOUS),
    (at_prerequisite, "what is business center", None),
    (at_prerequisite, "yes please tell me more", None),
])
def test_typed_words_at_a_button_step(builder: Callable[[], Position], typed: str,
                                      expected: Any) -> None:
    assert link_flow.typed_answer(builder(), typed) == expected
