"""A link request's lifecycle, from pending to a decision and, once authorized, to its end.

pending -> authorized | rejected | cancelled | expired; authorized -> unlinked | revoked, or
ended when access granted for a limited time runs out.
The rules of who may move a request live here; the caller stores the result with a conditional
update (`... WHERE status = <the status this decision started from>`), so two racing decisions
cannot both win even though this module holds no lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from transitions import EventData, Machine, MachineError


class Status(StrEnum):
    """A link request's status, stored by name."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    UNLINKED = "unlinked"
    REVOKED = "revoked"
    ENDED = "ended"  # temporary access ran out (Meta: 3 to 75 days)


OPEN_STATUSES = frozenset({Status.PENDING, Status.AUTHORIZED})


class Role(StrEnum):
    """Who is acting on a request, as far as the rules care."""

    REQUESTER = "requester"
    OWNER = "owner"  # the claimed owner, or whoever holds the one-time approval link
    SYSTEM = "system"
    STRANGER = "stranger"


class Refused(Exception):
    """A decision the rules do not allow; `reason` names why for the reply."""

    def __init__(self, reason: str, status: Status | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


_TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "approve", "source": "pending", "dest": "authorized", "conditions": "by_owner"},
    {"trigger": "reject", "source": "pending", "dest": "rejected", "conditions": "by_owner"},
    {"trigger": "cancel", "source": "pending", "dest": "cancelled", "conditions": "by_requester"},
    # The owner erased their data (/deleteme): what waited for them is withdrawn.
    {"trigger": "withdraw", "source": "pending", "dest": "cancelled", "conditions": "by_owner"},
    {"trigger": "expire", "source": "pending", "dest": "expired", "conditions": "is_due"},
    {"trigger": "unlink", "source": "authorized", "dest": "unlinked",
     "conditions": "by_requester"},
    {"trigger": "revoke", "source": "authorized", "dest": "revoked", "conditions": "by_owner"},
    # Temporary access: the clock ends it once its time is up.
    {"trigger": "end", "source": "authorized", "dest": "ended", "conditions": "access_is_over"},
    # Trust (issue 11): a verified owner took the handle over; an unverified approval is void.
    {"trigger": "void", "source": "authorized", "dest": "revoked", "conditions": "by_system"},
]
STATES = [s.value for s in Status]
INITIAL: str = Status.PENDING.value
EVENTS = tuple(dict.fromkeys(t["trigger"] for t in _TRANSITIONS))


class _Case:
    """The model attached for one decision."""

    state: str

    def __init__(self) -> None:
        self.role = Role.STRANGER
        self.now: datetime | None = None
        self.expires_at: datetime | None = None
        self.ends_at: datetime | None = None

    def by_owner(self, event: EventData) -> bool:
        return self.role is Role.OWNER

    def by_requester(self, event: EventData) -> bool:
        return self.role is Role.REQUESTER

    def by_system(self, event: EventData) -> bool:
        return self.role is Role.SYSTEM

    def is_due(self, event: EventData) -> bool:
        return (
            self.role is Role.SYSTEM
            and self.now is not None
            and self.expires_at is not None
            and self.now >= self.expires_at
        )

    def access_is_over(self, event: EventData) -> bool:
        return (
            self.role is Role.SYSTEM
            and self.now is not None
            and self.ends_at is not None
            and self.now >= self.ends_at
        )


_MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=_TRANSITIONS,
    initial=INITIAL,
    auto_transitions=False,
    send_event=True,
)
_POOL: list[_Case] = []


@dataclass(frozen=True, slots=True)
class Decision:
    """A permitted move: the caller writes `to` where the row still says `from_`."""

    event: str
    from_: Status
    to: Status


def decide(
    status: str,
    event: str,
    role: Role,
    *,
    now: datetime | None = None,
    expires_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Decision:
    """Check one event against the rules and return the move, or raise Refused."""
    if event not in EVENTS:
        raise Refused("unknown_event")
    try:
        case = _POOL.pop()
    except IndexError:
        case = _Case()
        _MACHINE.add_model(case, initial=INITIAL)
    case.state, case.role, case.now, case.expires_at = status, role, now, expires_at
    case.ends_at = ends_at
    try:
        moved = _MACHINE.events[event].trigger(case)
        new_status = case.state
    except MachineError as exc:
        raise Refused("not_open", Status(status)) from exc
    finally:
        _POOL.append(case)
    if not moved:
        raise Refused("not_due" if event in ("expire", "end") else "not_allowed",
                      Status(status))
    return Decision(event=event, from_=Status(status), to=Status(new_status))


def judge(
    status: str,
    event: str,
    actor_id: int,
    *,
    requester_id: int,
    owner_id: int | None,
    holds_link: bool,
    now: datetime,
    expires_at: datetime,
) -> tuple[Decision, Role]:
    """Every rule for one person's event on a request: the move and the actor's role, or
    Refused with the reason to tell them.

    A pending request whose time is up counts as expired even before the expiry sweep stores
    it, so a late press cannot approve it. Someone with no part in the request learns nothing
    about it, not even its status.
    """
    role = role_of(actor_id, requester_id=requester_id, owner_id=owner_id, holds_link=holds_link)
    if role is Role.STRANGER:
        raise Refused("claimed_by_other" if holds_link and owner_id is not None
                      else "not_allowed")
    if status == Status.PENDING and now >= expires_at:
        raise Refused("already", Status.EXPIRED)
    try:
        decision = decide(status, event, role, now=now, expires_at=expires_at)
    except Refused as refused:
        if refused.reason == "not_open":
            raise Refused("already", refused.status) from None
        if role is Role.REQUESTER and event in ("approve", "reject"):
            raise Refused("own_request", refused.status) from None
        if role is Role.STRANGER and holds_link and owner_id is not None:
            raise Refused("claimed_by_other", refused.status) from None
        raise
    return decision, role


def role_of(
    user_id: int,
    *,
    requester_id: int,
    owner_id: int | None,
    holds_link: bool = False,
) -> Role:
    """Who `user_id` is to a request. The requester never counts as its owner."""
    if user_id == requester_id:
        return Role.REQUESTER
    if (owner_id is not None and user_id == owner_id) or (owner_id is None and holds_link):
        return Role.OWNER
    return Role.STRANGER


def expiry_for(created_at: datetime, lifetime: timedelta) -> datetime:
    """When a request made at `created_at` stops being answerable."""
    return created_at + lifetime


def new_request_key() -> str:
    """A short opaque key for callback data (64-byte limit) that names a request row."""
    return secrets.token_urlsafe(9)


def new_approval_token() -> str:
    """An unguessable one-time token for a t.me deep link (at most 64 chars of [A-Za-z0-9_-])."""
    return secrets.token_urlsafe(24)


def graph_source() -> tuple[list[str], list[dict[str, Any]], str]:
    """The machine's definition, for diagram generation."""
    return STATES, _TRANSITIONS, INITIAL
