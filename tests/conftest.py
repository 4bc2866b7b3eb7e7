"""Shared fixtures: a real Application on a real database (a SQLite file, or a fresh database on
a real PostgreSQL server for the tests that run on both backends), talking to the Bot API double.
"""

from __future__ import annotations

import os

# PTB 22 warns about its future timedelta API unless opted in; warnings are errors here.
os.environ.setdefault("PTB_TIMEDELTA", "true")

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from bot.app import build_application, finish, prepare
from bot.context import Deps, deps_of
from bot.local_api import LocalBotApi, Person
from bot.settings import Settings
from storage.db import alembic_config
from storage.uow import Database
from tests import pg
from tests.oauth_double import OAuthDouble, TikTokAccount


class Clock:
    """A settable clock, so expiry can be tested without waiting a week."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock()


# --- backends ------------------------------------------------------------------------------
# Tests run on SQLite unless their module asks for both backends, by overriding `backend`:
#
#     @pytest.fixture(params=BACKENDS)
#     def backend(request: pytest.FixtureRequest) -> str:
#         return str(request.param)
#
# A test of something only SQLite has pins itself with @pytest.mark.parametrize("backend",
# ["sqlite"]). The PostgreSQL variants need a server's binaries: without them they are skipped,
# unless CI is set, where a missing server is a failure.

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _run_in_a_thread(coroutine: Coroutine[Any, Any, Any]) -> Any:
    # A loop of its own, off the tests' loop (which may be running when this is set up).
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg.PostgresServer]:
    """A real PostgreSQL server for the whole run, with a migrated template database."""
    try:
        server = pg.PostgresServer.start()
    except pg.NoPostgres as exc:
        missing = str(exc)
    else:
        missing = ""
    if missing and os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(f"CI is set, so the PostgreSQL tests must run, but: {missing}",
                    pytrace=False)
    if missing:
        pytest.skip(f"PostgreSQL tests need a server: {missing}")
    try:
        _run_in_a_thread(pg.create_template(server))
        yield server
    finally:
        server.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "linkpilot.db"


@pytest.fixture
async def database_url(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """The test's own, freshly migrated (PostgreSQL) or empty (SQLite) database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{request.getfixturevalue('db_path')}"
        return
    server: pg.PostgresServer = request.getfixturevalue("postgres")
    name = await pg.create_database(server)
    try:
        yield server.url(name)
    finally:
        await pg.drop_database(server, name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Tests press buttons far faster than people: the flood gate is opened wide here and
    # tested on its own with the default limits.
    return Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                    telegram_bot_token=None, flood_messages=100_000)


@dataclass
class World:
    """The bot running on the double, and the people talking to it."""

    settings: Settings
    clock: Clock
    api: LocalBotApi = field(default_factory=LocalBotApi)
    app: Any = None
    people: dict[int, Person] = field(default_factory=dict)

    async def boot(self) -> None:
        # One process on the database, as the polling bot is (webhook workers: test_webhook).
        self.app = build_application(self.settings, token=self.api.token, request=self.api,
                                     clock=self.clock, run_jobs=False, alone=True)
        self.api.attach(self.app, deliver=deps_of(self.app).processor.handle)
        await prepare(self.app)

    async def stop(self) -> None:
        if self.app is not None:
            await deps_of(self.app).processor.drain()
            await finish(self.app)
            self.app = None

    async def restart(self) -> None:
        """A new process: a new Application on the same database."""
        await self.stop()
        await self.boot()

    @property
    def deps(self) -> Deps:
        return deps_of(self.app)

    def person(self, user_id: int, first_name: str, username: str | None = None) -> Person:
        self.people[user_id] = Person(self.api, user_id, first_name, username)
        return self.people[user_id]

    async def sweep(self) -> tuple[int, int]:
        """Run the clock's job once (reminders, expiry), as the job queue would."""
        from bot.handlers.requests import clock_tick

        return await clock_tick(self.deps)

    async def flush(self) -> int:
        """One pass of the outbox dispatcher, as its background loop would make."""
        assert self.deps.dispatcher is not None
        return await self.deps.dispatcher.run_due()


@asynccontextmanager
async def running(settings: Settings, clock: Clock) -> AsyncIterator[World]:
    """A booted World, stopped on the way out."""
    w = World(settings=settings, clock=clock)
    await w.boot()
    try:
        yield w
    finally:
        await w.stop()


@pytest.fixture
async def world(settings: Settings, clock: Clock) -> AsyncIterator[World]:
    async with running(settings, clock) as w:
        yield w


@pytest.fixture
def ada(world: World) -> Person:
    """An advertiser."""
    return world.person(1001, "Ada", "ada_ads")


@pytest.fixture
def owen(world: World) -> Person:
    """An account owner."""
    return world.person(2002, "Owen", "owen_creator")


@pytest.fixture
def eve(world: World) -> Person:
    """Someone with no business deciding anything."""
    return world.person(3003, "Eve", "eve")


async def pass_prerequisites(person: Person) -> None:
    """Start a TikTok link request and answer Yes to every prerequisite (or, when the person
    confirmed them before, say they are all still true)."""
    await person.send("/link")
    await person.press("TikTok")
    if "All still true" in person.last.labels:
        await person.press("All still true")
        return
    for _ in range(3):
        await person.press("Yes")


async def fill_request(person: Person, handle: str = "@owen.makes", ad_account: str = "Acme Ads",
                       scopes: tuple[str, ...] = ("Use existing posts",)) -> None:
    """Walk the link flow up to the summary (all prerequisites met)."""
    await pass_prerequisites(person)
    await person.send(ad_account)
    await person.send(handle)
    for scope in scopes:
        await person.press(scope)
    await person.press("Continue")
    if "Publish and manage new videos" in scopes:
        await person.press("Ads only")


async def send_request(person: Person, **kwargs: Any) -> None:
    await fill_request(person, **kwargs)
    await person.press("Send request")


@pytest.fixture
async def double() -> AsyncIterator[OAuthDouble]:
    """The platforms' login endpoints (tests/oauth_double.py), logging in as Owen's TikTok."""
    d = OAuthDouble()
    await d.start()
    d.tiktok_user = TikTokAccount("open-owen", "owen.makes")
    try:
        yield d
    finally:
        await d.close()


@asynccontextmanager
async def database_before(database_url: str, revision: str) -> AsyncIterator[Database]:
    """A database at the schema just before migration `revision`, for that migration's test:
    migrated to the newest, then taken back (PostgreSQL's test databases arrive migrated)."""
    def back(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, str(
            ScriptDirectory.from_config(config).get_revision(revision).down_revision))

    database = Database(database_url)
    await database.migrate()
    async with database.engine.begin() as conn:
        await conn.run_sync(back)
    try:
        yield database
    finally:
        await database.dispose()
