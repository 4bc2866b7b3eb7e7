"""Operator tools (issue 11): look up a handle's claim and its history, release a claim, read a
request's audit trail, block and unblock a person. The same commands serve `/admin` in Telegram
and `linkpilot admin` on the command line; every one is written to the operator log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flows.platforms import InvalidHandle, UnsafeText, read_account_args
from flows.ports import TrustUnitOfWork
from flows.records import AuditEventRow, ClaimEventRow, ClaimRow, Notice, RequestRow

ACTIONS = ("claim", "release", "audit", "block", "unblock")


class Usage(ValueError):
    """An operator command that can't be run as given; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class Command:
    action: str
    platform: str = ""
    handle: str = ""
    handle_key: str = ""
    request: str = ""  # a request's key or number
    user_id: int = 0


def parse(args: list[str], platforms: tuple[str, ...]) -> Command:
    """`claim|release [platform] @handle`, `audit <request>`, `block|unblock <user id>`."""
    if not args or args[0].lower() not in ACTIONS:
        raise Usage("expected one of: " + ", ".join(ACTIONS))
    action, rest = args[0].lower(), args[1:]
    if action in ("claim", "release"):
        # Read as /claim reads it: a bare platform word names no account, an address names its
        # platform, anything else is a TikTok username.
        named = read_account_args(rest)
        if named.platform is None or named.raw is None or named.platform.id not in platforms:
            raise Usage(f"{action} takes [platform] @handle (platforms: {', '.join(platforms)})")
        platform, rule = named.platform.id, named.platform.handle_rule
        try:
            handle = rule.normalise(named.raw)
        except (InvalidHandle, UnsafeText):
            raise Usage(f"{named.raw[:40]!r} is not a {platform} username") from None
        return Command(action, platform, handle, rule.key(handle))
    if len(rest) != 1:
        raise Usage(f"{action} takes one argument")
    if action == "audit":
        return Command(action, request=rest[0][:32])
    if not rest[0].isdigit() or len(rest[0]) > 20:
        raise Usage(f"{action} takes a Telegram user id (digits)")
    return Command(action, user_id=int(rest[0]))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command found or did, for the adapter to show: `done` False means it changed
    nothing (no such claim, already blocked...)."""

    command: Command
    done: bool
    claim: ClaimRow | None = None
    history: list[ClaimEventRow] = field(default_factory=list)
    request: RequestRow | None = None
    trail: list[AuditEventRow] = field(default_factory=list)
    released: list[RequestRow] = field(default_factory=list)


async def run(uow: TrustUnitOfWork, operator: str, command: Command, now: datetime, *,
              protected: frozenset[int] = frozenset()) -> Outcome:
    """Run one operator command and log it (who, what, when). `protected` people (the
    operators) can't be blocked."""
    target = _target(command)
    await uow.operator_log.record(operator, command.action, target, now)
    if command.action == "claim":
        return Outcome(command, True, await uow.claims.get(command.platform, command.handle_key),
                       await uow.claim_history.of_handle(command.platform, command.handle_key))
    if command.action == "release":
        return await _release(uow, operator, command, now)
    if command.action == "audit":
        request = await _find_request(uow, command.request)
        if request is None:
            return Outcome(command, False)
        return Outcome(command, True, request=request,
                       trail=await uow.trail.of_request(request.id))
    if command.action == "block":
        if command.user_id in protected:
            return Outcome(command, False)
        return Outcome(command, await uow.bans.add(command.user_id, operator, now))
    return Outcome(command, await uow.bans.remove(command.user_id))


def _target(command: Command) -> str:
    if command.handle:
        return f"{command.platform}:@{command.handle}"
    return command.request or str(command.user_id)


async def _find_request(uow: TrustUnitOfWork, ref: str) -> RequestRow | None:
    request = await uow.requests.by_key(ref)
    if request is None and ref.isdigit() and len(ref) < 12:
        request = await uow.requests.get(int(ref))
    return request


async def _release(uow: TrustUnitOfWork, operator: str, command: Command,
                   now: datetime) -> Outcome:
    """The claim goes; its waiting requests wait for nobody again (their advertisers get an
    approval link each) and the former owner's cards lose their buttons. Anyone may claim or
    verify the handle afterwards."""
    claim = await uow.claim_changes.remove(command.platform, command.handle_key)
    if claim is None:
        return Outcome(command, False)
    await uow.claim_history.record(claim, None, "release", operator, now)
    waiting = await uow.claim_changes.unassign(claim.platform, claim.handle_key, claim.owner_id)
    for request in waiting:
        for card in await uow.cards.take(request.id):
            uow.outbox.add(Notice("markup", card.chat_id, None,
                                  {"message_id": card.message_id, "markup": None}))
        await uow.audit.record(request.id, None, "release", request.status, request.status, now)
        uow.outbox.add(Notice("approval_link", request.requester_id, request.id,
                              {"why": "released"}))
    return Outcome(command, True, claim, released=waiting)
