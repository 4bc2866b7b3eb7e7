"""Repositories for trust (issue 11): platform logins, claim changes and history, the operator
log and operator blocks. Core statements on one connection; they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, bindparam, delete, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from flows.records import (
    AuditEventRow,
    ClaimEventRow,
    ClaimRow,
    ConversationRow,
    LoginRow,
    RequestRow,
)
from storage.models import BannedUser, ClaimEvent, LoginAttempt, OperatorAction
from storage.raw import hot, read_ahead
from storage.repositories import (
    _REQUEST_COLUMNS,
    AUDIT,
    CLAIMS,
    CONVERSATIONS,
    LIVE_QUESTIONS,
    REQUESTS,
    Conversations,
    LiveQuestions,
    _insert_ignoring_conflict,
    hash_token,
)

LOGINS: Table = LoginAttempt.__table__  # type: ignore[assignment]
CLAIM_EVENTS: Table = ClaimEvent.__table__  # type: ignore[assignment]
OPERATOR_ACTIONS: Table = OperatorAction.__table__  # type: ignore[assignment]
BANS: Table = BannedUser.__table__  # type: ignore[assignment]


class Logins:
    """Platform logins started with /verify. The state's secret is kept hashed."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def start(self, *, key: str, secret: str, user_id: int, provider: str, platform: str,
                    handle: str, handle_key: str, verifier: str, now: datetime,
                    expires_at: datetime) -> None:
        await self._conn.execute(insert(LOGINS).values(
            key=key, secret_hash=hash_token(secret), user_id=user_id, provider=provider,
            platform=platform, handle=handle, handle_key=handle_key, verifier=verifier,
            created_at=now, expires_at=expires_at))

    async def get(self, key: str) -> LoginRow | None:
        c = LOGINS.c
        row = (await self._conn.execute(
            select(c.key, c.user_id, c.provider, c.platform, c.handle, c.handle_key, c.verifier,
                   c.expires_at, c.used_at).where(c.key == key))).first()
        return LoginRow(*row) if row else None

    async def matches(self, key: str, secret: str) -> bool:
        c = LOGINS.c
        stored = (await self._conn.execute(
            select(c.secret_hash).where(c.key == key))).scalar_one_or_none()
        return stored is not None and stored == hash_token(secret)

    async def use(self, key: str, now: datetime) -> bool:
        result = await self._conn.execute(
            update(LOGINS).where(LOGINS.c.key == key, LOGINS.c.used_at.is_(None))
            .values(used_at=now))
        return result.rowcount == 1

    async def purge(self, before: datetime) -> int:
        result = await self._conn.execute(delete(LOGINS).where(LOGINS.c.expires_at < before))
        return int(result.rowcount or 0)

    async def forget(self, user_id: int) -> int:
        result = await self._conn.execute(delete(LOGINS).where(LOGINS.c.user_id == user_id))
        return int(result.rowcount or 0)


class ClaimChanges:
    """Verification, takeover and release of claims (conditional updates)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def verify(self, platform: str, handle_key: str, owner_id: int,
                     platform_user_id: str, now: datetime) -> None:
        c = CLAIMS.c
        await self._conn.execute(
            update(CLAIMS).where(c.platform == platform, c.handle_key == handle_key,
                                 c.owner_id == owner_id)
            .values(verified_at=now, platform_user_id=platform_user_id))

    async def transfer(self, platform: str, handle_key: str, from_owner: int, to_owner: int,
                       platform_user_id: str, now: datetime) -> bool:
        """Give the claim to its verified owner, if `from_owner` still holds it."""
        c = CLAIMS.c
        result = await self._conn.execute(
            update(CLAIMS).where(c.platform == platform, c.handle_key == handle_key,
                                 c.owner_id == from_owner)
            .values(owner_id=to_owner, verified_at=now, platform_user_id=platform_user_id,
                    created_at=now))
        return result.rowcount == 1

    async def remove(self, platform: str, handle_key: str) -> ClaimRow | None:
        c = CLAIMS.c
        row = (await self._conn.execute(
            select(c.platform, c.handle, c.handle_key, c.owner_id, c.verified_at,
                   c.platform_user_id)
            .where(c.platform == platform, c.handle_key == handle_key))).first()
        if row is None:
            return None
        await self._conn.execute(
            delete(CLAIMS).where(c.platform == platform, c.handle_key == handle_key))
        return ClaimRow(*row)

    async def _on(self, platform: str, handle_key: str, status: str) -> list[RequestRow]:
        r = REQUESTS.c
        rows = await self._conn.execute(
            select(*_REQUEST_COLUMNS)
            .where(r.platform == platform, r.handle_key == handle_key, r.status == status)
            .order_by(r.id))
        return [RequestRow(*row) for row in rows]

    async def pending_on(self, platform: str, handle_key: str) -> list[RequestRow]:
        """A handle's requests waiting for a decision, oldest first."""
        return await self._on(platform, handle_key, "pending")

    async def authorized_on(self, platform: str, handle_key: str) -> list[RequestRow]:
        """A handle's approved requests, oldest first."""
        return await self._on(platform, handle_key, "authorized")

    async def reassign(self, request_id: int, from_owner: int, to_owner: int) -> bool:
        """Move a waiting request to another owner, if it still waits for `from_owner`."""
        r = REQUESTS.c
        result = await self._conn.execute(
            update(REQUESTS).where(r.id == request_id, r.owner_id == from_owner,
                                   r.status == "pending")
            .values(owner_id=to_owner, version=r.version + 1))
        return result.rowcount == 1

    async def unassign(self, platform: str, handle_key: str, owner_id: int) -> list[RequestRow]:
        """A released claim: the handle's requests waiting for `owner_id` wait for nobody
        (an approval link) again; returns them."""
        waiting = [w for w in await self.pending_on(platform, handle_key)
                   if w.owner_id == owner_id]
        r = REQUESTS.c
        for request in waiting:
            await self._conn.execute(
                update(REQUESTS).where(r.id == request.id, r.status == "pending")
                .values(owner_id=None, version=r.version + 1))
        return waiting

    async def confirm_approvals(self, platform: str, handle_key: str, owner_id: int) -> int:
        """The handle's standing approvals given by `owner_id` become "verified" (they just
        proved the handle); returns how many changed."""
        r = REQUESTS.c
        result = await self._conn.execute(
            update(REQUESTS).where(r.platform == platform, r.handle_key == handle_key,
                                   r.owner_id == owner_id, r.status == "authorized",
                                   or_(r.strength.is_(None), r.strength != "verified"))
            .values(strength="verified"))
        return int(result.rowcount or 0)


class ClaimHistory:
    """Who owned a handle when: every claim, verification, takeover and release."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, claim: ClaimRow, owner_id: int | None, event: str, actor: str,
                     now: datetime) -> None:
        await self._conn.execute(insert(CLAIM_EVENTS).values(
            platform=claim.platform, handle=claim.handle, handle_key=claim.handle_key,
            owner_id=owner_id, event=event, actor=actor, at=now))

    async def of_handle(self, platform: str, handle_key: str) -> list[ClaimEventRow]:
        c = CLAIM_EVENTS.c
        rows = await self._conn.execute(
            select(c.platform, c.handle, c.owner_id, c.event, c.actor, c.at)
            .where(c.platform == platform, c.handle_key == handle_key).order_by(c.id))
        return [ClaimEventRow(*r) for r in rows]

    async def forget(self, user_id: int) -> int:
        c = CLAIM_EVENTS.c
        by_them = await self._conn.execute(
            update(CLAIM_EVENTS).where(c.actor == f"user:{user_id}").values(actor="user:deleted"))
        theirs = await self._conn.execute(
            update(CLAIM_EVENTS).where(c.owner_id == user_id).values(owner_id=None))
        return int(by_them.rowcount or 0) + int(theirs.rowcount or 0)


class OperatorLog:
    """Every operator action: who, what, when."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, operator: str, action: str, target: str, now: datetime) -> None:
        await self._conn.execute(insert(OPERATOR_ACTIONS).values(
            operator=operator, action=action, target=target[:128], at=now))


# The ban gate runs before every update's handlers. The same statement reads the person's
# conversations in the flows the bot names (the link flow's, which most updates read next, and the
# prerequisites', which /link reads when it starts a walk), so the handler gets them without a
# statement of its own; and, given the chat, its live question (the dispatcher takes its buttons
# off before asking a new one). One statement per shape, built once (see `storage.raw`).
_CONV = CONVERSATIONS.c
_GATES: dict[tuple[int, bool], Any] = {}


def _gate(flows: int, chat: bool) -> Any:
    stmt = _GATES.get((flows, chat))
    if stmt is None:
        columns: list[Any] = [
            select(BANS.c.user_id).where(BANS.c.user_id == bindparam("user_id"))
            .exists().label("banned"), _CONV.flow, _CONV.state, _CONV.data, _CONV.version]
        if chat:
            columns.append(select(LIVE_QUESTIONS.c.message_id)
                           .where(LIVE_QUESTIONS.c.chat_id == bindparam("chat_id"))
                           .scalar_subquery().label("question"))
        stmt = _GATES[(flows, chat)] = hot(select(*columns).select_from(
            select(literal(1).label("one")).subquery("one").outerjoin(
                CONVERSATIONS, and_(_CONV.user_id == bindparam("user_id"), _CONV.flow.in_(
                    [bindparam(f"flow{n}") for n in range(flows)])))))
    return stmt


def _gate_values(user_id: int, flows: Sequence[str], chat_id: int | None) -> dict[str, Any]:
    values: dict[str, Any] = {"user_id": user_id, "chat_id": chat_id}
    values.update((f"flow{n}", flow) for n, flow in enumerate(flows))
    return values


class Bans:
    """People an operator blocked from the bot."""

    def __init__(self, conn: AsyncConnection, conversations: Conversations | None = None,
                 questions: LiveQuestions | None = None) -> None:
        self._conn = conn
        self._conversations = conversations
        self._questions = questions

    async def read_ahead(self, user_id: int, flows: Sequence[str],
                         chat_id: int | None = None) -> None:
        """Send `turned_away`'s read now, to be answered while the caller does other work; the
        same call to `turned_away` then takes the answer (see `storage.raw.read_ahead`)."""
        await read_ahead(self._conn, _gate(len(flows), chat_id is not None),
                         _gate_values(user_id, flows, chat_id))

    async def turned_away(self, user_id: int, flows: Sequence[str],
                          chat_id: int | None = None) -> bool:
        """Whether an operator blocked this person: one read, shared with their conversations
        in `flows`, which `conversations.load` then serves without reading again, and with
        the live question of the chat `chat_id` (`questions.read`)."""
        rows = (await self._conn.execute(_gate(len(flows), chat_id is not None),
                                         _gate_values(user_id, flows, chat_id))).all()
        if self._conversations is not None:
            found = {row.flow: row for row in rows if row.version is not None}
            for flow in flows:
                row = found.get(flow)
                self._conversations.prime(user_id, flow, None if row is None else
                                          ConversationRow(user_id, flow, row.state, row.data,
                                                          row.version))
        if chat_id is not None and self._questions is not None:
            self._questions.read[chat_id] = rows[0].question
        return bool(rows[0].banned)

    async def add(self, user_id: int, by: str, now: datetime) -> bool:
        stmt = _insert_ignoring_conflict(self._conn, BANS, ["user_id"])
        result = await self._conn.execute(stmt.values(user_id=user_id, banned_by=by, at=now))
        return result.rowcount == 1

    async def remove(self, user_id: int) -> bool:
        result = await self._conn.execute(delete(BANS).where(BANS.c.user_id == user_id))
        return result.rowcount == 1

    async def exists(self, user_id: int) -> bool:
        return (await self._conn.execute(
            select(BANS.c.user_id).where(BANS.c.user_id == user_id))).first() is not None


class Trail:
    """A request's audit trail, read for operators."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def of_request(self, request_id: int) -> list[AuditEventRow]:
        c = AUDIT.c
        rows = await self._conn.execute(
            select(c.actor_id, c.event, c.from_status, c.to_status, c.at)
            .where(c.request_id == request_id).order_by(c.id))
        return [AuditEventRow(*r) for r in rows]
