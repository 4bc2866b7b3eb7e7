"""The cheap path an update takes through storage: SQLite called on the event loop's own thread,
and write-backs that ride on the next unit of work (`Database.defer`) instead of a transaction
of their own. These are promises about what is durable and what a reader sees, checked on a
real SQLite file (and, where PostgreSQL behaves differently, on a real PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text

from flows.records import ConversationRow
from storage.repositories import CONVERSATIONS
from storage.uow import DEFER_SECONDS, Database, UnitOfWork
from tests.conftest import BACKENDS, World

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ADA = 1001


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, lambda: NOW)
    await database.migrate()
    async with database.unit_of_work() as uow:
        await uow.users.seen(ADA, "Ada", None, NOW)
        await uow.commit()
    try:
        yield database
    finally:
        await database.dispose()


async def durable_state(db: Database) -> str | None:
    """The conversation state as another connection (another process) would read it."""
    async with db.engine.connect() as conn:
        return (await conn.execute(text(
            "SELECT state FROM conversations WHERE user_id = :u"), {"u": ADA})).scalar()


async def start_conversation(uow: UnitOfWork) -> None:
    await uow.conversations.save(ConversationRow(ADA, "link", "", {}, 0), "platform", {}, NOW)


async def test_postgresql_defers_writes_only_when_the_process_is_alone_on_it(
        database_url: str, backend: str) -> None:
    # Webhook workers share a PostgreSQL database: another worker may read next, so
    # write-backs are written at once there. The polling bot is alone on it, as on SQLite.
    shared, alone = Database(database_url), Database(database_url, alone=True)
    try:
        assert shared.defers_writes is (backend == "sqlite")
        assert alone.defers_writes
    finally:
        await shared.dispose()
        await alone.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_deferred_write_is_seen_by_the_next_unit_of_work_before_it_reads(
        db: Database) -> None:
    db.defer(start_conversation)
    assert await durable_state(db) is None  # not written yet

    async with db.unit_of_work() as uow:
        row = await uow.conversations.load(ADA, "link")
        assert row is not None and row.state == "platform"
        await uow.commit()
    assert await durable_state(db) == "platform"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_deferred_write_waits_on_when_the_unit_carrying_it_rolls_back(
        db: Database) -> None:
    db.defer(start_conversation)
    async with db.unit_of_work() as uow:
        assert await uow.conversations.load(ADA, "link") is not None
        # no commit: the unit rolls back, and the deferred write with it
    assert await durable_state(db) is None

    async with db.unit_of_work() as uow:
        await uow.commit()
    assert await durable_state(db) == "platform"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_deferred_write_is_committed_soon_when_no_unit_of_work_comes(
        db: Database) -> None:
    db.defer(start_conversation)
    for _ in range(50):
        await asyncio.sleep(DEFER_SECONDS)
        if await durable_state(db) == "platform":
            break
    assert await durable_state(db) == "platform"


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_stopping_commits_what_was_deferred(database_url: str) -> None:
    database = Database(database_url, lambda: NOW)
    await database.migrate()
    async with database.unit_of_work() as uow:
        await uow.users.seen(ADA, "Ada", None, NOW)
        await uow.commit()
    database.defer(start_conversation)
    await database.dispose()

    reopened = Database(database_url, lambda: NOW)
    try:
        assert await durable_state(reopened) == "platform"
    finally:
        await reopened.dispose()


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_deferred_write_that_fails_is_dropped_without_sinking_its_carrier(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    async def broken(uow: UnitOfWork) -> None:
        await uow.conversations.save(ConversationRow(ADA, "link", "x", {}, 7), "y", {}, NOW)

    db.defer(broken)  # a stale version: the write raises
    with caplog.at_level(logging.ERROR, logger="storage.uow"):
        async with db.unit_of_work() as uow:
            await start_conversation(uow)
            await uow.commit()
    assert await durable_state(db) == "platform"
    assert "deferred write failed" in caplog.text


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_statements_run_without_a_thread_of_their_own(db: Database) -> None:
    before = {t.ident for t in threading.enumerate()}
    for _ in range(3):
        async with db.unit_of_work() as uow:
            await uow.conversations.load(ADA, "link")
            await uow.commit()
    assert {t.ident for t in threading.enumerate()} <= before


# --- The statements every update runs, on the driver itself (storage.raw): sqlite3, asyncpg --

DATA = {"platform": "tiktok", "handle": "ada.ads", "scopes": ["a", "b"], "note": "é ✓", "n": None}


async def test_a_hot_write_reads_back_the_same_through_sqlalchemy_and_the_other_way(
        db: Database) -> None:
    # The hot path writes a conversation's JSON and timestamps as SQLAlchemy would: a reader
    # on the other path (another process, a cold query, the async engine) sees the same values.
    async with db.unit_of_work() as uow:
        await uow.conversations.save(
            ConversationRow(ADA, "link", "", {}, 0), "platform", DATA, NOW)
        await uow.commit()
    async with db.engine.connect() as conn:  # SQLAlchemy, through aiosqlite
        stored = (await conn.execute(text(
            "SELECT state, data, version, updated_at FROM conversations WHERE user_id = :u"),
            {"u": ADA})).one()
    assert (stored.state, stored.version) == ("platform", 1)
    async with db.engine.connect() as conn:  # the timestamp as SQLAlchemy's type reads it
        updated_at = (await conn.execute(select(CONVERSATIONS.c.updated_at))).scalar_one()
    assert updated_at == NOW
    async with db.engine.begin() as conn:  # written the other way, read on the hot path
        await conn.execute(text(
            "UPDATE conversations SET data = :d, version = 2 WHERE user_id = :u"),
            {"d": '{"platform": "meta", "list": [1, 2]}', "u": ADA})
    async with db.unit_of_work() as uow:
        loaded = await uow.conversations.load(ADA, "link")
        assert loaded is not None
        saved = await uow.conversations.save(loaded, "prerequisite", DATA, NOW)
        await uow.commit()
    assert loaded == ConversationRow(ADA, "link", "platform", {"platform": "meta", "list": [1, 2]},
                                     2)
    assert saved.version == 3
    async with db.unit_of_work() as uow:
        assert await uow.conversations.load(ADA, "link") == ConversationRow(
            ADA, "link", "prerequisite", DATA, 3)


async def test_hot_and_other_statements_share_one_transaction(db: Database) -> None:
    # A hot statement (the conversation write) and one SQLAlchemy runs itself (the user's
    # erasure) in one unit of work: a rollback takes back both, a commit keeps both.
    for commit in (False, True):
        async with db.unit_of_work() as uow:
            await start_conversation(uow)
            await uow.users.erase(ADA, NOW)
            if commit:
                await uow.commit()
        async with db.unit_of_work() as uow:
            user = await uow.users.get(ADA)
            assert user is not None
            assert user.deleted is commit
        assert await durable_state(db) == ("platform" if commit else None)


async def test_a_stale_hot_write_is_refused_and_nothing_of_its_unit_stays(db: Database) -> None:
    from storage.repositories import StaleWrite

    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        await uow.commit()
    with pytest.raises(StaleWrite):
        async with db.unit_of_work() as uow:
            await uow.users.erase(ADA, NOW)
            await uow.conversations.save(ConversationRow(ADA, "link", "platform", {}, 7),
                                         "prerequisite", {}, NOW)
            await uow.commit()  # on PostgreSQL the write is held, and refused, until here
    async with db.unit_of_work() as uow:
        user = await uow.users.get(ADA)
        assert user is not None and not user.deleted
    assert await durable_state(db) == "platform"


async def test_a_database_error_on_the_hot_path_is_sqlalchemys_and_the_next_unit_works(
        db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    from flows.records import Notice

    with pytest.raises(IntegrityError):  # chat_id is NOT NULL
        async with db.unit_of_work() as uow:
            uow.outbox.add(Notice("message", None, data={"text": "hi"}))  # type: ignore[arg-type]
            await uow.commit()
    async with db.unit_of_work() as uow:
        uow.outbox.add(Notice("message", ADA, data={"text": "hi"}))
        await uow.commit()
        assert [row.chat_id for row in uow.owed] == [ADA]
    async with db.unit_of_work() as uow:
        assert [row.payload for row in await uow.outbox.pending()] == [{"text": "hi"}]


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_transaction_left_open_is_rolled_back_before_the_next_unit_begins(
        db: Database) -> None:
    # A unit of work whose rollback never ran (it failed on the way out) must not leave its
    # writes to be committed by the next one, nor stop it beginning.
    uow = db.unit_of_work()
    await uow.__aenter__()
    await start_conversation(uow)
    await uow._lock.__aexit__(None, None, None)
    async with db.unit_of_work() as second:
        assert await second.conversations.load(ADA, "link") is None
        await second.commit()
    assert await durable_state(db) is None


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_deadlock_on_hot_statements_is_a_race_lost_by_one_side(db: Database) -> None:
    """The versioned conversation write goes to asyncpg directly; a deadlock there is still a
    race lost (StaleWrite, the update is told to try again), as it is through SQLAlchemy."""
    from storage.repositories import StaleWrite

    bob = ADA + 1
    async with db.unit_of_work() as uow:
        await uow.users.seen(bob, "Bob", None, NOW)
        for user in (ADA, bob):
            await uow.conversations.save(ConversationRow(user, "link", "", {}, 0),
                                         "platform", {}, NOW)
        await uow.commit()
    processes = [Database(db.url, lambda: NOW), Database(db.url, lambda: NOW)]
    both_hold_a_row = asyncio.Barrier(2)

    async def crosswise(process: Database, mine: int, theirs: int, state: str) -> None:
        async with process.unit_of_work() as uow:
            await uow.users.get(mine)
            await uow.conversations.save(ConversationRow(mine, "link", "platform", {}, 1),
                                         state, {}, NOW)
            # On PostgreSQL the write is held; reading its table sends it: the row is held now.
            await uow.conversations.load(mine, "prerequisites")
            await both_hold_a_row.wait()
            await uow.conversations.save(ConversationRow(theirs, "link", "platform", {}, 1),
                                         state, {}, NOW)
            await uow.commit()

    try:
        results = await asyncio.gather(crosswise(processes[0], ADA, bob, "handle"),
                                       crosswise(processes[1], bob, ADA, "summary"),
                                       return_exceptions=True)
    finally:
        for process in processes:
            await process.dispose()
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "StaleWrite"]
    assert any(isinstance(r, StaleWrite) and "deadlock" in str(r) for r in results)
    winner = "handle" if results[0] is None else "summary"
    async with db.unit_of_work() as uow:
        for user in (ADA, bob):
            row = await uow.conversations.load(user, "link")
            assert row is not None and (row.state, row.version) == (winner, 2)


async def test_a_constraint_broken_by_a_hot_statement_is_sqlalchemys_integrity_error(
        db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        await uow.commit()
    with pytest.raises(IntegrityError):  # state is NOT NULL
        async with db.unit_of_work() as uow:
            # Refused at once on SQLite, at the commit on PostgreSQL (which held the write).
            await uow.conversations.save(ConversationRow(ADA, "link", "platform", {}, 1),
                                         None, {}, NOW)  # type: ignore[arg-type]
            await uow.commit()
    assert await durable_state(db) == "platform"


@pytest.mark.parametrize("count", [1, 3, 8, 9])
async def test_owed_messages_are_written_in_the_order_they_were_owed(
        db: Database, count: int) -> None:
    # Up to eight go in one INSERT whose RETURNING order is not promised; the ids must still
    # follow the order owed, or a chat's messages would go out shuffled.
    from flows.records import Notice

    async with db.unit_of_work() as uow:
        for n in range(count):
            uow.outbox.add(Notice("message", ADA + n % 2, data={"n": n}))
        await uow.commit()
        owed = uow.owed
    assert [row.payload["n"] for row in owed] == list(range(count))
    assert [row.id for row in owed] == sorted(row.id for row in owed)
    async with db.unit_of_work() as uow:
        stored = {row.id: row.payload["n"] for row in await uow.outbox.pending()}
    assert [stored[row.id] for row in owed] == list(range(count))


async def test_every_timestamp_of_the_owed_messages_is_written_as_given(db: Database) -> None:
    # Each row carries two instants (now, and its lease's end) among its columns; the hot path
    # formats each once and reuses it, and no row may get the other's.
    from flows.records import Notice
    from storage.repositories import LEASE, OUTBOX

    async with db.unit_of_work() as uow:
        for n in range(3):
            uow.outbox.add(Notice("message", ADA, data={"n": n}))
        await uow.commit()
    async with db.engine.connect() as conn:  # read back through SQLAlchemy's own types
        rows = (await conn.execute(select(
            OUTBOX.c.next_at, OUTBOX.c.created_at, OUTBOX.c.claimed_until))).all()
    assert rows == [(NOW, NOW, NOW + LEASE)] * 3


async def server_connections(db: Database) -> int:
    """Connections the PostgreSQL server has open to this database, this one excluded."""
    async with db.engine.connect() as conn:
        return int((await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"))).scalar_one())


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_kept_connection_the_server_dropped_is_replaced(db: Database) -> None:
    # Units of work keep their connections between them; one the server closed meanwhile (a
    # restart, an operator's pg_terminate_backend) must not fail the next update.
    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        await uow.commit()
    async with db.engine.connect() as conn:
        await conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    await asyncio.sleep(0.2)  # idle time between updates, in which the loop sees the close
    async with db.unit_of_work() as uow:
        row = await uow.conversations.load(ADA, "link")
        assert row is not None
        await uow.conversations.save(row, "handle", {}, NOW)
        await uow.commit()
    assert await durable_state(db) == "handle"


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_units_of_work_at_once_share_a_bounded_set_of_connections(db: Database) -> None:
    from storage.db import POSTGRES_CONNECTIONS

    counts: list[int] = []

    async def one(n: int) -> None:
        async with db.unit_of_work() as uow:
            await uow.questions.set(ADA + n, n)
            await asyncio.sleep(0.01)  # hold the connection while the others want one
            await uow.commit()

    await asyncio.gather(*(one(n) for n in range(3 * POSTGRES_CONNECTIONS)))
    counts.append(await server_connections(db))
    async with db.unit_of_work() as uow:
        assert [await uow.questions.get(ADA + n) for n in range(3 * POSTGRES_CONNECTIONS)] \
            == list(range(3 * POSTGRES_CONNECTIONS))
    # All done, none lost; the connections stay open for the next units, and no more than
    # the set's size (the check's own connection is not counted).
    assert counts == [POSTGRES_CONNECTIONS]


# --- Held writes (PostgreSQL): an update's writes go at its commit, in one statement ----------


async def inbox_and_outbox(db: Database) -> tuple[list[int], list[int]]:
    """The update ids marked and the chats owed a message, as another connection reads them."""
    async with db.engine.connect() as conn:
        marked = (await conn.execute(text("SELECT update_id FROM inbox ORDER BY 1"))).scalars()
        owed = (await conn.execute(text("SELECT chat_id FROM outbox ORDER BY id"))).scalars()
        return list(marked), list(owed)


async def test_an_updates_writes_are_kept_together_or_not_at_all(db: Database) -> None:
    # The inbox mark, the conversation write and an owed message: a stale conversation write
    # (found at once on SQLite, at the commit on PostgreSQL) keeps none of them; a fresh one
    # keeps all three.
    from flows.records import Notice
    from storage.repositories import StaleWrite

    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        await uow.commit()
    for read_version, update_id in ((7, 501), (1, 502)):
        try:
            async with db.unit_of_work() as uow:
                assert await uow.inbox.record_done(update_id, ADA, NOW)
                await uow.conversations.save(
                    ConversationRow(ADA, "link", "platform", {}, read_version), "prerequisite",
                    {"step": update_id}, NOW)
                uow.outbox.add(Notice("message", ADA + update_id, data={"text": "next"}))
                await uow.commit()
                owed = uow.owed
        except StaleWrite:
            assert read_version == 7
            assert await inbox_and_outbox(db) == ([], [])
            assert await durable_state(db) == "platform"
        else:
            assert read_version == 1
            assert [row.chat_id for row in owed] == [ADA + 502]
            assert await inbox_and_outbox(db) == ([502], [ADA + 502])
            assert await durable_state(db) == "prerequisite"


async def test_a_unit_of_work_reads_its_own_writes_and_may_write_a_row_twice(
        db: Database) -> None:
    # Held writes on PostgreSQL: a second write to the same table, or a read of it, sends
    # what is held first (the writes of one statement would not see each other).
    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        second = await uow.conversations.save(ConversationRow(ADA, "link", "platform", {}, 1),
                                              "prerequisite", {}, NOW)
        await uow.conversations.save(second, "handle", {"n": 2}, NOW)
        seen = await uow.conversations.load(ADA, "link")
        assert seen is not None and (seen.state, seen.version) == ("handle", 3)
        await uow.commit()
    async with db.unit_of_work() as uow:
        row = await uow.conversations.load(ADA, "link")
    assert row is not None and (row.state, row.data, row.version) == ("handle", {"n": 2}, 3)


async def test_a_redelivery_found_at_the_commit_keeps_nothing(db: Database) -> None:
    # The same update twice: the second is refused at once (SQLite), or its handlers run and
    # the commit finds the mark (PostgreSQL, which held it): nothing of it stays either way.
    from flows.records import Notice
    from storage.repositories import AlreadyDone

    async with db.unit_of_work() as uow:
        assert await uow.inbox.record_done(601, ADA, NOW)
        await uow.commit()
    try:
        async with db.unit_of_work() as uow:
            if await uow.inbox.record_done(601, ADA, NOW):
                await start_conversation(uow)
                uow.outbox.add(Notice("message", ADA, data={"text": "twice?"}))
                await uow.commit()
    except AlreadyDone:
        assert db.engine.dialect.name == "postgresql"
    else:
        assert db.engine.dialect.name == "sqlite"
    assert await inbox_and_outbox(db) == ([601], [])
    assert await durable_state(db) is None


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_an_update_that_reads_then_writes_takes_two_round_trips(db: Database) -> None:
    # The ban gate's read (which brings the conversation along), then the inbox mark, the
    # versioned write and an owed message in one statement that commits on its own: no BEGIN,
    # no COMMIT. Counted by asyncpg's own query log on the unit of work's connection.
    from flows.records import Notice

    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        await uow.commit()
    sent: list[str] = []

    def log(record: object) -> None:
        sent.append(str(getattr(record, "query", "")))

    for update_id, state in ((701, "prerequisite"), (702, "handle")):
        sent.clear()  # the first time round, asyncpg also prepares and learns types, once
        async with db.unit_of_work() as uow:
            driver = uow._conn._driver  # type: ignore[union-attr]  # asyncpg, under the unit
            driver.add_query_logger(log)
            try:
                assert not await uow.bans.turned_away(ADA, ["link"])
                row = await uow.conversations.load(ADA, "link")
                assert row is not None
                assert await uow.inbox.record_done(update_id, ADA, NOW)
                await uow.conversations.save(row, state, {}, NOW)
                uow.outbox.add(Notice("message", ADA, data={"text": "next"}))
                await uow.commit()
                await asyncio.sleep(0)  # query loggers are called soon after, not at once
            finally:
                driver.remove_query_logger(log)
    assert len(sent) == 2, "\n".join(q[:60] for q in sent)
    assert sent[0].lstrip().startswith("SELECT") and sent[1].lstrip().startswith("WITH")
    assert await inbox_and_outbox(db) == ([701, 702], [ADA, ADA])
    assert await durable_state(db) == "handle"


async def test_a_read_sent_ahead_is_taken_once_and_never_over_a_write_it_missed(
        db: Database, backend: str) -> None:
    # The gate's read is sent before the update is parsed (on PostgreSQL; SQLite runs it when
    # asked). The gate asking the same takes that answer without a round trip of its own;
    # anything else waits for it first, and a write held since makes the gate read again.
    sent: list[str] = []

    def log(record: object) -> None:
        sent.append(str(getattr(record, "query", "")))

    async def reads(uow: UnitOfWork) -> int:
        for _ in range(20):  # the query log is told once a statement is answered
            await asyncio.sleep(0.01)
        return sum(q.lstrip().startswith("SELECT") for q in sent)

    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        await uow.commit()
    async with db.unit_of_work() as uow:  # the same read: answered once
        if backend == "postgresql":
            uow._conn._driver.add_query_logger(log)  # type: ignore[union-attr]
        await uow.bans.read_ahead(ADA, ["link"], ADA)
        if backend == "postgresql":
            assert await reads(uow) == 1  # answered with nobody asking yet
        assert await uow.bans.turned_away(ADA, ["link"], ADA) is False
        row = await uow.conversations.load(ADA, "link")
        assert row is not None and row.state == "platform"
        if backend == "postgresql":
            assert await reads(uow) == 1
            uow._conn._driver.remove_query_logger(log)  # type: ignore[union-attr]
    async with db.unit_of_work() as uow:  # another read first: it waits, then runs
        await uow.bans.read_ahead(ADA, ["link"], ADA)
        assert await uow.conversations.load(ADA, "prerequisites") is None
        assert await uow.bans.turned_away(ADA, ["link"], ADA) is False
        row = await uow.conversations.load(ADA, "link")
        assert row is not None and row.state == "platform"
    async with db.unit_of_work() as uow:  # a write held meanwhile: the gate sees it
        await uow.bans.read_ahead(ADA, ["link"], ADA)
        assert row is not None
        saved = await uow.conversations.save(row, "prerequisite", {}, NOW)
        assert await uow.bans.turned_away(ADA, ["link"], ADA) is False
        assert await uow.conversations.load(ADA, "link") == saved
        await uow.commit()
    async with db.unit_of_work() as uow:  # sent and never asked for: the unit ends cleanly
        await uow.bans.read_ahead(ADA, ["link"], ADA)
    for _ in range(3):  # ... and the connection serves the next units
        async with db.unit_of_work() as uow:
            await uow.bans.read_ahead(ADA, ["link"], ADA)
            assert await uow.inbox.record_done(900 + _, ADA, NOW)
            await uow.commit()
        async with db.unit_of_work() as uow:
            assert await uow.bans.turned_away(ADA, ["link"], ADA) is False
            assert (await uow.conversations.load(ADA, "link")) == saved
    assert await durable_state(db) == "prerequisite"


async def test_a_write_back_forgets_the_sent_rows_and_keeps_each_chats_newest_question(
        db: Database) -> None:
    # After messages go out, their rows are forgotten and each chat's newest question
    # remembered (or forgotten, when it has no buttons to take off later); on PostgreSQL all
    # of it is one statement, however many chats a merged write-back covers.
    from flows.records import Notice

    async with db.unit_of_work() as uow:
        await uow.questions.set(ADA, 3)
        await uow.questions.set(ADA + 1, 4)
        for chat in (ADA, ADA, ADA + 1):
            uow.outbox.add(Notice("message", chat, data={}))
        await uow.commit()
        owed = uow.owed
    async with db.unit_of_work() as uow:
        await uow.outbox.sent([row.id for row in owed if row.chat_id == ADA],
                              live_questions={ADA: 9, ADA + 1: None, ADA + 2: 11})
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert [await uow.questions.get(ADA + n) for n in range(3)] == [9, None, 11]
        assert [row.chat_id for row in await uow.outbox.pending()] == [ADA + 1]


# --- Group commit (SQLite): units of work that queue behind one another share one COMMIT ------


def stored_questions(database_url: str, chats: range) -> dict[int, int | None]:
    """Each chat's live question as another process reads the file at this instant."""
    from storage.db import sqlite_file

    path = sqlite_file(database_url)
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as conn:
        found = dict(conn.execute("SELECT chat_id, message_id FROM live_questions").fetchall())
    return {n: found.get(ADA + n) for n in chats}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_units_of_work_in_line_share_a_commit_and_none_ends_before_it(
        db: Database, database_url: str) -> None:
    after_commit: dict[int, int | None] = {}
    at_end: dict[int, int | None] = {}

    async def one(n: int) -> None:
        async with db.unit_of_work(others_follow=True) as uow:
            await uow.questions.set(ADA + n, n)
            await uow.commit()
            after_commit[n] = stored_questions(database_url, range(n, n + 1))[n]
        at_end[n] = stored_questions(database_url, range(n, n + 1))[n]

    await asyncio.gather(*(one(n) for n in range(5)))
    # The first four found others in line and left their work to the group; the fifth, with
    # nobody behind it, committed all five. No unit of work ended before its work was durable.
    assert after_commit == {0: None, 1: None, 2: None, 3: None, 4: 4}
    assert at_end == {n: n for n in range(5)}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_unit_of_work_that_fails_in_a_group_takes_back_only_its_own_writes(
        db: Database, database_url: str) -> None:
    class Boom(Exception):
        pass

    async def one(n: int) -> None:
        async with db.unit_of_work(others_follow=True) as uow:
            await uow.questions.set(ADA + n, n)
            if n in (0, 2):  # the one that opened the transaction, and one inside the group
                raise Boom
            await uow.commit()

    results = await asyncio.gather(*(one(n) for n in range(5)), return_exceptions=True)
    assert [type(r).__name__ for r in results] == ["Boom", "NoneType", "Boom", "NoneType",
                                                  "NoneType"]
    assert stored_questions(database_url, range(5)) == {0: None, 1: 1, 2: None, 3: 3, 4: 4}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_a_long_line_of_units_of_work_is_committed_in_bounded_groups(
        db: Database, database_url: str) -> None:
    from storage.uow import GROUP_MAX

    durable_at_end: list[bool] = []

    async def one(n: int) -> None:
        async with db.unit_of_work(others_follow=True) as uow:
            await uow.questions.set(ADA + n, n)
            await uow.commit()
        durable_at_end.append(stored_questions(database_url, range(n, n + 1))[n] == n)

    count = 2 * GROUP_MAX + 3
    await asyncio.gather(*(one(n) for n in range(count)))
    assert durable_at_end == [True] * count
    assert stored_questions(database_url, range(count)) == {n: n for n in range(count)}


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_the_write_ahead_log_is_kept_small_by_a_thread_not_by_commits(
        db: Database, database_url: str) -> None:
    # Commits leave the log to a thread of its own (storage.db.Checkpointer), so no update
    # waits for a thousand pages to be copied; the log must still not grow without end.
    from pathlib import Path

    from storage.db import CHECKPOINT_SECONDS, sqlite_file

    path = sqlite_file(database_url)
    assert path is not None
    wal = Path(path + "-wal")
    async with db.unit_of_work() as uow:
        await start_conversation(uow)
        await uow.commit()
    for n in range(6000):
        async with db.unit_of_work() as uow:
            row = await uow.conversations.load(ADA, "link")
            assert row is not None
            await uow.conversations.save(row, "platform", {"n": n, "pad": "x" * 2000}, NOW)
            await uow.commit()
        if n % 500 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(2 * CHECKPOINT_SECONDS)
    # 6,000 commits of a few pages each would be tens of MiB of log with nothing copying it.
    assert wal.stat().st_size < 16 * 2**20
    async with db.unit_of_work() as uow:
        row = await uow.conversations.load(ADA, "link")
        assert row is not None and row.data["n"] == 5999


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_the_polling_bot_writes_back_many_presses_in_one_statement(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # On PostgreSQL the polling bot is alone on its database: an update takes its read and one
    # statement with all its writes; what sending its reply taught the bot (the row sent, the
    # chat's new question) waits, merged with the other updates', for one statement more.
    # Counted by asyncpg's own query log on every connection the bot opens.
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    import storage.uow

    monkeypatch.setattr(storage.uow, "DEFER_SECONDS", 60.0)  # lands when flushed, below
    people = [world.person(5001 + n, f"P{n}") for n in range(4)]
    sent: list[str] = []

    def log_queries(dbapi_connection: Any, _record: object) -> None:
        dbapi_connection._connection.add_query_logger(
            lambda record: sent.append(" ".join(str(record.query).split())))

    async def logged() -> list[str]:
        for _ in range(3):
            await asyncio.sleep(0)  # asyncpg tells its query loggers on a later turn
        got = sent[:]
        sent.clear()
        return got

    def written_back(queries: list[str]) -> list[str]:
        return [q for q in queries if "DELETE FROM outbox" in q]

    event.listen(Pool, "connect", log_queries)
    try:
        await world.restart()  # connections opened from here on are logged
        await world.person(5000, "Warm").send("/help")  # asyncpg learns its types once
        await world.deps.db.flush_deferred()
        await logged()
        for person in people:
            await person.send("/link")
        await world.deps.db.flush_deferred()
        links = await logged()
        for person in people:
            await person.press("TikTok")
            assert "check 1 of 3" in person.last.plain
        await world.deps.db.flush_deferred()
        presses = await logged()
    finally:
        event.remove(Pool, "connect", log_queries)
    # /link from someone new: the gate's read brings both conversations it looks at (the link
    # walk's and the prerequisites confirmed before) and the chat's previous question (whose
    # buttons would come off before a new one is asked), then one write.
    rest = [q for q in links if q not in written_back(links)]
    assert len(rest) == 2 * len(people), "\n".join(q[:70] for q in rest)
    assert len(written_back(links)) == 1
    rest = [q for q in presses if q not in written_back(presses)]
    assert len(rest) == 2 * len(people), "\n".join(q[:70] for q in rest)
    assert len(written_back(presses)) == 1
    async with world.deps.db.unit_of_work() as uow:
        assert await uow.outbox.pending() == []  # every reply sent and written back
        assert [await uow.questions.get(p.user_id) for p in people] == [
            p.last.message_id for p in people]
