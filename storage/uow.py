"""Units of work: one connection and one transaction, rolled back unless committed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import create_engine, migrate
from storage.repositories import (
    Audit,
    Blocks,
    Cards,
    Claims,
    Conversations,
    Grants,
    Inbox,
    Knowledge,
    LiveQuestions,
    Outbox,
    OutboxRow,
    Requests,
    Users,
)
from storage.trust import Bans, ClaimChanges, ClaimHistory, Logins, OperatorLog, Trail


def _utc_now() -> datetime:
    return datetime.now(UTC)


class UnitOfWork:
    """A transaction with the repositories bound to it; `commit()` or it rolls back.

    Implements `flows.ports.UnitOfWork`. Messages owed through `outbox.add` are written by
    `commit()` in the same transaction; `outbox.written` lists them afterwards, for sending.
    """

    users: Users
    conversations: Conversations
    requests: Requests
    claims: Claims
    grants: Grants
    audit: Audit
    cards: Cards
    knowledge: Knowledge
    inbox: Inbox
    outbox: Outbox
    questions: LiveQuestions
    blocks: Blocks
    # Trust (issue 11).
    logins: Logins
    claim_changes: ClaimChanges
    claim_history: ClaimHistory
    operator_log: OperatorLog
    bans: Bans
    trail: Trail

    def __init__(self, engine: AsyncEngine, write_lock: asyncio.Lock | None,
                 clock: Callable[[], datetime], worker: str = "main") -> None:
        self._engine = engine
        self._worker = worker
        self._lock: AbstractAsyncContextManager[object] = write_lock or nullcontext()
        self._clock = clock
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> UnitOfWork:
        await self._lock.__aenter__()
        try:
            conn = await self._engine.connect()
            await conn.begin()
        except BaseException:
            await self._lock.__aexit__(None, None, None)
            raise
        self._conn = conn
        self.users = Users(conn)
        self.conversations = Conversations(conn)
        self.requests = Requests(conn)
        self.claims = Claims(conn)
        self.grants = Grants(conn)
        self.audit = Audit(conn)
        self.cards = Cards(conn)
        self.knowledge = Knowledge(conn)
        self.inbox = Inbox(conn)
        self.outbox = Outbox(conn, self._worker)
        self.questions = LiveQuestions(conn)
        self.blocks = Blocks(conn)
        # Trust (issue 11).
        self.logins = Logins(conn)
        self.claim_changes = ClaimChanges(conn)
        self.claim_history = ClaimHistory(conn)
        self.operator_log = OperatorLog(conn)
        self.bans = Bans(conn)
        self.trail = Trail(conn)
        return self

    async def commit(self) -> None:
        """Write the owed messages, then make this unit's writes durable, all or nothing."""
        assert self._conn is not None
        await self.outbox.flush(self._clock())
        await self._conn.commit()

    @property
    def owed(self) -> list[OutboxRow]:
        """The outbox rows the commit wrote."""
        return self.outbox.written

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            try:
                await self._conn.close()
            finally:
                self._conn = None
                await self._lock.__aexit__(None, None, None)


class Database:
    """The engine and the way to open units of work on it.

    SQLite allows one writer at a time; units of work in this process queue for it on an
    asyncio lock (first come, first served) instead of spinning on SQLite's busy timeout.
    """

    def __init__(self, url: str, clock: Callable[[], datetime] = _utc_now,
                 worker: str = "main") -> None:
        self.url = url
        self.engine = create_engine(url)
        self.clock = clock
        self.worker = worker  # this process's name among the workers sharing the database
        self._write_lock = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine, self._write_lock, self.clock, self.worker)

    async def migrate(self) -> None:
        await migrate(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()
