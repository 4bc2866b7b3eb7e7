"""Operator commands (issue 11), shared by `/admin` in Telegram and `linkpilot admin`: parse,
run the use case, owe the messages it implies, and say what happened in plain lines."""

from __future__ import annotations

from datetime import datetime

from bot import texts
from flows import operator
from flows.operator import Outcome, Usage
from flows.platforms import PLATFORMS, account
from flows.records import Notice
from storage.uow import UnitOfWork

__all__ = ["Usage", "run_admin"]


async def run_admin(uow: UnitOfWork, who: str, args: list[str], now: datetime, *,
                    protected: frozenset[int] = frozenset()) -> str:
    """Run `args` as an operator command on `uow` (not committed); the report, as plain text.
    Raises Usage for a command that can't run as given."""
    command = operator.parse(args, tuple(PLATFORMS))
    outcome = await operator.run(uow, who, command, now, protected=protected)
    if command.action == "release" and outcome.claim is not None:
        uow.outbox.add(Notice("message", outcome.claim.owner_id, data={
            "text": f"An operator released your claim on "
                    f"{texts.esc(account(outcome.claim.platform, outcome.claim.handle))}; "
                    "its requests no longer come to you here.", "markup": None}))
    return report(outcome)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def report(outcome: Outcome) -> str:
    """What an operator command found or did, in plain lines."""
    c = outcome.command
    handle = f"{c.platform} {account(c.platform, c.handle)}"
    if c.action == "claim":
        claim = outcome.claim
        lines = [f"{handle}: " + (f"claimed by user {claim.owner_id}, {claim.strength}"
                                  + (f" ({claim.platform}_user_id {claim.platform_user_id}, "
                                     f"{_when(claim.verified_at)})" if claim.verified_at else "")
                                  if claim else "not claimed")]
        lines += [f"  {_when(e.at)}  {e.event:<9} owner={e.owner_id}  by {e.actor}"
                  for e in outcome.history] or ["  no history"]
        return "\n".join(lines)
    if c.action == "release":
        if not outcome.done:
            return f"{handle}: not claimed, nothing released"
        return (f"{handle}: released (was user {outcome.claim.owner_id if outcome.claim else '?'}"
                f"); {len(outcome.released)} waiting request(s) sent back to an approval link")
    if c.action == "audit":
        request = outcome.request
        if request is None:
            return f"no request {c.request!r}"
        lines = [f"request {request.key} (#{request.id}): {request.platform} "
                 f"{account(request.platform, request.handle)}, "
                 f"ad account {request.ad_account}, requester {request.requester_id}, "
                 f"owner {request.owner_id}, now {request.status}"
                 + (f", decided {request.strength}" if request.strength else "")]
        lines += [f"  {_when(e.at)}  {e.event:<8} {e.from_status or '-'} -> {e.to_status}"
                  f"  by {e.actor_id if e.actor_id is not None else 'system'}"
                  for e in outcome.trail]
        return "\n".join(lines)
    if c.action == "block":
        return (f"user {c.user_id} blocked: every update gets a fixed reply" if outcome.done
                else f"user {c.user_id} was already blocked, or is an operator: nothing changed")
    return (f"user {c.user_id} unblocked" if outcome.done
            else f"user {c.user_id} was not blocked: nothing changed")
