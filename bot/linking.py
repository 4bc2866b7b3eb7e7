"""The advertiser's link conversation as a service: load the row, fire one event, store it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import approvals
from bot.context import note_states
from flows import link_flow
from flows.link_flow import FlowError, Position, S
from flows.platforms import InvalidAdAccountName, InvalidHandle
from storage.repositories import ConversationRow, RequestRow
from storage.uow import Database, UnitOfWork

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


class Stale(FlowError):
    """A button from a question that has been answered since (its version is old)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What became of one event: the conversation as read, and the step or the refusal.

    The unit of work is closed by the time a handler sees this, so no lock is held while it
    talks to Telegram.
    """

    row: ConversationRow | None
    step: Step | None = None
    error: Exception | None = None
    question: bool = False  # typed text that is a question for the knowledge base

    @property
    def position(self) -> Position | None:
        return position_of(self.row) if self.row else None


async def peek(db: Database, user_id: int) -> ConversationRow | None:
    """The conversation in progress, read without changing it."""
    async with db.unit_of_work() as uow:
        row = await active(uow, user_id)
    if row is not None:
        note_states(row.state, row.state)
    return row


async def attempt(db: Database, user_id: int, event: str, now: datetime, lifetime: timedelta,
                  *, version: int | None = None, **kwargs: Any) -> Attempt:
    """Fire `event` on the user's conversation in its own unit of work.

    With `version`, the event comes from a button and only applies to the question it was on.
    """
    async with db.unit_of_work() as uow:
        row = await active(uow, user_id)
        if row is None:
            return Attempt(None)
        if version is not None and row.version != version:
            return Attempt(row, error=Stale())
        try:
            step = await advance(uow, row, event, now, lifetime, **kwargs)
        except FlowError as exc:
            note_states(row.state, row.state)
            return Attempt(row, error=exc)
        await uow.commit()
    return Attempt(row, step)


async def attempt_text(db: Database, user_id: int, text: str, now: datetime,
                       lifetime: timedelta, is_question: Callable[[str], bool]) -> Attempt:
    """Take typed text as the answer to the current question, unless it is a question."""
    async with db.unit_of_work() as uow:
        row = await active(uow, user_id)
        if row is None or not position_of(row).expects_text or is_question(text):
            if row is not None:
                note_states(row.state, row.state)
            return Attempt(row, question=True)
        try:
            step = await answer_text(uow, row, text, now, lifetime)
        except (InvalidHandle, InvalidAdAccountName) as exc:
            note_states(row.state, row.state)
            return Attempt(row, error=exc)
        await uow.commit()
    return Attempt(row, step)
