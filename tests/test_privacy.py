"""Privacy (issue 11): /deleteme erases a person's data, free text is kept for a retention period.

The rules on the in-memory unit of work, the storage methods on SQLite, and what people see
through the real bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.local_api import Person
from flows import usecases
from flows.records import ConversationRow, Notice
from storage.repositories import AUDIT, KB_QUESTIONS, OUTBOX, REQUESTS, USERS
from storage.uow import Database
from tests.conftest import World, send_request
from tests.fakes import AskedQuestion, FakeUnitOfWork
from tests.test_usecases import ADA, BOB, OWEN, T0, authorized, pending, rejected, submit

KEEP = timedelta(days=180)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


# --- the rules (in memory) ----------------------------------------------------------------------

async def test_erasing_an_advertiser_cancels_what_waits_and_tells_the_owner(
        uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    await uow.cards.add(request.id, OWEN.id, 50, T0)
    uow.knowledge.rows.append(AskedQuestion(ADA.id, "can I pay later", "miss", T0))
    uow.knowledge.rows.append(AskedQuestion(BOB.id, "what is spark", "miss", T0))
    await usecases.begin_link(uow, ADA, T0)  # a draft in progress
    erased = await usecases.erase_person(uow, ADA.id, T0 + timedelta(hours=1))
    assert (erased.cancelled, erased.withdrawn, erased.questions) == (1, 0, 1)
    after = await uow.requests.get(request.id)
    assert after is not None and after.status == "cancelled"
    assert [(n.kind, n.chat_id) for n in uow.notices] == [
        ("close_card", OWEN.id), ("withdrawn_for_owner", OWEN.id)]
    assert uow.audit.rows[-1].event == "cancel" and uow.audit.rows[-1].actor_id == ADA.id
    user = await uow.users.get(ADA.id)
    assert user is not None and user.deleted and user.first_name == "" and user.username is None
    assert not [key for key in uow.conversations.rows if key[0] == ADA.id]
    assert [q.user_id for q in uow.knowledge.rows] == [BOB.id]
    assert not uow.committed  # the caller commits


async def test_erasing_an_owner_withdraws_what_waits_for_them_and_drops_their_words(
        uow: FakeUnitOfWork) -> None:
    said_no = await rejected(uow)
    await uow.cards.add(said_no.id, OWEN.id, 77, T0)
    await usecases.give_reason(uow, OWEN, 77, "Not my brand", T0 + timedelta(minutes=1))
    waiting = await submit(uow, BOB)  # Owen's handle is claimed: waits for him
    uow.notices.clear()
    erased = await usecases.erase_person(uow, OWEN.id, T0 + timedelta(hours=1))
    assert (erased.cancelled, erased.withdrawn, erased.claims) == (0, 1, 1)
    assert uow.notices == [Notice("withdrawn_for_advertiser", BOB.id, waiting.id)]
    withdrawn = await uow.requests.get(waiting.id)
    assert withdrawn is not None and withdrawn.status == "cancelled"
    assert uow.audit.of_request(waiting.id)[-1].event == "withdraw"
    assert await uow.claims.of_owner(OWEN.id) == []
    kept = await uow.requests.get(said_no.id)
    assert kept is not None and kept.status == "rejected" and kept.reason is None
    # The audit trail keeps who did what, without the words.
    trail = uow.audit.of_request(said_no.id)
    assert [(a.event, a.actor_id) for a in trail] == [
        ("create", ADA.id), ("reject", OWEN.id), ("explain", OWEN.id)]
    assert all(a.reason is None for a in trail)


async def test_erasing_an_advertiser_drops_the_reasons_they_were_sent(
        uow: FakeUnitOfWork) -> None:
    said_no = await rejected(uow)
    await uow.cards.add(said_no.id, OWEN.id, 77, T0)
    await usecases.give_reason(uow, OWEN, 77, "You spammed me", T0 + timedelta(minutes=1))
    await usecases.erase_person(uow, ADA.id, T0 + timedelta(hours=1))
    kept = await uow.requests.get(said_no.id)
    assert kept is not None and kept.status == "rejected" and kept.reason is None
    assert [(a.event, a.actor_id, a.reason) for a in uow.audit.of_request(said_no.id)] == [
        ("create", ADA.id, None), ("reject", OWEN.id, None), ("explain", OWEN.id, None)]


async def test_a_decided_request_keeps_its_facts_with_the_person_anonymised(
        uow: FakeUnitOfWork) -> None:
    request = await authorized(uow)
    await usecases.erase_person(uow, ADA.id, T0 + timedelta(days=1))
    owned = await usecases.owned(uow, OWEN.id)
    assert [(r.id, r.status, r.ad_account) for r, _ in owned.grants] == [
        (request.id, "authorized", "Acme Ads")]
    assert owned.grants[0][1] is not None and owned.grants[0][1].deleted
    assert uow.grants.active(OWEN.id)
    assert uow.notices == []  # nothing waited, nobody to tell


async def test_a_request_already_due_is_left_to_the_clock(uow: FakeUnitOfWork) -> None:
    request = await pending(uow)
    late = request.expires_at + timedelta(minutes=1)
    erased = await usecases.erase_person(uow, ADA.id, late)
    assert erased.cancelled == 0 and uow.notices == []
    assert [r.status for r in await usecases.expire_due(uow, late)] == ["expired"]


async def test_retention_drops_old_questions_and_reasons_only(uow: FakeUnitOfWork) -> None:
    old = await rejected(uow)
    await uow.cards.add(old.id, OWEN.id, 77, T0)
    await usecases.give_reason(uow, OWEN, 77, "Not my brand", T0)
    uow.knowledge.rows += [AskedQuestion(ADA.id, "old one", "miss", T0),
                           AskedQuestion(None, "learned phrasing", "learned", T0),
                           AskedQuestion(ADA.id, "new one", "miss", T0 + timedelta(days=100))]
    now = T0 + KEEP - timedelta(minutes=1)
    assert await usecases.apply_retention(uow, now, KEEP) == usecases.Retained(0, 0)
    now = T0 + KEEP + timedelta(days=1)
    assert await usecases.apply_retention(uow, now, KEEP) == usecases.Retained(1, 2)
    assert [q.question for q in uow.knowledge.rows] == ["learned phrasing", "new one"]
    after = await uow.requests.get(old.id)
    assert after is not None and after.reason is None and after.status == "rejected"
    assert [a.reason for a in uow.audit.of_request(old.id)] == [None, None, None]


# --- storage (SQLite) ---------------------------------------------------------------------------

@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", lambda: T0)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


async def test_storage_erases_one_person_and_no_one_else(db: Database) -> None:
    async with db.unit_of_work() as uow:
        for user in (ADA, OWEN):
            await uow.users.seen(user.id, user.first_name, user.username, T0)
        await uow.conversations.save(ConversationRow(ADA.id, "link", "handle", {"x": 1}, 0),
                                     "handle", {"ad_account": "Acme"}, T0)
        await uow.conversations.save(ConversationRow(OWEN.id, "link", "handle", {}, 0),
                                     "handle", {}, T0)
        for user in (ADA, OWEN):
            await uow.claims.add("tiktok", f"h{user.id}", f"h{user.id}", user.id, T0)
            await uow.knowledge.log_question(user.id, "why?", "miss", None, None, T0)
        request = await uow.requests.create(
            key="k1", requester_id=ADA.id, platform="tiktok", handle="owen.makes",
            handle_key="owen.makes", ad_account="Acme", scopes=["existing_posts"],
            visibility=None, owner_id=OWEN.id, now=T0, expires_at=T0 + timedelta(days=7))
        await uow.requests.set_reason(request.id, "Not my brand")
        await uow.audit.record(request.id, OWEN.id, "explain", "rejected", "rejected", T0,
                               reason="Not my brand")
        await uow.audit.record(request.id, ADA.id, "explain", "rejected", "rejected", T0,
                               reason="Ada's words")
        await uow.commit()
    async with db.unit_of_work() as uow:
        await uow.users.erase(OWEN.id, T0)
        assert await uow.conversations.forget(OWEN.id) == 1
        assert await uow.claims.release(OWEN.id) == 1
        assert await uow.knowledge.forget_asker(OWEN.id) == 1
        assert await uow.audit.forget_texts(OWEN.id, []) == 1
        assert await uow.requests.forget_reasons(OWEN.id) == 1
        await uow.commit()
    async with db.unit_of_work() as uow:
        owen, ada = await uow.users.get(OWEN.id), await uow.users.get(ADA.id)
        assert owen is not None and (owen.first_name, owen.username, owen.deleted) == \
            ("", None, True)
        assert ada is not None and ada.first_name == "Ada" and not ada.deleted
        assert await uow.conversations.load(OWEN.id, "link") is None
        assert await uow.conversations.load(ADA.id, "link") is not None
        assert await uow.claims.of_owner(OWEN.id) == []
        assert len(await uow.claims.of_owner(ADA.id)) == 1
        assert [r.reason for r in await uow.audit.of_request(request.id)] == [None, "Ada's words"]
        kept = await uow.requests.get(request.id)
        assert kept is not None and kept.reason is None and kept.owner_id == OWEN.id
    async with db.engine.connect() as conn:
        asked = (await conn.execute(select(KB_QUESTIONS.c.user_id))).scalars().all()
        names = (await conn.execute(select(USERS.c.first_name).order_by(USERS.c.id))).all()
    assert asked == [ADA.id] and names == [("Ada",), ("",)]
    async with db.unit_of_work() as uow:
        # Writing again brings the name back.
        await uow.users.seen(OWEN.id, "Owen", "owen_creator", T0 + timedelta(days=1))
        back = await uow.users.get(OWEN.id)
        assert back is not None and back.first_name == "Owen" and not back.deleted


async def test_storage_retention_keeps_learned_phrasings_and_recent_text(db: Database) -> None:
    cutoff = T0 + timedelta(days=10)
    async with db.unit_of_work() as uow:
        await uow.users.seen(ADA.id, "Ada", None, T0)
        await uow.knowledge.log_question(ADA.id, "old", "miss", None, None, T0)
        await uow.knowledge.log_question(ADA.id, "new", "miss", None, None, cutoff)
        await uow.knowledge.learn("a phrasing", "entry", T0)
        for key, decided in (("old", T0), ("new", cutoff)):
            request = await uow.requests.create(
                key=key, requester_id=ADA.id, platform="tiktok", handle=key, handle_key=key,
                ad_account="Acme", scopes=["existing_posts"], visibility=None, owner_id=None,
                now=decided, expires_at=decided + timedelta(days=7))
            await uow.requests.move(request.id, "pending", "rejected", decided, decided=True)
            await uow.requests.set_reason(request.id, f"{key} reason")
            await uow.audit.record(request.id, None, "explain", "rejected", "rejected", decided,
                                   reason=f"{key} reason")
        uow.outbox.add(Notice("message", ADA.id, data={"text": "given up on"}))
        uow.outbox.add(Notice("message", ADA.id, data={"text": "still owed"}))
        await uow.commit()  # written at T0 (the database's clock)
        failed_id = uow.owed[0].id
    async with db.unit_of_work() as uow:
        await uow.outbox.give_up(failed_id, "400 chat not found")
        assert await uow.outbox.purge_failed(T0) == 0
        assert await uow.knowledge.expire_questions(cutoff) == 1
        assert await uow.requests.expire_reasons(cutoff) == 1
        assert await uow.audit.expire_texts(cutoff) == 1
        assert await uow.outbox.purge_failed(cutoff) == 1
        await uow.commit()
    async with db.engine.connect() as conn:
        questions = (await conn.execute(select(KB_QUESTIONS.c.question)
                                        .order_by(KB_QUESTIONS.c.id))).scalars().all()
        reasons = (await conn.execute(select(REQUESTS.c.reason)
                                      .order_by(REQUESTS.c.id))).scalars().all()
        texts_ = (await conn.execute(select(AUDIT.c.reason).order_by(AUDIT.c.id))).scalars().all()
        owed = [r.payload["text"] for r in await conn.execute(select(OUTBOX.c.payload))]
    assert owed == ["still owed"]
    assert questions == ["new", "a phrasing"]
    assert reasons == [None, "new reason"] and texts_ == [None, "new reason"]


# --- through the bot ------------------------------------------------------------------------------

def card_of(person: Person):
    return [m for m in person.inbox if "asks to use" in m.plain][-1]


async def request_statuses(world: World) -> list[str]:
    async with world.deps.db.engine.connect() as conn:
        return list((await conn.execute(select(REQUESTS.c.status).order_by(REQUESTS.c.id)))
                    .scalars())


async def test_privacy_says_what_is_kept_and_for_how_long(world: World, ada: Person) -> None:
    replies = await ada.send("/privacy")
    text = replies[0].plain
    for kept in ("first name and username", "request in progress", "history of every change",
                 "accounts you claimed", "Questions", "dropped once handled or sent",
                 "180 days", "/deleteme"):
        assert kept in text
    assert ("privacy", "What I store about you, and for how long") in world.api.commands
    assert ("deleteme", "Erase your personal data") in world.api.commands


async def test_deleteme_asks_first_and_no_keeps_everything(world: World, ada: Person,
                                                            owen: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    replies = await ada.send("/deleteme")
    assert "Erase your personal data?" in replies[0].plain
    assert replies[0].labels == ["Yes, erase my data", "No, keep it"]
    seen_by_owen = len(owen.inbox)
    await ada.press("No, keep it")
    assert "nothing was deleted" in ada.last.plain and not ada.last.has_buttons
    assert await request_statuses(world) == ["pending"]
    assert len(owen.inbox) == seen_by_owen
    await ada.send("/accounts")
    assert "@owen.makes" in ada.last.plain


async def test_an_advertiser_erased_the_owner_is_told_the_request_is_withdrawn(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    card = card_of(owen)
    await ada.send("/deleteme")
    await ada.press("Yes, erase my data")
    assert "your personal data is erased" in ada.last.plain
    assert "1 waiting request of yours cancelled" in ada.last.plain
    assert "The request for @owen.makes (ad account Acme Ads) is withdrawn" in owen.last.plain
    closed = next(m for m in owen.inbox if m.message_id == card.message_id)
    assert "Cancelled by the advertiser" in closed.plain and not closed.has_buttons
    assert await request_statuses(world) == ["cancelled"]
    async with world.deps.db.engine.connect() as conn:
        user = (await conn.execute(select(USERS).where(USERS.c.id == ada.user_id))).one()
    assert (user.first_name, user.username) == ("", None) and user.deleted_at is not None
    await ada.send("/accounts")  # the facts stay, for the owner's record
    assert "cancelled" in ada.last.plain


async def test_an_owner_erased_the_advertiser_is_told_and_the_claim_is_gone(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada, ad_account="First Ads")
    await owen.press("Reject", card_of(owen))
    await owen.send("Not my brand", reply_to=owen.last)
    world.clock.advance(timedelta(hours=25))  # after a rejection, asking again waits a day
    await send_request(ada, ad_account="Second Ads")
    waiting_card = card_of(owen)
    assert waiting_card.has_buttons
    await owen.send("/deleteme")
    await owen.press("Yes, erase my data")
    assert "1 request waiting for you withdrawn" in owen.last.plain
    card_now = next(m for m in owen.inbox if m.message_id == waiting_card.message_id)
    assert not card_now.has_buttons
    assert "Your request for @owen.makes (ad account Second Ads) is withdrawn" in ada.last.plain
    assert await request_statuses(world) == ["rejected", "cancelled"]
    async with world.deps.db.engine.connect() as conn:
        reasons = [r for r in (await conn.execute(select(AUDIT.c.reason))).scalars() if r]
        stored = [r for r in (await conn.execute(select(REQUESTS.c.reason))).scalars() if r]
    assert reasons == [] and stored == []
    await owen.send("/owned")
    assert "haven't claimed any account" in owen.last.plain
    # The handle is free: a new request goes out as an approval link to forward.
    await send_request(ada, ad_account="Third Ads")
    assert "one-time approval link" in ada.last.plain


async def test_an_erased_advertiser_shows_as_a_deleted_user_where_access_stands(
        world: World, ada: Person, owen: Person) -> None:
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await owen.press("Approve", card_of(owen))
    await ada.send("/deleteme")
    await ada.press("Yes, erase my data")
    await owen.send("/owned")
    assert "a deleted user, ad account Acme Ads" in owen.last.plain
    assert "Ada" not in owen.last.plain
    await owen.press("Revoke")
    assert "Withdraw a deleted user's approval" in owen.last.plain


async def test_the_clock_drops_questions_and_reasons_after_the_retention_period(
        world: World, clock, ada: Person, owen: Person) -> None:
    await ada.send("what is the airspeed\u200b velocity of an unladen\u202e swallow")
    await owen.send("/claim @owen.makes")
    await send_request(ada)
    await owen.press("Reject", card_of(owen))
    await owen.send("Not my brand", reply_to=owen.last)
    assert "«Not my brand»" in ada.last.plain

    async def kept() -> tuple[list[str], list[str | None]]:
        async with world.deps.db.engine.connect() as conn:
            asked = list((await conn.execute(select(KB_QUESTIONS.c.question))).scalars())
            said = list((await conn.execute(select(AUDIT.c.reason).where(
                AUDIT.c.event == "explain"))).scalars())
        return asked, said

    # Kept without the invisible characters.
    clock.advance(timedelta(days=179))
    await world.sweep()
    assert await kept() == (["what is the airspeed velocity of an unladen swallow"],
                            ["Not my brand"])
    clock.advance(timedelta(days=2))
    await world.sweep()
    assert await kept() == ([], [None])
    assert await request_statuses(world) == ["rejected"]
