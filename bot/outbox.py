"""The dispatcher: sends what the outbox owes, after the transaction that owed it committed.

Rows of one chat go out in the order they were owed. Telegram's answers decide what happens next:
- 429: that chat waits `retry_after`; every other chat keeps flowing.
- 5xx and timeouts: exponential backoff with jitter up to a cap, then the row is given up on
  (kept as "failed", logged as a warning).
- 403: the person can't be reached; a card that can't reach its owner becomes an approval link
  for the advertiser, said with why.
- 400 "message is not modified", a vanished message or an expired button answer: nothing left to do.
A sent row is deleted in one transaction per batch, together with what its sending taught us (the
card's message id, so a decision can take its buttons off). Where this process is alone on the
database (SQLite; PostgreSQL when polling) that write is deferred (`Database.defer`): the
write-backs of everything sent meanwhile are merged into one, which on SQLite rides on the next
unit of work and on PostgreSQL is one statement of its own within DEFER_SECONDS. Until it lands,
the rows stay claimed (a background pass does not send them again) and the chats' new questions
are known here (a newer question takes the right buttons off). Once it has landed, a chat's
question is the one the update's own gate read (`mark`), or, when this process asked another
question since, read again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import notices, team_notices
from flows import usecases
from storage.repositories import OutboxRow
from storage.uow import Database

logger = logging.getLogger(__name__)

JSON = dict[str, Any]

# 400s after which there is nothing left to do: the edit is already there, the message or the
# button press is gone.
_DONE_400 = ("not modified", "message to edit not found", "query is too old",
             "query id is invalid", "message can't be edited")


@dataclass
class Report:
    """What one round of sending changed, written back in one transaction."""

    sent: list[int] = field(default_factory=list)
    cards: list[tuple[int, int, int, str]] = field(default_factory=list)  # request, chat, msg, kind
    retries: list[tuple[int, int, datetime, str]] = field(default_factory=list)
    given_up: list[tuple[OutboxRow, str]] = field(default_factory=list)
    unreachable: list[OutboxRow] = field(default_factory=list)
    # chat -> its newest question's message id, or None when it has no buttons to take off
    questions: dict[int, int | None] = field(default_factory=dict)
    # The rows this round claimed (see `Dispatcher._claimed`), released once it is written.
    claimed: list[int] = field(default_factory=list)
    # Deferred: its write has run in a unit of work, so nothing more may be merged into it.
    taken: bool = False
    # What the update's own unit of work read of its chat's question (`Dispatcher.mark`).
    read: dict[int, int | None] = field(default_factory=dict)
    mark: Mark | None = None

    def __bool__(self) -> bool:
        return bool(self.sent or self.cards or self.retries or self.given_up or self.unreachable
                    or self.questions)

    def merge(self, later: Report) -> None:
        """Take in what a later round of sending recorded (a chat's newer question wins)."""
        self.sent += later.sent
        self.cards += later.cards
        self.retries += later.retries
        self.questions.update(later.questions)
        self.claimed += later.claimed


# A chat, and how many questions this process had asked when that chat had none waiting to be
# written back (see `Dispatcher.mark`).
Mark = tuple[int, int]


class Dispatcher:
    """Sends owed rows in order per chat, and retries what Telegram refused for now."""

    def __init__(self, bot: Bot, db: Database, clock: Callable[[], datetime], *,
                 bot_username: Callable[[], str], max_attempts: int = 8,
                 backoff_base: float = 2.0, backoff_cap: float = 300.0) -> None:
        self._bot, self._db, self._clock = bot, db, clock
        self._bot_username = bot_username
        self.max_attempts = max_attempts
        self._base, self._cap = backoff_base, backoff_cap
        self._locks: dict[int, asyncio.Lock] = {}
        self._sweep_at = 1024  # size that triggers forgetting idle chats' locks
        self._held: dict[int, datetime] = {}  # chat -> not before (429)
        self._backlog: set[int] = set()  # chats with rows waiting for a retry
        # Rows a task of this process is sending or has sent but not yet written back: a
        # background pass that read them as pending must not send them again.
        self._claimed: set[int] = set()
        # Deferred write-backs not yet seen by every unit of work (oldest first); the last
        # takes in later rounds until its write runs.
        self._unlanded: list[Report] = []
        self._asked = 0  # questions asked by this process (see `mark`)
        self._wake = asyncio.Event()

    # --- entry points -------------------------------------------------------------------------
    def mark(self, chat_id: int) -> Mark | None:
        """Taken before a unit of work reads the chat's question: if no question is asked here
        between the mark and the sending, what it read is still the chat's question, and
        `deliver` spares a read. None when that read could miss one (a question asked here
        and not yet written back, or another worker on the database)."""
        if not self._db.defers_writes or any(chat_id in r.questions for r in self._unlanded):
            return None
        return chat_id, self._asked

    async def deliver(self, rows: Iterable[OutboxRow], *, read: dict[int, int | None] | None = None,
                      mark: Mark | None = None) -> None:
        """Send rows just committed (the fast path, right after an update or a job); `read`,
        the chats' questions as the unit of work that owed them read them after `mark`."""
        by_chat: dict[int, list[OutboxRow]] = defaultdict(list)
        for row in rows:
            by_chat[row.chat_id].append(row)
        if not by_chat:
            return
        report, deferred = Report(read=read or {}, mark=mark), False
        try:
            for chat_id, chat_rows in by_chat.items():
                async with self._lock(chat_id):
                    if chat_id in self._backlog:
                        self._wake.set()  # older rows go first; the background pass sends these
                        continue
                    report.claimed += self._claim(chat_rows)
                    await self._send_in_order(chat_id, chat_rows, report)
            deferred = await self._write(report)
        finally:
            if not deferred:  # else they stay claimed until the write-back lands
                self._claimed.difference_update(report.claimed)

    async def run_due(self) -> int:
        """One pass over everything unsent: each chat's rows in order, as far as they are due.
        Returns how many rows it tried."""
        await self._db.flush_deferred()  # what was sent meanwhile is written back first
        async with self._db.unit_of_work() as uow:
            pending = await uow.outbox.pending()
        by_chat: dict[int, list[OutboxRow]] = defaultdict(list)
        for row in pending:
            by_chat[row.chat_id].append(row)
        now = self._clock()
        report, tried, deferred = Report(), 0, False
        try:
            for chat_id, chat_rows in by_chat.items():
                if chat_rows[0].next_at > now or self._held.get(chat_id, now) > now:
                    self._backlog.add(chat_id)
                    continue
                async with self._lock(chat_id):
                    if any(row.id in self._claimed for row in chat_rows):
                        continue  # another task is on this chat; the next pass sees what's left
                    # Lease the chat's rows under its lock (re-read: the fast path may have
                    # sent some since); a chat another worker holds is theirs for now.
                    async with self._db.unit_of_work() as uow:
                        fresh = await uow.outbox.claim_chat(chat_id, now)
                        await uow.commit()
                    if not fresh or any(row.id in self._claimed for row in fresh):
                        continue  # sent meanwhile, its write-back still to land
                    report.claimed += self._claim(fresh)
                    tried += await self._send_in_order(chat_id, fresh, report)
            deferred = await self._write(report)
        finally:
            if not deferred:  # else they stay claimed until the write-back lands
                self._claimed.difference_update(report.claimed)
        return tried

    def _claim(self, rows: list[OutboxRow]) -> list[int]:
        ids = [row.id for row in rows]
        self._claimed.update(ids)
        return ids

    async def recover(self) -> None:
        """After a restart: chats with rows owed before it go first, before any new row."""
        async with self._db.unit_of_work() as uow:
            self._backlog |= {row.chat_id for row in await uow.outbox.pending()}

    async def run_forever(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """Background loop: retry and catch up, woken early when a chat has a backlog."""
        while not stop.is_set():
            try:
                await self.run_due()
            except Exception:
                logger.exception("outbox pass failed; trying again shortly")
            self._wake.clear()
            waits = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            _, still = await asyncio.wait(waits, timeout=every,
                                          return_when=asyncio.FIRST_COMPLETED)
            for task in still:
                task.cancel()

    # --- sending ------------------------------------------------------------------------------
    def _lock(self, chat_id: int) -> asyncio.Lock:
        lock = self._locks.get(chat_id)
        if lock is None:
            lock = self._locks[chat_id] = asyncio.Lock()
        if len(self._locks) >= self._sweep_at:  # forget idle chats' locks; memory stays flat
            for key in [k for k, v in self._locks.items() if not v.locked() and k != chat_id]:
                del self._locks[key]
            self._sweep_at = max(1024, 2 * len(self._locks))
        return lock

    async def _send_in_order(self, chat_id: int, rows: list[OutboxRow], report: Report) -> int:
        """Send until one row must wait; the rest of the chat waits behind it."""
        tried = 0
        for row in rows:
            if row.next_at > self._clock():
                self._backlog.add(chat_id)
                return tried
            tried += 1
            if not await self._send(row, report):
                self._backlog.add(chat_id)
                return tried
        self._backlog.discard(chat_id)
        self._held.pop(chat_id, None)
        return tried

    async def _send(self, row: OutboxRow, report: Report) -> bool:
        """Try one row; True when the chat may go on to its next row."""
        try:
            message = await self._perform(row, report)
        except RetryAfter as exc:
            wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            until = self._clock() + timedelta(seconds=seconds)
            self._held[row.chat_id] = until
            report.retries.append((row.id, row.attempts, until, "429 retry after"))
            logger.info("outbox %s to chat %s: 429, chat waits %.0fs", row.id, row.chat_id,
                        seconds)
            return False
        except Forbidden as exc:
            logger.info("outbox %s (%s): chat %s unreachable: %s", row.id, row.kind, row.chat_id,
                        exc.message)
            report.unreachable.append(row)
            return True
        except BadRequest as exc:
            if any(s in exc.message.lower() for s in _DONE_400):
                report.sent.append(row.id)
                return True
            report.given_up.append((row, f"400 {exc.message}"))
            return True
        except NetworkError as exc:  # 5xx, timeouts, connection errors
            attempts = row.attempts + 1
            if attempts >= self.max_attempts:
                report.given_up.append((row, f"{type(exc).__name__}: {exc.message}"))
                return True
            delay = min(self._cap, self._base * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)
            report.retries.append((row.id, attempts, self._clock() + timedelta(seconds=delay),
                                   f"{type(exc).__name__}: {exc.message}"))
            logger.info("outbox %s to chat %s: %s, retry %d in %.1fs", row.id, row.chat_id,
                        type(exc).__name__, attempts, delay)
            return False
        except TelegramError as exc:
            report.given_up.append((row, f"{type(exc).__name__}: {exc.message}"))
            return True
        report.sent.append(row.id)
        sent = _sent_message(message)
        if sent is None:
            return True
        chat_id, message_id, has_buttons = sent
        if row.payload.get("question"):
            report.questions[chat_id] = message_id if has_buttons else None
            self._asked += 1
        kind = notices.CARD_KINDS.get(row.kind)
        if kind is not None and row.request_id is not None:
            report.cards.append((row.request_id, chat_id, message_id, kind))
        return True

    async def _perform(self, row: OutboxRow, report: Report) -> Message | JSON | bool | None:
        """Render one row into its Bot API call and make it."""
        bot, data = self._bot, row.payload
        if row.kind == "answer":
            params: JSON = {"callback_query_id": data["query_id"]}
            if data.get("text"):
                params["text"] = data["text"]
            return await self._call("answercallbackquery", params)
        if row.kind == "markup":
            params = {"chat_id": row.chat_id, "message_id": data["message_id"]}
            if data.get("markup"):
                params["reply_markup"] = data["markup"]
            return await self._call("editmessagereplymarkup", params)
        if row.kind in ("message", "edit"):
            if data.get("retire"):
                await self._retire(row.chat_id, report)
            params = {"chat_id": row.chat_id, "text": data["text"], "parse_mode": "HTML",
                      "link_preview_options": _NO_PREVIEW}
            if data.get("markup"):
                params["reply_markup"] = data["markup"]
            if row.kind == "edit" or "message_id" in data:
                params["message_id"] = data["message_id"]
                return await self._call("editmessagetext", params)
            return await self._call("sendmessage", params)
        said = await self._render_notice(row)
        if said is None:
            return None  # nothing to say any more (the request moved on)
        text, markup = said.text, said.markup
        if said.photo is not None:
            return await bot.send_photo(row.chat_id, said.photo, caption=text,
                                        reply_markup=markup)
        if "message_id" in data:
            return await bot.edit_message_text(text, chat_id=row.chat_id,
                                               message_id=data["message_id"],
                                               reply_markup=markup)
        return await bot.send_message(row.chat_id, text, reply_markup=markup)

    async def _call(self, method: str, params: JSON) -> JSON | bool:
        """A Bot API call made with the JSON the row already holds. PTB's typed methods would
        rebuild the keyboard as objects only to serialise it again, and parse the answer into a
        Message of which two fields are read; this is a third of the cost of an update. The
        lower-case name is Telegram's own (its method names are case-insensitive) and keeps PTB
        from advising the typed method; the rate limiter and error mapping apply as usual."""
        result: JSON | bool = await self._bot.do_api_request(method, api_kwargs=params)
        return result

    async def _retire(self, chat_id: int, current: Report) -> None:
        """Take the buttons off the chat's previous question before a newer one is asked."""
        for report in reversed(self._unlanded):  # asked lately: its write-back has not landed
            if chat_id in report.questions:
                message_id = report.questions[chat_id]
                break
        else:
            if current.mark == (chat_id, self._asked) and chat_id in current.read:
                message_id = current.read[chat_id]  # read since the mark, and still so
            else:
                message_id = await self._question(chat_id)
        if message_id is None:
            return
        # BadRequest: already without buttons (answered by a press), or gone.
        with contextlib.suppress(BadRequest):
            await self._bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                                      reply_markup=None)

    async def _question(self, chat_id: int) -> int | None:
        async with self._db.unit_of_work() as uow:
            message_id = await uow.questions.get(chat_id)
            # Nothing of its own to keep, but on SQLite the write-backs it carried (and read)
            # are kept with it rather than rolled back for the next unit to run again.
            await uow.commit()
        return message_id

    async def _render_notice(self, row: OutboxRow) -> notices.Reply | None:
        now = self._clock()
        if row.kind in notices.SPARK_KINDS:  # Spark codes (issue 10)
            return await self._render_spark(row)
        if row.kind in team_notices.KINDS:  # teams (issue 10)
            return await team_notices.render_notice(self._db, row, now, self._link)
        async with self._db.unit_of_work() as uow:
            token = None
            if row.kind in notices.LINK_KINDS and row.request_id is not None:
                # The token is made now, stored hashed before the message leaves.
                token = await usecases.issue_link(uow, row.request_id, now)
                await uow.commit()
                if token is None:
                    return None
            request = await uow.requests.get(row.request_id) if row.request_id else None
            requester = await uow.users.get(request.requester_id) if request else None
        if request is None:
            return None
        return notices.render_notice(row.kind, request, requester, row.payload, now,
                              link=self._link(token) if token else None)

    async def _render_spark(self, row: OutboxRow) -> notices.Reply | None:
        """A Spark code notice, from the code's row as it is now (None: nothing to say)."""
        async with self._db.unit_of_work() as uow:
            code = await uow.spark_codes.get(int(row.payload["code_id"]))
            if code is None:
                return None  # erased with /deleteme
            creator = await uow.users.get(code.creator_id)
            advertiser = (await uow.users.get(code.applied_by)
                          if code.applied_by is not None else None)
        return notices.render_spark(row.kind, code, creator, advertiser)

    def _link(self, token: str) -> str:
        return f"https://t.me/{self._bot_username()}?start={token}"

    # --- writing back -------------------------------------------------------------------------
    async def _write(self, report: Report) -> bool:
        """Write back what a round of sending changed; True when it was deferred."""
        if not report:
            return False
        now = self._clock()
        db = self._db
        records_only = not (report.given_up or report.unreachable)
        # Only records of what was sent: where this process is alone on the database they are
        # deferred (see the module's docstring), which spares a transaction per update, except
        # a card's message id where the next unit of work does not carry them: the owner's
        # decision, any moment now, reads it to take the card's buttons off. Where another
        # worker may read next, they are written now (on PostgreSQL in one statement, a round
        # trip, see `storage.uow.PostgresConnection`).
        if records_only and db.defers_writes and (db.carries_deferred or not report.cards):
            self._defer(report, now)
            return True
        if db.defers_writes and not db.carries_deferred:
            await db.flush_deferred()  # older write-backs first, or they would land over this
        if records_only:
            async with db.unit_of_work() as uow:
                await self._write_back(uow, report, now)
                await uow.commit()
            return False
        async with db.unit_of_work() as uow:
            await self._write_back(uow, report, now)
            for row, error in report.given_up:
                logger.warning("outbox %s (%s) to chat %s given up: %s", row.id, row.kind,
                               row.chat_id, error)
                await uow.outbox.give_up(row.id, error)
                await self._fall_back(uow, row, now)
            for row in report.unreachable:
                await self._fall_back(uow, row, now)
            await uow.outbox.sent([r.id for r in report.unreachable])
            await uow.commit()
            owed = uow.owed
        if owed:
            await self.deliver(owed)
        return False

    def _defer(self, report: Report, now: datetime) -> None:
        """Defer a write-back: merged into the one still waiting, or waiting itself."""
        waiting = self._unlanded[-1] if self._unlanded else None
        if waiting is not None and not waiting.taken:
            waiting.merge(report)
            return
        self._unlanded.append(report)

        async def write(uow: Any) -> None:
            report.taken = True
            await self._write_back(uow, report, now)

        def landed() -> None:
            self._unlanded.remove(report)
            self._claimed.difference_update(report.claimed)

        self._db.defer(write, landed)

    @staticmethod
    async def _write_back(uow: Any, report: Report, now: datetime) -> None:
        for request_id, chat_id, message_id, kind in report.cards:
            await uow.cards.add(request_id, chat_id, message_id, now, kind=kind)
        for row_id, attempts, next_at, error in report.retries:
            await uow.outbox.retry(row_id, attempts, next_at, error)
        await uow.outbox.sent(report.sent, live_questions=report.questions)

    async def _fall_back(self, uow: Any, row: OutboxRow, now: datetime) -> None:
        if row.kind == "owner_card" and row.request_id is not None:
            await usecases.owner_unreachable(uow, row.request_id, now)


_NO_PREVIEW = {"is_disabled": True}  # as the application's Defaults say for typed calls


def _sent_message(result: Message | JSON | bool | None) -> tuple[int, int, bool] | None:
    """(chat id, message id, whether it has buttons) of a message the Bot API returned, typed
    or as JSON; None for a call that returns no message."""
    if isinstance(result, Message):
        return result.chat_id, result.message_id, result.reply_markup is not None
    if isinstance(result, dict) and "message_id" in result:
        return (int(result["chat"]["id"]), int(result["message_id"]),
                bool(result.get("reply_markup")))
    return None

