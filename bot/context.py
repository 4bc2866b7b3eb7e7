"""What every handler receives: the wired dependencies, and a per-update trace for the log."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.settings import Settings
from storage.uow import Database, UnitOfWork

if TYPE_CHECKING:
    from bot.faq import FaqService
    from bot.inbox import Processor
    from bot.outbox import Dispatcher

logger = logging.getLogger("linkpilot.updates")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    """The dependencies wired once in the composition root (`bot.app.build_application`)."""

    settings: Settings
    db: Database
    faq: FaqService
    clock: Callable[[], datetime] = utc_now
    bot_username: str = ""
    dispatcher: Dispatcher | None = None
    processor: Processor | None = None


@dataclass
class Turn:
    """One update being handled: its unit of work (committed once, by the inbox processor,
    with the update marked done and every message it owes), and the error if a handler failed."""

    uow: UnitOfWork
    update_id: int
    error: BaseException | None = None


_turn: ContextVar[Turn | None] = ContextVar("linkpilot_turn", default=None)


def current_turn() -> Turn:
    turn = _turn.get()
    if turn is None:
        raise RuntimeError("not inside an update: handlers run through bot.inbox.Processor")
    return turn


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with typed access to our dependencies."""

    @property
    def deps(self) -> Deps:
        deps: Deps = self.application.bot_data["deps"]
        return deps

    @property
    def uow(self) -> UnitOfWork:
        """This update's unit of work. Handlers never commit: the processor does, once."""
        return current_turn().uow


def deps_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Deps:
    deps: Deps = application.bot_data["deps"]
    return deps


@dataclass
class Trace:
    """What the one log line of an update says."""

    event: str
    before: str | None = None
    after: str | None = None
    notes: list[str] = field(default_factory=list)


_trace: ContextVar[Trace | None] = ContextVar("linkpilot_trace", default=None)


def note_states(before: str | None, after: str | None) -> None:
    """Record the conversation state before and after this update's event."""
    trace = _trace.get()
    if trace is not None:
        trace.before, trace.after = before, after


Handler = Callable[[Update, Context], Awaitable[Any]]
H = TypeVar("H", bound=Handler)


def traced(event: str) -> Callable[[H], H]:
    """Log one line per handled update: user, event, state before and after, time taken."""

    def wrap(handler: H) -> H:
        @functools.wraps(handler)
        async def run(update: Update, context: Context) -> Any:
            trace = Trace(event)
            token = _trace.set(trace)
            started = time.perf_counter()
            outcome = "ok"
            try:
                return await handler(update, context)
            except Exception:
                outcome = "error"
                raise
            finally:
                _trace.reset(token)
                user = update.effective_user.id if update.effective_user else None
                logger.info("user=%s event=%s state=%s->%s took=%.1fms %s", user, trace.event,
                            trace.before, trace.after, (time.perf_counter() - started) * 1000,
                            outcome)

        return run  # type: ignore[return-value]

    return wrap
