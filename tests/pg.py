"""A throwaway PostgreSQL server for the tests: initdb into a temporary folder, serve on a free
loopback port, give each test a fresh database copied from one migrated template.

The server runs as an unprivileged user when the tests run as root (PostgreSQL refuses to run
as root): the `postgres` account the Debian package creates, or `nobody`.
"""

from __future__ import annotations

import asyncio
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy.engine import URL

TEMPLATE = "linkpilot_template"
START_TIMEOUT_SECONDS = 60
# Durability is worth nothing in a folder deleted at the end of the run; skipping it makes
# commits (and CREATE DATABASE) much cheaper.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    # Deadlocks are provoked on purpose; find them in a tenth of the default second.
    "deadlock_timeout": "100ms",
}


class NoPostgres(Exception):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: from PATH, else Debian's /usr/lib/postgresql/N/bin
    (the server package does not put them on PATH), newest version first."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: _version_key(Path(p).parent.parent.name), reverse=True)
    for candidate in candidates:
        bindir = Path(candidate).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    raise NoPostgres("no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
                     "/usr/lib/postgresql/*/bin; install them with `apt-get install postgresql`")


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_account() -> pwd.struct_passwd | None:
    """Who runs the server: ourselves, unless we are root (then `postgres`, else `nobody`)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise NoPostgres("running as root and there is no `postgres` or `nobody` user to run "
                     "the PostgreSQL server as")


@dataclass
class PostgresServer:
    """A running server; `url(name)` connects to one of its databases."""

    bindir: Path
    folder: Path
    port: int
    user: str
    account: pwd.struct_passwd | None
    _names: ClassVar[count[int]] = count(1)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres") -> str:
        return URL.create("postgresql+asyncpg", username=self.user, host="127.0.0.1",
                          port=self.port, database=database).render_as_string()

    def dsn(self, database: str = "postgres") -> str:
        """The same, for asyncpg directly."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def next_name(self) -> str:
        return f"test_{os.getpid()}_{next(self._names)}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        account = self.account
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
            cwd=self.folder, check=False,
            user=account.pw_uid if account else None,
            group=account.pw_gid if account else None,
            extra_groups=[] if account else None,
            env={**os.environ, "HOME": str(self.folder), "LC_ALL": "C", "TZ": "UTC"},
        )
        if result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stdout}"
                               f"{result.stderr}\n{tail}")
        return result

    @classmethod
    def start(cls) -> PostgresServer:
        """initdb into a new temporary folder and start the server; NoPostgres without binaries."""
        bindir = find_bindir()
        account = _server_account()
        # Not under pytest's tmp_path: that is private to root, and the server's user must
        # be able to reach its folder.
        folder = Path(tempfile.mkdtemp(prefix="linkpilot-pg-"))
        if account is not None:
            os.chown(folder, account.pw_uid, account.pw_gid)
        user = account.pw_name if account else pwd.getpwuid(os.geteuid()).pw_name
        server = cls(bindir, folder, 0, user, account)
        try:
            server._initdb()
            server._start_on_a_free_port()
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return server

    def _initdb(self) -> None:
        # A UTF-8 locale, as production servers have (lower() knows É and Д), sorting by code
        # point; plain C where the system has no C.UTF-8.
        for locale in ("C.UTF-8", "C"):
            try:
                self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust",
                          "--encoding=UTF8", f"--locale={locale}", "--no-sync")
                return
            except RuntimeError:
                if locale == "C":
                    raise
                shutil.rmtree(self.data, ignore_errors=True)

    def _start_on_a_free_port(self) -> None:
        # Another process may take the port between our probe and the server's bind: retry.
        for attempt in range(3):
            self.port = _free_port()
            # pg_ctl hands these to the server through a shell: quote the folder's path.
            options = " ".join(f"-c {k}='{v}'" for k, v in
                               {**SERVER_OPTIONS, "port": self.port,
                                "unix_socket_directories": self.folder}.items())
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                          "-o", options, "-w", "-t", str(START_TIMEOUT_SECONDS), "start")
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


async def _admin(server: PostgresServer, *statements: str) -> None:
    import asyncpg  # the postgres extra; imported here so SQLite-only runs never need it

    conn = await asyncpg.connect(server.dsn())
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def create_template(server: PostgresServer) -> None:
    """Make the migrated database every test's database is copied from (migrations run once)."""
    from storage.uow import Database

    try:
        # Sort text as a production database in an English locale does (PostgreSQL 15 with
        # ICU), not by code point as SQLite does, so a query that leans on the order shows it.
        await _admin(server, f'CREATE DATABASE "{TEMPLATE}" TEMPLATE template0 '
                             "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
    except Exception:  # an older server, or one built without ICU
        await _admin(server, f'CREATE DATABASE "{TEMPLATE}"')
    template = Database(server.url(TEMPLATE))
    try:
        await template.migrate()
    finally:
        await template.dispose()


async def create_database(server: PostgresServer) -> str:
    """A fresh, migrated database of its own; returns its name."""
    name = server.next_name()
    await _admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    return name


async def drop_database(server: PostgresServer, name: str) -> None:
    # FORCE: a test that failed half-way may have left a connection open.
    await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def until_a_lock_is_waited_for(conn: Any, task: asyncio.Task[Any]) -> bool:
    """Poll on `conn` (a SQLAlchemy AsyncConnection holding a row lock) until another session
    waits for a lock, or `task` ends first; whether one waits."""
    from sqlalchemy import text

    for _ in range(500):
        waiting = (await conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND pid <> pg_backend_pid()"))).scalar()
        if waiting or task.done():
            return bool(waiting)
        await asyncio.sleep(0.01)
    return False
