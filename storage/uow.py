"""Units of work: one connection and one transaction per update, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import create_engine, migrate
from storage.repositories import (
    Audit,
    Cards,
    Claims,
    Conversations,
    Grants,
    Knowledge,
    Requests,
    Users,
)


class UnitOfWork:
    """A transaction with the repositories bound to it; `commit()` or it rolls back."""

    users: Users
    conversations: Conversations
    requests: Requests
    claims: Claims
    grants: Grants
    audit: Audit
    cards: Cards
    knowledge: Knowledge

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> UnitOfWork:
        conn = await self._engine.connect()
        await conn.begin()
        self._conn = conn
        self.users = Users(conn)
        self.conversations = Conversations(conn)
        self.requests = Requests(conn)
        self.claims = Claims(conn)
        self.grants = Grants(conn)
        self.audit = Audit(conn)
        self.cards = Cards(conn)
        self.knowledge = Knowledge(conn)
        return self

    async def commit(self) -> None:
        """Make this unit's writes durable."""
        assert self._conn is not None
        await self._conn.commit()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                await self._conn.rollback()
        finally:
            await self._conn.close()
            self._conn = None


class Database:
    """The engine and the way to open units of work on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    async def migrate(self) -> None:
        await migrate(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()
