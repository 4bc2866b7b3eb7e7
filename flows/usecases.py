"""Use cases: one function per thing a person (or the clock) can do.

Each takes a command's parts and a unit of work (`flows.ports.UnitOfWork`), applies every rule
through the flows' machines, changes state, and records the messages it owes as `Notice` data in
the same unit of work. None of them commits: the caller commits once per update or job, so the
state change, the owed messages and the inbox mark become durable together. A refused action
raises `Refused` (or a `FlowError`) before anything is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from flows import link_flow, request_flow, teams
from flows.link_flow import FlowError, Position, S
from flows.platforms import TextProblem, UnsafeText, clean_text, get_platform
from flows.ports import UnitOfWork
from flows.records import ClaimRow, ConversationRow, Notice, RequestRow, UserRow
from flows.request_flow import Refused, Role, Status

logger = logging.getLogger(__name__)

LINK_FLOW = "link"
REASON_FLOW = "reason"
PREREQUISITES_FLOW = "prerequisites"  # per user: platforms whose prerequisites they confirmed
REASON_WINDOW = timedelta(minutes=30)  # how long a rejection's "why?" stays open
MAX_REASON = 500  # characters; the reason is forwarded in one message

# Button actions on a request and the request-machine event each one fires.
# Unlink and revoke are asked first ("u", "v") and done once confirmed ("u!", "v!").
ACTIONS = {"a": "approve", "r": "reject", "c": "cancel", "u!": "unlink", "v!": "revoke"}
CONFIRMS = {"u": "unlink", "v": "revoke"}


@dataclass(frozen=True, slots=True)
class Actor:
    """The person behind an update."""

    id: int
    first_name: str
    username: str | None = None


async def _seen(uow: UnitOfWork, actor: Actor, now: datetime) -> None:
    await uow.users.seen(actor.id, actor.first_name, actor.username, now)


# --- the link conversation ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Step:
    """A link conversation after one event: where it stands, its version, the state it left,
    and the request it created (on Send)."""

    position: Position
    version: int
    before: str | None
    request: RequestRow | None = None
    resumed: bool = False


class Stale(FlowError):
    """A button from a question that has been answered since (its version is old)."""


class NoConversation(FlowError):
    """There is no link conversation in progress."""


class DuplicateRequest(FlowError):
    """The same request (advertiser, account, ad account) is already waiting for the owner."""

    def __init__(self, request: RequestRow) -> None:
        super().__init__("duplicate")
        self.request = request


class OwnHandle(FlowError):
    """The advertiser has claimed this account themself: no approval is needed or possible."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one advertiser may ask (settings; see bot.settings)."""

    max_pending: int = 5
    per_day: int = 20
    after_rejection: timedelta = timedelta(hours=24)


class OverLimit(FlowError):
    """A limit refuses the request for now: `reason` names which, `until` says when it can be
    sent (None: when a waiting request is decided, or, for a block, not unless unblocked)."""

    def __init__(self, reason: str, until: datetime | None = None, count: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.until, self.count = reason, until, count


def position_of(row: ConversationRow) -> Position:
    return Position(state=row.state, data=row.data)


async def conversation(uow: UnitOfWork, user_id: int) -> ConversationRow | None:
    """The user's link conversation if one is in progress."""
    row = await uow.conversations.load(user_id, LINK_FLOW)
    return None if row is None or row.state in link_flow.FINAL_STATES else row


async def begin_link(uow: UnitOfWork, actor: Actor, now: datetime) -> Step:
    """/link: resume the conversation in progress, or start a new one."""
    await _seen(uow, actor, now)
    row = await uow.conversations.load(actor.id, LINK_FLOW)
    if row is not None and row.state not in link_flow.FINAL_STATES:
        return Step(position_of(row), row.version, row.state, resumed=True)
    known = await uow.conversations.load(actor.id, PREREQUISITES_FLOW)
    fresh = link_flow.start(known.data.get("platforms", []) if known else [])
    before = row or ConversationRow(actor.id, LINK_FLOW, fresh.state, {}, 0)
    saved = await uow.conversations.save(before, fresh.state, fresh.data, now)
    return Step(fresh, saved.version, row.state if row else None)


async def link_event(uow: UnitOfWork, user_id: int, event: str, now: datetime,
                     lifetime: timedelta, *, version: int | None = None,
                     limits: Limits | None = None, **kwargs: Any) -> Step:
    """Fire one event on the conversation (a button, /back or /cancel) and store the result.

    With `version`, the event comes from a button and applies only to the question it was on.
    Raises NoConversation, Stale or the flow's own FlowError; nothing changes then.
    """
    row = await conversation(uow, user_id)
    if row is None:
        raise NoConversation(event)
    if version is not None and row.version != version:
        raise Stale(event)
    return await _store(uow, row, link_flow.fire(position_of(row), event, **kwargs), now,
                        lifetime, limits or Limits())


async def link_text(uow: UnitOfWork, row: ConversationRow, text: str, now: datetime,
                    lifetime: timedelta) -> Step:
    """Take typed text as the answer to the current question (raises the validator's error)."""
    return await _store(uow, row, link_flow.submit_text(position_of(row), text), now, lifetime)


async def _store(uow: UnitOfWork, row: ConversationRow, new: Position, now: datetime,
                 lifetime: timedelta, limits: Limits | None = None) -> Step:
    new = await teams.guide(uow, row, new)  # teams (issue 10): roles known, roles required
    if new.state == S.SUBMITTED:
        await _check_submittable(uow, row.user_id, new, now, limits or Limits())
    saved = await uow.conversations.save(row, new.state, new.data, now)
    if platform := link_flow.passed_prerequisites(row.state, new):
        await _remember_prerequisites(uow, row.user_id, platform, now)
    request = None
    if new.state == S.SUBMITTED:
        request = await _submit(uow, row.user_id, new, now, lifetime)
        await teams.request_made(uow, request, now)
    return Step(new, saved.version, row.state, request)


async def _check_submittable(uow: UnitOfWork, requester_id: int, position: Position,
                             now: datetime, limits: Limits) -> None:
    """Refuse a request for one's own claimed account, one already waiting, one the owner
    blocked, or one over the advertiser's limits (each refusal says when to try again)."""
    data = position.data
    platform = get_platform(data["platform"])
    handle_key = platform.handle_rule.key(data["handle"])
    claim = await uow.claims.get(platform.id, handle_key)
    if claim is not None and claim.owner_id == requester_id:
        raise OwnHandle(data["handle"])
    if claim is not None and await uow.blocks.exists(claim.owner_id, requester_id):
        raise OverLimit("blocked")
    mine = await uow.requests.of_requester(requester_id, limit=1000)
    pending = [r for r in mine if r.status == Status.PENDING]
    for request in pending:
        if (request.platform == platform.id and request.handle_key == handle_key
                and request.ad_account.casefold() == data["ad_account"].casefold()):
            raise DuplicateRequest(request)
    if len(pending) >= limits.max_pending:
        raise OverLimit("pending", min(r.expires_at for r in pending), len(pending))
    today = sorted(r.created_at for r in mine if r.created_at > now - timedelta(days=1))
    if len(today) >= limits.per_day:
        raise OverLimit("per_day", today[-limits.per_day] + timedelta(days=1), len(today))
    rejected = [r.decided_at for r in mine
                if r.status == Status.REJECTED and r.decided_at is not None
                and (r.platform, r.handle_key) == (platform.id, handle_key)
                and r.decided_at > now - limits.after_rejection]
    if rejected:
        raise OverLimit("after_rejection", max(rejected) + limits.after_rejection)


async def _remember_prerequisites(uow: UnitOfWork, user_id: int, platform: str,
                                  now: datetime) -> None:
    row = await uow.conversations.load(user_id, PREREQUISITES_FLOW)
    before = row or ConversationRow(user_id, PREREQUISITES_FLOW, "known", {}, 0)
    platforms = sorted({*before.data.get("platforms", []), platform})
    if platforms != before.data.get("platforms"):
        await uow.conversations.save(before, "known", {"platforms": platforms}, now)


async def _submit(uow: UnitOfWork, requester_id: int, position: Position, now: datetime,
                  lifetime: timedelta) -> RequestRow:
    """Record the request a finished conversation describes and put it before its owner."""
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
        business_id=data.get("business_id"), access_days=data.get("access_days") or None,
    )
    await uow.audit.record(request.id, requester_id, "create", None, Status.PENDING, now)
    if request.owner_id is not None:
        _owe_card(uow, request)
    else:
        uow.outbox.add(Notice("approval_link", requester_id, request.id, {"why": "unclaimed"}))
    return request


def _owe_card(uow: UnitOfWork, request: RequestRow) -> None:
    """The owner's card with Approve / Reject, then the advertiser told it went out."""
    assert request.owner_id is not None
    uow.outbox.add(Notice("owner_card", request.owner_id, request.id))
    uow.outbox.add(Notice("sent_to_owner", request.requester_id, request.id))


# --- decisions on a request ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Decided:
    """A stored decision: the event, who made it, and the request after it."""

    event: str
    actor_id: int
    request: RequestRow
    requester: UserRow | None


async def _request(uow: UnitOfWork, *, key: str | None = None,
                   token: str | None = None) -> RequestRow:
    request = (await uow.requests.by_key(key) if key else
               await uow.requests.by_token(token) if token else None)
    if request is None:
        raise Refused("gone")
    return request


async def decide(uow: UnitOfWork, actor: Actor, event: str, now: datetime, *,
                 key: str | None = None, token: str | None = None) -> Decided:
    """Approve, reject, cancel, unlink or revoke: every rule is `request_flow.judge`'s.

    `token` means the actor holds the one-time approval link (approve or reject only).
    """
    request = await _request(uow, key=key, token=token)
    holds_link = token is not None
    if holds_link and event not in ("approve", "reject"):
        raise Refused("gone")
    decision, role = request_flow.judge(
        request.status, event, actor.id,
        requester_id=await teams.requester_for(uow, actor.id, event, request),
        owner_id=request.owner_id, holds_link=holds_link, now=now,
        expires_at=request.expires_at)
    await _seen(uow, actor, now)
    owner_id = actor.id if role is Role.OWNER else None
    # An approval or rejection keeps how far its maker was known to own the handle (issue 11).
    strength = (await decision_strength(uow, replace(request, owner_id=actor.id))
                if role is Role.OWNER and decision.from_ is Status.PENDING else None)
    if not await uow.requests.move(request.id, decision.from_, decision.to, now,
                                   decided=decision.from_ is Status.PENDING, owner_id=owner_id,
                                   strength=strength):
        # Someone else decided between our read and our write.
        current = await uow.requests.get(request.id)
        raise Refused("already", Status(current.status) if current else None)
    await uow.audit.record(request.id, actor.id, event, decision.from_, decision.to, now)
    if decision.to is Status.AUTHORIZED:
        # Approving through a link claims nothing (issue 11): the approver decides this one
        # request, as an unverified claimant, and owns the handle only by /verify.
        await uow.grants.open(request.id, actor.id, request.requester_id, now)
        if request.access_days:
            # Temporary access ends that many days after the owner's approval.
            await uow.requests.set_access_end(request.id,
                                              now + timedelta(days=request.access_days))
    elif decision.to in (Status.UNLINKED, Status.REVOKED):
        await uow.grants.close(request.id, decision.to, now)
    after = await uow.requests.get(request.id)
    assert after is not None
    await _close_cards(uow, after)
    _owe_decision_notices(uow, event, after, actor.id, now,
                          (strength or await decision_strength(uow, after))
                          if role is Role.OWNER else None)
    teams.tell_requester(uow, event, after, actor.id)  # teams (issue 10)
    if event == "reject":
        await open_reason_step(uow, actor.id, after.key, now)
    return Decided(event, actor.id, after, await uow.users.get(after.requester_id))


async def _close_cards(uow: UnitOfWork, request: RequestRow) -> None:
    """Every card that showed the request as pending gets its outcome and loses its buttons."""
    if request.status in (Status.UNLINKED, Status.REVOKED):
        return  # cards were closed at the decision
    for card in await uow.cards.take(request.id):
        uow.outbox.add(Notice("close_card", card.chat_id, request.id,
                              {"message_id": card.message_id}))


def _owe_decision_notices(uow: UnitOfWork, event: str, request: RequestRow, actor_id: int,
                          now: datetime, strength: str | None = None) -> None:
    owe = uow.outbox.add
    # The advertiser learns how far the bot knows the decider owns the handle (issue 11).
    said = {"strength": strength} if strength else {}
    if event == "approve":
        owe(Notice("approved_for_advertiser", request.requester_id, request.id, said))
    elif event == "reject":
        owe(Notice("rejected_for_advertiser", request.requester_id, request.id, said))
        owe(Notice("reason_prompt", actor_id, request.id))
    elif event == "revoke":
        owe(Notice("revoked_for_advertiser", request.requester_id, request.id, said))
    elif request.owner_id is not None:  # cancel or unlink, by the advertiser
        kind = "cancelled_for_owner" if event == "cancel" else "unlinked_for_owner"
        owe(Notice(kind, request.owner_id, request.id))


async def open_reason_step(uow: UnitOfWork, owner_id: int, key: str, now: datetime) -> None:
    """After a rejection: the owner may say why, by replying to the card or the prompt."""
    row = await uow.conversations.load(owner_id, REASON_FLOW)
    before = row or ConversationRow(owner_id, REASON_FLOW, "awaiting", {}, 0)
    await uow.conversations.save(before, "awaiting",
                                 {"key": key, "until": (now + REASON_WINDOW).isoformat()}, now)


@dataclass(frozen=True, slots=True)
class Blocked:
    requester: UserRow | None
    rejected: int  # waiting requests rejected by the block


async def block_advertiser(uow: UnitOfWork, actor: Actor, key: str, now: datetime
                           ) -> Blocked:
    """From a card: the owner refuses this advertiser for good. Their waiting requests to this
    owner are rejected (and told), and future ones refused."""
    request = await _request(uow, key=key)
    if request.owner_id != actor.id:
        raise Refused("not_allowed")
    await _seen(uow, actor, now)
    await uow.blocks.add(actor.id, request.requester_id, now)
    rejected = 0
    for waiting in await uow.requests.pending_for_owner(actor.id):
        if waiting.requester_id != request.requester_id:
            continue
        decision = request_flow.decide(waiting.status, "reject", Role.OWNER)
        strength = await decision_strength(uow, waiting)  # issue 11: on every decision
        if not await uow.requests.move(waiting.id, decision.from_, decision.to, now,
                                       decided=True, strength=strength):
            continue
        await uow.audit.record(waiting.id, actor.id, "block", decision.from_, decision.to, now)
        after = await uow.requests.get(waiting.id)
        assert after is not None
        await _close_cards(uow, after)
        uow.outbox.add(Notice("rejected_for_advertiser", after.requester_id, after.id,
                              {"strength": strength}))
        rejected += 1
    return Blocked(await uow.users.get(request.requester_id), rejected)


async def check(uow: UnitOfWork, actor: Actor, key: str, event: str, now: datetime
                ) -> Decided:
    """Whether `actor` may do `event` now (asked before unlink and revoke); raises Refused."""
    request = await _request(uow, key=key)
    request_flow.judge(request.status, event, actor.id,
                       requester_id=await teams.requester_for(uow, actor.id, event, request),
                       owner_id=request.owner_id, holds_link=False, now=now,
                       expires_at=request.expires_at)
    return Decided(event, actor.id, request, await uow.users.get(request.requester_id))


# --- the reason for a rejection -----------------------------------------------------------------

class ReasonTooLong(Exception):
    """The reason does not fit in one forwarded message."""


async def _open_reason(uow: UnitOfWork, owner_id: int, now: datetime
                       ) -> ConversationRow | None:
    row = await uow.conversations.load(owner_id, REASON_FLOW)
    if row is None or row.state != "awaiting":
        return None
    if now >= datetime.fromisoformat(row.data["until"]):
        return None
    return row


async def give_reason(uow: UnitOfWork, actor: Actor, replied_to: int | None, text: str,
                      now: datetime) -> RequestRow | None:
    """Typed text replying to a rejected request's card or prompt, while its "why?" is open:
    store it and forward it. None when the text is not such a reply (it is meant for something
    else); ReasonTooLong and UnsafeText (blank, invisible characters) leave the step open."""
    if replied_to is None:
        return None
    card = await uow.cards.find(actor.id, replied_to)
    row = await _open_reason(uow, actor.id, now)
    if card is None or row is None:
        return None
    request = await uow.requests.get(card.request_id)
    if request is None or request.key != row.data.get("key"):
        return None
    try:
        reason = clean_text(text, max_length=MAX_REASON, multiline=True)
    except UnsafeText as exc:
        if exc.problem is TextProblem.TOO_LONG:
            raise ReasonTooLong from None
        raise
    await uow.requests.set_reason(request.id, reason)
    await uow.audit.record(request.id, actor.id, "explain", request.status, request.status, now,
                           reason=reason)
    uow.outbox.add(Notice("reason_for_advertiser", request.requester_id, request.id,
                          {"reason": reason}))
    await uow.conversations.save(row, "done", {}, now)
    return request


async def skip_reason(uow: UnitOfWork, actor: Actor, key: str, now: datetime) -> bool:
    """The owner chose not to give a reason; False if no "why?" was open for that request."""
    row = await _open_reason(uow, actor.id, now)
    if row is None or row.data.get("key") != key:
        return False
    await uow.conversations.save(row, "done", {}, now)
    return True


async def end_reason_step(uow: UnitOfWork, user_id: int, now: datetime) -> bool:
    """/cancel closes an open "why?" too; True if one was open."""
    row = await _open_reason(uow, user_id, now)
    if row is None:
        return False
    await uow.conversations.save(row, "done", {}, now)
    return True


# --- claims and approval links ------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Claimed:
    claim: ClaimRow
    created: bool
    waiting: int  # pending requests now routed to the new owner


async def claim(uow: UnitOfWork, actor: Actor, platform_id: str, handle: str,
                now: datetime) -> Claimed:
    """Claim a handle: its waiting and future requests come to this chat as cards."""
    await _seen(uow, actor, now)
    platform = get_platform(platform_id)
    key = platform.handle_rule.key(handle)
    existing = await uow.claims.get(platform.id, key)
    if existing is not None:
        return Claimed(existing, False, 0)
    standing = await uow.claims.add(platform.id, handle, key, actor.id, now)
    if standing.owner_id != actor.id:
        return Claimed(standing, False, 0)
    return Claimed(standing, True, await _route_to_owner(uow, standing))


async def _route_to_owner(uow: UnitOfWork, claim: ClaimRow) -> int:
    """A handle has a new owner: its waiting requests (but theirs) come to them as cards."""
    await uow.requests.assign_unclaimed(claim.platform, claim.handle_key, claim.owner_id)
    waiting = [r for r in await uow.requests.pending_for_owner(claim.owner_id)
               if (r.platform, r.handle_key) == (claim.platform, claim.handle_key)]
    for request in waiting:
        _owe_card(uow, request)
    return len(waiting)


async def open_approval_link(uow: UnitOfWork, actor: Actor, token: str, now: datetime
                             ) -> RequestRow:
    """/start <token>: show the approval card to whoever opened the link, if they may decide."""
    await _seen(uow, actor, now)
    request = await uow.requests.by_token(token)
    if request is None or request.status != Status.PENDING or now >= request.expires_at:
        raise Refused("link_invalid")
    if request.requester_id == actor.id:
        raise Refused("own_link")
    if request.owner_id is not None and request.owner_id != actor.id:
        raise Refused("claimed_by_other")
    uow.outbox.add(Notice("link_card", actor.id, request.id, {"token": token}))
    return request


async def link_again(uow: UnitOfWork, actor: Actor, key: str, now: datetime) -> RequestRow:
    """A fresh approval link for the requester's own pending request (an older one dies)."""
    request = await _own_pending(uow, actor, key, now)
    uow.outbox.add(Notice("approval_link", actor.id, request.id, {"why": "again"}))
    return request


async def approval_qr(uow: UnitOfWork, actor: Actor, key: str, now: datetime) -> RequestRow:
    """A fresh approval link as a QR code image, for the requester's own pending request (an
    older link or code dies: the token is issued when the image is made)."""
    request = await _own_pending(uow, actor, key, now)
    uow.outbox.add(Notice("approval_qr", actor.id, request.id))
    return request


async def _own_pending(uow: UnitOfWork, actor: Actor, key: str, now: datetime) -> RequestRow:
    """The actor's own request while it waits for the owner; Refused("gone") otherwise."""
    request = await _request(uow, key=key)
    if request.requester_id != actor.id or request.status != Status.PENDING \
            or now >= request.expires_at:
        raise Refused("gone")
    return request


async def issue_link(uow: UnitOfWork, request_id: int, now: datetime) -> str | None:
    """A new one-time token for a pending request, made when its link is about to be sent (so
    a live token is never stored in the clear); None if the request is no longer pending."""
    request = await uow.requests.get(request_id)
    if request is None or request.status != Status.PENDING or now >= request.expires_at:
        return None
    token = request_flow.new_approval_token()
    await uow.requests.set_token(request.id, token)
    return token


async def owner_unreachable(uow: UnitOfWork, request_id: int, now: datetime) -> bool:
    """The owner's card could not be delivered: the advertiser gets an approval link instead."""
    request = await uow.requests.get(request_id)
    if request is None or request.status != Status.PENDING or now >= request.expires_at:
        return False
    uow.outbox.add(Notice("approval_link", request.requester_id, request.id,
                          {"why": "unreachable"}))
    return True


# --- the clock: expiry and reminders ------------------------------------------------------------

async def expire_due(uow: UnitOfWork, now: datetime, limit: int = 100) -> list[RequestRow]:
    """Expire pending requests whose time is up and tell both sides. Read from the database,
    so downtime forgets nothing; conditional updates make it safe in several processes."""
    expired = []
    for request in await uow.requests.due(now, limit):
        decision = request_flow.decide(request.status, "expire", Role.SYSTEM, now=now,
                                       expires_at=request.expires_at)
        if not await uow.requests.move(request.id, decision.from_, decision.to, now,
                                       decided=True):
            continue  # decided meanwhile, here or in another process
        await uow.audit.record(request.id, None, "expire", decision.from_, decision.to, now)
        after = await uow.requests.get(request.id)
        assert after is not None
        await _close_cards(uow, after)
        uow.outbox.add(Notice("expired_for_advertiser", after.requester_id, after.id))
        if after.owner_id is not None:
            uow.outbox.add(Notice("expired_for_owner", after.owner_id, after.id))
        expired.append(after)
    return expired


async def remind_due(uow: UnitOfWork, now: datetime, ahead: timedelta, limit: int = 100
                     ) -> list[RequestRow]:
    """One reminder per pending request, `ahead` of its expiry: to the owner when there is
    one, else to the advertiser (whose link is still unused)."""
    reminded = []
    for request in await uow.requests.to_remind(now, now + ahead, limit):
        if not await uow.requests.mark_reminded(request.id, now):
            continue
        to = request.owner_id if request.owner_id is not None else request.requester_id
        uow.outbox.add(Notice("reminder", to, request.id))
        reminded.append(request)
    return reminded


# --- lists --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Owned:
    claims: list[ClaimRow]
    grants: list[tuple[RequestRow, UserRow | None]]
    pending: list[tuple[RequestRow, UserRow | None]]
    blocked: list[tuple[int, UserRow | None]] = field(default_factory=list)


async def owned(uow: UnitOfWork, owner_id: int) -> Owned:
    """The owner's handles, who may use each, and what waits for a decision."""
    claims = await uow.claims.of_owner(owner_id)
    grants = await uow.requests.authorized_for_owner(owner_id)
    pending = await uow.requests.pending_for_owner(owner_id)
    people = {r.requester_id: await uow.users.get(r.requester_id) for r in grants + pending}
    blocked = [(a, await uow.users.get(a)) for a in await uow.blocks.of_owner(owner_id)]
    return Owned(claims, [(r, people[r.requester_id]) for r in grants],
                 [(r, people[r.requester_id]) for r in pending], blocked)


async def unblock(uow: UnitOfWork, actor: Actor, advertiser_id: int) -> bool:
    """The owner lets a blocked advertiser ask again; False if they weren't blocked."""
    return await uow.blocks.remove(actor.id, advertiser_id)


async def accounts(uow: UnitOfWork, requester_id: int) -> list[RequestRow]:
    """The advertiser's requests, open ones first."""
    return await uow.requests.of_requester(requester_id)



# --- privacy: erasing a person, and retention ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class Erased:
    """What /deleteme did: the person's pending requests cancelled, the requests waiting for
    them withdrawn, and how many claims and questions went."""

    cancelled: int
    withdrawn: int
    claims: int
    questions: int
    codes: int = 0  # Spark codes nobody had applied, deleted (issue 10)


async def erase_person(uow: UnitOfWork, user_id: int, now: datetime) -> Erased:
    """/deleteme, confirmed: erase a person's personal data.

    Their name and username go (the row stays, anonymised, because requests other people
    depend on name its id), and so do their drafts, questions and claims, and the free text
    (rejection reasons) they wrote or were sent, on requests and in the audit trail. Their
    pending requests are cancelled and the ones waiting for them as owner are withdrawn; the
    other side of each is told. Decided requests keep their facts (handle, ad account, status,
    times) for the other side.
    """
    cancelled = withdrawn = 0
    theirs = await uow.requests.of_requester(user_id, limit=100_000)
    for request in theirs:
        if await _end_pending(uow, request, user_id, "cancel", Role.REQUESTER, now):
            cancelled += 1
            await _close_cards(uow, request)
            if request.owner_id is not None:
                uow.outbox.add(Notice("withdrawn_for_owner", request.owner_id, request.id))
    for request in await uow.requests.pending_for_owner(user_id):
        if await _end_pending(uow, request, user_id, "withdraw", Role.OWNER, now):
            withdrawn += 1
            for card in await uow.cards.take(request.id):
                # In their own chat: the buttons go (an outcome line would name the advertiser).
                uow.outbox.add(Notice("markup", card.chat_id, None,
                                      {"message_id": card.message_id, "markup": None}))
            uow.outbox.add(Notice("withdrawn_for_advertiser", request.requester_id, request.id))
    claims = await uow.claims.release(user_id)
    questions = await uow.knowledge.forget_asker(user_id)
    await uow.conversations.forget(user_id)
    await teams.forget_person(uow, user_id)
    # Reasons they wrote as owners, and reasons written to them about their requests.
    await uow.audit.forget_texts(user_id, [r.id for r in theirs])
    await uow.requests.forget_reasons(user_id)
    # Spark codes (issue 10): unused ones go; applied ones stay for their advertiser, and
    # name the creator only through the anonymised user row.
    codes = await uow.spark_codes.forget_creator(user_id)
    await uow.users.erase(user_id, now)
    return Erased(cancelled, withdrawn, claims, questions, codes)


async def _end_pending(uow: UnitOfWork, request: RequestRow, actor_id: int, event: str,
                       role: Role, now: datetime) -> bool:
    """Cancel or withdraw a request that is still pending and not yet due (a due one is the
    clock's to expire); False when it was not."""
    if request.status != Status.PENDING or now >= request.expires_at:
        return False
    decision = request_flow.decide(request.status, event, role, now=now,
                                   expires_at=request.expires_at)
    if not await uow.requests.move(request.id, decision.from_, decision.to, now, decided=True):
        return False
    await uow.audit.record(request.id, actor_id, event, decision.from_, decision.to, now)
    return True


@dataclass(frozen=True, slots=True)
class Retained:
    questions: int
    reasons: int  # rejection reasons dropped, on requests and in the audit trail


async def apply_retention(uow: UnitOfWork, now: datetime, keep: timedelta) -> Retained:
    """Drop free text older than the retention period: questions asked of the knowledge base,
    and rejection reasons (the decisions stay)."""
    before = now - keep
    questions = await uow.knowledge.expire_questions(before)
    reasons = await uow.requests.expire_reasons(before) + await uow.audit.expire_texts(before)
    return Retained(questions, reasons)


# --- trust (issue 11): how far a decision's maker is known to own the handle -------------------

async def decision_strength(uow: UnitOfWork, request: RequestRow) -> str:
    """"verified" when the request's owner holds the handle's claim and proved it with the
    platform's login, else "unverified" (an unproven claim, or someone holding the link)."""
    claim = await uow.claims.get(request.platform, request.handle_key)
    if claim is not None and claim.owner_id == request.owner_id:
        return claim.strength
    return "unverified"


route_to_owner = _route_to_owner
