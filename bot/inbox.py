"""The inbox: every update is stored under its `update_id` before Telegram is told it arrived,
processed from the store, and marked done in the same transaction as its effects.

- A redelivered `update_id` finds its row and has no effect.
- Updates stored but not processed when the process died are processed after a restart.
- Different people's updates run concurrently; one person's strictly in order.
- A person who floods the bot is told once to slow down; the rest of the flood is dropped at
  the door, so nobody else waits behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot, Update
from telegram.error import InvalidToken, NetworkError, TelegramError
from telegram.ext import Application

from bot import texts
from bot.context import Deps, Turn, _turn
from bot.handlers import admin
from bot.outbox import Dispatcher, Mark
from flows.records import Notice
from storage.repositories import AlreadyDone, StaleWrite

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
ALLOWED_UPDATES = ["message", "callback_query"]


# Crash tests: LINKPILOT_CRASH_AT="after_store" or "after_commit[:<owed kind>]" kills the process
# there, as `kill -9` would, to prove that what was stored is finished after a restart.
_CRASH_AT = os.environ.get("LINKPILOT_CRASH_AT", "")


def crash_point(name: str, owed: Sequence[Any] = ()) -> None:
    if not _CRASH_AT:
        return
    point, _, kind = _CRASH_AT.partition(":")
    if point == name and (not kind or any(row.kind == kind for row in owed)):
        logger.warning("crash point %s: killing the process", _CRASH_AT)
        os.kill(os.getpid(), signal.SIGKILL)


def chat_of(raw: JSON) -> int | None:
    """The chat an update happened in, as PTB's `effective_chat` finds it (for the update
    kinds the bot asks for)."""
    part = raw.get("message")
    if part is None:
        part = (raw.get("callback_query") or {}).get("message")
    chat = part.get("chat") if isinstance(part, dict) else None
    return int(chat["id"]) if isinstance(chat, dict) and "id" in chat else None


def chat_key(raw: JSON) -> int | None:
    """Whose update this is: the person (or chat) whose updates must run in order."""
    for kind in ("message", "edited_message", "callback_query", "my_chat_member"):
        part = raw.get(kind)
        if isinstance(part, dict):
            sender = part.get("from") or (part.get("chat") or {})
            if isinstance(sender, dict) and "id" in sender:
                return int(sender["id"])
    return None


class FloodGate:
    """A per-person rate limit (aiolimiter's leaky bucket). The first update over the limit
    is answered with "slow down"; later ones are dropped until the bucket drains."""

    def __init__(self, rate: float, per_seconds: float) -> None:
        self.rate, self.period = rate, per_seconds
        self._buckets: dict[int, tuple[AsyncLimiter, float, bool]] = {}  # key -> (, seen, told)
        self._sweep_at = 1024  # size that triggers forgetting idle people (doubles if busy)

    async def admit(self, key: int | None) -> str:
        """"ok", "warn" (over the limit, first time) or "drop"."""
        if key is None:
            return "ok"
        now = time.monotonic()
        bucket, _, told = self._buckets.get(key) or (AsyncLimiter(self.rate, self.period), 0.0,
                                                    False)
        if bucket.has_capacity():
            await bucket.acquire()  # there is capacity: this takes one without waiting
            self._buckets[key] = (bucket, now, False)
            verdict = "ok"
        else:
            self._buckets[key] = (bucket, now, True)
            verdict = "drop" if told else "warn"
        if len(self._buckets) >= self._sweep_at:
            # A bucket idle for a whole period has drained: forgetting it loses nothing, and
            # memory stays flat however many people ever wrote.
            for k in [k for k, (_, seen, _) in self._buckets.items() if now - seen > self.period]:
                del self._buckets[k]
            self._sweep_at = max(1024, 2 * len(self._buckets))
        return verdict


class Processor:
    """Stores updates, then runs each through the Application inside its own unit of work."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any], deps: Deps,
                 dispatcher: Dispatcher, gate: FloodGate, concurrency: int = 32) -> None:
        self._app, self._deps, self._dispatcher, self._gate = application, deps, dispatcher, gate
        self._queues: dict[int | None, deque[tuple[int, JSON, bool]]] = {}
        self._workers: dict[int | None, asyncio.Task[None]] = {}
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._idle = asyncio.Event()
        self._idle.set()

    # --- intake -------------------------------------------------------------------------------
    async def receive(self, raws: Sequence[JSON]) -> list[int]:
        """Store a batch (one transaction), then queue what is new; returns the ids queued.
        Only after this returns may Telegram be told the batch arrived."""
        rows, dropped, warned = await self._admit(raws)
        fresh = await self._store(rows, dropped, warned)
        crash_point("after_store")
        queued = []
        for update_id, key, raw in rows:
            if update_id in fresh and update_id not in dropped:
                self._queue(update_id, key, raw)
                queued.append(update_id)
        return queued

    async def handle(self, raw: JSON) -> None:
        """Take one update and wait until it is processed and its replies sent (tests, the
        terminal chat, a webhook). It is stored by the same transaction that processes it, so
        nothing is acknowledged before it is durable; a redelivered or dropped update returns
        at once."""
        rows, dropped, warned = await self._admit([raw])
        if dropped:
            await self._store(rows, dropped, warned)
            return
        update_id, key, _ = rows[0]
        caller = asyncio.current_task()
        if key not in self._workers and caller is not None:
            # Nobody is on this chat: the update runs in the caller's own task, which spares a
            # task and two turns of the event loop per update. Updates of the chat that arrive
            # meanwhile queue behind it, and this task finishes them as a worker would.
            self._queues[key] = deque([(update_id, raw, False)])
            self._workers[key] = caller
            self._idle.clear()
            await self._work(key)
            return
        done = self._waiters[update_id] = asyncio.get_running_loop().create_future()
        self._queue(update_id, key, raw, stored=False)
        await done

    async def _admit(self, raws: Sequence[JSON]
                     ) -> tuple[list[tuple[int, int | None, JSON]], list[int], list[int]]:
        """The flood gate's verdicts: (rows, ids dropped, people to tell to slow down)."""
        rows, dropped, warned = [], [], []
        for raw in raws:
            key = chat_key(raw)
            verdict = await self._gate.admit(key)
            rows.append((int(raw["update_id"]), key, raw))
            if verdict != "ok":
                dropped.append(int(raw["update_id"]))
                if verdict == "warn" and key is not None:
                    warned.append(key)
        if dropped:
            logger.info("flood: dropping %d updates", len(dropped))
        return rows, dropped, warned

    async def _store(self, rows: list[tuple[int, int | None, JSON]], dropped: list[int],
                     warned: list[int]) -> set[int]:
        deps = self._deps
        async with deps.db.unit_of_work() as uow:
            stored = await uow.inbox.store(rows, deps.clock(), done=dropped)
            for key in warned:
                uow.outbox.add(Notice("message", key, data={"text": texts.SLOW_DOWN}))
            await uow.commit()
            fresh, owed = set(stored.fresh), uow.owed
        if owed:
            await self._dispatcher.deliver(owed)
        return fresh

    async def recover(self) -> int:
        """Queue the updates a previous process stored but did not finish."""
        async with self._deps.db.unit_of_work() as uow:
            rows = await uow.inbox.unfinished()
        for row in rows:
            self._queue(row.update_id, row.chat_key, row.payload)
        if rows:
            logger.info("inbox: resuming %d stored updates", len(rows))
        return len(rows)

    async def drain(self) -> None:
        """Wait until every queued update has been processed."""
        await self._idle.wait()

    # --- processing ---------------------------------------------------------------------------
    def _queue(self, update_id: int, key: int | None, raw: JSON, stored: bool = True) -> None:
        self._queues.setdefault(key, deque()).append((update_id, raw, stored))
        self._idle.clear()
        if key not in self._workers:
            self._workers[key] = asyncio.create_task(self._work(key))

    async def _work(self, key: int | None) -> None:
        queue = self._queues[key]
        try:
            while queue:
                update_id, raw, stored = queue[0]
                async with self._slots:
                    try:
                        await self.process(update_id, raw, stored=stored)
                    except Exception:
                        logger.exception("update %s could not be processed", update_id)
                queue.popleft()
                waiter = self._waiters.pop(update_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
                if queue:
                    # Give the other people's workers their turn: an update may run start to
                    # end without waiting for anything (SQLite is called inline), and one
                    # person's backlog must not hold everyone else's first message.
                    await asyncio.sleep(0)
        finally:
            if queue:
                # Stopped with updates left: cancelled, as when the caller of `handle` that
                # was working the chat went away. A worker of its own finishes them (the one
                # under way was rolled back and runs again).
                self._workers[key] = asyncio.create_task(self._work(key))
            else:
                del self._queues[key], self._workers[key]
                if not self._workers:
                    self._idle.set()

    async def process(self, update_id: int, raw: JSON, *, stored: bool = True) -> None:
        """Run one update: the handlers' effects, the update marked done (or, when not
        `stored` yet, recorded as done) and every message it owes commit together; then the
        owed messages are sent."""
        deps = self._deps
        sender, chat_id = chat_key(raw), chat_of(raw)
        # Before the gate reads the chat's question with the rest (see `Dispatcher.mark`).
        mark = self._dispatcher.mark(chat_id) if chat_id is not None else None
        # Other people's updates in hand: their units of work may share this one's commit.
        async with deps.db.unit_of_work(others_follow=len(self._workers) > 1) as uow:
            if sender is not None:  # answered while the update is parsed and routed
                await admin.read_ahead(uow, sender, chat_id)
            update = Update.de_json(raw, self._app.bot)
            if not stored and not await uow.inbox.record_done(update_id, sender,
                                                              deps.clock()):
                return  # seen before: a redelivery
            error = await self._run(uow, update, update_id, stored)
            owed = uow.owed if error is None else []
        await self._finish(update, update_id, error, stored, owed, uow.questions.read, mark)

    async def _run(self, uow: Any, update: Update, update_id: int,
                   stored: bool) -> BaseException | None:
        """The handlers, inside `uow`; committed with the inbox mark unless a handler failed.
        Returns what failed: a handler's error, or a race the commit found (on PostgreSQL a
        unit of work may hold its writes until then, see `storage.raw.write`)."""
        turn = Turn(uow, update_id)
        token = _turn.set(turn)
        try:
            await self._app.process_update(update)
        finally:
            _turn.reset(token)
        if turn.error is None:
            if stored:
                await uow.inbox.done(update_id, self._deps.clock())
            try:
                await uow.commit()
            except (StaleWrite, AlreadyDone) as race:
                return race
        return turn.error

    async def _finish(self, update: Update, update_id: int, error: BaseException | None,
                      stored: bool, owed: list[Any], read: dict[int, int | None] | None = None,
                      mark: Mark | None = None) -> None:
        """Send what the update owes; `read` and `mark`, what its unit of work read of the
        chats' questions (see `Dispatcher.mark`)."""
        if isinstance(error, AlreadyDone):
            return  # a redelivery, processed meanwhile by its first delivery: nothing stays
        if error is not None:
            owed = await self._failed(update, update_id, error, stored)
            read = mark = None  # owed by another unit of work
        crash_point("after_commit", owed)
        await self._dispatcher.deliver(owed, read=read, mark=mark)

    # --- several workers on one database (webhook mode) ---------------------------------------
    async def store(self, raws: Sequence[JSON]) -> set[int | None]:
        """Store updates without processing them here; returns whose chats now have work.
        (Webhook mode: Telegram is answered 200 once this returns.)"""
        rows, dropped, warned = await self._admit(raws)
        fresh = await self._store(rows, dropped, warned)
        return {key for update_id, key, _ in rows
                if update_id in fresh and update_id not in dropped}

    def drain_soon(self, key: int | None) -> None:
        """Process a chat's stored updates in the background (one task per chat at a time)."""
        if key not in self._workers:
            self._idle.clear()
            self._workers[key] = asyncio.create_task(self._drain_task(key))

    async def _drain_task(self, key: int | None) -> None:
        try:
            await self.drain_chat(key)
        except Exception:
            logger.exception("chat %s: stored updates could not be processed", key)
        finally:
            del self._workers[key]
            if not self._workers:
                self._idle.set()

    async def drain_chat(self, key: int | None) -> None:
        """Process a chat's stored updates oldest first, whichever worker stored them. The
        chat's database lock (PostgreSQL advisory lock, taken with the update it reads) makes
        one worker at a time do it."""
        deps = self._deps
        while True:
            async with self._slots:
                async with deps.db.unit_of_work() as uow:
                    # None: another worker is on this chat (it takes what we stored too), or
                    # nothing is left.
                    row = await uow.inbox.claim(key)
                    if row is None:
                        return
                    update = Update.de_json(row.payload, self._app.bot)
                    error = await self._run(uow, update, row.update_id, True)
                    owed = uow.owed if error is None else []
                await self._finish(update, row.update_id, error, True, owed)
                # The lock went with the commit. Whatever another worker stored for the chat
                # before its attempt on the lock failed is seen here and taken next; what it
                # stores after this read, it takes itself.
                async with deps.db.unit_of_work() as uow:
                    if not await uow.inbox.waiting(key):
                        return

    async def sweep_forever(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """Pick up stored updates nobody is processing (their worker stopped, or it finished a
        chat just before another worker stored more for it)."""
        while not stop.is_set():
            try:
                async with self._deps.db.unit_of_work() as uow:
                    keys = await uow.inbox.unfinished_chats()
                for key in keys:
                    self.drain_soon(key)
            except Exception:
                logger.exception("inbox sweep failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def _failed(self, update: Update, update_id: int, error: BaseException,
                      stored: bool) -> list[Any]:
        """A handler failed: nothing it did is kept; the person is told, and the update is done
        (retrying a bug would only fail again)."""
        deps = self._deps
        said = texts.TRY_AGAIN if isinstance(error, StaleWrite) else texts.ERROR
        async with deps.db.unit_of_work() as uow:
            query, chat = update.callback_query, update.effective_chat
            if query is not None:
                uow.outbox.add(Notice("answer", query.from_user.id,
                                      data={"query_id": query.id, "text": said}))
            elif chat is not None:
                uow.outbox.add(Notice("message", chat.id, data={"text": said}))
            if stored:
                await uow.inbox.done(update_id, deps.clock())
            else:
                await uow.inbox.record_done(update_id, chat_key(update.to_dict()), deps.clock())
            await uow.commit()
            return uow.owed


async def poll(bot: Bot, processor: Processor, stop: asyncio.Event, *, timeout: int = 30,
               base_url: str = "Telegram") -> None:
    """Long polling: each batch is stored before the next `getUpdates` confirms it.

    An unreachable Bot API is retried with backoff, one log line per attempt. A rejected token
    raises InvalidToken (the caller says so in one line).
    """
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        try:
            # Raw JSON, stored as it came: Bot API method names are case-insensitive, and this
            # spelling skips PTB's advice to use get_updates, which would parse every update
            # here only for it to be stored and parsed again when processed.
            raws = await bot.do_api_request(
                "getupdates",
                api_kwargs={"offset": offset, "timeout": timeout,
                            "allowed_updates": ALLOWED_UPDATES},
                read_timeout=timeout + 10)
        except InvalidToken:
            raise
        except NetworkError as exc:
            logger.warning("cannot reach %s (%s); retrying in %.0fs", base_url, exc.message,
                           backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 60.0)
            continue
        except TelegramError as exc:
            logger.warning("getUpdates failed: %s; retrying in %.0fs", exc.message, backoff)
            await asyncio.sleep(backoff)
            continue
        backoff = 1.0
        if raws:
            await processor.receive(raws)
            offset = int(raws[-1]["update_id"]) + 1
