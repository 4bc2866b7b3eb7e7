"""Every promise kept: what the bot owes people reaches them once, whatever Telegram answers.

The real Application, a real database (SQLite and PostgreSQL) and the Bot API double; faults
are injected on the double (the far side of the network) and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from bot import texts
from bot.local_api import Person
from bot.settings import Settings
from flows import usecases
from storage.repositories import AUDIT, OUTBOX, REQUESTS
from storage.uow import Database
from tests import pg
from tests.conftest import (
    BACKENDS,
    Clock,
    World,
    fill_request,
    pass_prerequisites,
    running,
    send_request,
)
from tests.test_meta_scenarios import meta_request


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- helpers -------------------------------------------------------------------------------------


def card_of(person: Person):
    cards = [m for m in person.inbox if "asks to use" in m.plain and m.has_buttons]
    assert cards, "no request card with buttons"
    return cards[-1]


def count(person: Person, marker: str) -> int:
    """How many messages in the person's chat show `marker` (each message counted once)."""
    return sum(marker in m.plain for m in person.inbox)


async def statuses(world: World) -> list[str]:
    async with world.deps.db.engine.connect() as conn:
        return [r.status for r in await conn.execute(REQUESTS.select().order_by(REQUESTS.c.id))]


async def owed(world: World) -> list[tuple[str, str]]:
    async with world.deps.db.engine.connect() as conn:
        return [(r.kind, r.status) for r in await conn.execute(OUTBOX.select())]


async def settle_all(world: World, clock: Clock, rounds: int = 12) -> None:
    """Let the dispatcher's background passes run as time goes by (it would, every second)."""
    for _ in range(rounds):
        clock.advance(timedelta(minutes=10))
        await world.flush()


# --- fault injection at every point where the bot messages someone ------------------------------


@dataclass(frozen=True)
class Point:
    """Where the bot owes someone a message: how to get there, and how to recognise it."""

    name: str
    to: str  # "ada" or "owen"
    method: str
    marker: str
    prepare: Callable[[World, Person, Person, Clock], Awaitable[None]]
    trigger: Callable[[World, Person, Person, Clock], Awaitable[object]]


async def _claimed(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    await owen.send("/claim owen.makes")
    await fill_request(ada)


async def _sent(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    await owen.send("/claim owen.makes")
    await send_request(ada)


async def _approved(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    await _sent(world, ada, owen, clock)
    await owen.press("Approve", card_of(owen))


async def _rejected(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    await _sent(world, ada, owen, clock)
    await owen.press("Reject", card_of(owen))


async def _unclaimed(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    await fill_request(ada)


async def _unclaimed_sent(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    await send_request(ada)


async def _nothing(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    pass


async def _press_send(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    return await ada.press("Send request")


async def _ask_for_qr(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    return await ada.press(texts.SEND_AS_QR)


async def _approve(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    return await owen.press("Approve", card_of(owen))


async def _reject(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    return await owen.press("Reject", card_of(owen))


async def _give_reason(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    prompt = next(m for m in reversed(owen.inbox) if "Reply to this message" in m.plain)
    return await owen.send("We never worked together", reply_to=prompt)


async def _cancel(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    await ada.send("/accounts")
    return await ada.press("Cancel @owen.makes")


async def _unlink(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    await ada.send("/accounts")
    await ada.press("Unlink @owen.makes")
    return await ada.press("Yes, unlink")


async def _revoke(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    await owen.send("/owned")
    await owen.press("Revoke")
    return await owen.press("Yes, revoke")


async def _expire(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    clock.advance(timedelta(days=7, minutes=1))
    return await world.sweep()


async def _remind(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    clock.advance(timedelta(days=6, minutes=1))
    return await world.sweep()


async def _temporary_access(world: World, ada: Person, owen: Person, clock: Clock) -> None:
    """Owen approved Ada's request for 7 days of access to his Instagram account."""
    await owen.send("/claim instagram owen.makes")
    await meta_request(ada, "Instagram", "owen.makes", ("Insights",), "7 days")
    await owen.press("Approve", card_of(owen))


async def _end_access(world: World, ada: Person, owen: Person, clock: Clock) -> object:
    clock.advance(timedelta(days=7, minutes=1))
    return await world.sweep()


POINTS = [
    Point("owner card", "owen", "sendMessage", "asks to use", _claimed, _press_send),
    Point("sent to owner", "ada", "sendMessage", "Request sent to the owner", _claimed,
          _press_send),
    Point("approval link", "ada", "sendMessage", "one-time approval link", _unclaimed,
          _press_send),
    Point("approval QR code", "ada", "sendPhoto", "as a QR code", _unclaimed_sent, _ask_for_qr),
    Point("approved", "ada", "sendMessage", "Authorized", _sent, _approve),
    Point("card closed", "owen", "editMessageText", "✅ Approved", _sent, _approve),
    Point("rejected", "ada", "sendMessage", "rejected your request", _sent, _reject),
    Point("reason prompt", "owen", "sendMessage", "Reply to this message", _sent, _reject),
    Point("reason", "ada", "sendMessage", "said why", _rejected, _give_reason),
    Point("cancelled", "owen", "sendMessage", "cancelled their request", _sent, _cancel),
    Point("unlinked", "owen", "sendMessage", "unlinked @owen.makes", _approved, _unlink),
    Point("revoked", "ada", "sendMessage", "withdrew their approval", _approved, _revoke),
    Point("expired, advertiser", "ada", "sendMessage", "expired without an answer", _sent,
          _expire),
    Point("expired, owner", "owen", "sendMessage", "expired without an answer", _sent, _expire),
    Point("reminder", "owen", "sendMessage", "Reminder", _sent, _remind),
    # Meta partner access: temporary access ended by the clock.
    Point("access ended, advertiser", "ada", "sendMessage", "Your temporary access",
          _temporary_access, _end_access),
    Point("access ended, owner", "owen", "sendMessage", "days of access you approved",
          _temporary_access, _end_access),
]

FAULTS = {
    "429": dict(error_code=429, description="Too Many Requests: retry after 30", retry_after=30,
                times=3),
    "500": dict(error_code=500, description="Internal Server Error", times=2),
    "502": dict(error_code=502, description="Bad Gateway", times=2),
    "timeout": dict(error_code=0, description="Timed out", times=2),
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("point", POINTS, ids=[p.name for p in POINTS])
async def test_owed_message_arrives_once_after_the_fault_clears(
        world: World, clock: Clock, ada: Person, owen: Person, eve: Person, point: Point,
        fault: str) -> None:
    await point.prepare(world, ada, owen, clock)
    target = {"ada": ada, "owen": owen}[point.to]
    before = count(target, point.marker)
    world.api.fail_next(point.method, chat_id=target.user_id, **FAULTS[fault])  # type: ignore[arg-type]
    await point.trigger(world, ada, owen, clock)
    assert count(target, point.marker) == before, "delivered despite the fault"

    # Everyone else is served meanwhile, at once.
    await eve.send("/help")
    assert "/link" in eve.last.plain

    await settle_all(world, clock)
    assert count(target, point.marker) == before + 1
    assert await owed(world) == []  # nothing left owed, nothing given up


@pytest.mark.parametrize("point", [p for p in POINTS if p.name != "owner card"],
                         ids=[p.name for p in POINTS if p.name != "owner card"])
async def test_an_unreachable_person_costs_one_attempt_and_no_retries(
        world: World, clock: Clock, ada: Person, owen: Person, point: Point) -> None:
    await point.prepare(world, ada, owen, clock)
    target = {"ada": ada, "owen": owen}[point.to]
    world.api.fail_next(point.method, 403, "Forbidden: bot was blocked by the user",
                        chat_id=target.user_id, times=100)
    calls = len(world.api.calls_to(point.method))
    await point.trigger(world, ada, owen, clock)
    await settle_all(world, clock, rounds=3)
    blocked = [c for c in world.api.calls_to(point.method)[calls:]
               if c.error and str(c.params.get("chat_id")) == str(target.user_id)]
    assert len(blocked) == 1
    assert await owed(world) == []


async def test_an_owner_who_cannot_be_reached_becomes_an_approval_link_for_the_advertiser(
        world: World, clock: Clock, ada: Person, owen: Person) -> None:
    await _claimed(world, ada, owen, clock)
    world.api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user",
                        chat_id=owen.user_id)
    await ada.press("Send request")
    link = ada.last
    assert "couldn't deliver your request to the owner of @owen.makes" in link.plain
    assert "one-time approval link" in link.plain
    token = link.plain.split("?start=")[1].split()[0]
    await owen.send(f"/start {token}")
    await owen.press("Approve", card_of(owen))
    assert await statuses(world) == ["authorized"]


async def test_an_owner_card_given_up_on_falls_back_to_the_link(
        world: World, clock: Clock, ada: Person, owen: Person) -> None:
    await _claimed(world, ada, owen, clock)
    world.api.fail_next("sendMessage", 500, "Internal Server Error", chat_id=owen.user_id,
                        times=world.settings.send_max_attempts)
    await ada.press("Send request")
    await settle_all(world, clock, rounds=world.settings.send_max_attempts + 2)
    assert count(owen, "asks to use") == 0
    assert count(ada, "couldn't deliver your request") == 1
    async with world.deps.db.engine.connect() as conn:
        rows = list(await conn.execute(OUTBOX.select()))
    assert [(r.kind, r.status) for r in rows] == [("owner_card", "failed")]
    assert "500" in (rows[0].last_error or "") or "Internal" in (rows[0].last_error or "")


async def test_a_429_holds_only_that_chat_and_keeps_its_order(
        world: World, clock: Clock, ada: Person, owen: Person, eve: Person) -> None:
    await owen.send("/claim owen.makes")
    world.api.fail_next("sendMessage", 429, "Too Many Requests: retry after 60", retry_after=60,
                        chat_id=ada.user_id)
    await ada.send("/help")
    await ada.send("/link")  # owed after /help's reply: must not overtake it
    assert not ada.inbox
    await eve.send("/help")
    assert count(eve, "/link") == 1
    clock.advance(timedelta(seconds=30))
    await world.flush()
    assert count(ada, "/link") == 0  # still within retry_after
    clock.advance(timedelta(seconds=31))
    await world.flush()
    texts_in_order = [m.plain for m in ada.inbox]
    assert "/link" in texts_in_order[0] and "Which platform" in texts_in_order[1]


async def test_owed_messages_survive_a_restart_and_go_out_once(
        world: World, clock: Clock, ada: Person, owen: Person) -> None:
    await _claimed(world, ada, owen, clock)
    world.api.fail_next("sendMessage", 502, "Bad Gateway", chat_id=owen.user_id)
    await ada.press("Send request")
    assert count(owen, "asks to use") == 0
    await world.restart()
    await settle_all(world, clock, rounds=2)
    assert count(owen, "asks to use") == 1
    await settle_all(world, clock, rounds=2)
    assert count(owen, "asks to use") == 1


# --- the inbox ----------------------------------------------------------------------------------


def raw_text(world: World, person: Person, text: str, update_id: int | None = None) -> dict:
    """A text message as Telegram would deliver it in getUpdates."""
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] \
        if text.startswith("/") else []
    stored = world.api.record_incoming(person.user_id, text, entities)
    world.api.started.add(person.user_id)
    return {"update_id": update_id or world.api.next_update_id(),
            "message": world.api.message_json(stored)}


async def test_a_redelivered_update_has_no_effect(world: World, ada: Person) -> None:
    await pass_prerequisites(ada)
    update = raw_text(world, ada, "Acme Ads")
    processor = world.deps.processor
    assert processor is not None
    await processor.handle(update)
    asked = ada.last
    assert "username" in asked.plain.lower()
    await processor.handle(update)  # Telegram sends it again
    assert ada.last.message_id == asked.message_id  # no second answer
    await ada.send("@owen.makes")
    assert "permission" in ada.last.plain.lower()


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_race_lost_at_the_commit_is_told_and_keeps_nothing(
        world: World, ada: Person) -> None:
    """On PostgreSQL an update's writes go at its commit (`PostgresConnection`), so a race is
    found there: another worker moves Ada's conversation on between this update's read and
    its commit. She is asked to try again, the other worker's state stands, and nothing this
    update owed is sent."""
    from sqlalchemy import text

    await ada.send("/link")
    question = ada.last
    other = world.deps.db.engine  # another worker's connection, as far as the bot knows
    async with other.connect() as conn:
        await conn.execute(text(  # holds the row: the update's write waits behind it
            "SELECT 1 FROM conversations WHERE user_id = :u AND flow = 'link' FOR UPDATE"),
            {"u": ada.user_id})
        press = asyncio.create_task(ada.press("TikTok", question))
        assert await pg.until_a_lock_is_waited_for(conn, press), \
            "the update's write never waited for the row"
        await conn.execute(text(
            "UPDATE conversations SET state = 'cancelled', version = version + 1 "
            "WHERE user_id = :u AND flow = 'link'"), {"u": ada.user_id})
        await conn.commit()
    await press
    assert ada.last_answer == texts.TRY_AGAIN
    assert ada.last.message_id == question.message_id  # no next question
    await world.deps.db.flush_deferred()  # what was sent before is written back
    async with world.deps.db.unit_of_work() as uow:
        row = await uow.conversations.load(ada.user_id, "link")
        assert row is not None and row.state == "cancelled"
        assert await uow.outbox.pending() == []


async def test_a_caller_that_goes_away_leaves_the_chats_next_update_processed(
        world: World, ada: Person) -> None:
    """`handle` runs an update in its caller's task when nobody is on that chat, and updates
    of the chat that come meanwhile queue behind it. If that caller is cancelled (while
    Telegram is slow to take the reply), the update queued behind still runs and is answered,
    and its caller is not left waiting."""
    processor = world.deps.processor
    assert processor is not None
    release = world.api.hold_next("sendMessage", chat_id=ada.user_id)
    first = asyncio.create_task(processor.handle(raw_text(world, ada, "/help")))
    for _ in range(500):
        if world.api.held:
            break
        await asyncio.sleep(0.01)
    assert world.api.held == ["sendMessage"]  # the first reply is on its way, slowly
    second = asyncio.create_task(processor.handle(raw_text(world, ada, "/accounts")))
    await asyncio.sleep(0.05)
    assert not second.done()  # queued behind the first
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    release.set()
    await asyncio.wait_for(second, 10)
    assert ada.last.plain == texts.ACCOUNTS_EMPTY
    await processor.drain()


async def test_updates_stored_before_a_crash_are_processed_after_restart(
        world: World, ada: Person) -> None:
    """What `receive` stored is the promise: a new process finishes it (the real kill -9 is in
    tests/test_crash.py)."""
    updates = [raw_text(world, ada, "/help") for _ in range(3)]
    async with world.deps.db.unit_of_work() as uow:
        await uow.inbox.store([(u["update_id"], ada.user_id, u) for u in updates],
                              world.clock())
        await uow.commit()
    await world.restart()
    assert world.deps.processor is not None
    await world.deps.processor.drain()
    assert count(ada, "/link") == 3


@pytest.fixture
def default_limits(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    telegram_bot_token=None)


@pytest.fixture
async def gated(default_limits: Settings, clock: Clock) -> AsyncIterator[World]:
    async with running(default_limits, clock) as w:
        yield w


async def test_a_flood_is_told_once_and_delays_nobody_else(gated: World) -> None:
    ada, bob = gated.person(1001, "Ada"), gated.person(1002, "Bob")
    processor = gated.deps.processor
    assert processor is not None
    async def connected() -> None:
        async with gated.deps.db.unit_of_work():
            await asyncio.sleep(0.05)

    # Two connections opened and used before the flood, as a running bot has: otherwise, on
    # PostgreSQL (where the two run at once), Bob's first update would be timed connecting to
    # the server and preparing its first statements there.
    await asyncio.gather(connected(), connected())
    others = [gated.person(1003 + n, f"Other{n}") for n in range(2)]
    await asyncio.gather(*(other.send("/help") for other in others))
    flood = [raw_text(gated, ada, "/help") for _ in range(500)]
    help_for_bob = raw_text(gated, bob, "/help")
    await processor.receive([*flood, help_for_bob])  # one getUpdates batch
    await processor.drain()

    assert count(bob, "/link") == 1
    limit = gated.settings.flood_messages
    assert count(ada, "/link") == limit  # the first `limit` answered, the rest dropped
    assert count(ada, "faster than I can read") == 1
    replies = [c for c in gated.api.calls_to("sendMessage") if not c.error
               and str(c.params["chat_id"]) in (str(ada.user_id), str(bob.user_id))]
    bobs = next(i for i, c in enumerate(replies) if str(c.params["chat_id"]) == str(bob.user_id))
    assert bobs <= 3, "Bob waited behind Ada's flood"


async def test_one_persons_updates_run_in_order_others_concurrently(world: World,
                                                                   ada: Person) -> None:
    processor = world.deps.processor
    assert processor is not None
    batch = [raw_text(world, ada, "/link")]
    batch += [raw_text(world, ada, "/status") for _ in range(3)]
    await processor.receive(batch)
    await processor.drain()
    assert "step 1 of" in ada.inbox[-2].plain.lower() or "step 1" in ada.inbox[-2].plain


# --- the reason prompt --------------------------------------------------------------------------


async def test_text_not_replying_to_the_prompt_is_not_a_reason(
        world: World, ada: Person, owen: Person) -> None:
    await _rejected(world, ada, owen, Clock())
    await pass_prerequisites(owen)
    await owen.send("Owen Ads")  # an answer in his own /link
    assert "username" in owen.last.plain.lower()
    assert count(ada, "said why") == 0
    async with world.deps.db.engine.connect() as conn:
        assert [r.event for r in await conn.execute(AUDIT.select())][-1] == "reject"


async def test_a_reply_to_the_card_is_a_reason_too(world: World, ada: Person,
                                                   owen: Person) -> None:
    await _sent(world, ada, owen, Clock())
    card = card_of(owen)
    await owen.press("Reject", card)
    await owen.send("Not my brand", reply_to=card)
    assert "«Not my brand»" in ada.last.plain


async def test_the_reason_prompt_lapses(world: World, clock: Clock, ada: Person,
                                        owen: Person) -> None:
    await _rejected(world, ada, owen, clock)
    prompt = owen.last
    clock.advance(usecases.REASON_WINDOW + timedelta(seconds=1))
    await owen.send("Too late now", reply_to=prompt)
    assert count(ada, "said why") == 0


async def test_cancel_ends_the_reason_prompt(world: World, ada: Person, owen: Person) -> None:
    await _rejected(world, ada, owen, Clock())
    prompt = owen.last
    await owen.send("/cancel")
    assert owen.last.plain == texts.REASON_SKIPPED
    await owen.send("Changed my mind", reply_to=prompt)
    assert count(ada, "said why") == 0


async def test_a_too_long_reason_keeps_the_prompt_open(world: World, ada: Person,
                                                       owen: Person) -> None:
    await _rejected(world, ada, owen, Clock())
    prompt = owen.last
    await owen.send("x" * 501, reply_to=prompt)
    assert "under 500 characters" in owen.last.plain
    await owen.send("Short one", reply_to=prompt)
    assert "«Short one»" in ada.last.plain


# --- expiry and reminders -----------------------------------------------------------------------


async def test_one_reminder_a_day_before_then_expiry_tells_both_sides(
        world: World, clock: Clock, ada: Person, owen: Person) -> None:
    await _sent(world, ada, owen, clock)
    clock.advance(timedelta(days=5, hours=23))
    assert await world.sweep() == (0, 0)
    clock.advance(timedelta(hours=1, minutes=1))
    assert await world.sweep() == (1, 0)
    reminder = owen.last
    assert "Reminder" in reminder.plain
    assert reminder.labels == ["✅ Approve", "❌ Reject", "What am I allowing?",
                           "🚫 Block this advertiser"]
    assert await world.sweep() == (0, 0)  # once only
    clock.advance(timedelta(days=1))
    assert await world.sweep() == (0, 1)
    assert "expired without an answer" in ada.last.plain
    assert "expired without an answer" in owen.last.plain
    assert not any(m.has_buttons for m in owen.inbox)  # card and reminder both closed


async def test_a_reminder_card_can_be_answered(world: World, clock: Clock, ada: Person,
                                               owen: Person) -> None:
    await _sent(world, ada, owen, clock)
    clock.advance(timedelta(days=6, minutes=1))
    await world.sweep()
    await owen.press("Approve", owen.last)
    assert await statuses(world) == ["authorized"]
    assert not any(m.has_buttons for m in owen.inbox)


async def test_expiry_across_a_restart_with_one_recipient_failing(
        world: World, clock: Clock, ada: Person, owen: Person, eve: Person) -> None:
    await _sent(world, ada, owen, clock)
    await send_request(eve, handle="@someone.else", ad_account="Eve Ads")
    await world.stop()
    clock.advance(timedelta(days=8))  # the bot was down when they fell due
    await world.boot()
    world.api.fail_next("sendMessage", 500, "Internal Server Error", chat_id=ada.user_id)
    assert await world.sweep() == (0, 2)
    assert count(eve, "expired without an answer") == 1
    assert count(owen, "expired without an answer") == 1
    assert count(ada, "expired without an answer") == 0
    await settle_all(world, clock, rounds=2)
    assert count(ada, "expired without an answer") == 1


async def test_the_clock_catches_up_in_batches(world: World, clock: Clock, ada: Person) -> None:
    await send_request(ada)  # unclaimed: the advertiser holds a link
    async with world.deps.db.unit_of_work() as uow:
        for i in range(150):
            await uow.requests.create(
                key=f"k{i}", requester_id=ada.user_id, platform="tiktok", handle=f"h{i}",
                handle_key=f"h{i}", ad_account="A", scopes=["use_posts"], visibility=None,
                owner_id=None, now=clock(), expires_at=clock() + timedelta(hours=1))
        await uow.commit()
    clock.advance(timedelta(days=8))
    reminded, expired = await world.sweep()
    assert (reminded, expired) == (0, 151)
    assert await statuses(world) == ["expired"] * 151


async def test_two_processes_expiring_at_once_tell_each_person_once(
        world: World, clock: Clock, ada: Person, owen: Person) -> None:
    await _sent(world, ada, owen, clock)
    clock.advance(timedelta(days=8))
    second = Database(world.settings.database_url)
    try:
        async def tick(db: Database) -> list[str]:
            async with db.unit_of_work() as uow:
                await usecases.expire_due(uow, clock())
                await uow.commit()
                return [row.kind for row in uow.owed]

        first, other = await asyncio.gather(tick(world.deps.db), tick(second))
    finally:
        await second.dispose()
    assert sorted(first + other) == ["close_card", "expired_for_advertiser", "expired_for_owner"]


# --- logs ---------------------------------------------------------------------------------------


async def test_logs_carry_ids_never_tokens_or_texts(world: World, ada: Person, owen: Person,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # what `linkpilot run` logs by default
    await send_request(ada, ad_account="Secret Campaign Ads")
    token = ada.last.plain.split("?start=")[1].split()[0]
    await owen.send(f"/start {token}")
    async with world.deps.db.engine.begin() as conn:  # break storage under the next update
        await conn.exec_driver_sql("DROP TABLE claims")
    await owen.send(f"/claim owen.makes {token}")
    await owen.send("/claim owen.makes")
    assert owen.last.plain == texts.ERROR  # told, not silence
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "update" in logged and "failed" in logged
    assert token not in logged
    assert "Secret Campaign Ads" not in logged


async def test_the_owner_can_decide_from_owned_when_the_card_never_arrived(
        world: World, clock: Clock, ada: Person, owen: Person) -> None:
    await _claimed(world, ada, owen, clock)
    world.api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user",
                        chat_id=owen.user_id)
    await ada.press("Send request")
    assert count(owen, "asks to use") == 0
    await owen.send("/owned")
    assert "waiting for you: Ada (@ada_ads) asks for @owen.makes" in owen.last.plain
    await owen.press("Approve Ada")
    assert owen.last_answer == "Approved."
    assert await statuses(world) == ["authorized"]
    assert count(ada, "Authorized") == 1


async def test_the_flood_gate_forgets_people_who_went_quiet() -> None:
    from bot.inbox import FloodGate

    gate = FloodGate(rate=5, per_seconds=0.05)
    for wave in range(3):
        for person in range(2000):
            assert await gate.admit(wave * 10_000 + person) == "ok"
        await asyncio.sleep(0.06)  # everyone's bucket drains
    assert len(gate._buckets) <= 2048  # not 6,000: memory stays flat as people come and go
