"""SQLite for the async engine, called on the event loop's own thread.

aiosqlite runs every statement on a thread of its own and wakes the event loop when it is
done: a button press (five statements and a commit, plus the outbox's delete) made a dozen
thread hops, and waiting for them was the largest single cost per update. A statement on a
local SQLite file takes tens of microseconds, less than one hop, so this module hands
SQLAlchemy's aiosqlite dialect (``async_creator``) connection and cursor objects whose
coroutines run the standard ``sqlite3`` module inline and never suspend.

What it costs: a statement blocks the event loop while it runs. Within one process that is
never long, because units of work take turns on an asyncio lock (see ``storage.uow``) before
they touch SQLite. Another process holding SQLite's write lock (a ``linkpilot kb learn`` run
while the bot is up) makes a statement wait up to the busy timeout with the loop blocked; SQLite
is the single-process backend, and PostgreSQL is the one for several workers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.engine import URL


class InlineCursor:
    """The subset of aiosqlite's cursor SQLAlchemy's adapter calls, without the thread."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, seq)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """The subset of aiosqlite's connection SQLAlchemy's adapter calls, without the thread.

    The connection is opened in autocommit mode (``isolation_level=None``): the engine issues
    BEGIN IMMEDIATE itself (see ``storage.db``).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        # The adapter checks this attribute before commit and rollback (it is aiosqlite's
        # handle on the sqlite3 connection, None once closed).
        self._connection: sqlite3.Connection | None = conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        """Close at once (the pool's terminate); there is no thread to stop."""
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def creator(url: URL) -> Any:
    """An ``async_creator`` for ``create_async_engine`` opening the URL's SQLite database."""
    database = url.database or ":memory:"
    uri = database.startswith("file:")

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(database, isolation_level=None, uri=uri,
                                                check_same_thread=True))

    return connect
