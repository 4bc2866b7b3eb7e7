"""The advertiser's link conversation as a service: load the row, fire one event, store it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import approvals
from bot.context import note_states
from flows import link_flow
from flows.link_flow import Position, S
from storage.repositories import ConversationRow, RequestRow
from storage.uow import UnitOfWork

FLOW = "link"


@dataclass(frozen=True, slots=True)
class Step:
    """The conversation after one event: its position, version, and the request it created."""

    position: Position
    version: int
    request: RequestRow | None = None


def position_of(row: ConversationRow) -> Position:
    return Position(state=row.state, data=row.data)


async def active(uow: UnitOfWork, user_id: int) -> ConversationRow | None:
    """The user's link conversation if one is in progress."""
    row = await uow.conversations.load(user_id, FLOW)
    if row is None or row.state in link_flow.FINAL_STATES:
        return None
    return row


async def begin(uow: UnitOfWork, user_id: int, now: datetime) -> tuple[Step, bool]:
    """Resume the conversation in progress, or start a new one: (step, resumed)."""
    row = await uow.conversations.load(user_id, FLOW)
    if row is not None and row.state not in link_flow.FINAL_STATES:
        note_states(row.state, row.state)
        return Step(position_of(row), row.version), True
    fresh = link_flow.start()
    before = row or ConversationRow(user_id, FLOW, fresh.state, {}, 0)
    saved = await uow.conversations.save(before, fresh.state, fresh.data, now)
    note_states(row.state if row else None, fresh.state)
    return Step(fresh, saved.version), False


async def advance(uow: UnitOfWork, row: ConversationRow, event: str, now: datetime,
                  lifetime: timedelta, **kwargs: Any) -> Step:
    """Fire one flow event and store the result; a FlowError leaves everything unchanged."""
    new = link_flow.fire(position_of(row), event, **kwargs)
    return await _store(uow, row, new, now, lifetime)


async def answer_text(uow: UnitOfWork, row: ConversationRow, text: str, now: datetime,
                      lifetime: timedelta) -> Step:
    """Answer the current typed-text question (raises the validator's error if invalid)."""
    new = link_flow.submit_text(position_of(row), text)
    return await _store(uow, row, new, now, lifetime)


async def _store(uow: UnitOfWork, row: ConversationRow, new: Position, now: datetime,
                 lifetime: timedelta) -> Step:
    saved = await uow.conversations.save(row, new.state, new.data, now)
    note_states(row.state, new.state)
    request = None
    if new.state == S.SUBMITTED:
        request = await approvals.submit(uow, row.user_id, new, now, lifetime)
    return Step(new, saved.version, request)
