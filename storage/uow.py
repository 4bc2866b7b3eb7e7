"""Units of work: one connection and one transaction, rolled back unless committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import (
    LOST_RACE_SQLSTATES,
    POSTGRES_CONNECTIONS,
    create_engine,
    create_inline_engine,
    migrate,
)
from storage.raw import (
    EXPECT_SQLSTATE,
    Otherwise,
    RawResult,
    RawStatement,
    check_count,
    combined,
    compiled_for,
    refused,
)
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
    SparkCodes,
    Users,
)
from storage.teams import Teams
from storage.trust import Bans, ClaimChanges, ClaimHistory, Logins, OperatorLog, Trail

logger = logging.getLogger(__name__)

# A write that may wait for the next unit of work in this process (see `Database.defer`).
Deferred = Callable[["UnitOfWork"], Awaitable[None]]
# Told once every later unit of work of this process sees a deferred write.
Landed = Callable[[], None]
Queued = tuple[Deferred, Landed | None]
# How long a unit of work waits for a PostgreSQL connection when all are busy (SQLAlchemy's
# pool default).
POOL_TIMEOUT = 30.0
# How long a deferred write waits at most when no unit of work comes along to carry it.
DEFER_SECONDS = 0.2


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DeferredWrites:
    """Writes queued for a later unit of work of this process.

    On SQLite the next unit of work carries them: it runs them first, before it reads
    anything, so everything this process reads afterwards sees them; they become durable with
    that unit's commit, or go back in the queue when it rolls back. On PostgreSQL (one polling
    process, see `Database`) no unit carries them: a unit of work there holds its writes for
    one combined statement, which a write-back to the same tables would break up, so they wait
    for a unit of their own. Either way a timer makes sure they are committed within
    DEFER_SECONDS, and all that waited meanwhile go in one unit.

    A write may come with `landed`, called once every later unit of work of this process sees
    it (on SQLite when its carrier commits, on PostgreSQL when its own unit commits).
    """

    def __init__(self, db: Database, *, carried: bool) -> None:
        self._db = db
        self.carried = carried  # whether any unit of work carries them (else only `flush`)
        self._writes: list[Queued] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._writes)

    def add(self, write: Deferred, landed: Landed | None = None) -> None:
        self._writes.append((write, landed))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(DEFER_SECONDS, self._on_timer)

    def take(self) -> list[Queued]:
        writes, self._writes = self._writes, []
        return writes

    def put_back(self, writes: list[Queued]) -> None:
        self._writes[:0] = writes
        if self._writes and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(DEFER_SECONDS, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._writes and self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush_logged())

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:
            logger.exception("deferred writes not flushed; retrying later")
            self.put_back([])
        finally:
            self._flushing = None

    async def flush(self) -> None:
        """Commit the queued writes now (on their own, when no other unit of work carried
        them)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        running = self._flushing
        if running is not None and running is not asyncio.current_task():
            await running  # the timer's flush, under way: it ends before the engine may close
        while self._writes:
            async with self._db.unit_of_work(carry=True) as uow:
                await uow.commit()

    async def apply(self, uow: UnitOfWork) -> list[Queued]:
        writes = self.take()
        for write, _ in writes:
            try:
                await write(uow)
            except Exception:
                # A write-back that no longer applies (its rows gone) must not sink the update
                # that carries it; it is dropped, as if the process had stopped before it.
                logger.exception("a deferred write failed and was dropped")
        return writes

    @staticmethod
    def landed(writes: list[Queued]) -> None:
        for _, landed in writes:
            if landed is not None:
                landed()


class WriteTurns:
    """SQLite's one writer at a time, for the units of work of this process: an asyncio lock
    (first come, first served) that knows how many units wait for it, which is what decides
    whether a unit's commit is grouped with the next ones' (see `InlineConnection`)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.waiting = 0
        # Called when a waiter gives up (cancelled) and nobody holds the lock: a group left
        # open for it must not stay open.
        self.on_idle: Callable[[], None] | None = None

    async def __aenter__(self) -> None:
        self.waiting += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self.waiting -= 1
            if not self._lock.locked() and self.on_idle is not None:
                self.on_idle()
            raise
        self.waiting -= 1

    async def __aexit__(self, *_exc: object) -> None:
        self._lock.release()


# At most this many units of work share one commit (see InlineConnection).
GROUP_MAX = 32


class InlineConnection:
    """What repositories see of a SQLite unit of work's connection: the async interface they
    use (`execute`, `dialect`), served on the event loop's thread by one synchronous Connection
    that lives as long as the Database (see `storage.db.create_inline_engine`; units of work
    take turns on it, under the Database's `WriteTurns`).

    The transaction is begun and ended on the driver: BEGIN IMMEDIATE, COMMIT. The statements
    marked hot run on the driver's cursor (see `storage.raw`); any other statement runs through
    SQLAlchemy on the same connection and transaction (SQLAlchemy's own begin then finds the
    driver in a transaction and leaves it be, and its commit and rollback leave the driver to
    us, see `storage.db`).

    Group commit: when other units of work are waiting for the write lock as one commits, its
    transaction is left open for them and its commit becomes a savepoint's release; each of
    them runs in a savepoint of its own (so one that fails rolls back alone), and the last of
    the group, the one nobody waits behind (or the GROUP_MAX-th), commits for all. A unit of
    work's end (`UnitOfWork.__aexit__`) waits for that commit, so nothing it owes is sent
    before it is durable. Alone, a unit commits at once, as it always did."""

    def __init__(self, url: str, turns: WriteTurns) -> None:
        engine, self._checkpointer = create_inline_engine(url)
        self._engine = engine
        self._turns = turns
        turns.on_idle = self._commit_group_if_idle
        self.dialect: Dialect = engine.dialect
        self._conn: Connection | None = None
        self._driver: Any = None  # the sqlite3 connection under self._conn
        self._cursor: Any = None
        # Units whose work is released into the open transaction, waiting for its commit.
        self._group: list[asyncio.Future[None]] = []
        self._nested = False  # this unit runs in a savepoint of the group's transaction
        self._open = False  # this unit has begun and neither committed nor rolled back
        self._released = False  # this unit's work waits in the group for the commit

    def _database_error(self, sql: str, parameters: Any, error: Exception) -> Exception:
        # Raised as SQLAlchemy raises it, so callers see one kind of database error.
        return DBAPIError.instance(sql, parameters, error, self.dialect.loaded_dbapi.Error)

    def _driver_sql(self, sql: str) -> None:
        try:
            self._cursor.execute(sql)
        except self.dialect.loaded_dbapi.Error as error:
            raise self._database_error(sql, None, error) from error

    def begin(self) -> None:
        if self._conn is None:
            conn = self._engine.connect()
            self._driver = conn.connection.dbapi_connection
            self._cursor = self._driver.cursor()
            self._conn = conn
            if self._checkpointer is not None:
                self._checkpointer.start()
        self._end_sqlalchemy_record()
        self._released = False
        if self._group and self._driver.in_transaction:
            self._driver_sql("SAVEPOINT unit")  # joins the group's transaction
            self._nested = True
        else:
            if self._driver.in_transaction:  # left open by a unit of work that failed to end
                self._driver.rollback()
            self._fail_group(None)
            self._driver_sql("BEGIN IMMEDIATE")
            self._nested = False
        self._open = True

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        assert self._conn is not None
        raw = compiled_for(statement, self.dialect)
        if raw is None:
            return self._conn.execute(statement, parameters)
        try:
            return raw.run(self._cursor, parameters)
        except self.dialect.loaded_dbapi.Error as error:
            raise self._database_error(raw.sql, parameters, error) from error

    def in_transaction(self) -> bool:
        """Whether this unit of work has begun and not yet committed or rolled back."""
        return self._open

    async def get_raw_connection(self) -> Any:
        assert self._conn is not None
        return self._conn.connection

    def _end_sqlalchemy_record(self, commit: bool = False) -> None:
        # SQLAlchemy's record of a transaction it joined; ending it leaves the driver alone.
        if self._conn is not None and self._conn.in_transaction():
            (self._conn.commit if commit else self._conn.rollback)()

    async def commit(self, others_follow: bool = False) -> None:
        """End the unit's transaction: committed now, or, when other units of work wait for
        the write lock, left to the group (see the class). With `others_follow` (more units
        are about to run), it first lets them line up for the lock."""
        assert self._conn is not None and self._open
        self._end_sqlalchemy_record(commit=True)
        if self._nested:
            self._driver_sql("RELEASE unit")
        self._open = False
        self._released = True  # from here on, this unit's work is committed with the group's
        if others_follow and len(self._group) + 1 < GROUP_MAX:
            # Units run start to end without waiting for anything (SQLite is called inline),
            # so the others reach the lock only if this one yields once.
            await asyncio.sleep(0)
        if self._turns.waiting and len(self._group) + 1 < GROUP_MAX:
            return  # the next unit carries the transaction on
        self._released = False
        self._commit_group()

    def _commit_group(self) -> None:
        """Commit the open transaction: this unit's work and its group's."""
        group, self._group = self._group, []
        try:
            self._driver.commit()
        except self.dialect.loaded_dbapi.Error as error:
            failure = self._database_error("COMMIT", None, error)
            if self._driver.in_transaction:
                self._driver.rollback()
            for waiter in group:
                if not waiter.done():
                    waiter.set_exception(failure)
            raise failure from error
        for waiter in group:
            if not waiter.done():
                waiter.set_result(None)
        if self._checkpointer is not None:
            self._checkpointer.committed(self._cursor)

    def _fail_group(self, error: Exception | None) -> None:
        group, self._group = self._group, []
        for waiter in group:
            if not waiter.done():
                waiter.set_exception(error or RuntimeError(
                    "the transaction this unit of work's commit waited in was lost"))

    async def rollback(self) -> None:
        assert self._conn is not None
        self._end_sqlalchemy_record()
        self._open = False
        if self._nested and self._driver.in_transaction:
            try:
                self._driver_sql("ROLLBACK TO unit")
                self._driver_sql("RELEASE unit")
                return
            except DBAPIError:
                pass  # the savepoint is gone with the transaction: the group failed
        if self._driver.in_transaction:
            self._driver.rollback()
        self._fail_group(None)

    def end_turn(self) -> asyncio.Future[None] | None:
        """The unit of work gives up the write lock: what it released into the group waits for
        the group's commit (the future returned, awaited once the lock is given up); a group
        nobody else will carry on is committed now."""
        if self._released:
            self._released = False
            if self._turns.waiting:
                waiter = asyncio.get_running_loop().create_future()
                self._group.append(waiter)
                return waiter
            self._commit_group()  # the waiters went away meanwhile
        elif self._group and not self._turns.waiting:
            self._commit_group_logged()
        return None

    def _commit_group_logged(self) -> None:
        try:
            self._commit_group()
        except DBAPIError:
            logger.exception("a group commit failed; its units of work were told")

    def _commit_group_if_idle(self) -> None:
        if self._group and not self._open:
            self._commit_group_logged()

    async def close(self) -> None:
        """The unit of work is over; the connection stays for the next one."""

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        if self._conn is not None:
            if self._group:
                self._commit_group_logged()
            self._cursor.close()
            self._conn.close()
            self._conn = self._driver = self._cursor = None
        self._engine.dispose()


T = TypeVar("T")


class _HeldWrite:
    """A write a PostgreSQL unit of work holds for its commit, and the result it will fill."""

    __slots__ = ("expect", "otherwise", "raw", "result", "sql", "values")

    def __init__(self, raw: RawStatement, sql: str, values: list[Any], expect: int | None,
                 otherwise: Otherwise | None) -> None:
        self.raw, self.sql, self.values = raw, sql, values
        self.expect, self.otherwise = expect, otherwise
        self.result = RawResult([], -1)  # filled in when it is sent


class _CountRefused(Exception):
    """`linkpilot_expect` failed a combined statement for this part (see `storage.raw`)."""

    def __init__(self, part: int) -> None:
        super().__init__(part)
        self.part = part


class PostgresConnection:
    """What repositories see of a PostgreSQL unit of work's connection: SQLAlchemy's
    AsyncConnection, except that the statements marked hot (see `storage.raw`) go to asyncpg
    directly: every statement here is a round trip to the server, and SQLAlchemy's async
    layers (a greenlet switch, the driver adapter, its result objects) cost more than the
    round trip itself.

    Round trips, not the server's work, are what an update costs here, so a unit of work
    spends as few as its statements allow:
    - Writes that need no answer before the commit (`storage.raw.write`: the versioned
      conversation write, the inbox mark, the owed messages) are held, and the commit sends
      them as one statement that commits on its own (`storage.raw.combined`): no BEGIN, no
      COMMIT, one round trip for all. A held write that must change one row and does not (a
      stale version) fails the statement, and none of it stays.
    - Until a transaction is begun, a hot read runs on its own, outside one, unless it reads a
      table that a held write writes. PostgreSQL's READ COMMITTED takes a new snapshot for
      every statement anyway, so it reads the same either way.
    - Anything else (a statement SQLAlchemy runs, a hot write whose answer is needed now, a
      second held write to the same table, a read of a table written) begins the transaction
      first and sends what is held into it. Writes are held in a transaction too, under the
      same rules, and the commit sends them as one statement before COMMIT.
    - A unit of work's first read may be sent ahead (`read_ahead`, the gate's), before the
      update is parsed and routed: the server answers it meanwhile.
    An update that reads, then writes its conversation, inbox mark and owed messages takes two
    round trips instead of six; one that needs a transaction (a webhook worker's, which takes
    its chat's lock) takes BEGIN, its reads, one statement of writes and COMMIT.

    It outlives the unit of work: the Database keeps a few idle ones checked out of the pool
    (`PostgresConnections`), so a unit of work pays no pool checkout, return and reset.

    asyncpg has no DB-API transaction: SQLAlchemy's adapter begins one on the first statement
    and so does this class, the same way, so either side joins it. The transaction ends on
    asyncpg (COMMIT, ROLLBACK) unless SQLAlchemy ran a statement in it, in which case
    SQLAlchemy ends it, as it would have done alone."""

    def __init__(self, conn: AsyncConnection, adapter: Any) -> None:
        self._conn = conn
        self.dialect: Dialect = conn.dialect
        self._adapter = adapter  # SQLAlchemy's asyncpg adapter; its asyncpg connection
        self._driver = adapter._connection
        self._held: list[_HeldWrite] = []  # writes waiting for the commit (see the class)
        self._broken = False  # a statement or its end failed outside the database's own errors
        # A read sent ahead (see `read_ahead`): its statement, parameters and answer to come.
        self._ahead: tuple[Any, dict[str, Any], asyncio.Task[Any]] | None = None

    @classmethod
    async def open(cls, engine: AsyncEngine) -> PostgresConnection:
        conn = await engine.connect()
        return cls(conn, (await conn.get_raw_connection()).dbapi_connection)

    @property
    def usable(self) -> bool:
        """Still connected, with no transaction left over: fit for the next unit of work."""
        return not (self._broken or self._conn.closed or self._conn.invalidated
                    or self._driver.is_closed() or self.in_transaction()
                    or self._ahead is not None)

    async def read_ahead(self, statement: Any, parameters: dict[str, Any]) -> None:
        """Send a hot read now, at the start of a unit of work, and return once it is on its
        way: the server answers it while the caller does other work (parsing and routing the
        update), and `execute` with the same statement and parameters takes that answer. Any
        other statement waits for it first. (See `storage.raw.read_ahead`.)"""
        raw = compiled_for(statement, self.dialect)
        if (self._ahead is not None or self.in_transaction() or raw is None or raw.writes
                or raw.locks):
            return
        try:
            sql, values = raw.prepare(parameters)
        except StatementError:
            return  # a value its column refuses: raised when the statement is run for real
        self._ahead = (statement, parameters, asyncio.ensure_future(
            self._run(raw.run_prepared(self._driver, sql, values), sql, parameters)))
        await asyncio.sleep(0)  # the task's first step sends it

    async def settle(self) -> None:
        """Wait for the read sent ahead, if any, to be answered; the answer is dropped (nothing
        asked for it: the statement that would have was not run). A failure that broke the
        connection is seen by the next statement, or by the pool."""
        if self._ahead is None:
            return
        answer = self._ahead[2]
        try:
            await asyncio.wait([answer])
        finally:
            if answer.done():
                self._ahead = None
                if not answer.cancelled():
                    answer.exception()  # seen: asyncio need not log it as never retrieved

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        raw = compiled_for(statement, self.dialect)
        if self._ahead is not None:
            statement_ahead, parameters_ahead, answer = self._ahead
            # The same read, and nothing held since that it would have to see (anything run
            # since would have waited for it and dropped it).
            if (statement_ahead is statement and parameters_ahead == parameters
                    and raw is not None and not self._holds_any(raw.tables)):
                try:
                    return await answer
                finally:
                    self._ahead = None  # answered, or failed (cancelled: the connection broke)
            await self.settle()
        if raw is None or not (parameters is None or isinstance(parameters, dict)):
            await self._begin()
            return await self._conn.execute(statement, parameters)
        if raw.writes or raw.locks or self._holds_any(raw.tables):
            await self._begin()
        sql, values = raw.prepare(parameters or {})
        return await self._run(raw.run_prepared(self._driver, sql, values), sql, parameters)

    async def write(self, statement: Any, parameters: Any, *, expect: int | None = None,
                    otherwise: Otherwise | None = None) -> Any:
        """A write held for the commit when it can be (see the class and `storage.raw.write`);
        its result is filled in by then."""
        raw = compiled_for(statement, self.dialect)
        if (raw is None or not isinstance(parameters, dict)
                or (self._held and not (raw.combinable and self._held[0].raw.combinable
                                        and not self._holds_any(raw.tables)))):
            # Not to be held, or not with what is held: the transaction begins.
            result = await self.execute(statement, parameters)
            check_count(result.rowcount, expect, otherwise)
            return result
        sql, values = raw.prepare(parameters)
        held = _HeldWrite(raw, sql, values, expect, otherwise)
        self._held.append(held)
        return held.result

    def _holds_any(self, tables: frozenset[str]) -> bool:
        """Whether a held write touches any of these tables."""
        return any(not held.raw.tables.isdisjoint(tables) for held in self._held)

    async def _begin(self) -> None:
        """Begin the transaction, if not yet, and send what is held into it."""
        if self._adapter._transaction is None:
            await self._run(self._adapter._start_transaction(), "BEGIN", None)
        if self._held:
            await self._send_held()

    async def _send_held(self) -> None:
        """The held writes as one statement (or the one alone as itself), their results filled
        in; in the transaction if one is begun, else committing on its own."""
        held, self._held = self._held, []
        if len(held) == 1:
            one = held[0]
            got = await self._run(one.raw.run_prepared(self._driver, one.sql, one.values),
                                  one.sql, None)
            one.result.fill(got.all(), got.rowcount)
            check_count(got.rowcount, one.expect, one.otherwise)
            return
        sql = combined([(h.sql, len(h.values), h.raw.row_type is not None, h.expect)
                        for h in held])
        try:
            row = await self._run(self._driver.fetchrow(sql, *[v for h in held
                                                                for v in h.values]), sql, None)
        except _CountRefused as failed:
            part = held[failed.part]
            raise refused(part.expect, part.otherwise) from None
        columns = iter(row)  # per part: the column it returns, if any, then its count
        for h in held:
            rows = h.raw.rows([(v,) for v in next(columns)]) if h.raw.row_type else []
            count = (int(next(columns)) if h.expect is not None
                     else len(rows) if h.raw.row_type else -1)  # -1: not counted
            h.result.fill(rows, count)

    async def _run(self, call: Awaitable[T], sql: str, parameters: Any) -> T:
        """Await a call on the driver; its errors as SQLAlchemy would raise them."""
        try:
            return await call
        except StatementError:
            raise  # a value its column's type refused, already raised as SQLAlchemy does
        except Exception as error:
            if getattr(error, "sqlstate", None) == EXPECT_SQLSTATE:
                raise _CountRefused(int(error.detail)) from error  # type: ignore[attr-defined]
            raise self._database_error(sql, parameters, error) from error
        except BaseException:
            self._broken = True  # cancelled in the middle of a round trip: state unknown
            raise

    def _database_error(self, sql: str, parameters: Any, error: Exception) -> Exception:
        """The error as SQLAlchemy would raise it: a lost race (deadlock, serialization) as
        StaleWrite (see `storage.db`), any other database error as a DBAPIError."""
        from storage.repositories import StaleWrite

        dbapi_error: Any = error
        if not isinstance(error, self.dialect.loaded_dbapi.Error):
            try:
                self._adapter._handle_exception(error)  # raises it in DB-API clothes
            except self.dialect.loaded_dbapi.Error as translated:
                dbapi_error = translated
            except Exception:
                self._broken = True
                return error  # not the database's (a closed connection, a driver fault)
        sqlstate = getattr(dbapi_error, "sqlstate", None)
        if sqlstate in LOST_RACE_SQLSTATES:
            return StaleWrite(f"{LOST_RACE_SQLSTATES[sqlstate]}; the transaction was rolled back")
        return DBAPIError.instance(sql, parameters, dbapi_error, self.dialect.loaded_dbapi.Error)

    def in_transaction(self) -> bool:
        """Whether the unit of work has writes to keep or drop: held, or in a transaction."""
        return (bool(self._held) or self._conn.in_transaction()
                or self._adapter._transaction is not None)

    async def get_raw_connection(self) -> Any:
        return await self._conn.get_raw_connection()

    async def _end(self, commit: bool) -> None:
        if self._conn.in_transaction():  # SQLAlchemy ran a statement in it: it ends it
            await (self._conn.commit() if commit else self._conn.rollback())
            return
        transaction = self._adapter._transaction
        if transaction is None:
            return  # nothing was run: no transaction was begun
        try:
            await (transaction.commit() if commit else transaction.rollback())
        except BaseException as error:
            self._broken = True  # whatever state the session is in, the next unit won't share it
            if isinstance(error, Exception):
                raise self._database_error("COMMIT" if commit else "ROLLBACK", None,
                                           error) from error
            raise
        finally:
            self._adapter._transaction = None

    async def commit(self) -> None:
        await self.settle()
        if self._held:  # as one statement: in the transaction, or committing on its own
            await self._send_held()
        await self._end(commit=True)  # nothing to end when no transaction was begun

    async def rollback(self) -> None:
        await self.settle()
        self._held = []
        await self._end(commit=False)

    async def discard(self) -> None:
        """Give the connection back to SQLAlchemy's pool (which drops it if it is broken)."""
        with contextlib.suppress(Exception):
            await self._conn.close()


class PostgresConnections:
    """The PostgreSQL connections units of work take turns on: at most `size` of them, kept
    checked out of SQLAlchemy's pool between units of work, so that a unit of work pays no
    pool checkout, return and reset. A unit of work that finds them all busy waits for one
    (up to POOL_TIMEOUT seconds, as SQLAlchemy's pool would). A connection that broke, or that
    a failed unit of work left in a transaction, goes back to SQLAlchemy's pool, which drops
    or resets it, and a new one is opened in its place when needed."""

    def __init__(self, engine: AsyncEngine, size: int) -> None:
        self._engine = engine
        self._idle: list[PostgresConnection] = []
        self._free = asyncio.Semaphore(size)  # connections not taken by a unit of work

    async def take(self) -> PostgresConnection:
        if self._free.locked():
            await asyncio.wait_for(self._free.acquire(), POOL_TIMEOUT)
        else:
            # One is free: taken at once. (wait_for would wrap the acquire in a task of its
            # own and a timer, two turns of the event loop for nothing to wait for.)
            await self._free.acquire()
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.usable:
                    return conn
                await conn.discard()
            return await PostgresConnection.open(self._engine)
        except BaseException:
            self._free.release()
            raise

    async def give_back(self, conn: PostgresConnection) -> None:
        try:
            await conn.settle()  # a read sent ahead that nothing took (the unit failed first)
            if conn.usable:
                self._idle.append(conn)
            else:
                await conn.discard()
        finally:
            self._free.release()

    async def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.discard()


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
    spark_codes: SparkCodes  # Spark Ads authorization codes (issue 10)
    teams: Teams  # issue 10
    # Trust (issue 11).
    logins: Logins
    claim_changes: ClaimChanges
    claim_history: ClaimHistory
    operator_log: OperatorLog
    bans: Bans
    trail: Trail

    def __init__(self, engine: AsyncEngine, write_lock: WriteTurns | None,
                 clock: Callable[[], datetime], worker: str = "main",
                 deferred: DeferredWrites | None = None,
                 inline: InlineConnection | None = None,
                 postgres: PostgresConnections | None = None,
                 others_follow: bool = False, carry: bool = False) -> None:
        self._engine = engine
        self._others_follow = others_follow
        self._carry = carry
        self._inline = inline
        self._postgres = postgres
        self._deferred = deferred
        self._carried: list[Queued] = []
        self._worker = worker
        self._lock: AbstractAsyncContextManager[object] = write_lock or nullcontext()
        self._clock = clock
        self._conn: AsyncConnection | InlineConnection | PostgresConnection | None = None

    async def __aenter__(self) -> UnitOfWork:
        await self._lock.__aenter__()
        conn: Any  # what the repositories are given: an AsyncConnection's interface
        try:
            if self._inline is not None:
                self._inline.begin()
                conn = self._inline
            elif self._postgres is not None:
                conn = await self._postgres.take()  # begins when it must (see the class)
            else:
                conn = await self._engine.connect()
                await conn.begin()
        except BaseException:
            try:
                if self._inline is not None:
                    self._inline.end_turn()  # a group left to this unit is committed, not left
            finally:
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
        self.spark_codes = SparkCodes(conn)  # Spark Ads authorization codes (issue 10)
        self.teams = Teams(conn)
        # Trust (issue 11).
        self.logins = Logins(conn)
        self.claim_changes = ClaimChanges(conn)
        self.claim_history = ClaimHistory(conn)
        self.operator_log = OperatorLog(conn)
        self.bans = Bans(conn, self.conversations, self.questions)
        self.trail = Trail(conn)
        if self._carry and self._deferred is not None and len(self._deferred):
            self._carried = await self._deferred.apply(self)
        return self

    async def commit(self) -> None:
        """Write the owed messages, then make this unit's writes durable, all or nothing (on
        SQLite, in a group commit, by the time the unit of work ends)."""
        assert self._conn is not None
        await self.outbox.flush(self._clock())
        if isinstance(self._conn, InlineConnection):
            await self._conn.commit(self._others_follow)
        else:
            await self._conn.commit()
        carried, self._carried = self._carried, []
        if carried:
            DeferredWrites.landed(carried)

    @property
    def owed(self) -> list[OutboxRow]:
        """The outbox rows the commit wrote."""
        return self.outbox.written

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._conn is not None
        if self._carried and self._deferred is not None:
            self._deferred.put_back(self._carried)  # rolled back with this unit: they wait on
            self._carried = []
        conn = self._conn
        group_commit: asyncio.Future[None] | None = None
        try:
            if conn.in_transaction():
                await conn.rollback()
        finally:
            try:
                if isinstance(conn, PostgresConnection):
                    assert self._postgres is not None
                    await self._postgres.give_back(conn)
                elif isinstance(conn, InlineConnection):
                    group_commit = conn.end_turn()
                else:
                    await conn.close()
            finally:
                self._conn = None
                await self._lock.__aexit__(None, None, None)
        if group_commit is not None:
            await group_commit  # durable (or failed) with the units of work after this one


class Database:
    """The engine and the way to open units of work on it.

    SQLite allows one writer at a time; units of work in this process queue for it on an
    asyncio lock (first come, first served, `WriteTurns`) instead of spinning on SQLite's busy
    timeout, and those that queue behind one another share a commit.
    Writes that only record what already happened elsewhere (a message was sent) may be
    deferred (`defer`) where this process is the only one on the database: SQLite, the
    single-process backend, and PostgreSQL with `alone` (the polling bot).
    """

    def __init__(self, url: str, clock: Callable[[], datetime] = _utc_now,
                 worker: str = "main", *, alone: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.clock = clock
        self.worker = worker  # this process's name among the workers sharing the database
        sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = WriteTurns() if sqlite else None
        # SQLite is one process's; a PostgreSQL database is this process's alone when it
        # polls (Telegram serves getUpdates to one consumer), and shared by webhook workers.
        self._deferred = (DeferredWrites(self, carried=sqlite) if sqlite or alone else None)
        self._inline = InlineConnection(url, self._write_lock) if self._write_lock else None
        self._postgres = (PostgresConnections(self.engine, POSTGRES_CONNECTIONS)
                          if self.engine.dialect.name == "postgresql" else None)

    def unit_of_work(self, *, others_follow: bool = False, carry: bool | None = None
                     ) -> UnitOfWork:
        """A unit of work. `others_follow` says more units of work are about to run (other
        people's updates in hand): on SQLite its commit lets them line up and is grouped with
        theirs, one COMMIT for all (see `InlineConnection`). On PostgreSQL it changes nothing
        (there a unit of work spares round trips on its own, see `PostgresConnection`).
        `carry`: whether it runs the deferred writes first (by default where they are carried,
        see `DeferredWrites`)."""
        return UnitOfWork(self.engine, self._write_lock, self.clock, self.worker, self._deferred,
                          self._inline, self._postgres, others_follow,
                          self.carries_deferred if carry is None else carry)

    @property
    def defers_writes(self) -> bool:
        """Whether `defer` may hold a write back: on SQLite, and on PostgreSQL when this
        process is alone on it (not when webhook workers share it: another worker may read
        next and must see it)."""
        return self._deferred is not None

    @property
    def carries_deferred(self) -> bool:
        """Whether the next unit of work runs the deferred writes before it reads anything
        (SQLite), so that everything read afterwards sees them; on PostgreSQL only this
        process's own bookkeeping (`landed`) knows of them until they land."""
        return self._deferred is not None and self._deferred.carried

    def defer(self, write: Deferred, landed: Landed | None = None) -> None:
        """Queue a write for a later unit of work of this process (see `DeferredWrites`);
        `landed` is told once every later unit of work here sees it. Committed within
        DEFER_SECONDS. For write-backs a crash may lose without breaking a promise (the
        outbox sends again a row whose deletion was lost). Without deferral it is up to the
        caller to write at once."""
        assert self._deferred is not None, "this database does not defer writes"
        self._deferred.add(write, landed)

    async def flush_deferred(self) -> None:
        if self._deferred is not None:
            await self._deferred.flush()

    async def migrate(self) -> None:
        await migrate(self.engine)

    async def dispose(self) -> None:
        await self.flush_deferred()
        if self._inline is not None:
            self._inline.dispose()
        if self._postgres is not None:
            await self._postgres.dispose()
        await self.engine.dispose()
