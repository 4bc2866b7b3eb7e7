"""A Spark code's lifecycle: active -> expired | deleted; expired -> active (extended) |
deleted. Applying it keeps it active and binds it to one advertiser.

The rules of who may do what to a code live here; the caller stores the result with a
conditional update (`... WHERE status = ... AND version = ...`), so two racing changes cannot
both win even though this module holds no lock.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from transitions import EventData, Machine, MachineError


class Status(StrEnum):
    """A code's status, stored by name."""

    ACTIVE = "active"
    EXPIRED = "expired"
    DELETED = "deleted"


class Role(StrEnum):
    CREATOR = "creator"
    ADVERTISER = "advertiser"
    SYSTEM = "system"


class CodeRefused(Exception):
    """Why an action on a code is refused. For applying, as Ads Manager words it: "format"
    (4013 auth_code_format_error), "not_found" (auth_code_not_found: deleted or never made),
    "expired" (4025 auth_code_expired), "taken" (another advertiser applied it) or "own".
    For the creator's changes: "gone" (not theirs, or deleted); for the clock: "not_due"."""

    def __init__(self, reason: str, expires_at: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expires_at = expires_at


_TRANSITIONS: list[dict[str, Any]] = [
    # Applying changes no status: it binds the code to its one advertiser.
    {"trigger": "apply", "source": "active", "dest": "active",
     "conditions": ["by_advertiser", "in_time", "free"]},
    # A new period from now; an expired code works again.
    {"trigger": "extend", "source": ["active", "expired"], "dest": "active",
     "conditions": "by_creator"},
    {"trigger": "delete", "source": ["active", "expired"], "dest": "deleted",
     "conditions": "by_creator"},
    {"trigger": "expire", "source": "active", "dest": "expired", "conditions": "is_due"},
]
STATES = [s.value for s in Status]
INITIAL: str = Status.ACTIVE.value
EVENTS = tuple(dict.fromkeys(t["trigger"] for t in _TRANSITIONS))


class _Case:
    """The model attached for one decision."""

    state: str

    def __init__(self) -> None:
        self.role = Role.SYSTEM
        self.now: datetime | None = None
        self.expires_at: datetime | None = None
        self.taken = False

    def by_creator(self, event: EventData) -> bool:
        return self.role is Role.CREATOR

    def by_advertiser(self, event: EventData) -> bool:
        return self.role is Role.ADVERTISER

    def in_time(self, event: EventData) -> bool:
        return self.now is not None and self.expires_at is not None \
            and self.now < self.expires_at

    def free(self, event: EventData) -> bool:
        return not self.taken

    def is_due(self, event: EventData) -> bool:
        return self.role is Role.SYSTEM and not self.in_time(event)


_MACHINE = Machine(model=None, states=STATES, transitions=_TRANSITIONS, initial=INITIAL,
                   auto_transitions=False, send_event=True)
_POOL: list[_Case] = []


def allowed(status: str, event: str, role: Role, *, now: datetime, expires_at: datetime,
            taken: bool = False) -> Status | None:
    """The status `event` leads to from `status`, or None when the rules refuse it."""
    try:
        case = _POOL.pop()
    except IndexError:
        case = _Case()
        _MACHINE.add_model(case, initial=INITIAL)
    case.state, case.role, case.now, case.expires_at, case.taken = \
        status, role, now, expires_at, taken
    try:
        moved = _MACHINE.events[event].trigger(case)
        return Status(case.state) if moved else None
    except MachineError:
        return None
    finally:
        _POOL.append(case)


def judge(status: str, event: str, actor_id: int | None, *, creator_id: int,
          applied_by: int | None, now: datetime, expires_at: datetime) -> Status:
    """Every rule for one event on a code: the status it leads to, or CodeRefused with the
    reason to tell (`actor_id` None: the clock)."""
    role = (Role.SYSTEM if actor_id is None else
            Role.CREATOR if actor_id == creator_id else Role.ADVERTISER)
    taken = applied_by is not None and applied_by != actor_id
    to = allowed(status, event, role, now=now, expires_at=expires_at, taken=taken)
    if to is not None:
        return to
    if event == "expire":
        raise CodeRefused("not_due")
    if event != "apply":
        raise CodeRefused("gone")
    # Ads Manager's answers, the first that applies.
    if status == Status.DELETED:
        raise CodeRefused("not_found")
    if role is Role.CREATOR:
        raise CodeRefused("own", expires_at)
    if status == Status.EXPIRED or now >= expires_at:
        raise CodeRefused("expired", expires_at)
    raise CodeRefused("taken", expires_at)


def graph_source() -> tuple[list[str], list[dict[str, Any]], str]:
    """The machine's definition, for diagram generation."""
    return STATES, _TRANSITIONS, INITIAL
