"""Link requests as a service: the request machine's rules applied to stored rows.

No Telegram here: each function works inside the caller's unit of work and returns what happened;
the handlers commit, then send the messages that follow from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flows import request_flow
from flows.link_flow import Position
from flows.platforms import get_platform
from flows.request_flow import Refused, Role, Status
from storage.repositories import ClaimRow, ConversationRow, RequestRow
from storage.uow import UnitOfWork

logger = logging.getLogger(__name__)

# Button actions on a request and the request-machine event each one fires.
# Unlink and revoke are asked first ("u", "v") and done once confirmed ("u!", "v!").
ACTIONS = {"a": "approve", "r": "reject", "c": "cancel", "u!": "unlink", "v!": "revoke"}


@dataclass(frozen=True, slots=True)
class Acted:
    """A decision that was stored: the row before and after it."""

    event: str
    actor_id: int
    before: RequestRow
    after: RequestRow


async def submit(uow: UnitOfWork, requester_id: int, position: Position, now: datetime,
                 lifetime: timedelta) -> RequestRow:
    """Record the request a finished link conversation describes, routed to a claimed owner."""
    data = position.data
    platform = get_platform(data["platform"])
    handle_key = platform.handle_rule.key(data["handle"])
    claim = await uow.claims.get(platform.id, handle_key)
    request = await uow.requests.create(
        key=request_flow.new_request_key(), requester_id=requester_id, platform=platform.id,
        handle=data["handle"], handle_key=handle_key, ad_account=data["ad_account"],
        scopes=list(data["scopes"]), visibility=data.get("visibility"),
        owner_id=claim.owner_id if claim and claim.owner_id != requester_id else None,
        now=now, expires_at=request_flow.expiry_for(now, lifetime),
    )
    await uow.audit.record(request.id, requester_id, "create", None, Status.PENDING, now)
    return request


async def issue_link(uow: UnitOfWork, request: RequestRow) -> str:
    """A fresh one-time approval token for a pending request (an older one stops working)."""
    token = request_flow.new_approval_token()
    await uow.requests.set_token(request.id, token)
    return token


async def act(uow: UnitOfWork, request: RequestRow, event: str, actor_id: int, now: datetime, *,
              holds_link: bool = False) -> Acted:
    """Apply one event for `actor_id` and store it; raise Refused (with the reason to reply
    with) if the rules or a concurrent decision say no."""
    decision, role = request_flow.judge(
        request.status, event, actor_id, requester_id=request.requester_id,
        owner_id=request.owner_id, holds_link=holds_link, now=now,
        expires_at=request.expires_at)
    owner_id = actor_id if role is Role.OWNER else None
    if not await uow.requests.move(request.id, decision.from_, decision.to, now,
                                   decided=decision.from_ is Status.PENDING, owner_id=owner_id):
        # Someone else decided between our read and our write.
        current = await uow.requests.get(request.id)
        raise Refused("already", Status(current.status) if current else None)
    await uow.audit.record(request.id, actor_id, event, decision.from_, decision.to, now)
    if decision.to is Status.AUTHORIZED:
        await uow.grants.open(request.id, actor_id, request.requester_id, now)
        if request.owner_id is None:
            # Approving through the link makes the approver the handle's owner.
            await uow.claims.add(request.platform, request.handle, request.handle_key, actor_id,
                                 now)
    elif decision.to in (Status.UNLINKED, Status.REVOKED):
        await uow.grants.close(request.id, decision.to, now)
    after = await uow.requests.get(request.id)
    assert after is not None
    return Acted(event=event, actor_id=actor_id, before=request, after=after)


async def expire(uow: UnitOfWork, request: RequestRow, now: datetime) -> RequestRow | None:
    """Expire one pending request whose time is up; None if it was decided meanwhile."""
    decision = request_flow.decide(request.status, "expire", Role.SYSTEM, now=now,
                                   expires_at=request.expires_at)
    if not await uow.requests.move(request.id, decision.from_, decision.to, now, decided=True):
        return None
    await uow.audit.record(request.id, None, "expire", decision.from_, decision.to, now)
    return await uow.requests.get(request.id)


async def expire_due(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[RequestRow]:
    """Expire every pending request whose time is up (read from the database, so restarts
    forget nothing); returns the expired rows."""
    expired = []
    for request in await uow.requests.due(now, limit):
        row = await expire(uow, request, now)
        if row is not None:
            expired.append(row)
    return expired


async def add_reason(uow: UnitOfWork, request: RequestRow, owner_id: int, reason: str,
                     now: datetime) -> None:
    """Attach the owner's reason to a rejection (an audit row of its own: audit is append-only)."""
    await uow.requests.set_reason(request.id, reason)
    await uow.audit.record(request.id, owner_id, "explain", request.status, request.status, now,
                           reason=reason)


async def claim(uow: UnitOfWork, owner_id: int, platform_id: str, handle: str,
                now: datetime) -> tuple[ClaimRow, bool]:
    """Claim a handle for `owner_id`: (the standing claim, True if it was created now)."""
    platform = get_platform(platform_id)
    key = platform.handle_rule.key(handle)
    existing = await uow.claims.get(platform.id, key)
    if existing is not None:
        return existing, False
    standing = await uow.claims.add(platform.id, handle, key, owner_id, now)
    if standing.owner_id == owner_id:
        await uow.requests.assign_unclaimed(platform.id, key, owner_id)
    return standing, standing.owner_id == owner_id


REASON_FLOW = "reason"


async def expect_reason(uow: UnitOfWork, owner_id: int, key: str, now: datetime) -> None:
    """Remember that the owner's next message is the reason for rejecting request `key`."""
    row = await uow.conversations.load(owner_id, REASON_FLOW)
    before = row or ConversationRow(owner_id, REASON_FLOW, "awaiting", {}, 0)
    await uow.conversations.save(before, "awaiting", {"key": key}, now)


async def reason_awaited(uow: UnitOfWork, owner_id: int) -> ConversationRow | None:
    """The pending "why did you reject?" question for this user, if any."""
    row = await uow.conversations.load(owner_id, REASON_FLOW)
    return row if row is not None and row.state == "awaiting" else None


async def stop_awaiting_reason(uow: UnitOfWork, row: ConversationRow, now: datetime) -> None:
    await uow.conversations.save(row, "done", {}, now)
