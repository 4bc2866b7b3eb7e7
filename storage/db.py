"""Engine creation and schema migration (Alembic, applied on start)."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event, make_url
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 5000

URL_EXAMPLES = "sqlite+aiosqlite:///linkpilot.db or postgresql+asyncpg://user:password@host/linkpilot"
POSTGRES_EXTRA = "pip install -e '.[postgres]'"


class DatabaseUrlError(Exception):
    """DATABASE_URL can't be used as it is; the message is one line for the operator."""


def check_database_url(url: str) -> URL:
    """Vet DATABASE_URL before anything connects: a known async driver, installed, and for
    SQLite a folder that exists and takes new files. Raises DatabaseUrlError saying what to do.

    Messages show the URL only as SQLAlchemy renders it with the password hidden.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        # Not echoed: a mistyped URL may still carry a password.
        raise DatabaseUrlError(
            f"DATABASE_URL is not a database URL; expected e.g. {URL_EXAMPLES}") from None
    try:
        # The same lookup create_async_engine does, so what passes here is what it will load.
        dialect = parsed.get_dialect(_is_async=True)
    except NoSuchModuleError:
        raise DatabaseUrlError(
            f"DATABASE_URL names an unknown database or driver {parsed.drivername!r}; "
            f"expected e.g. {URL_EXAMPLES}") from None
    backend = parsed.get_backend_name()
    if not dialect.is_async:
        if backend == "sqlite":
            fixed = parsed.set(drivername="sqlite+aiosqlite").render_as_string()
            raise DatabaseUrlError(
                f"DATABASE_URL uses SQLite's synchronous driver; use {fixed}")
        hint = f"use postgresql+asyncpg and {POSTGRES_EXTRA}" if backend == "postgresql" \
            else f"expected e.g. {URL_EXAMPLES}"
        raise DatabaseUrlError(
            f"DATABASE_URL's driver {dialect.driver!r} is not asynchronous; {hint}")
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        module = exc.name or dialect.driver
        if module == "asyncpg":
            raise DatabaseUrlError(f"DATABASE_URL needs the asyncpg driver: {POSTGRES_EXTRA}") \
                from None
        hint = f"use postgresql+asyncpg and {POSTGRES_EXTRA}" if backend == "postgresql" \
            else f"Linkpilot is tested with {URL_EXAMPLES}"
        raise DatabaseUrlError(
            f"DATABASE_URL needs the {module} driver, which is not installed; {hint}") from None
    if backend == "sqlite":
        check_sqlite_file(parsed)
    return parsed


def check_sqlite_file(url: URL) -> None:
    """The SQLite file's folder exists and new files can be made in it (SQLite adds -wal and
    -shm files beside the database); the file itself, if there, is a writable file."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return  # in memory, or a file: URI that SQLite resolves itself
    path = Path(database).absolute()
    folder = path.parent
    if not folder.exists():
        raise DatabaseUrlError(
            f"the folder for the SQLite database does not exist: {folder} "
            "(create it, or change DATABASE_URL)")
    if not folder.is_dir():
        raise DatabaseUrlError(f"the SQLite database's folder is a file: {folder}")
    if path.is_dir():
        raise DatabaseUrlError(f"the SQLite database is a folder, not a file: {path}")
    try:
        # Make a file rather than ask os.access: root passes access() on read-only mounts,
        # /proc or /sys, where SQLite would still fail.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".linkpilot-probe-"):
            pass
    except OSError as exc:
        raise DatabaseUrlError(
            f"the folder for the SQLite database is not writable: {folder} "
            f"({exc.strerror or exc})") from None
    if path.exists():
        try:
            with path.open("r+b"):
                pass
        except OSError as exc:
            raise DatabaseUrlError(
                f"the SQLite database file can't be written: {path} ({exc.strerror or exc})") \
                from None


# PostgreSQL connections per process (each worker of several has its own).
POSTGRES_CONNECTIONS = 10
POSTGRES_OVERFLOW = 10


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL mode, a busy timeout, enforced foreign keys and a
    Unicode lower()."""
    if url.startswith("sqlite"):
        # Its connections always end their transaction, so the pool's rollback-on-return would
        # be a second, empty one.
        kwargs.setdefault("pool_reset_on_return", None)
    elif url.startswith("postgresql"):
        # Units of work take turns on POSTGRES_CONNECTIONS of them (storage.uow); the overflow
        # is for anything else that connects meanwhile (migrations, a test's own reads).
        kwargs.setdefault("pool_size", POSTGRES_CONNECTIONS)
        kwargs.setdefault("max_overflow", POSTGRES_OVERFLOW)
        # A pooled connection the server closed meanwhile (a restart) is replaced at checkout;
        # the ping costs a round trip per checkout, which units of work do not pay (they keep
        # theirs, and check it themselves: storage.uow.PostgresConnection.usable).
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "postgresql":
        event.listen(engine.sync_engine, "handle_error", _lost_race, retval=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin_immediate)
    return engine


# The inline connection's commits leave the write-ahead log to `Checkpointer`, which copies it
# into the database file after this many commits, or this often when fewer come.
CHECKPOINT_COMMITS = 100
CHECKPOINT_SECONDS = 1.0
# The log restarts from its beginning only when a write begins after a checkpoint copied all
# of it; under writes without a pause the thread's checkpoints never quite catch up. Past this
# many pages the next commit finishes the copy itself (a few pages, the thread did the rest).
CHECKPOINT_CATCH_UP_PAGES = 2000


class Checkpointer:
    """Copies SQLite's write-ahead log into the database file on a thread of its own.

    By default SQLite does this inside whichever commit takes the log past a thousand pages:
    that commit then writes those pages to the database file and syncs it, while the event loop
    (and every update behind it) waits. The inline connection turns that off
    (`wal_autocheckpoint=0`); this thread runs a PASSIVE checkpoint instead, which never waits
    for or blocks a writer, after every CHECKPOINT_COMMITS commits or CHECKPOINT_SECONDS,
    whichever comes first. sqlite3 lets go of the GIL while it works, so the loop goes on.

    A write that begins right after a checkpoint that copied the whole log starts the log over
    from its beginning. Writes without a pause never see that moment, so when the log passes
    CHECKPOINT_CATCH_UP_PAGES, the next commit finishes the copy itself (a few pages: the
    thread did the rest), as SQLite's own checkpoint would have."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._wake = threading.Event()
        self._stopping = False
        self._commits = 0
        self._thread: threading.Thread | None = None
        self._catch_up = False

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint",
                                            daemon=True)
            self._thread.start()

    def committed(self, cursor: sqlite3.Cursor) -> None:
        """Count a commit made on `cursor`'s connection; wake the thread every
        CHECKPOINT_COMMITS, and finish its copy here when it can't catch up."""
        self._commits += 1
        if self._commits >= CHECKPOINT_COMMITS:
            self._commits = 0
            self._wake.set()
        if self._catch_up:
            self._catch_up = False
            with contextlib.suppress(sqlite3.Error):  # the thread tries again meanwhile
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _run(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        try:
            while not self._stopping:
                self._wake.wait(CHECKPOINT_SECONDS)
                self._wake.clear()
                try:
                    _, pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as error:  # the next round tries again
                    logger.warning("SQLite checkpoint failed: %s", error)
                    continue
                if pages >= CHECKPOINT_CATCH_UP_PAGES:
                    self._catch_up = True
        finally:
            conn.close()

    def stop(self) -> None:
        """End the thread (its last checkpoint done); closing the database's last connection
        then checkpoints what is left and removes the log."""
        if self._thread is not None:
            self._stopping = True
            self._wake.set()
            self._thread.join()
            self._thread = None


def sqlite_file(url: str) -> str | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    database = make_url(url).database
    return None if not database or database == ":memory:" else database


def create_inline_engine(url: str) -> tuple[Engine, Checkpointer | None]:
    """For SQLite, the synchronous engine units of work run on, on the event loop's thread
    (the async engine, with aiosqlite's thread, is left the cold paths: migrations at start),
    and for a database file the Checkpointer that copies its log, since this engine's
    connections leave that to it.

    SQLite on a local file has nothing to wait for, so the async engine's layers (the driver
    adapter, a greenlet switch per call, the execution lock) only cost time: a unit of work
    made eight to eleven such calls. This engine runs the same Core statements through the standard
    sqlite3 driver directly, with the same pragmas and BEGIN IMMEDIATE as the async one."""
    engine = create_sync_engine(make_url(url).set(drivername="sqlite+pysqlite"),
                                pool_reset_on_return=None)
    event.listen(engine, "connect", _sqlite_pragmas)
    path = sqlite_file(url)
    if path is not None:
        event.listen(engine, "connect", _no_checkpoints_in_commits)
    event.listen(engine, "begin", _sqlite_join_or_begin)
    # Those units of work also end every transaction on the driver (a commit may be a
    # savepoint's release in a group commit): SQLAlchemy's record of one it joined ends
    # without touching the driver.
    engine.dialect.do_commit = _left_to_the_unit_of_work  # type: ignore[method-assign,assignment]
    engine.dialect.do_rollback = _left_to_the_unit_of_work  # type: ignore[method-assign,assignment]
    return engine, Checkpointer(path) if path is not None else None


def _left_to_the_unit_of_work(_dbapi_connection: Any) -> None:
    pass


def _sqlite_join_or_begin(conn: Connection) -> None:
    # The inline connection's units of work begin on the driver (storage.uow.InlineConnection);
    # a statement SQLAlchemy runs inside one joins that transaction instead of beginning again.
    if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        _sqlite_begin_immediate(conn)


# PostgreSQL lets writers of different rows run at once; two that then reach for each other's
# rows deadlock, and the server rolls one back. For that one it is a race lost, as a stale
# version is on SQLite (whose writers queue, so never deadlock): the update says "try again".
LOST_RACE_SQLSTATES = {"40P01": "deadlock", "40001": "serialization failure"}


def _lost_race(context: ExceptionContext) -> BaseException | None:
    from storage.repositories import StaleWrite  # repositories build on this module

    sqlstate = getattr(context.original_exception, "sqlstate", None)
    if sqlstate in LOST_RACE_SQLSTATES:
        error = StaleWrite(f"{LOST_RACE_SQLSTATES[sqlstate]}; the transaction was rolled back")
        error.__cause__ = context.sqlalchemy_exception
        return error
    return None


def _sqlite_begin_immediate(conn: Connection) -> None:
    # Take SQLite's write lock when the transaction starts. With the driver's default deferred
    # BEGIN, a unit of work that read a row and then writes it fails at once ("database is
    # locked") if another writer committed meanwhile; IMMEDIATE makes it wait its turn
    # (busy_timeout) and then read the fresh row, so version checks decide races cleanly.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _no_checkpoints_in_commits(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")  # see Checkpointer
    # A log that grew under a long burst of writes is cut back to this when it starts over.
    dbapi_connection.execute(f"PRAGMA journal_size_limit={4 * 2**20}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # We issue BEGIN ourselves (see _sqlite_begin_immediate); stop the driver doing it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite's own lower() changes only ASCII letters; PostgreSQL's (in a UTF-8 locale) and
    # Python's change É and Д too. Questions are grouped and matched by lower(), so both
    # backends use Python's.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


def alembic_config() -> Config:
    """Alembic's configuration, built in code so the package needs no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (idempotent)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)
    logger.info("database schema at %s", revision)
