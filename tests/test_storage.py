"""Storage on a real SQLite file and a real PostgreSQL database: migrations, units of work,
repositories and the KB loader. Every repository case runs on both backends."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from flows.records import Notice
from storage.knowledge import BUNDLED_KB, KbFileError, load_kb, parse_kb
from storage.models import Base
from storage.repositories import (
    REQUESTS,
    AlreadyDone,
    ConversationRow,
    KbEntryRow,
    RequestRow,
    StaleWrite,
    hash_token,
)
from storage.uow import Database, UnitOfWork
from tests.conftest import BACKENDS

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ADA, OWEN, EVE = 1001, 2002, 3003
TOPICS = Path(__file__).resolve().parent / "data" / "topics.yaml"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    async with database.unit_of_work() as uow:
        for user_id, name in ((ADA, "Ada"), (OWEN, "Owen"), (EVE, "Eve")):
            await uow.users.seen(user_id, name, None, NOW)
        await uow.commit()
    try:
        yield database
    finally:
        await database.dispose()


async def new_request(uow: UnitOfWork, *, key: str = "k1", handle: str = "owen.makes",
                      now: datetime = NOW, expires_at: datetime | None = None,
                      owner_id: int | None = OWEN) -> RequestRow:
    return await uow.requests.create(
        key=key, requester_id=ADA, platform="tiktok", handle=handle, handle_key=handle.lower(),
        ad_account="Acme Ads", scopes=["existing_posts"], visibility=None, owner_id=owner_id,
        now=now, expires_at=expires_at or now + timedelta(days=7))


async def committed_request(db: Database, **kwargs: Any) -> RequestRow:
    async with db.unit_of_work() as uow:
        request = await new_request(uow, **kwargs)
        await uow.commit()
    return request


async def status_of(db: Database, request_id: int) -> str:
    async with db.unit_of_work() as uow:
        request = await uow.requests.get(request_id)
    assert request is not None
    return request.status


# --- schema ---------------------------------------------------------------------------------


async def test_migration_is_idempotent(db: Database) -> None:
    """Starting the bot again on a migrated database changes nothing and loses no data."""
    await db.migrate()
    await db.migrate()
    async with db.engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        users = (await conn.execute(text("SELECT count(*) FROM users"))).scalar_one()
    assert versions == [("0012",)]
    assert users == 3


def _schema_diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    """The migrations build exactly the tables, columns, types and indexes the models describe."""
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(_schema_diff)
    assert diff == []


# SQLite only, by design: PostgreSQL has no pragmas, and needs neither WAL nor a busy timeout.
@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(("pragma", "expected"), [
    ("journal_mode", "wal"),
    ("busy_timeout", 5000),
    ("foreign_keys", 1),
])
async def test_sqlite_connections_are_configured(db: Database, pragma: str,
                                                 expected: object) -> None:
    """WAL and a busy timeout let concurrent updates wait for each other instead of failing."""
    async with db.engine.connect() as conn:
        value = (await conn.execute(text(f"PRAGMA {pragma}"))).scalar()
    assert value == expected


async def test_foreign_keys_are_enforced(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    async with db.unit_of_work() as uow:
        with pytest.raises(IntegrityError):
            await uow.claims.add("tiktok", "x.y", "x.y", owner_id=999_999, now=NOW)


# --- units of work --------------------------------------------------------------------------


async def test_unit_of_work_commits_when_asked(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.users.seen(42, "Zed", "zed", NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.users.get(42) is not None


async def test_unit_of_work_rolls_back_when_not_committed(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.users.seen(42, "Zed", "zed", NOW)
        assert await uow.users.get(42) is not None
    async with db.unit_of_work() as uow:
        assert await uow.users.get(42) is None


async def test_unit_of_work_rolls_back_when_an_exception_escapes(db: Database) -> None:
    """A handler that crashes half-way leaves no half-written request behind."""
    with pytest.raises(RuntimeError, match="boom"):
        async with db.unit_of_work() as uow:
            await uow.users.seen(42, "Zed", "zed", NOW)
            await new_request(uow)
            raise RuntimeError("boom")
    async with db.unit_of_work() as uow:
        assert await uow.users.get(42) is None
        assert await uow.requests.by_key("k1") is None


# --- users and conversations ----------------------------------------------------------------


async def test_user_seen_again_refreshes_name(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.users.seen(ADA, "Ada L.", "ada_ads", NOW + timedelta(hours=1))
        await uow.commit()
    async with db.unit_of_work() as uow:
        user = await uow.users.get(ADA)
    assert user is not None
    assert (user.first_name, user.username) == ("Ada L.", "ada_ads")


async def test_conversation_insert_then_versioned_updates(db: Database) -> None:
    """Each save bumps the version; the draft data round-trips as JSON."""
    data: dict[str, Any] = {"history": [["platform", 0]], "scopes": ["existing_posts"],
                            "platform": "tiktok", "prereq": 2}
    async with db.unit_of_work() as uow:
        assert await uow.conversations.load(ADA, "link") is None
        first = await uow.conversations.save(ConversationRow(ADA, "link", "", {}, 0),
                                             "prerequisite", data, NOW)
        assert first.version == 1
        await uow.commit()
    async with db.unit_of_work() as uow:
        loaded = await uow.conversations.load(ADA, "link")
        assert loaded == ConversationRow(ADA, "link", "prerequisite", data, 1)
        second = await uow.conversations.save(loaded, "ad_account", {**data, "prereq": 3}, NOW)
        assert second.version == 2
        await uow.commit()
    async with db.unit_of_work() as uow:
        loaded = await uow.conversations.load(ADA, "link")
    assert loaded is not None
    assert (loaded.state, loaded.data["prereq"], loaded.version) == ("ad_account", 3, 2)


async def test_conversation_save_over_a_stale_version_raises(db: Database) -> None:
    """Two updates read the same version: the second write is refused, not silently lost."""
    async with db.unit_of_work() as uow:
        await uow.conversations.save(ConversationRow(ADA, "link", "", {}, 0), "platform", {}, NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        read = await uow.conversations.load(ADA, "link")
    assert read is not None
    async with db.unit_of_work() as uow:
        await uow.conversations.save(read, "prerequisite", {"a": 1}, NOW)
        await uow.commit()
    with pytest.raises(StaleWrite):  # at once, or at the commit where the write was held
        async with db.unit_of_work() as uow:
            await uow.conversations.save(read, "cancelled", {"b": 2}, NOW)
            await uow.commit()
    async with db.unit_of_work() as uow:
        final = await uow.conversations.load(ADA, "link")
    assert final is not None
    assert (final.state, final.data, final.version) == ("prerequisite", {"a": 1}, 2)


async def test_second_first_insert_of_a_conversation_raises(db: Database) -> None:
    """Two updates that both saw no row: only one creates it."""
    fresh = ConversationRow(ADA, "link", "", {}, 0)
    async with db.unit_of_work() as uow:
        await uow.conversations.save(fresh, "platform", {"x": 1}, NOW)
        await uow.commit()
    with pytest.raises(StaleWrite):
        async with db.unit_of_work() as uow:
            await uow.conversations.save(fresh, "platform", {"x": 2}, NOW)
            await uow.commit()
    async with db.unit_of_work() as uow:
        loaded = await uow.conversations.load(ADA, "link")
    assert loaded is not None and loaded.data == {"x": 1}


async def test_conversations_are_per_user_and_flow(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.conversations.save(ConversationRow(ADA, "link", "", {}, 0), "handle", {}, NOW)
        await uow.conversations.save(ConversationRow(ADA, "faq", "", {}, 0), "open", {}, NOW)
        await uow.conversations.save(ConversationRow(EVE, "link", "", {}, 0), "platform", {}, NOW)
        await uow.conversations.delete(ADA, "link")
        assert await uow.conversations.load(ADA, "link") is None
        ada_faq = await uow.conversations.load(ADA, "faq")
        eve_link = await uow.conversations.load(EVE, "link")
    assert ada_faq is not None and ada_faq.state == "open"
    assert eve_link is not None and eve_link.state == "platform"


# --- requests -------------------------------------------------------------------------------


async def test_created_request_is_pending_and_readable_by_key(db: Database) -> None:
    request = await committed_request(db)
    assert request.status == "pending"
    async with db.unit_of_work() as uow:
        assert await uow.requests.by_key("k1") == request
        assert await uow.requests.get(request.id) == request


async def test_move_is_conditional_on_the_status_it_starts_from(db: Database) -> None:
    """A second decision from 'pending' finds the row already moved and changes nothing."""
    request = await committed_request(db)
    async with db.unit_of_work() as uow:
        assert await uow.requests.move(request.id, "pending", "authorized", NOW, decided=True,
                                       owner_id=OWEN)
        assert not await uow.requests.move(request.id, "pending", "rejected", NOW,
                                           decided=True, reason="no")
        await uow.commit()
    async with db.unit_of_work() as uow:
        after = await uow.requests.get(request.id)
    assert after is not None
    assert (after.status, after.reason, after.decided_at) == ("authorized", None, NOW)


async def test_move_of_unknown_request_returns_false(db: Database) -> None:
    async with db.unit_of_work() as uow:
        assert not await uow.requests.move(12345, "pending", "authorized", NOW)


async def _race(db: Database, attempts: list[Callable[[UnitOfWork], Awaitable[bool]]]
                ) -> list[bool]:
    """Run each attempt in its own unit of work (own connection), all released together.

    Every attempt was read as 'pending' by its caller before any of them writes: the barrier
    makes all tasks open their units of work at the same moment, so the database has to
    serialise them, and each writer's result depends only on its own conditional update. Each
    attempt has a `Database` of its own, as separate processes (or workers) would: within one
    process, units of work on SQLite already queue on the database's lock."""
    started = asyncio.Barrier(len(attempts))
    connections: set[int] = set()
    processes = [Database(db.url) for _ in attempts]

    async def one(attempt: Callable[[UnitOfWork], Awaitable[bool]],
                  process: Database) -> bool:
        await started.wait()
        async with process.unit_of_work() as uow:
            raw = await uow.requests._conn.get_raw_connection()
            connections.add(id(raw.dbapi_connection))
            moved = await attempt(uow)
            await uow.commit()
            return moved

    try:
        results = list(await asyncio.gather(*(one(a, p) for a, p in zip(attempts, processes,
                                                                        strict=True))))
    finally:
        for process in processes:
            await process.dispose()
    assert len(connections) >= 2, "the attempts must run on separate connections"
    return results


async def test_race_two_decisions_on_one_pending_request_exactly_one_wins(db: Database) -> None:
    """Owner taps Approve while the advertiser taps Cancel: exactly one decision is stored.

    Each runs in its own unit of work on its own connection; the database serialises the
    writers (SQLite: WAL + busy timeout; PostgreSQL: the row lock), and the loser's
    `WHERE status = 'pending'` then matches nothing.
    Without that condition both would report success and the first decision would be lost."""
    request = await committed_request(db)

    def attempt(to: str) -> Callable[[UnitOfWork], Awaitable[bool]]:
        async def go(uow: UnitOfWork) -> bool:
            return await uow.requests.move(request.id, "pending", to, NOW, decided=True)
        return go

    results = await _race(db, [attempt("authorized"), attempt("cancelled")])
    assert sorted(results) == [False, True]
    winner = "authorized" if results[0] else "cancelled"
    assert await status_of(db, request.id) == winner


async def test_race_many_concurrent_decisions_exactly_one_wins(db: Database) -> None:
    request = await committed_request(db)
    targets = ["authorized", "rejected", "cancelled", "expired"] * 2

    def attempt(to: str) -> Callable[[UnitOfWork], Awaitable[bool]]:
        async def go(uow: UnitOfWork) -> bool:
            return await uow.requests.move(request.id, "pending", to, NOW, decided=True)
        return go

    results = await _race(db, [attempt(t) for t in targets])
    assert results.count(True) == 1
    assert await status_of(db, request.id) == targets[results.index(True)]


async def test_race_harness_detects_an_unconditional_update(db: Database) -> None:
    """Control for the race tests: an update without the status condition lets both 'win'."""
    request = await committed_request(db)

    def blind(to: str) -> Callable[[UnitOfWork], Awaitable[bool]]:
        async def go(uow: UnitOfWork) -> bool:
            conn: AsyncConnection = uow.requests._conn  # the unit's own connection
            result = await conn.execute(
                update(REQUESTS).where(REQUESTS.c.id == request.id).values(status=to))
            return result.rowcount == 1
        return go

    assert await _race(db, [blind("authorized"), blind("cancelled")]) == [True, True]


# PostgreSQL only, by design: SQLite's writers take the database's lock when they begin
# (BEGIN IMMEDIATE) and so queue; two can never hold rows the other wants.
@pytest.mark.parametrize("backend", ["postgresql"])
async def test_a_deadlock_is_a_race_lost_by_one_side(db: Database) -> None:
    """Two units of work each change one request, then the other's: the server rolls one back,
    which raises StaleWrite (the update is told to try again); the other commits both."""
    first = await committed_request(db, key="first")
    second = await committed_request(db, key="second")
    processes = [Database(db.url), Database(db.url)]
    both_hold_a_row = asyncio.Barrier(2)

    async def crosswise(process: Database, mine: int, theirs: int, to: str) -> None:
        async with process.unit_of_work() as uow:
            assert await uow.requests.move(mine, "pending", to, NOW)
            await both_hold_a_row.wait()
            assert await uow.requests.move(theirs, "pending", to, NOW)
            await uow.commit()

    try:
        results = await asyncio.gather(
            crosswise(processes[0], first.id, second.id, "authorized"),
            crosswise(processes[1], second.id, first.id, "cancelled"),
            return_exceptions=True)
    finally:
        for process in processes:
            await process.dispose()
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "StaleWrite"]
    winner = "authorized" if results[0] is None else "cancelled"
    assert [await status_of(db, first.id), await status_of(db, second.id)] == [winner, winner]


@pytest.fixture
def on_disk(db: Database, request: pytest.FixtureRequest) -> Callable[[], Awaitable[bytes]]:
    """Reads everything the database holds on disk: the SQLite file with its -wal and -shm, or
    the PostgreSQL database's folder and the server's write-ahead log, after a checkpoint."""

    async def read() -> bytes:
        if db.engine.dialect.name == "sqlite":
            path: Path = request.getfixturevalue("db_path")
            return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        async with db.engine.connect() as conn:
            await conn.execute(text("CHECKPOINT"))
            oid = (await conn.execute(text(
                "SELECT oid FROM pg_database WHERE datname = current_database()"))).scalar_one()
        data = request.getfixturevalue("postgres").data
        files = [*(data / "base" / str(oid)).iterdir(), *(data / "pg_wal").glob("0*")]
        return b"".join(f.read_bytes() for f in files if f.is_file())

    return read


async def test_approval_token_is_stored_only_as_a_hash(
        db: Database, on_disk: Callable[[], Awaitable[bytes]]) -> None:
    """A copy of the database's files cannot be used to approve anything."""
    request = await committed_request(db)
    token = "tok_" + "Z9" * 14
    async with db.unit_of_work() as uow:
        await uow.requests.set_token(request.id, token)
        await uow.commit()
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(REQUESTS))).all()
    stored = [str(v) for row in rows for v in row]
    assert not any(token in v for v in stored)
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert hash_token(token) in stored
    raw = await on_disk()
    assert hash_token(token).encode() in raw  # the files read are the ones holding the row
    assert token.encode() not in raw
    async with db.unit_of_work() as uow:
        found = await uow.requests.by_token(token)
        assert found is not None and found.id == request.id and found.has_token
        assert await uow.requests.by_token(token + "x") is None
        assert await uow.requests.by_token(hash_token(token)) is None


async def test_a_new_token_replaces_the_old_one(db: Database) -> None:
    request = await committed_request(db)
    async with db.unit_of_work() as uow:
        await uow.requests.set_token(request.id, "first-token")
        await uow.requests.set_token(request.id, "second-token")
        assert await uow.requests.by_token("first-token") is None
        assert await uow.requests.by_token("second-token") is not None


@pytest.mark.parametrize("to", ["authorized", "rejected", "cancelled", "expired"])
async def test_leaving_pending_kills_the_approval_link(db: Database, to: str) -> None:
    request = await committed_request(db)
    async with db.unit_of_work() as uow:
        await uow.requests.set_token(request.id, "one-time")
        assert await uow.requests.move(request.id, "pending", to, NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.requests.by_token("one-time") is None
        after = await uow.requests.get(request.id)
    assert after is not None and not after.has_token


async def test_due_selects_only_pending_requests_whose_time_is_up(db: Database) -> None:
    hour = timedelta(hours=1)
    async with db.unit_of_work() as uow:
        late = await new_request(uow, key="late", expires_at=NOW - 2 * hour)
        on_time = await new_request(uow, key="now", expires_at=NOW)
        later = await new_request(uow, key="later", expires_at=NOW - hour)
        await new_request(uow, key="future", expires_at=NOW + hour)
        for key, to in (("authd", "authorized"), ("rej", "rejected"), ("exp", "expired")):
            r = await new_request(uow, key=key, expires_at=NOW - 3 * hour)
            assert await uow.requests.move(r.id, "pending", to, NOW)
        due = await uow.requests.due(NOW)
        limited = await uow.requests.due(NOW, limit=1)
    assert [r.key for r in due] == [late.key, later.key, on_time.key]
    assert [r.key for r in limited] == ["late"]


async def test_due_compares_instants_not_local_clock_text(db: Database) -> None:
    """An expiry given in another time zone is due at the same instant."""
    plus_two = timezone(timedelta(hours=2))
    async with db.unit_of_work() as uow:
        await new_request(uow, expires_at=datetime(2026, 11, 22, 13, 30, tzinfo=plus_two))
        assert [r.key for r in await uow.requests.due(NOW)] == ["k1"]  # 11:30 UTC
        assert await uow.requests.due(NOW - timedelta(hours=1)) == []


async def test_datetimes_round_trip_as_aware_utc(db: Database) -> None:
    plus_five = timezone(timedelta(hours=5, minutes=30))
    created = datetime(2026, 11, 22, 17, 45, 12, 345678, tzinfo=plus_five)
    async with db.unit_of_work() as uow:
        request = await new_request(uow, now=created, expires_at=created + timedelta(days=7))
        await uow.requests.move(request.id, "pending", "authorized", created, decided=True)
        await uow.audit.record(request.id, OWEN, "approve", "pending", "authorized", created)
        await uow.commit()
    async with db.unit_of_work() as uow:
        stored = await uow.requests.get(request.id)
        (audit,) = await uow.audit.of_request(request.id)
    assert stored is not None and stored.decided_at is not None
    for value in (stored.created_at, stored.expires_at, stored.decided_at, audit.at):
        assert value.tzinfo is UTC
    assert stored.created_at == created
    assert stored.created_at.hour == 12 and stored.created_at.microsecond == 345678
    assert stored.expires_at == created + timedelta(days=7)
    assert audit.at == created


async def test_naive_datetime_is_refused(db: Database) -> None:
    """A naive datetime would be stored as if it were UTC; it is rejected instead."""
    async with db.unit_of_work() as uow:
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.users.seen(77, "Naive", None, datetime(2026, 11, 22, 12, 0))


async def test_requester_and_owner_listings(db: Database) -> None:
    async with db.unit_of_work() as uow:
        a = await new_request(uow, key="a")
        b = await new_request(uow, key="b", handle="other")
        c = await new_request(uow, key="c", owner_id=None)
        await uow.requests.move(a.id, "pending", "rejected", NOW)
        pending = await uow.requests.pending_for_owner(OWEN)
        mine = await uow.requests.of_requester(ADA)
    assert [r.key for r in pending] == [b.key]
    assert [r.key for r in mine] == [c.key, b.key, a.key]  # open first, newest first


async def test_assign_unclaimed_routes_only_ownerless_pending_requests(db: Database) -> None:
    async with db.unit_of_work() as uow:
        free = await new_request(uow, key="free", owner_id=None)
        done = await new_request(uow, key="done", owner_id=None)
        other = await new_request(uow, key="other", owner_id=None, handle="someone.else")
        await uow.requests.move(done.id, "pending", "cancelled", NOW)
        await uow.requests.assign_unclaimed("tiktok", "owen.makes", OWEN)
        rows = {r.key: r for r in (await uow.requests.of_requester(ADA))}
    assert rows[free.key].owner_id == OWEN
    assert rows[done.key].owner_id is None
    assert rows[other.key].owner_id is None


# --- claims, grants, audit, cards -----------------------------------------------------------


async def test_claiming_a_taken_handle_returns_the_existing_owners_claim(db: Database) -> None:
    """The first owner keeps the handle; a later claimant is told who holds it."""
    async with db.unit_of_work() as uow:
        first = await uow.claims.add("tiktok", "owen.makes", "owen.makes", OWEN, NOW)
        second = await uow.claims.add("tiktok", "Owen.Makes", "owen.makes", EVE, NOW)
        await uow.commit()
    assert first.owner_id == OWEN
    assert second == first
    async with db.unit_of_work() as uow:
        assert await uow.claims.of_owner(EVE) == []
        assert [c.handle for c in await uow.claims.of_owner(OWEN)] == ["owen.makes"]


async def test_same_handle_on_another_platform_is_a_separate_claim(db: Database) -> None:
    async with db.unit_of_work() as uow:
        await uow.claims.add("tiktok", "owen", "owen", OWEN, NOW)
        other = await uow.claims.add("meta", "owen", "owen", EVE, NOW)
    assert other.owner_id == EVE


async def test_handles_are_listed_in_code_point_order_on_every_backend(db: Database) -> None:
    """Lists sort text by code point (SQLite's order), not by the PostgreSQL database's locale,
    which would put "a_b" before "a.c"."""
    handles = ["ab", "a_b", "a.c", "b1", "a9"]
    async with db.unit_of_work() as uow:
        for i, handle in enumerate(handles):
            await uow.claims.add("tiktok", handle, handle, OWEN, NOW)
            request = await new_request(uow, key=f"k{i}", handle=handle)
            assert await uow.requests.move(request.id, "pending", "authorized", NOW)
        claimed = [c.handle_key for c in await uow.claims.of_owner(OWEN)]
        authorized = [r.handle_key for r in await uow.requests.authorized_for_owner(OWEN)]
    assert claimed == authorized == sorted(handles) == ["a.c", "a9", "a_b", "ab", "b1"]


async def test_grants_open_and_close(db: Database) -> None:
    request = await committed_request(db)
    async with db.unit_of_work() as uow:
        await uow.grants.open(request.id, OWEN, ADA, NOW)
        assert await uow.grants.active_count(OWEN) == 1
        await uow.grants.close(request.id, "revoked", NOW)
        assert await uow.grants.active_count(OWEN) == 0


async def test_audit_rows_come_back_in_the_order_recorded(db: Database) -> None:
    request = await committed_request(db)
    other = await committed_request(db, key="k2")
    async with db.unit_of_work() as uow:
        await uow.audit.record(request.id, ADA, "create", None, "pending", NOW)
        await uow.audit.record(other.id, ADA, "create", None, "pending", NOW)
        await uow.audit.record(request.id, OWEN, "approve", "pending", "authorized",
                               NOW + timedelta(minutes=1))
        await uow.audit.record(request.id, ADA, "unlink", "authorized", "unlinked",
                               NOW - timedelta(minutes=5), reason="done")
        await uow.commit()
    async with db.unit_of_work() as uow:
        rows = await uow.audit.of_request(request.id)
    assert [(r.event, r.actor_id, r.from_status, r.to_status, r.reason) for r in rows] == [
        ("create", ADA, None, "pending", None),
        ("approve", OWEN, "pending", "authorized", None),
        ("unlink", ADA, "authorized", "unlinked", "done"),
    ]


async def test_cards_take_returns_and_removes_them(db: Database) -> None:
    """Each button card is edited once: taking them twice yields nothing the second time."""
    request = await committed_request(db)
    other = await committed_request(db, key="k2")
    async with db.unit_of_work() as uow:
        await uow.cards.add(request.id, OWEN, 10, NOW)
        await uow.cards.add(request.id, ADA, 11, NOW)
        await uow.cards.add(other.id, OWEN, 12, NOW)
        await uow.commit()
    async with db.unit_of_work() as uow:
        taken = await uow.cards.take(request.id)
        await uow.commit()
    assert sorted((c.chat_id, c.message_id) for c in taken) == [(ADA, 11), (OWEN, 10)]
    async with db.unit_of_work() as uow:
        assert await uow.cards.take(request.id) == []
        assert [c.message_id for c in await uow.cards.take(other.id)] == [12]


# --- knowledge base: repository -------------------------------------------------------------


def kb_entry(entry_id: str, *, category: str = "basics", answer: str = "An answer that is long.",
             related: list[str] | None = None) -> KbEntryRow:
    return KbEntryRow(entry_id, f"Title {entry_id}", [f"phrase {entry_id}"], answer, "tiktok",
                      category, related or [], ["https://example.com/a"])


async def test_knowledge_replace_adds_updates_removes_and_is_idempotent(db: Database) -> None:
    cats = [("basics", "Basics"), ("more", "More")]
    async with db.unit_of_work() as uow:
        assert await uow.knowledge.replace(cats, [kb_entry("a"), kb_entry("b")], NOW) == (2, 0, 0)
        await uow.commit()
    changed = [kb_entry("c", category="more"),
               kb_entry("a", category="more", answer="A different answer text.")]
    async with db.unit_of_work() as uow:
        assert await uow.knowledge.replace([("more", "More!")], changed, NOW) == (1, 1, 1)
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.knowledge.replace([("more", "More!")], changed, NOW) == (0, 0, 0)
        assert await uow.knowledge.entries() == changed
        assert await uow.knowledge.categories() == [("more", "More!")]


async def test_knowledge_replace_counts_a_reorder_as_no_change(db: Database) -> None:
    cats = [("basics", "Basics")]
    async with db.unit_of_work() as uow:
        await uow.knowledge.replace(cats, [kb_entry("a"), kb_entry("b")], NOW)
        assert await uow.knowledge.replace(cats, [kb_entry("b"), kb_entry("a")], NOW) == (0, 0, 0)
        assert [e.id for e in await uow.knowledge.entries()] == ["b", "a"]


async def test_questions_are_grouped_case_insensitively_and_learning_settles_them(
        db: Database) -> None:
    """Misses group by their text in any case, accented and Cyrillic capitals too; learning a
    phrasing settles every logged ask of it, however it was capitalised."""
    asks = ["Как связать аккаунт?", "как связать аккаунт?", "ÉCOLE account?", "école account?",
            "École Account?", "Unrelated?"]
    async with db.unit_of_work() as uow:
        ids = [await uow.knowledge.log_question(ADA, q, "miss", None, None,
                                                NOW + timedelta(minutes=i))
               for i, q in enumerate(asks)]
        await uow.commit()
    assert len(set(ids)) == len(ids)
    async with db.unit_of_work() as uow:
        misses = await uow.knowledge.questions(["miss"])
        # Each group is shown as its first spelling in code point order (capitals first).
        assert [(m.count, m.question) for m in misses] == [
            (3, "ÉCOLE account?"), (2, "Как связать аккаунт?"), (1, "Unrelated?")]
        assert await uow.knowledge.learn("école ACCOUNT?", "tiktok-x", NOW) == 3
        assert await uow.knowledge.learn("КАК связать аккаунт?", "tiktok-y", NOW) == 2
        assert await uow.knowledge.learn("école ACCOUNT?", "tiktok-x", NOW) == 0
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert [m.question for m in await uow.knowledge.questions(["miss"])] == ["Unrelated?"]
        assert await uow.knowledge.learned() == [("tiktok-x", "école ACCOUNT?"),
                                                 ("tiktok-y", "КАК связать аккаунт?")]


async def test_a_suggestion_is_resolved_once_and_only_by_its_asker(db: Database) -> None:
    async with db.unit_of_work() as uow:
        log_id = await uow.knowledge.log_question(ADA, "spark code?", "suggested", None, 0.5,
                                                  NOW)
        assert not await uow.knowledge.resolve_question(log_id, EVE, "chosen", "a")
        assert await uow.knowledge.resolve_question(log_id, ADA, "chosen", "a")
        assert not await uow.knowledge.resolve_question(log_id, ADA, "none_fit", None)
        (chosen,) = await uow.knowledge.questions(["chosen"])
    assert (chosen.question, chosen.entry_id, chosen.score, chosen.count) == (
        "spark code?", "a", 0.5, 1)


# --- inbox and outbox -----------------------------------------------------------------------


async def test_inbox_stores_each_update_once_and_keeps_payloads_until_done(
        db: Database) -> None:
    payload = {"update_id": 7, "message": {"text": "Привет ✅", "chat": {"id": ADA}},
               "nested": [1, None, {"x": 2.5}]}
    async with db.unit_of_work() as uow:
        first = await uow.inbox.store([(7, ADA, payload), (5, None, {"u": 5}), (9, EVE, None)],
                                      NOW, done=[9])
        again = await uow.inbox.store([(7, ADA, payload), (8, OWEN, {"u": 8})], NOW)
        await uow.commit()
    assert (first.fresh, again.fresh) == ([7, 5, 9], [8])

    async def recorded(update_id: int, key: int) -> bool:
        # Refused at once (SQLite), or at the commit, which held the mark (PostgreSQL).
        try:
            async with db.unit_of_work() as uow:
                fresh = await uow.inbox.record_done(update_id, key, NOW)
                await uow.commit()
        except AlreadyDone:
            return False
        return fresh

    assert not await recorded(7, ADA)
    assert await recorded(10, OWEN)
    async with db.unit_of_work() as uow:
        unfinished = await uow.inbox.unfinished()
        assert [(r.update_id, r.chat_key, r.payload) for r in unfinished] == [
            (5, None, {"u": 5}), (7, ADA, payload), (8, OWEN, {"u": 8})]
        assert await uow.inbox.last_id() == 10
        await uow.inbox.done(7, NOW)
        await uow.inbox.purge(NOW + timedelta(seconds=1))
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert [r.update_id for r in await uow.inbox.unfinished()] == [5, 8]
        assert await uow.inbox.last_id() == 8


async def test_outbox_rows_get_their_ids_in_the_order_owed(db: Database) -> None:
    """The commit writes many owed messages in one statement; each row's id must be the one
    stored for that notice (RETURNING order), or a chat's messages would go out shuffled."""
    notices = [Notice("message", chat_id=[ADA, OWEN, EVE][i % 3], data={"n": i, "t": "é✅"})
               for i in range(60)]
    async with db.unit_of_work() as uow:
        for notice in notices[1:]:
            uow.outbox.add(notice)
        uow.outbox.add(notices[0], first=True)
        await uow.commit()
        written = uow.owed
    assert [row.payload["n"] for row in written] == list(range(60))
    assert [row.id for row in written] == sorted(row.id for row in written)
    async with db.unit_of_work() as uow:
        stored = {row.id: row for row in await uow.outbox.pending()}
        assert {i: (r.chat_id, r.payload) for i, r in stored.items()} == {
            row.id: (row.chat_id, row.payload) for row in written}
        assert all(r.next_at == written[0].next_at and r.attempts == 0
                   for r in stored.values())
        mine = await uow.outbox.pending(chat_id=ADA)
        assert [r.payload["n"] for r in mine] == list(range(0, 60, 3))
        await uow.outbox.retry(mine[0].id, 1, NOW + timedelta(seconds=2), "429 " * 200)
        await uow.outbox.give_up(mine[1].id, "403")
        await uow.outbox.sent([r.id for r in mine[2:]])
        await uow.commit()
    async with db.unit_of_work() as uow:
        assert await uow.outbox.count() == 41
        assert await uow.outbox.count("failed") == 1
        (retried,) = await uow.outbox.pending(chat_id=ADA)
    assert (retried.attempts, retried.next_at) == (1, NOW + timedelta(seconds=2))


# --- knowledge base: the data file ----------------------------------------------------------


def topic_ids() -> list[str]:
    ids = []
    for line in TOPICS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            ids.append(line.split(":", 1)[0].strip())
    return ids


def test_bundled_knowledge_base_parses() -> None:
    categories, entries = parse_kb(BUNDLED_KB.read_text(encoding="utf-8"))
    assert len(entries) >= 45
    assert categories
    assert len({e.id for e in entries}) == len(entries)


def test_bundled_knowledge_base_covers_every_required_topic() -> None:
    required = topic_ids()
    assert len(required) >= 10, f"no topics read from {TOPICS}"
    _, entries = parse_kb(BUNDLED_KB.read_text(encoding="utf-8"))
    missing = sorted(set(required) - {e.id for e in entries})
    assert missing == []


def _document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": 1,
        "categories": {"linking": "Linking", "approval": "Approval"},
        "entries": [
            {"id": "alpha-topic", "title": "How do I link?", "phrasings": ["how to link"],
             "answer": "Open <b>Ads Manager</b> and ask the owner to approve.",
             "platform": "tiktok", "category": "linking", "related": ["beta-topic"],
             "sources": ["https://ads.tiktok.com/help/article/link"]},
            {"id": "beta-topic", "title": "Why was it rejected?", "phrasings": ["rejected"],
             "answer": "The owner said no; ask them <i>why</i> and send again.",
             "platform": "tiktok", "category": "approval"},
        ],
    }
    for key, value in changes.items():
        doc[key] = value
    return doc


def _with_beta(**fields: Any) -> str:
    doc = _document()
    beta = doc["entries"][1]
    for key, value in fields.items():
        if value is None:
            beta.pop(key)
        else:
            beta[key] = value
    return yaml.safe_dump(doc, sort_keys=False)


def test_minimal_document_parses() -> None:
    categories, entries = parse_kb(yaml.safe_dump(_document(), sort_keys=False))
    assert categories == [("linking", "Linking"), ("approval", "Approval")]
    assert [e.id for e in entries] == ["alpha-topic", "beta-topic"]
    assert entries[1].related == [] and entries[1].sources == []


MALFORMED = {
    "missing_answer": (_with_beta(answer=None), "answer"),
    "missing_title": (_with_beta(title=None), "title"),
    "unknown_category": (_with_beta(category="nonsense"), "category"),
    "duplicate_id": (_with_beta(id="alpha-topic"), "id"),
    "unknown_related_id": (_with_beta(related=["gamma-topic"]), "related"),
    "self_related": (_with_beta(related=["beta-topic"]), "related"),
    "html_p": (_with_beta(answer="<p>Paragraphs are not Telegram HTML at all.</p>"), "answer"),
    "html_br": (_with_beta(answer="First line of the answer<br>second line."), "answer"),
    "html_br_self_closing": (_with_beta(answer="First line of the answer<br/>second line."),
                             "answer"),
    "html_div_attr": (_with_beta(answer='<div class="x">A boxed answer text here.</div>'),
                      "answer"),
    "html_script": (_with_beta(answer="<script>alert(1)</script> and some more text"), "answer"),
    "source_not_url": (_with_beta(sources=["ads.tiktok.com/help"]), "sources"),
    "source_not_http": (_with_beta(sources=["ftp://example.com/file"]), "sources"),
    "unknown_platform": (_with_beta(platform="myspace"), "platform"),
    "unknown_field": (_with_beta(colour="blue"), "colour"),
}


@pytest.mark.parametrize(("document", "field"), MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_entry_names_the_entry_and_field(document: str, field: str) -> None:
    """The editor of faq.yaml is told which entry and which field to fix."""
    expected_id = "alpha-topic" if field == "id" else "beta-topic"
    with pytest.raises(KbFileError) as info:
        parse_kb(document)
    message = str(info.value)
    assert repr(expected_id) in message
    assert field in message


@pytest.mark.parametrize("document", [
    "version: 1\nentries: [unclosed\n",
    "version: 1\n  categories: {a: b}\n bad: indent\n",
    "entries:\n\t- id: tab-indented\n",
])
def test_bad_yaml_raises_kb_file_error(document: str) -> None:
    with pytest.raises(KbFileError, match="YAML"):
        parse_kb(document)


@pytest.mark.parametrize(("document", "field"), [
    (yaml.safe_dump(_document(categories={}), sort_keys=False), "categories"),
    (yaml.safe_dump(_document(entries=[]), sort_keys=False), "entries"),
    (yaml.safe_dump({k: v for k, v in _document().items() if k != "version"}), "version"),
    ("just a string", "(root)"),
])
def test_malformed_file_level_names_the_field(document: str, field: str) -> None:
    with pytest.raises(KbFileError) as info:
        parse_kb(document)
    assert field in str(info.value)


async def test_load_kb_imports_then_reloading_changes_nothing(db: Database) -> None:
    _, entries = parse_kb(BUNDLED_KB.read_text(encoding="utf-8"))
    assert await load_kb(db, BUNDLED_KB, NOW) == (len(entries), 0, 0)
    assert await load_kb(db, BUNDLED_KB, NOW + timedelta(days=1)) == (0, 0, 0)
    async with db.unit_of_work() as uow:
        assert await uow.knowledge.entries() == entries


async def test_failed_load_leaves_the_stored_knowledge_base_unchanged(db: Database,
                                                                      tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_document(), sort_keys=False), encoding="utf-8")
    await load_kb(db, good, NOW)
    async with db.unit_of_work() as uow:
        before = (await uow.knowledge.categories(), await uow.knowledge.entries())

    bad = tmp_path / "bad.yaml"
    bad.write_text(_with_beta(related=["missing-topic"]), encoding="utf-8")
    with pytest.raises(KbFileError):
        await load_kb(db, bad, NOW)
    async with db.unit_of_work() as uow:
        after = (await uow.knowledge.categories(), await uow.knowledge.entries())
    assert after == before
    assert [e.id for e in after[1]] == ["alpha-topic", "beta-topic"]


def test_bundled_answers_hedge_what_the_sources_do_not_establish() -> None:
    """Answers checked against the domain notes say where a path or claim is not documented."""
    _, entries = parse_kb(BUNDLED_KB.read_text(encoding="utf-8"))
    answers = {e.id: e.answer for e in entries}
    assert "QR code" in answers["tiktok-revoke-access"]
    assert "no revoke path is documented" in answers["tiktok-revoke-access"]
    for entry_id in ("meta-temporary-access", "meta-remove-partner"):
        assert "not for partner agencies" in answers[entry_id]
    assert "Page access" in answers["meta-approve-partner-request"]
    assert "appear on your profile" in answers["tiktok-permissions-granted"]
    assert "third-party guides only" in answers["tiktok-switch-to-business"]
