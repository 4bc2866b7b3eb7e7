"""End-to-end scenarios through a real PTB Application, a real database (SQLite and PostgreSQL)
and the Bot API double.

Each test asserts what the people involved would see in Telegram.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.local_api import Person
from bot.settings import Settings
from storage.repositories import AUDIT, REQUESTS
from tests.conftest import (
    BACKENDS,
    Clock,
    World,
    fill_request,
    pass_prerequisites,
    send_request,
)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def statuses(world: World) -> list[str]:
    async with world.deps.db.engine.connect() as conn:
        rows = await conn.execute(REQUESTS.select().order_by(REQUESTS.c.id))
        return [r.status for r in rows]


async def audit_trail(world: World) -> list[tuple[str, str | None, str, int | None]]:
    async with world.deps.db.engine.connect() as conn:
        rows = await conn.execute(AUDIT.select().order_by(AUDIT.c.id))
        return [(r.event, r.from_status, r.to_status, r.actor_id) for r in rows]


def card_of(person: Person):
    """The owner's latest request card."""
    cards = [m for m in person.inbox if "Link request" in m.plain and "asks to use" in m.plain]
    assert cards, "no request card"
    return cards[-1]


# --- the advertiser's conversation ---------------------------------------------------------------

async def test_start_welcomes_and_registers_the_command_menu(world: World, ada: Person) -> None:
    replies = await ada.send("/start")
    assert "I'm Linkpilot" in replies[0].plain
    assert ("link", "Start or resume a link request") in world.api.commands
    # What Telegram shows before /start.
    assert "approval to run ads" in world.api.descriptions[("description", "")]
    assert world.api.descriptions[("short_description", "")]


async def test_happy_path_two_users(world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim @owen.makes")
    assert "@owen.makes is now yours" in owen.last.plain

    await fill_request(ada, scopes=("Use existing posts", "Publish and manage new videos"))
    summary = ada.last
    assert "Ad account: Acme Ads" in summary.plain
    assert "Account to link: @owen.makes" in summary.plain
    assert "New videos: Ads only" in summary.plain
    await ada.press("Send request")
    assert "Request sent to the owner of @owen.makes" in ada.last.plain
    assert not summary.has_buttons or not ada.inbox[-2].has_buttons  # summary settled

    card = card_of(owen)
    assert "Ada (@ada_ads) asks to use your TikTok account @owen.makes" in card.plain
    assert "Publish and manage new videos" in card.plain
    assert card.labels == ["✅ Approve", "❌ Reject", "What am I allowing?",
                           "🚫 Block this advertiser"]

    await owen.press("Approve", card)
    assert owen.last_answer == "Approved."
    assert "Recorded in Linkpilot: you approved Ada (@ada_ads)'s request" in owen.last.plain
    assert "Nothing has changed in TikTok yet" in owen.last.plain
    assert not card_of(owen).has_buttons
    assert "✅ Approved" in card_of(owen).plain
    assert "Authorized in Linkpilot" in ada.last.plain and "Link accounts" in ada.last.plain
    assert "it changes nothing in TikTok" in ada.last.plain
    assert "Send a QR code" in ada.last.plain
    assert await statuses(world) == ["authorized"]
    assert await audit_trail(world) == [
        ("create", None, "pending", ada.user_id),
        ("approve", "pending", "authorized", owen.user_id),
    ]

    await ada.send("/accounts")
    assert "@owen.makes (TikTok) → Acme Ads: approved" in ada.last.plain
    await owen.send("/owned")
    assert "Ada (@ada_ads), ad account Acme Ads" in owen.last.plain


async def test_each_step_answered_by_a_button_loses_its_buttons(ada: Person) -> None:
    await ada.send("/link")
    question = ada.last
    await ada.press("TikTok")
    settled = next(m for m in ada.inbox if m.message_id == question.message_id)
    assert not settled.has_buttons and "→ TikTok" in settled.plain
    again = await ada.press_data(question.buttons[0][0].callback_data or "",
                                 question.message_id)
    assert again == [] or not any(m.has_buttons for m in again)
    assert ada.last_answer == "That question was already answered."


async def test_no_explains_the_fix_and_later_keeps_the_place(ada: Person) -> None:
    await ada.send("/link")
    await ada.press("TikTok")
    await ada.press("No")
    assert "ads.tiktok.com" in ada.last.plain
    await ada.press("Later")
    assert "your place is saved" in ada.last.plain
    await ada.send("/link")
    assert "pick up where you left off" in ada.inbox[-2].plain
    assert "ads.tiktok.com" in ada.last.plain
    await ada.press("Done, continue")
    assert "Admin or Operator" in ada.last.plain


async def test_whats_this_explains_in_place(ada: Person) -> None:
    await ada.send("/link")
    await ada.press("TikTok")
    question = ada.last
    await ada.press("What's this?")
    explained = next(m for m in ada.inbox if m.message_id == question.message_id)
    assert "separate from the TikTok app account" in explained.plain
    assert "What's this?" not in explained.labels and "Yes" in explained.labels


async def test_invalid_username_gets_the_reason_and_the_same_question(ada: Person) -> None:
    await pass_prerequisites(ada)
    await ada.send("Acme Ads")
    replies = await ada.send("brand.name.")
    assert "can't end with a period" in replies[0].plain
    assert "Which TikTok account should be linked?" in replies[1].plain
    replies = await ada.send("bad$name!")
    assert "this one has $ and !" in replies[0].plain
    replies = await ada.send("a" * 25)
    assert "at most 24 characters" in replies[0].plain
    await ada.send("https://www.tiktok.com/@brand.name")
    assert "Which permissions" in ada.last.plain


async def test_permissions_need_at_least_one(ada: Person) -> None:
    await fill_request(ada, scopes=())
    assert ada.last_answer == "Please select at least one permission, then tap Continue."
    assert "Which permissions" in ada.last.plain


async def test_back_and_status_and_cancel_work_mid_flow(world: World, ada: Person) -> None:
    await ada.send("/back")
    assert "no link request in progress" in ada.last.plain
    await ada.send("/link")
    await ada.send("/back")
    assert "first question" in ada.inbox[-2].plain
    await ada.press("TikTok")
    await ada.press("Yes")
    await ada.send("/back")
    assert "TikTok For Business" in ada.last.plain
    await ada.send("/status")
    assert "step 2 of 6 · prerequisites" in ada.inbox[-2].plain
    await ada.send("/cancel")
    assert "Cancelled. Nothing was sent." in ada.last.plain
    await ada.send("/cancel")
    assert "nothing to cancel" in ada.last.plain
    assert await statuses(world) == []


async def test_edit_from_summary_changes_one_field(ada: Person, owen: Person) -> None:
    await fill_request(ada)
    await ada.press("Edit")
    await ada.press("Username")
    assert "Now: @owen.makes" in ada.last.plain
    await ada.send("@other_one")
    assert "Account to link: @other_one" in ada.last.plain
    assert "Ad account: Acme Ads" in ada.last.plain


async def test_restart_mid_flow_resumes_at_the_same_question(world: World, ada: Person) -> None:
    await ada.send("/link")
    await ada.press("TikTok")
    await ada.press("Yes")
    await ada.press("Yes")
    question = ada.last
    await world.restart()
    await ada.press("Yes", question)  # a button from before the restart still answers
    assert "name of the ad account" in ada.last.plain
    await world.restart()
    await ada.send("Acme Ads")
    assert "Which TikTok account" in ada.last.plain


# --- the owner's side ----------------------------------------------------------------------------

async def test_rejection_with_a_reason(world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await owen.press("Reject", card_of(owen))
    assert "The owner of @owen.makes rejected your request" in ada.last.plain
    prompt = owen.last
    assert "tell Ada (@ada_ads) why? Reply to this message" in prompt.plain
    await owen.send("We never worked together", reply_to=prompt)
    assert "passed your reason on" in owen.last.plain
    assert "«We never worked together»" in ada.last.plain
    assert await statuses(world) == ["rejected"]
    assert (await audit_trail(world))[-1][0] == "explain"


async def test_rejection_reason_can_be_skipped(ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await owen.press("Reject", card_of(owen))
    await owen.press("Skip")
    assert owen.last_answer == "OK, no reason sent."
    await owen.send("what are spark ads?")
    assert "Spark" in owen.last.plain  # back to normal: text is a question again


async def test_double_press_and_presses_from_others_change_nothing(
        world: World, ada: Person, owen: Person, eve: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    card = card_of(owen)
    approve = card.buttons[0][0].callback_data or ""
    await eve.press_data(approve, card.message_id)
    assert eve.last_answer == "This button isn't for you."
    await ada.press_data(approve, card.message_id)
    assert ada.last_answer == "You can't approve or reject your own request."
    assert await statuses(world) == ["pending"]
    await owen.press("Reject", card)
    await owen.press_data(approve, card.message_id)
    assert owen.last_answer == "This request is already rejected."
    await eve.press_data(approve, card.message_id)
    assert eve.last_answer == "This button isn't for you."  # not even the status
    assert await statuses(world) == ["rejected"]


async def test_forged_buttons_get_a_short_answer(world: World, owen: Person) -> None:
    await owen.send("/start")
    message_id = owen.last.message_id
    for data in ("r:nosuchkey:a", "r:x", "t:forgedtoken:a", "f:999:y", "zzz", "q:nope",
                 "s:abc:def"):
        await owen.press_data(data, message_id)
        assert owen.last_answer, data
    assert await statuses(world) == []


async def test_cancel_a_pending_request(world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await ada.send("/accounts")
    await ada.press("Cancel @owen.makes")
    assert ada.last_answer == "Request cancelled."
    assert "cancelled" in ada.last.plain
    assert "Ada (@ada_ads) cancelled their request" in owen.last.plain
    assert not card_of(owen).has_buttons
    await owen.press_data(f"r:{(await _key(world))}:a", card_of(owen).message_id)
    assert owen.last_answer == "This request is already cancelled."


async def _key(world: World) -> str:
    async with world.deps.db.engine.connect() as conn:
        return (await conn.execute(REQUESTS.select())).first().key


async def test_unlink_and_revoke(world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await owen.press("Approve", card_of(owen))
    await ada.send("/accounts")
    await ada.press("Unlink @owen.makes")
    assert "Unlink @owen.makes from the ad account Acme Ads in Linkpilot?" in ada.last.plain
    await ada.press("No, keep it")
    assert "approved" in ada.last.plain and await statuses(world) == ["authorized"]
    await ada.press("Unlink @owen.makes")
    await ada.press("Yes, unlink")
    listed, told = ada.inbox[-2], ada.last
    assert "unlinked" in listed.plain
    # What changed in Linkpilot, and what is left to do in TikTok, with the menu path.
    assert "Unlinked in Linkpilot" in told.plain and "Link accounts tab" in told.plain
    assert "Ada (@ada_ads) unlinked @owen.makes in Linkpilot" in owen.last.plain

    await send_request(ada, ad_account="Second Ads")
    await owen.press("Approve", card_of(owen))
    await owen.send("/owned")
    await owen.press("Revoke")
    assert "Withdraw Ada (@ada_ads)'s approval to use @owen.makes (ad account Second Ads)?" \
        in owen.last.plain
    await owen.press("Yes, revoke")
    assert owen.last_answer == "Access revoked."
    assert "your approval for Ada (@ada_ads) to use @owen.makes is withdrawn" \
        in owen.last.plain
    assert "withdrew their approval in Linkpilot (ad account Second Ads)" in ada.last.plain
    assert "Remove" in ada.last.plain
    assert await statuses(world) == ["unlinked", "revoked"]
    forged = f"r:{(await _key(world))}:v!"
    await ada.press_data(forged, ada.last.message_id)
    assert ada.last_answer == "This request is already unlinked."


async def test_pending_requests_expire_from_the_database(world: World, ada: Person,
                                                         owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    world.clock.advance(timedelta(days=6))
    await world.sweep()
    assert await statuses(world) == ["pending"]
    world.clock.advance(timedelta(days=1, seconds=1))
    await owen.press("Approve", card_of(owen))  # too late, even before the sweep ran
    assert owen.last_answer == "This request is already expired."
    await world.restart()
    await world.sweep()
    assert await statuses(world) == ["expired"]
    assert "expired without an answer" in ada.last.plain
    assert "⌛ Expired" in card_of(owen).plain and not card_of(owen).has_buttons


# --- the one-time approval link ------------------------------------------------------------------

def link_token(person: Person) -> str:
    message = next(m for m in reversed(person.inbox) if "?start=" in m.plain)
    return message.plain.split("?start=")[1].split()[0]


async def test_unclaimed_handle_gets_a_forwardable_link(world: World, ada: Person,
                                                        owen: Person, eve: Person) -> None:
    await send_request(ada)
    assert "one-time approval link" in ada.last.plain
    token = link_token(ada)
    await ada.send(f"/start {token}")
    assert "You can't approve it yourself" in ada.last.plain

    await owen.send(f"/start {token}")
    card = card_of(owen)
    assert card.labels == ["✅ Approve", "❌ Reject", "What am I allowing?"]
    await owen.press("Approve", card)
    assert "Authorized" in ada.last.plain
    assert not card_of(owen).has_buttons
    await owen.send("/owned")
    assert "@owen.makes" in owen.last.plain  # approving through the link claimed the handle

    await eve.send(f"/start {token}")
    assert "not valid any more" in eve.last.plain


async def test_owner_who_blocked_the_bot_gets_a_link_instead(world: World, ada: Person,
                                                             owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await owen.block()
    await send_request(ada)
    assert "one-time approval link" in ada.last.plain
    token = link_token(ada)
    await owen.unblock()
    eve = world.person(3003, "Eve")
    await eve.send(f"/start {token}")
    assert "claimed by someone else" in eve.last.plain
    await owen.send(f"/start {token}")
    await owen.press("Approve", card_of(owen))
    assert await statuses(world) == ["authorized"]


async def test_claiming_later_routes_waiting_requests(world: World, ada: Person,
                                                      owen: Person) -> None:
    await send_request(ada)
    await owen.send("/claim @Owen.Makes")
    assert "1 request is waiting for you" in owen.inbox[-2].plain
    await owen.press("Approve", card_of(owen))
    assert await statuses(world) == ["authorized"]


async def test_claims_are_one_owner_per_handle(owen: Person, eve: Person) -> None:
    await owen.send("/claim @owen.makes")
    await eve.send("/claim @OWEN.makes")
    assert "already been claimed by another user" in eve.last.plain
    await owen.send("/claim owen.makes")
    assert "already yours" in owen.last.plain
    await owen.send("/claim")
    assert "/claim @yourhandle" in owen.last.plain
    await owen.send("/claim bad handle!")
    assert "/claim @yourhandle" in owen.last.plain


async def test_several_accounts_per_advertiser_and_advertisers_per_handle(
        world: World, ada: Person, owen: Person, eve: Person) -> None:
    await owen.send("/claim owen.makes")
    await owen.send("/claim owen.second")
    await send_request(ada)
    await send_request(ada, handle="owen.second")
    await send_request(eve, ad_account="Eve Ads")  # Acme Ads is Ada's team's
    for _ in range(3):
        await owen.press("Approve", next(m for m in owen.inbox if "Approve" in "".join(m.labels)))
    assert await statuses(world) == ["authorized"] * 3
    await owen.send("/owned")
    owned = owen.last
    assert owned.plain.count("ad account Acme Ads") == 2
    assert owned.plain.count("ad account Eve Ads") == 1
    assert len([label for label in owned.labels if label.startswith("Revoke")]) == 3


# --- Telegram conventions ------------------------------------------------------------------------

async def test_every_callback_query_is_answered(world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)
    await owen.press("Approve", card_of(owen))
    assert world.api.unanswered_queries == {}


async def test_user_text_is_escaped(world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada, ad_account="<b>Bold & Co</b>")
    assert "Ad account: <b>Bold & Co</b>" in card_of(owen).plain


async def test_unknown_commands_and_non_text_get_a_reply(ada: Person) -> None:
    await ada.send("/frobnicate")
    assert "don't know that command" in ada.last.plain


# --- races ----------------------------------------------------------------------------------

async def test_two_presses_at_once_on_one_question_take_effect_once(ada: Person) -> None:
    import asyncio

    await ada.send("/link")
    await ada.press("TikTok")
    question = ada.last
    yes, no = (b.callback_data or "" for b in question.buttons[0][:2])
    await asyncio.gather(ada.press_data(yes, question.message_id),
                         ada.press_data(no, question.message_id))
    answers = [a.text for a in ada.answers[-2:]]
    assert "That question was already answered." in answers
    asked = [m.plain for m in ada.inbox if "Before you start: check 2 of 3" in m.plain
             or "ads.tiktok.com" in m.plain]
    assert len(asked) == 1  # either the next question or the fix, never both


async def test_approve_and_reject_racing_decide_once(world: World, ada: Person,
                                                     owen: Person) -> None:
    import asyncio

    await owen.send("/claim owen.makes")
    await send_request(ada)
    card = card_of(owen)
    approve, reject = (b.callback_data or "" for b in card.buttons[0])
    await asyncio.gather(owen.press_data(approve, card.message_id),
                         owen.press_data(reject, card.message_id))
    assert len(await statuses(world)) == 1
    assert (await statuses(world))[0] in ("authorized", "rejected")
    decisions = [e for e, *_ in await audit_trail(world) if e in ("approve", "reject")]
    assert len(decisions) == 1
    assert any(a.text and a.text.startswith("This request is already") for a in owen.answers)


async def test_one_log_line_per_update_with_states_and_time(
        ada: Person, caplog: pytest.LogCaptureFixture) -> None:
    await ada.send("/link")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="linkpilot.updates"):
        await ada.press("TikTok")
    lines = [r.getMessage() for r in caplog.records if r.name == "linkpilot.updates"]
    assert len(lines) == 1
    assert lines[0].startswith("user=1001 event=flow_button state=platform->prerequisite took=")
    assert lines[0].endswith("ms ok")


async def test_the_expiry_check_is_scheduled(world: World, settings: Settings,
                                             clock: Clock) -> None:
    from bot.app import build_application

    app = build_application(settings, token=world.api.token, request=world.api, clock=clock)
    jobs = [job.name for job in app.job_queue.jobs()]
    assert jobs == ["clock"]


async def test_the_bot_keeps_nothing_per_person_in_memory(world: World) -> None:
    """State lives in the database: after many people, PTB holds no per-person bookkeeping
    (it would keep every id for a persistence that is never used) and no per-person data."""
    for n in range(60):
        person = world.person(700_000 + n, f"P{n}")
        await person.send("/link")
        await person.press("TikTok")
    app = world.app
    assert not app._user_ids_to_be_updated_in_persistence
    assert not app._chat_ids_to_be_updated_in_persistence
    assert not app.user_data and not app.chat_data
