"""The cheap path an update takes through storage: SQLite called on the event loop's own thread,
and write-backs that ride on the next unit of work (`Database.defer`) instead of a transaction
of their own. These are promises about what is durable and what a reader sees, checked on a
real SQLite file (and, where PostgreSQL behaves differently, on a real PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from flows.records import ConversationRow
from storage.uow import DEFER_SECONDS, Database, UnitOfWork
from tests.conftest import BACKENDS

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


async def test_postgresql_never_defers_a_write(db: Database, backend: str) -> None:
    # Another worker may read next on PostgreSQL, so write-backs are written at once there.
    assert db.defers_writes is (backend == "sqlite")


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
