"""Repositories: Core statements on one connection. They never commit; the unit of work does."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    Table,
    any_,
    bindparam,
    case,
    exists,
    func,
    insert,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from flows.records import (
    CardRow,
    ClaimRow,
    ConversationRow,
    Notice,
    RequestRow,
    SparkCodeRow,
    UserRow,
)
from storage.models import (
    AuditEvent,
    Block,
    Claim,
    Conversation,
    Grant,
    InboxUpdate,
    KbCategory,
    KbEntry,
    KbQuestion,
    LinkRequest,
    LiveQuestion,
    OutboxMessage,
    RequestCard,
    SparkCode,
    User,
)
from storage.raw import RawResult, hot, write

USERS: Table = User.__table__  # type: ignore[assignment]
CONVERSATIONS: Table = Conversation.__table__  # type: ignore[assignment]
REQUESTS: Table = LinkRequest.__table__  # type: ignore[assignment]
CLAIMS: Table = Claim.__table__  # type: ignore[assignment]
GRANTS: Table = Grant.__table__  # type: ignore[assignment]
AUDIT: Table = AuditEvent.__table__  # type: ignore[assignment]
CARDS: Table = RequestCard.__table__  # type: ignore[assignment]
KB_CATEGORIES: Table = KbCategory.__table__  # type: ignore[assignment]
KB_ENTRIES: Table = KbEntry.__table__  # type: ignore[assignment]
KB_QUESTIONS: Table = KbQuestion.__table__  # type: ignore[assignment]
INBOX: Table = InboxUpdate.__table__  # type: ignore[assignment]
OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
LIVE_QUESTIONS: Table = LiveQuestion.__table__  # type: ignore[assignment]
BLOCKS: Table = Block.__table__  # type: ignore[assignment]

__all__ = ["CardRow", "ClaimRow", "ConversationRow", "RequestRow", "UserRow"]


class StaleWrite(Exception):
    """A row changed between our read and our write (another update for the same user won)."""


class AlreadyDone(Exception):
    """The update was recorded as processed by another unit of work (a redelivery that raced
    the first delivery); nothing of this one is kept."""


def hash_token(token: str) -> str:
    """Approval tokens are stored hashed: a leaked database does not leak live approval links."""
    return hashlib.sha256(token.encode()).hexdigest()


def _insert_ignoring_conflict(conn: AsyncConnection, table: Table, keys: list[str]) -> Any:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    raise NotImplementedError(f"no upsert for {dialect}")


def _code_point_order(conn: AsyncConnection, column: Any) -> Any:
    """`column` compared by code point, as SQLite compares text, whatever locale the PostgreSQL
    database sorts by (an English one puts "a_b" before "a.c", lower case before capitals)."""
    return column.collate("C") if conn.dialect.name == "postgresql" else column


def _upsert(conn: AsyncConnection, table: Table, keys: list[str], values: dict[str, Any],
            update_columns: Sequence[str]) -> Any:
    dialect = conn.dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    if dialect not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"no upsert for {dialect}")
    stmt = module.insert(table).values(**values)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in update_columns}
    )




_SEEN: dict[str, Any] = {}  # per dialect: the upsert every message from a person runs


class Users:
    """Telegram users the bot has heard from."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def seen(self, user_id: int, first_name: str, username: str | None,
                   now: datetime) -> None:
        """Record (or refresh) a user who wrote to the bot."""
        stmt = _SEEN.get(self._conn.dialect.name)
        if stmt is None:
            stmt = _SEEN[self._conn.dialect.name] = hot(_upsert(
                self._conn, USERS, ["id"],
                {"id": bindparam("id"), "first_name": bindparam("first_name"),
                 "username": bindparam("username"),
                 "created_at": bindparam("now", type_=USERS.c.created_at.type),
                 "last_seen_at": bindparam("now"), "deleted_at": None},
                ["first_name", "username", "last_seen_at", "deleted_at"]))
        await write(self._conn, stmt, {"id": user_id, "first_name": first_name,
                                       "username": username, "now": now})

    async def get(self, user_id: int) -> UserRow | None:
        c = USERS.c
        row = (await self._conn.execute(
            select(c.id, c.first_name, c.username, c.deleted_at.is_not(None))
            .where(c.id == user_id)
        )).first()
        return UserRow(row[0], row[1], row[2], bool(row[3])) if row else None

    async def erase(self, user_id: int, now: datetime) -> None:
        """Anonymise a user: the row stays (requests name its id), the name and username go."""
        await self._conn.execute(update(USERS).where(USERS.c.id == user_id).values(
            first_name="", username=None, deleted_at=now, last_seen_at=now))




_C = CONVERSATIONS.c
# The statements every update runs are built once (parameters bound at execution): building a
# statement per call, coercing each clause, cost more than running it on SQLite.
_LOAD_CONVERSATION = hot(select(_C.state, _C.data, _C.version).where(
    _C.user_id == bindparam("user_id"), _C.flow == bindparam("flow")))
_SAVE_CONVERSATION = hot(update(CONVERSATIONS).where(
    _C.user_id == bindparam("for_user"), _C.flow == bindparam("for_flow"),
    _C.version == bindparam("read_version")).values(
    state=bindparam("new_state", type_=_C.state.type),
    data=bindparam("new_data", type_=_C.data.type),
    version=bindparam("new_version", type_=_C.version.type),
    updated_at=bindparam("now", type_=_C.updated_at.type)))


_START_CONVERSATION: dict[str, Any] = {}  # per dialect: the first write, ignoring a racing one


class Conversations:
    """One row per user and flow; every write checks the version it read."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        # Rows read ahead with another statement (the ban gate, issue 11), served once by
        # `load`; any write drops them.
        self._primed: dict[tuple[int, str], ConversationRow | None] = {}

    def prime(self, user_id: int, flow: str, row: ConversationRow | None) -> None:
        """A conversation (or its absence) read by another statement of this transaction."""
        self._primed[(user_id, flow)] = row

    async def load(self, user_id: int, flow: str) -> ConversationRow | None:
        if self._primed and (user_id, flow) in self._primed:
            return self._primed.pop((user_id, flow))
        row = (await self._conn.execute(
            _LOAD_CONVERSATION, {"user_id": user_id, "flow": flow})).first()
        return ConversationRow(user_id, flow, row.state, row.data, row.version) if row else None

    async def save(self, before: ConversationRow, state: str, data: dict[str, Any],
                   now: datetime) -> ConversationRow:
        """Write the new state over `before`; StaleWrite if someone else wrote in between
        (here, or at the commit when the unit of work held the write, see `storage.raw.write`).
        """
        self._primed.clear()

        def stale() -> StaleWrite:
            return StaleWrite(f"conversation {before.user_id}/{before.flow}")
        if before.version == 0:
            stmt = _START_CONVERSATION.get(self._conn.dialect.name)
            if stmt is None:
                stmt = _START_CONVERSATION[self._conn.dialect.name] = hot(
                    _insert_ignoring_conflict(self._conn, CONVERSATIONS, ["user_id", "flow"])
                    .values(user_id=bindparam("user_id"), flow=bindparam("flow"),
                            state=bindparam("state", type_=_C.state.type),
                            data=bindparam("data", type_=_C.data.type), version=1,
                            created_at=bindparam("now", type_=_C.created_at.type),
                            updated_at=bindparam("now")))
            await write(self._conn, stmt, {
                "user_id": before.user_id, "flow": before.flow, "state": state, "data": data,
                "now": now}, expect=1, otherwise=stale)
        else:
            await write(self._conn, _SAVE_CONVERSATION, {
                "for_user": before.user_id, "for_flow": before.flow,
                "read_version": before.version,
                "new_state": state, "new_data": data, "new_version": before.version + 1,
                "now": now}, expect=1, otherwise=stale)
        return ConversationRow(before.user_id, before.flow, state, data, before.version + 1)

    async def delete(self, user_id: int, flow: str) -> None:
        self._primed.clear()
        c = CONVERSATIONS.c
        await self._conn.execute(
            CONVERSATIONS.delete().where(c.user_id == user_id, c.flow == flow)
        )

    async def forget(self, user_id: int) -> int:
        """Delete every conversation of a user (drafts, confirmed prerequisites, open "why?")."""
        self._primed.clear()
        result = await self._conn.execute(
            CONVERSATIONS.delete().where(CONVERSATIONS.c.user_id == user_id))
        return int(result.rowcount or 0)




_REQUEST_COLUMNS = [
    REQUESTS.c.id, REQUESTS.c.key, REQUESTS.c.requester_id, REQUESTS.c.platform,
    REQUESTS.c.handle, REQUESTS.c.handle_key, REQUESTS.c.ad_account, REQUESTS.c.scopes,
    REQUESTS.c.visibility, REQUESTS.c.status, REQUESTS.c.owner_id, REQUESTS.c.reason,
    REQUESTS.c.created_at, REQUESTS.c.expires_at, REQUESTS.c.decided_at,
    REQUESTS.c.approval_token_hash.is_not(None).label("has_token"),
    REQUESTS.c.business_id, REQUESTS.c.access_days, REQUESTS.c.access_ends_at,
    REQUESTS.c.strength,  # trust (issue 11)
]


class Requests:
    """Link requests. Status changes are conditional updates on the status they start from."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _one(self, *where: Any) -> RequestRow | None:
        row = (await self._conn.execute(select(*_REQUEST_COLUMNS).where(*where))).first()
        return RequestRow(*row) if row else None

    async def create(self, *, key: str, requester_id: int, platform: str, handle: str,
                     handle_key: str, ad_account: str, scopes: list[str],
                     visibility: str | None, owner_id: int | None, now: datetime,
                     expires_at: datetime, business_id: str | None = None,
                     access_days: int | None = None) -> RequestRow:
        result = await self._conn.execute(insert(REQUESTS).values(
            key=key, requester_id=requester_id, platform=platform, handle=handle,
            handle_key=handle_key, ad_account=ad_account, scopes=scopes, visibility=visibility,
            status="pending", owner_id=owner_id, version=1, created_at=now, updated_at=now,
            expires_at=expires_at, business_id=business_id, access_days=access_days,
        ))
        request = await self.get((result.inserted_primary_key or [0])[0])
        assert request is not None
        return request

    async def get(self, request_id: int) -> RequestRow | None:
        return await self._one(REQUESTS.c.id == request_id)

    async def by_key(self, key: str) -> RequestRow | None:
        return await self._one(REQUESTS.c.key == key)

    async def by_token(self, token: str) -> RequestRow | None:
        return await self._one(REQUESTS.c.approval_token_hash == hash_token(token))

    async def set_token(self, request_id: int, token: str) -> None:
        await self._conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id)
                                 .values(approval_token_hash=hash_token(token)))

    async def move(self, request_id: int, from_status: str, to_status: str, now: datetime, *,
                   decided: bool = False, owner_id: int | None = None,
                   reason: str | None = None, strength: str | None = None) -> bool:
        """Change status only if the row still has `from_status`; False when it did not.
        `strength` records how far the decider is known to own the handle (issue 11)."""
        values: dict[str, Any] = {"status": to_status, "updated_at": now,
                                  "version": REQUESTS.c.version + 1}
        if strength is not None:
            values["strength"] = strength
        if decided:
            values["decided_at"] = now
        if owner_id is not None:
            values["owner_id"] = owner_id
        if reason is not None:
            values["reason"] = reason
        if to_status != "pending":
            # The one-time approval link dies with the pending state.
            values["approval_token_hash"] = None
        result = await self._conn.execute(
            update(REQUESTS)
            .where(REQUESTS.c.id == request_id, REQUESTS.c.status == from_status)
            .values(**values)
        )
        return result.rowcount == 1

    async def forget_reasons(self, user_id: int) -> int:
        """Drop the rejection reasons a person wrote as owner or was sent as advertiser (the
        decisions themselves stay)."""
        c = REQUESTS.c
        result = await self._conn.execute(
            update(REQUESTS)
            .where(or_(c.owner_id == user_id, c.requester_id == user_id), c.reason.is_not(None))
            .values(reason=None))
        return int(result.rowcount or 0)

    async def expire_reasons(self, before: datetime) -> int:
        """Drop rejection reasons of requests decided before `before` (the retention period)."""
        c = REQUESTS.c
        result = await self._conn.execute(
            update(REQUESTS).where(c.reason.is_not(None), c.decided_at < before)
            .values(reason=None))
        return int(result.rowcount or 0)

    async def set_reason(self, request_id: int, reason: str) -> None:
        await self._conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id)
                                 .values(reason=reason))

    async def of_requester(self, user_id: int, limit: int = 20) -> list[RequestRow]:
        """A requester's requests, open ones first, newest first."""
        open_first = (REQUESTS.c.status.in_(["pending", "authorized"])).desc()
        rows = await self._conn.execute(
            select(*_REQUEST_COLUMNS).where(REQUESTS.c.requester_id == user_id)
            .order_by(open_first, REQUESTS.c.id.desc()).limit(limit)
        )
        return [RequestRow(*r) for r in rows]

    async def pending_for_owner(self, owner_id: int) -> list[RequestRow]:
        rows = await self._conn.execute(
            select(*_REQUEST_COLUMNS)
            .where(REQUESTS.c.owner_id == owner_id, REQUESTS.c.status == "pending")
            .order_by(REQUESTS.c.id)
        )
        return [RequestRow(*r) for r in rows]

    async def authorized_for_owner(self, owner_id: int) -> list[RequestRow]:
        rows = await self._conn.execute(
            select(*_REQUEST_COLUMNS)
            .where(REQUESTS.c.owner_id == owner_id, REQUESTS.c.status == "authorized")
            .order_by(_code_point_order(self._conn, REQUESTS.c.platform),
                      _code_point_order(self._conn, REQUESTS.c.handle_key), REQUESTS.c.id)
        )
        return [RequestRow(*r) for r in rows]

    async def due(self, now: datetime, limit: int = 100) -> list[RequestRow]:
        """Pending requests whose time is up, oldest first."""
        rows = await self._conn.execute(
            select(*_REQUEST_COLUMNS)
            .where(REQUESTS.c.status == "pending", REQUESTS.c.expires_at <= now)
            .order_by(REQUESTS.c.expires_at).limit(limit)
            .with_for_update(skip_locked=True)  # another worker's batch is theirs
        )
        return [RequestRow(*r) for r in rows]

    async def to_remind(self, now: datetime, before: datetime, limit: int = 100
                        ) -> list[RequestRow]:
        """Pending requests not reminded yet that expire before `before` (and not yet due)."""
        r = REQUESTS.c
        rows = await self._conn.execute(
            select(*_REQUEST_COLUMNS)
            .where(r.status == "pending", r.reminded_at.is_(None), r.expires_at > now,
                   r.expires_at <= before)
            .order_by(r.expires_at).limit(limit).with_for_update(skip_locked=True)
        )
        return [RequestRow(*row) for row in rows]

    async def mark_reminded(self, request_id: int, now: datetime) -> bool:
        """Note the one reminder; False if another process already did."""
        result = await self._conn.execute(
            update(REQUESTS).where(REQUESTS.c.id == request_id, REQUESTS.c.reminded_at.is_(None))
            .values(reminded_at=now))
        return result.rowcount == 1

    async def assign_unclaimed(self, platform: str, handle_key: str, owner_id: int) -> None:
        """Route pending requests for a newly claimed handle to its owner (never the owner's
        own requests: nobody decides their own)."""
        await self._conn.execute(
            update(REQUESTS)
            .where(REQUESTS.c.platform == platform, REQUESTS.c.handle_key == handle_key,
                   REQUESTS.c.status == "pending", REQUESTS.c.owner_id.is_(None),
                   REQUESTS.c.requester_id != owner_id)
            .values(owner_id=owner_id)
        )

    # --- temporary access (Meta partner access) ---
    async def set_access_end(self, request_id: int, ends_at: datetime) -> None:
        """When an approved request's temporary access ends."""
        await self._conn.execute(update(REQUESTS).where(REQUESTS.c.id == request_id)
                                 .values(access_ends_at=ends_at))

    async def access_due(self, now: datetime, limit: int = 100) -> list[RequestRow]:
        """Authorized requests whose temporary access is over, the earliest first."""
        r = REQUESTS.c
        rows = await self._conn.execute(
            select(*_REQUEST_COLUMNS)
            .where(r.status == "authorized", r.access_ends_at <= now)
            .order_by(r.access_ends_at).limit(limit)
            .with_for_update(skip_locked=True)  # another worker's batch is theirs
        )
        return [RequestRow(*row) for row in rows]




class Claims:
    """Which Telegram user owns which handle (one owner per handle per platform)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def get(self, platform: str, handle_key: str) -> ClaimRow | None:
        c = CLAIMS.c
        row = (await self._conn.execute(
            select(c.platform, c.handle, c.handle_key, c.owner_id, c.verified_at,
                   c.platform_user_id)
            .where(c.platform == platform, c.handle_key == handle_key)
        )).first()
        return ClaimRow(*row) if row else None

    async def add(self, platform: str, handle: str, handle_key: str, owner_id: int,
                  now: datetime) -> ClaimRow:
        """Claim a handle; returns the claim that stands afterwards (maybe someone else's)."""
        stmt = _insert_ignoring_conflict(self._conn, CLAIMS, ["platform", "handle_key"])
        await self._conn.execute(stmt.values(platform=platform, handle=handle,
                                             handle_key=handle_key, owner_id=owner_id,
                                             created_at=now))
        claim = await self.get(platform, handle_key)
        assert claim is not None
        return claim

    async def release(self, owner_id: int) -> int:
        """Give up every handle an owner claimed; returns how many."""
        result = await self._conn.execute(CLAIMS.delete().where(CLAIMS.c.owner_id == owner_id))
        return int(result.rowcount or 0)

    async def of_owner(self, owner_id: int) -> list[ClaimRow]:
        c = CLAIMS.c
        rows = await self._conn.execute(
            select(c.platform, c.handle, c.handle_key, c.owner_id, c.verified_at,
                   c.platform_user_id)
            .where(c.owner_id == owner_id)
            .order_by(_code_point_order(self._conn, c.platform),
                      _code_point_order(self._conn, c.handle_key))
        )
        return [ClaimRow(*r) for r in rows]


class Grants:
    """Access given by an approval, open until unlink or revoke."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def open(self, request_id: int, owner_id: int, advertiser_id: int,
                   now: datetime) -> None:
        await self._conn.execute(insert(GRANTS).values(
            request_id=request_id, owner_id=owner_id, advertiser_id=advertiser_id,
            granted_at=now))

    async def close(self, request_id: int, ended_as: str, now: datetime) -> None:
        await self._conn.execute(
            update(GRANTS).where(GRANTS.c.request_id == request_id, GRANTS.c.ended_at.is_(None))
            .values(ended_at=now, ended_as=ended_as)
        )

    async def active_count(self, owner_id: int) -> int:
        return int((await self._conn.execute(
            select(func.count()).select_from(GRANTS)
            .where(GRANTS.c.owner_id == owner_id, GRANTS.c.ended_at.is_(None))
        )).scalar_one())


@dataclass(frozen=True, slots=True)
class AuditRow:
    request_id: int
    actor_id: int | None
    event: str
    from_status: str | None
    to_status: str
    reason: str | None
    at: datetime


class Audit:
    """The append-only history of every request's transitions."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, request_id: int, actor_id: int | None, event: str,
                     from_status: str | None, to_status: str, now: datetime,
                     reason: str | None = None) -> None:
        await self._conn.execute(insert(AUDIT).values(
            request_id=request_id, actor_id=actor_id, event=event, from_status=from_status,
            to_status=to_status, reason=reason, at=now))

    async def forget_texts(self, actor_id: int, request_ids: Sequence[int]) -> int:
        """Drop the free text (reasons) of audit rows by `actor_id` or about `request_ids`; ids
        and moves stay."""
        c = AUDIT.c
        result = await self._conn.execute(
            update(AUDIT)
            .where(or_(c.actor_id == actor_id, c.request_id.in_(list(request_ids))),
                   c.reason.is_not(None))
            .values(reason=None))
        return int(result.rowcount or 0)

    async def expire_texts(self, before: datetime) -> int:
        """Drop the free text of audit rows older than `before` (the retention period)."""
        c = AUDIT.c
        result = await self._conn.execute(
            update(AUDIT).where(c.at < before, c.reason.is_not(None)).values(reason=None))
        return int(result.rowcount or 0)

    async def of_request(self, request_id: int) -> list[AuditRow]:
        c = AUDIT.c
        rows = await self._conn.execute(
            select(c.request_id, c.actor_id, c.event, c.from_status, c.to_status, c.reason, c.at)
            .where(c.request_id == request_id).order_by(c.id)
        )
        return [AuditRow(*r) for r in rows]




class Cards:
    """Messages with buttons about a request, to be edited when it is decided."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, request_id: int, chat_id: int, message_id: int, now: datetime,
                  kind: str = "card") -> None:
        await self._conn.execute(insert(CARDS).values(
            request_id=request_id, chat_id=chat_id, message_id=message_id, kind=kind,
            created_at=now))

    async def take(self, request_id: int) -> list[CardRow]:
        """The request's open cards, each returned once: they are marked closed (kept, so a
        reply to a rejected request's card can still be matched to it)."""
        c = CARDS.c
        rows = await self._conn.execute(
            select(c.chat_id, c.message_id, c.request_id, c.kind)
            .where(c.request_id == request_id, c.kind == "card").order_by(c.id)
        )
        cards = [CardRow(*r) for r in rows]
        if cards:
            await self._conn.execute(update(CARDS).where(c.request_id == request_id,
                                                         c.kind == "card")
                                     .values(kind="closed"))
        return cards

    async def find(self, chat_id: int, message_id: int) -> CardRow | None:
        """The request message `message_id` in `chat_id` is about, if it is one of ours."""
        c = CARDS.c
        row = (await self._conn.execute(
            select(c.chat_id, c.message_id, c.request_id, c.kind)
            .where(c.chat_id == chat_id, c.message_id == message_id)
        )).first()
        return CardRow(*row) if row else None


@dataclass(frozen=True, slots=True)
class KbEntryRow:
    id: str
    title: str
    phrasings: list[str]
    answer: str
    platform: str
    category: str
    related: list[str]
    sources: list[str]


@dataclass(frozen=True, slots=True)
class KbQuestionRow:
    question: str
    outcome: str
    entry_id: str | None
    score: float | None
    at: datetime
    count: int


class Knowledge:
    """The stored knowledge base and the questions it could not answer."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def categories(self) -> list[tuple[str, str]]:
        rows = await self._conn.execute(
            select(KB_CATEGORIES.c.id, KB_CATEGORIES.c.title).order_by(KB_CATEGORIES.c.position)
        )
        return [(r.id, r.title) for r in rows]

    async def entries(self) -> list[KbEntryRow]:
        c = KB_ENTRIES.c
        rows = await self._conn.execute(
            select(c.id, c.title, c.phrasings, c.answer, c.platform, c.category, c.related,
                   c.sources).order_by(c.position)
        )
        return [KbEntryRow(*r) for r in rows]

    async def replace(self, categories: list[tuple[str, str]], entries: list[KbEntryRow],
                      now: datetime) -> tuple[int, int, int]:
        """Make the stored knowledge base equal to the given one: (added, updated, removed)."""
        existing = {e.id: e for e in await self.entries()}
        for position, (cat_id, title) in enumerate(categories):
            await self._conn.execute(_upsert(
                self._conn, KB_CATEGORIES, ["id"],
                {"id": cat_id, "title": title, "position": position}, ["title", "position"]))
        added = updated = 0
        for position, entry in enumerate(entries):
            old = existing.pop(entry.id, None)
            if old is None:
                added += 1
            elif old != entry:
                updated += 1
            values = {f: getattr(entry, f) for f in KbEntryRow.__slots__}
            values.update(position=position, updated_at=now)
            await self._conn.execute(_upsert(
                self._conn, KB_ENTRIES, ["id"], values,
                [k for k in values if k != "id"]))
        if existing:
            await self._conn.execute(KB_ENTRIES.delete().where(KB_ENTRIES.c.id.in_(existing)))
        keep = [c for c, _ in categories]
        await self._conn.execute(KB_CATEGORIES.delete().where(KB_CATEGORIES.c.id.not_in(keep)))
        return added, updated, len(existing)

    async def log_question(self, user_id: int | None, question: str, outcome: str,
                           entry_id: str | None, score: float | None, now: datetime) -> int:
        """Log a question and what became of it; returns the row's id."""
        result = await self._conn.execute(insert(KB_QUESTIONS).values(
            user_id=user_id, question=question, outcome=outcome, entry_id=entry_id, score=score,
            at=now))
        return int((result.inserted_primary_key or [0])[0])

    async def forget_asker(self, user_id: int) -> int:
        """Delete every question a person asked (learned phrasings have no person); returns
        how many."""
        result = await self._conn.execute(
            KB_QUESTIONS.delete().where(KB_QUESTIONS.c.user_id == user_id))
        return int(result.rowcount or 0)

    async def expire_questions(self, before: datetime) -> int:
        """Delete questions asked before `before` (the retention period); learned phrasings,
        kept without the person, stay in the knowledge base."""
        result = await self._conn.execute(
            KB_QUESTIONS.delete().where(KB_QUESTIONS.c.at < before,
                                        KB_QUESTIONS.c.outcome != "learned"))
        return int(result.rowcount or 0)

    async def resolve_question(self, log_id: int, user_id: int, outcome: str,
                               entry_id: str | None) -> bool:
        """Record the user's pick for a question they were offered suggestions for."""
        c = KB_QUESTIONS.c
        result = await self._conn.execute(
            update(KB_QUESTIONS)
            .where(c.id == log_id, c.user_id == user_id, c.outcome == "suggested")
            .values(outcome=outcome, entry_id=entry_id)
        )
        return result.rowcount == 1

    async def learn(self, question: str, entry_id: str, now: datetime) -> int:
        """Accept a question as a phrasing of an entry; returns how many logged asks it settles.

        The phrasing is kept as a row of its own with no user (the person is removed), and
        the logged asks of the same question stop being listed as misses or picks: their user
        is removed too.
        """
        c = KB_QUESTIONS.c
        settled = await self._conn.execute(
            update(KB_QUESTIONS)
            .where(func.lower(c.question) == question.lower(),
                   c.outcome.in_(["miss", "none_fit", "chosen", "suggested"]))
            .values(outcome="resolved", user_id=None)
        )
        known = await self._conn.execute(
            select(c.id).where(func.lower(c.question) == question.lower(),
                               c.outcome == "learned", c.entry_id == entry_id))
        if known.first() is None:
            await self._conn.execute(insert(KB_QUESTIONS).values(
                user_id=None, question=question, outcome="learned", entry_id=entry_id,
                score=None, at=now))
            # The entry changed: running bots see it in `revision()` and reload. The stamp
            # moves forward even when the clock has not (two learns in one tick).
            _, latest = await self.revision()
            stamp = now if latest is None or now > latest else latest + timedelta(microseconds=1)
            await self._conn.execute(
                update(KB_ENTRIES).where(KB_ENTRIES.c.id == entry_id).values(updated_at=stamp))
        return int(settled.rowcount or 0)

    async def revision(self) -> tuple[int, datetime | None]:
        """What changes whenever the stored knowledge base does (`kb load`, `kb learn`): the
        number of entries and their latest change. One small read, made per question."""
        c = KB_ENTRIES.c
        row = (await self._conn.execute(select(func.count(), func.max(c.updated_at)))).one()
        return int(row[0]), row[1]

    async def learned(self) -> list[tuple[str, str]]:
        """(entry id, question) of every phrasing an operator accepted, oldest first."""
        c = KB_QUESTIONS.c
        rows = await self._conn.execute(
            select(c.entry_id, c.question).where(c.outcome == "learned").order_by(c.id))
        return [(r.entry_id, r.question) for r in rows if r.entry_id]

    async def questions(self, outcomes: Sequence[str], limit: int = 100) -> list[KbQuestionRow]:
        """Logged questions grouped by text, most frequent first."""
        c = KB_QUESTIONS.c
        rows = await self._conn.execute(
            select(func.min(_code_point_order(self._conn, c.question)), c.outcome, c.entry_id,
                   func.max(c.score), func.max(c.at), func.count())
            .where(c.outcome.in_(outcomes))
            .group_by(func.lower(c.question), c.outcome, c.entry_id)
            .order_by(func.count().desc(), func.max(c.at).desc())
            .limit(limit)
        )
        return [KbQuestionRow(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class InboxRow:
    update_id: int
    chat_key: int | None
    payload: dict[str, Any]


_INBOX_DONE = hot(update(INBOX).where(INBOX.c.update_id == bindparam("uid")).values(
    done_at=bindparam("now", type_=INBOX.c.done_at.type), payload=None))


def _claim_oldest() -> Any:
    """PostgreSQL: a chat's processing lock for the transaction and, only when it was taken,
    the chat's oldest update not processed yet, in one statement."""
    i = INBOX.c
    lock = select(func.pg_try_advisory_xact_lock(bindparam("lock", type_=BigInteger))
                  .label("got")).subquery("l")
    oldest = (select(i.update_id, i.chat_key, i.payload)
              .where(lock.c.got, i.chat_key == bindparam("key", type_=BigInteger),
                     i.done_at.is_(None))
              .order_by(i.update_id).limit(1).with_for_update(skip_locked=True).lateral("i"))
    return select(lock.c.got, oldest.c.update_id, oldest.c.chat_key, oldest.c.payload) \
        .select_from(lock.outerjoin(oldest, true()))


_CLAIM_OLDEST = hot(_claim_oldest(), locks=True)
_WAITING = hot(select(exists().where(INBOX.c.chat_key == bindparam("key", type_=BigInteger),
                                     INBOX.c.done_at.is_(None)).label("waiting")))
_RECORD_DONE: dict[str, Any] = {}  # per dialect: INSERT ... ON CONFLICT DO NOTHING


_STORE_UPDATES: dict[str, Any] = {}  # per dialect (see `_store_updates`)


class Stored:
    """What `Inbox.store` stored. Which updates were new is known once the unit of work
    committed: a PostgreSQL unit of work holds the write until then (`storage.raw.write`)."""

    def __init__(self, ids: list[int], result: Any) -> None:
        self._ids, self._result = ids, result

    @property
    def fresh(self) -> list[int]:
        """The ids that were not stored before, in the order given."""
        if self._result.rowcount < 0:
            raise RuntimeError("stored updates read before their unit of work committed")
        new = {uid for (uid,) in self._result}
        return [uid for uid in self._ids if uid in new]


def _store_updates(conn: AsyncConnection) -> Any:
    """Store updates not stored yet, returning the ids that were new: on SQLite one row per
    execution, on PostgreSQL all rows from arrays in one statement."""
    i = INBOX.c
    now = bindparam("now", type_=i.received_at.type)
    if conn.dialect.name != "postgresql":
        return _insert_ignoring_conflict(conn, INBOX, ["update_id"]).values(
            update_id=bindparam("uid"), chat_key=bindparam("key"),
            payload=bindparam("payload", type_=i.payload.type), received_at=now,
            done_at=bindparam("done", type_=i.done_at.type)).returning(i.update_id)
    rows = select(
        func.unnest(bindparam("uids", type_=postgresql.ARRAY(BigInteger))).label("uid"),
        func.unnest(bindparam("keys", type_=postgresql.ARRAY(BigInteger))).label("key"),
        func.unnest(bindparam("payloads", type_=postgresql.ARRAY(i.payload.type)))
        .label("payload"),
        func.unnest(bindparam("finished", type_=postgresql.ARRAY(Boolean))).label("finished"),
    ).subquery("u")
    return postgresql.insert(INBOX).from_select(
        ["update_id", "chat_key", "payload", "received_at", "done_at"],
        select(rows.c.uid, rows.c.key, rows.c.payload, now,
               case((rows.c.finished, now), else_=null())),
    ).on_conflict_do_nothing(index_elements=["update_id"]).returning(i.update_id)


class Inbox:
    """Updates received and not yet processed; a stored `update_id` is never applied twice."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def store(self, rows: Sequence[tuple[int, int | None, dict[str, Any] | None]],
                    now: datetime, *, done: Sequence[int] = ()) -> Stored:
        """Store a batch of (update_id, chat key, payload); which ids were new is read once the
        unit of work committed (`Stored.fresh`). Ids in `done` are stored already processed (a
        flood's dropped updates), no payload."""
        if not rows:
            return Stored([], RawResult([], 0))
        finished = set(done)
        dialect = self._conn.dialect.name
        stmt = _STORE_UPDATES.get(dialect)
        if stmt is None:
            stmt = _STORE_UPDATES[dialect] = hot(_store_updates(self._conn))
        if dialect == "postgresql":  # one statement, the rows as arrays; may be held
            got = await write(self._conn, stmt, {
                "uids": [uid for uid, _, _ in rows], "keys": [key for _, key, _ in rows],
                "payloads": [None if uid in finished else payload for uid, _, payload in rows],
                "finished": [uid in finished for uid, _, _ in rows], "now": now})
        else:  # one execution per row, on the driver
            got = await self._conn.execute(stmt, [
                {"uid": uid, "key": key, "payload": None if uid in finished else payload,
                 "now": now, "done": now if uid in finished else None}
                for uid, key, payload in rows])
        return Stored([uid for uid, _, _ in rows], got)

    async def record_done(self, update_id: int, chat_key: int | None, now: datetime) -> bool:
        """Record an update processed in this same transaction; False if it was seen before.
        A PostgreSQL unit of work holds the mark for its commit (`storage.raw.write`), so there
        a redelivery may be found only then: the commit raises AlreadyDone and keeps nothing."""
        stmt = _RECORD_DONE.get(self._conn.dialect.name)
        if stmt is None:
            stmt = _RECORD_DONE[self._conn.dialect.name] = hot(_insert_ignoring_conflict(
                self._conn, INBOX, ["update_id"]).values(
                update_id=bindparam("uid"), chat_key=bindparam("key"), payload=None,
                received_at=bindparam("now", type_=INBOX.c.received_at.type),
                done_at=bindparam("now")))
        try:
            await write(self._conn, stmt, {"uid": update_id, "key": chat_key, "now": now},
                        expect=1, otherwise=lambda: AlreadyDone(update_id))
        except AlreadyDone:
            return False
        return True

    async def done(self, update_id: int, now: datetime) -> None:
        await write(self._conn, _INBOX_DONE, {"uid": update_id, "now": now})

    async def unfinished(self, limit: int = 10_000) -> list[InboxRow]:
        """Updates stored but not processed (the process stopped first), oldest first."""
        i = INBOX.c
        rows = await self._conn.execute(
            select(i.update_id, i.chat_key, i.payload).where(i.done_at.is_(None))
            .order_by(i.update_id).limit(limit))
        return [InboxRow(*r) for r in rows]

    async def claim(self, chat_key: int | None) -> InboxRow | None:
        """Take this chat's processing lock for the transaction and its oldest update not
        processed yet; None when another worker holds the lock or nothing is left. One
        statement on PostgreSQL."""
        if self._conn.dialect.name == "postgresql" and chat_key is not None:
            row = (await self._conn.execute(
                _CLAIM_OLDEST, {"lock": chat_key, "key": chat_key})).one()
            return (None if row.update_id is None else
                    InboxRow(row.update_id, row.chat_key, row.payload))
        if not await self.lock_chat(chat_key):
            return None
        return await self.next_for(chat_key)

    async def waiting(self, chat_key: int | None) -> bool:
        """Whether the chat has stored updates not processed yet (read without its lock)."""
        if chat_key is None:
            return await self.next_for(None) is not None
        return bool((await self._conn.execute(_WAITING, {"key": chat_key})).scalar())

    async def lock_chat(self, chat_key: int | None) -> bool:
        """Take this chat's processing lock for the transaction; False if another worker holds
        it. SQLite has one writer at a time anyway: always True there."""
        if self._conn.dialect.name != "postgresql":
            return True
        return bool((await self._conn.execute(
            select(func.pg_try_advisory_xact_lock(chat_key or 0)))).scalar())

    async def next_for(self, chat_key: int | None) -> InboxRow | None:
        """The chat's oldest stored update not processed yet."""
        i = INBOX.c
        key = i.chat_key.is_(None) if chat_key is None else i.chat_key == chat_key
        row = (await self._conn.execute(
            select(i.update_id, i.chat_key, i.payload).where(key, i.done_at.is_(None))
            .order_by(i.update_id).limit(1).with_for_update(skip_locked=True))).first()
        return InboxRow(*row) if row else None

    async def unfinished_chats(self, limit: int = 1000) -> list[int | None]:
        i = INBOX.c
        rows = await self._conn.execute(
            select(i.chat_key).where(i.done_at.is_(None)).group_by(i.chat_key).limit(limit))
        return [r[0] for r in rows]

    async def last_id(self) -> int | None:
        return (await self._conn.execute(select(func.max(INBOX.c.update_id)))).scalar()

    async def purge(self, before: datetime) -> None:
        """Forget processed updates older than `before` (Telegram redelivers only recent ones)."""
        await self._conn.execute(INBOX.delete().where(INBOX.c.done_at < before))


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    chat_id: int
    kind: str
    request_id: int | None
    payload: dict[str, Any]
    attempts: int
    next_at: datetime


_OUTBOX_COLUMNS = [OUTBOX.c.id, OUTBOX.c.chat_id, OUTBOX.c.kind, OUTBOX.c.request_id,
                   OUTBOX.c.payload, OUTBOX.c.attempts, OUTBOX.c.next_at]


# How long a worker holds the rows it owes or claimed before another worker may take them over
# (the worker died); a worker restarted under the same id takes its own rows back at once.
LEASE = timedelta(seconds=60)


_OUTBOX_FIELDS = ("chat_id", "kind", "request_id", "payload", "status", "attempts", "next_at",
                  "created_at", "claimed_by", "claimed_until")
_OUTBOX_INSERT = hot(insert(OUTBOX).values(
    {name: bindparam(name, type_=OUTBOX.c[name].type) for name in _OUTBOX_FIELDS}
).returning(OUTBOX.c.id, sort_by_parameter_order=True))
# An update's owed messages go in one INSERT of as many rows (built once per count, up to
# _OUTBOX_ROWS_AT_ONCE), a hot statement. RETURNING's order is not promised, but the ids' is:
# on SQLite each new row takes the largest rowid so far plus one, on PostgreSQL the rows of one
# VALUES list draw from the id sequence in their order, so sorted ids follow the rows' order.
_OUTBOX_ROWS_AT_ONCE = 8
_OUTBOX_INSERT_ROWS: dict[int, Any] = {}


def _outbox_insert_rows(count: int) -> Any:
    stmt = _OUTBOX_INSERT_ROWS.get(count)
    if stmt is None:
        stmt = _OUTBOX_INSERT_ROWS[count] = hot(insert(OUTBOX).values([
            {name: bindparam(f"{name}_{i}", type_=OUTBOX.c[name].type) for name in _OUTBOX_FIELDS}
            for i in range(count)]).returning(OUTBOX.c.id))
    return stmt
_OUTBOX_SENT = hot(OUTBOX.delete().where(OUTBOX.c.id.in_(bindparam("ids", expanding=True))))


def _sent_with_questions() -> Any:
    """PostgreSQL: a write-back in one statement. The live questions' upsert (one row per chat,
    from two arrays) carries the sent rows' DELETE and the DELETE of the chats whose latest
    question has no buttons as CTEs (which run whether or not the statement reads them)."""
    gone = OUTBOX.delete().where(
        OUTBOX.c.id == any_(bindparam("ids", type_=postgresql.ARRAY(Integer)))).cte("gone")
    forgot = LIVE_QUESTIONS.delete().where(LIVE_QUESTIONS.c.chat_id == any_(
        bindparam("forget", type_=postgresql.ARRAY(BigInteger)))).cte("forgot")
    pairs = select(func.unnest(bindparam("chats", type_=postgresql.ARRAY(BigInteger))),
                   func.unnest(bindparam("messages", type_=postgresql.ARRAY(BigInteger))))
    stmt = postgresql.insert(LIVE_QUESTIONS).from_select(["chat_id", "message_id"], pairs)
    return stmt.on_conflict_do_update(
        index_elements=["chat_id"], set_={"message_id": stmt.excluded.message_id},
    ).add_cte(gone).add_cte(forgot)


_SENT_WITH_QUESTIONS = hot(_sent_with_questions())


class Outbox:
    """Messages owed. `add` only buffers: the unit of work writes the buffer with its commit,
    in one statement, so owing messages costs no round trip of its own. Rows are written leased
    to the worker that owes them, which sends them right after the commit."""

    def __init__(self, conn: AsyncConnection, worker: str = "main") -> None:
        self._conn = conn
        self.worker = worker
        self.buffered: list[Notice] = []
        # What flushes stored: each write's result (filled in by the commit at the latest, see
        # `storage.raw.write`), the notices it holds and when.
        self._flushed: list[tuple[Any, list[Notice], datetime, bool]] = []

    @property
    def written(self) -> list[OutboxRow]:
        """The rows the flushes stored, in order (read once the unit of work committed)."""
        rows: list[OutboxRow] = []
        for result, notices, now, ordered in self._flushed:
            ids = [row_id for (row_id,) in result.all()]
            if len(ids) != len(notices):
                raise RuntimeError("owed messages read before their unit of work committed")
            rows += [OutboxRow(row_id, n.chat_id, n.kind, n.request_id, n.data, 0, now)
                     for row_id, n in zip(ids if ordered else sorted(ids), notices, strict=True)]
        return rows

    def add(self, notice: Notice, *, first: bool = False) -> None:
        if first:
            self.buffered.insert(0, notice)
        else:
            self.buffered.append(notice)

    async def flush(self, now: datetime) -> None:
        """Write the buffered notices (called by the unit of work just before it commits)."""
        if not self.buffered:
            return
        notices, self.buffered = self.buffered, []
        until = now + LEASE
        values = [{"chat_id": n.chat_id, "kind": n.kind, "request_id": n.request_id,
                   "payload": n.data, "status": "pending", "attempts": 0, "next_at": now,
                   "created_at": now, "claimed_by": self.worker,
                   "claimed_until": until} for n in notices]
        if len(values) == 1:
            result = await write(self._conn, _OUTBOX_INSERT, values[0])
        elif len(values) <= _OUTBOX_ROWS_AT_ONCE:
            result = await write(self._conn, _outbox_insert_rows(len(values)), {
                f"{name}_{i}": value for i, row in enumerate(values)
                for name, value in row.items()})
        else:  # many: one execution per row, ids in the rows' order
            result = await self._conn.execute(_OUTBOX_INSERT, values)
        self._flushed.append((result, notices, now, len(values) > _OUTBOX_ROWS_AT_ONCE))

    async def pending(self, limit: int = 500, chat_id: int | None = None) -> list[OutboxRow]:
        """Unsent rows (of one chat, or all), by chat then in the order they were owed."""
        o = OUTBOX.c
        where = [o.status == "pending"] + ([o.chat_id == chat_id] if chat_id is not None else [])
        rows = await self._conn.execute(
            select(*_OUTBOX_COLUMNS).where(*where).order_by(o.chat_id, o.id).limit(limit))
        return [OutboxRow(*r) for r in rows]

    async def claim_chat(self, chat_id: int, now: datetime) -> list[OutboxRow] | None:
        """Lease a chat's unsent rows to this worker, in order; None when another worker holds
        a live lease on any of them (the chat is theirs until it ends)."""
        o = OUTBOX.c
        theirs = (await self._conn.execute(
            select(func.count()).select_from(OUTBOX)
            .where(o.chat_id == chat_id, o.status == "pending", o.claimed_until > now,
                   o.claimed_by != self.worker))).scalar_one()
        if theirs:
            return None
        free = or_(o.claimed_until.is_(None), o.claimed_until <= now, o.claimed_by == self.worker)
        # SKIP LOCKED: rows another worker is leasing this instant are theirs, not waited for.
        claimable = select(o.id).where(o.chat_id == chat_id, o.status == "pending", free) \
            .with_for_update(skip_locked=True)
        rows = await self._conn.execute(
            update(OUTBOX).where(o.id.in_(claimable))
            .values(claimed_by=self.worker, claimed_until=now + LEASE)
            .returning(*_OUTBOX_COLUMNS))
        return sorted((OutboxRow(*r) for r in rows), key=lambda row: row.id)

    async def sent(self, ids: Sequence[int], *,
                   live_questions: Mapping[int, int | None] | None = None) -> None:
        """Forget rows that were sent; with `live_questions` (chat -> message id, or None for a
        question without buttons), also remember those chats' new live questions (see
        `LiveQuestions`). On PostgreSQL all of it is one statement."""
        questions = live_questions or {}
        if self._conn.dialect.name == "postgresql":
            if ids or questions:
                asked = [(chat, message) for chat, message in questions.items()
                         if message is not None]
                await write(self._conn, _SENT_WITH_QUESTIONS, {
                    "ids": list(ids), "chats": [chat for chat, _ in asked],
                    "messages": [message for _, message in asked],
                    "forget": [chat for chat, message in questions.items() if message is None]})
            return
        live = LiveQuestions(self._conn)
        for chat, message in questions.items():
            await live.set(chat, message)
        if ids:
            await write(self._conn, _OUTBOX_SENT, {"ids": list(ids)})

    async def retry(self, row_id: int, attempts: int, next_at: datetime, error: str) -> None:
        await self._conn.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(
            attempts=attempts, next_at=next_at, last_error=error[:500], claimed_by=None,
            claimed_until=None))

    async def give_up(self, row_id: int, error: str) -> None:
        await self._conn.execute(update(OUTBOX).where(OUTBOX.c.id == row_id).values(
            status="failed", last_error=error[:500]))

    async def purge_failed(self, before: datetime) -> int:
        """Delete messages given up on before `before` (kept that long for the operator)."""
        c = OUTBOX.c
        result = await self._conn.execute(
            OUTBOX.delete().where(c.status == "failed", c.created_at < before))
        return int(result.rowcount or 0)

    async def count(self, status: str = "pending") -> int:
        return int((await self._conn.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status == status)
        )).scalar_one())


_LIVE_QUESTION = hot(select(LIVE_QUESTIONS.c.message_id).where(
    LIVE_QUESTIONS.c.chat_id == bindparam("chat_id")))


_SET_LIVE_QUESTION: dict[str, Any] = {}  # per dialect: the upsert, built once


class LiveQuestions:
    """Per chat, the message of the latest question asked (one question has live buttons)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        # chat -> its question as another statement of this transaction read it (the gate's)
        self.read: dict[int, int | None] = {}

    async def get(self, chat_id: int) -> int | None:
        return (await self._conn.execute(_LIVE_QUESTION, {"chat_id": chat_id})).scalar()

    async def set(self, chat_id: int, message_id: int | None) -> None:
        """Remember the chat's latest question (None: it has no buttons, nothing to retire)."""
        if message_id is None:
            await self._conn.execute(
                LIVE_QUESTIONS.delete().where(LIVE_QUESTIONS.c.chat_id == chat_id))
            return
        stmt = _SET_LIVE_QUESTION.get(self._conn.dialect.name)
        if stmt is None:
            stmt = _SET_LIVE_QUESTION[self._conn.dialect.name] = hot(_upsert(
                self._conn, LIVE_QUESTIONS, ["chat_id"],
                {"chat_id": bindparam("chat"), "message_id": bindparam("message")},
                ["message_id"]))
        await write(self._conn, stmt, {"chat": chat_id, "message": message_id})


class Blocks:
    """Which advertisers each owner has blocked."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, owner_id: int, advertiser_id: int, now: datetime) -> None:
        stmt = _insert_ignoring_conflict(self._conn, BLOCKS, ["owner_id", "advertiser_id"])
        await self._conn.execute(stmt.values(owner_id=owner_id, advertiser_id=advertiser_id,
                                             created_at=now))

    async def of_owner(self, owner_id: int) -> list[int]:
        b = BLOCKS.c
        rows = await self._conn.execute(
            select(b.advertiser_id).where(b.owner_id == owner_id).order_by(b.created_at))
        return [int(r[0]) for r in rows]

    async def remove(self, owner_id: int, advertiser_id: int) -> bool:
        b = BLOCKS.c
        result = await self._conn.execute(
            BLOCKS.delete().where(b.owner_id == owner_id, b.advertiser_id == advertiser_id))
        return result.rowcount == 1

    async def exists(self, owner_id: int, advertiser_id: int) -> bool:
        b = BLOCKS.c
        return (await self._conn.execute(
            select(func.count()).select_from(BLOCKS)
            .where(b.owner_id == owner_id, b.advertiser_id == advertiser_id))).scalar_one() > 0


# --- Spark Ads authorization codes (issue 10) ----------------------------------------------------

SPARK_CODES: Table = SparkCode.__table__  # type: ignore[assignment]
_SPARK_COLUMNS = [
    SPARK_CODES.c.id, SPARK_CODES.c.key, SPARK_CODES.c.code, SPARK_CODES.c.creator_id,
    SPARK_CODES.c.video_id, SPARK_CODES.c.video_handle, SPARK_CODES.c.days,
    SPARK_CODES.c.status, SPARK_CODES.c.created_at, SPARK_CODES.c.expires_at,
    SPARK_CODES.c.applied_by, SPARK_CODES.c.applied_at, SPARK_CODES.c.ended_at,
    SPARK_CODES.c.version,
]


class SparkCodes:
    """Spark codes. Every change is a conditional update on what the change starts from."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def _some(self, *where: Any, order: Any = None, limit: int | None = None
                    ) -> list[SparkCodeRow]:
        stmt = select(*_SPARK_COLUMNS).where(*where)
        if order is not None:
            stmt = stmt.order_by(order)
        if limit is not None:
            stmt = stmt.limit(limit)
        return [SparkCodeRow(*row) for row in await self._conn.execute(stmt)]

    async def _one(self, *where: Any) -> SparkCodeRow | None:
        rows = await self._some(*where)
        return rows[0] if rows else None

    async def create(self, *, key: str, code: str, creator_id: int, video_id: str,
                     video_handle: str | None, days: int, now: datetime,
                     expires_at: datetime) -> SparkCodeRow:
        result = await self._conn.execute(insert(SPARK_CODES).values(
            key=key, code=code, creator_id=creator_id, video_id=video_id,
            video_handle=video_handle, days=days, status="active", version=1,
            created_at=now, updated_at=now, expires_at=expires_at))
        row = await self.get((result.inserted_primary_key or [0])[0])
        assert row is not None
        return row

    async def get(self, code_id: int) -> SparkCodeRow | None:
        return await self._one(SPARK_CODES.c.id == code_id)

    async def by_key(self, key: str) -> SparkCodeRow | None:
        return await self._one(SPARK_CODES.c.key == key)

    async def by_code(self, code: str) -> SparkCodeRow | None:
        return await self._one(SPARK_CODES.c.code == code)

    async def of_creator(self, creator_id: int, limit: int = 50) -> list[SparkCodeRow]:
        c = SPARK_CODES.c
        return await self._some(c.creator_id == creator_id, c.status != "deleted",
                                order=c.id.desc(), limit=limit)

    async def applied_by(self, advertiser_id: int, limit: int = 50) -> list[SparkCodeRow]:
        c = SPARK_CODES.c
        return await self._some(c.applied_by == advertiser_id, c.status != "deleted",
                                order=c.id.desc(), limit=limit)

    async def _change(self, *where: Any, **values: Any) -> bool:
        result = await self._conn.execute(
            update(SPARK_CODES).where(*where)
            .values(version=SPARK_CODES.c.version + 1, **values))
        return result.rowcount == 1

    async def apply(self, code_id: int, advertiser_id: int, now: datetime) -> bool:
        """Bind the code to its one advertiser, if it is still free and valid."""
        c = SPARK_CODES.c
        return await self._change(c.id == code_id, c.status == "active", c.applied_by.is_(None),
                                  c.expires_at > now, applied_by=advertiser_id, applied_at=now,
                                  updated_at=now)

    async def extend(self, code_id: int, version: int, days: int, expires_at: datetime,
                     now: datetime) -> bool:
        c = SPARK_CODES.c
        return await self._change(c.id == code_id, c.version == version,
                                  c.status.in_(("active", "expired")), status="active",
                                  days=days, expires_at=expires_at, ended_at=None,
                                  updated_at=now)

    async def delete(self, code_id: int, version: int, now: datetime) -> bool:
        c = SPARK_CODES.c
        return await self._change(c.id == code_id, c.version == version,
                                  c.status.in_(("active", "expired")), status="deleted",
                                  ended_at=now, updated_at=now)

    async def expire(self, code_id: int, now: datetime) -> bool:
        c = SPARK_CODES.c
        return await self._change(c.id == code_id, c.status == "active", c.expires_at <= now,
                                  status="expired", ended_at=now, updated_at=now)

    async def due(self, now: datetime, limit: int = 100) -> list[SparkCodeRow]:
        c = SPARK_CODES.c
        return await self._some(c.status == "active", c.expires_at <= now,
                                order=c.expires_at, limit=limit)

    async def forget_creator(self, creator_id: int) -> int:
        """/deleteme: delete the creator's codes that no advertiser applied. Applied ones stay
        (the advertiser relies on them) and name the creator only by the anonymised user row."""
        c = SPARK_CODES.c
        result = await self._conn.execute(
            SPARK_CODES.delete().where(c.creator_id == creator_id, c.applied_by.is_(None)))
        return int(result.rowcount or 0)
