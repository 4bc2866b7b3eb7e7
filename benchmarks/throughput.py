"""Throughput of the link flow: Linkpilot (durable state in SQLite) vs a plain PTB bot.

Usage (from the repository root)::

    python benchmarks/throughput.py [--users N] [--rounds R] [--profile] [--no-baseline-settle]
                                    [--no-memory]

Both bots run on the in-process Bot API double (:class:`bot.local_api.LocalBotApi`) and are fed
the same raw updates (JSON, as getUpdates returns them), users interleaved round-robin (every
user's step 1, then every user's step 2, ...). The conversation is a 4-step slice of the link
flow that is pure state machine and database::

    /link  ->  press TikTok  ->  press Yes  ->  press Yes

1. **Linkpilot**: the real application (``bot.app.build_application``) on a fresh SQLite file,
   each update taken through its inbox: stored, processed in one unit of work with its owed
   messages, marked done, then the messages sent by the outbox dispatcher.
   Callback data carries the conversation version (``f:<version>:<action>[:<arg>]``), which is
   deterministic per user: the row starts at version 1 and every stored step adds one.
2. **Baseline**: the same four steps written the plain PTB way, a ``ConversationHandler`` with
   in-memory state and no persistence, replying with the same texts and inline keyboards; each
   update parsed (``Update.de_json``) and given to ``process_update``.
   With ``--postgres``, two floors as well: the baseline committing one small row per
   person to PostgreSQL before each update (``floor-w``), and reading it first too
   (``floor-rw``), through asyncpg and nothing of Linkpilot's: what keeping state in
   PostgreSQL costs at the least on this machine, one update at a time.
3. The bots are interleaved because the machine is noisy: in each of ``R`` rounds every bot is
   built and warmed up, then they take turns on the updates 100 at a time (which one goes
   first alternating turn by turn), so a drift of the machine's speed falls on all of them
   alike; the summary gives the median of rounds and the Linkpilot/baseline ratio per round.
4. Memory, each bot in a fresh subprocess: RSS (VmRSS) before and after ``N`` users, then the
   tracemalloc growth over another ``N`` users, per 1,000 users: right after them (the double's
   records of them included) and once the double has forgotten them, which is what the bot
   itself keeps (the double stands for Telegram's servers; its memory is not the bot's).
5. ``--profile`` runs one more Linkpilot leg under cProfile and prints, in microseconds per
   update, the own time by area (our modules, PTB, SQLAlchemy, the double, waiting...), the top
   25 entries by cumulative time and the top entries by own time.

By default the baseline also edits the pressed message as Linkpilot does, so both make the same
Bot API calls and the remaining gap is state handling alone (``--no-baseline-settle`` drops
that edit, the cheaper habit of plain PTB bots, for comparison).

Figures only; nothing here passes or fails, except that an update the bot did not answer as
expected is counted and reported (a broken flow makes the figures meaningless).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import cProfile
import gc
import json
import logging
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

# PTB 22 warns about its future timedelta API unless opted in (must precede importing telegram).
os.environ["PTB_TIMEDELTA"] = "true"

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    # Run as a plain script from anywhere: make the repository importable.
    sys.path.insert(0, str(REPO))

import sqlalchemy  # noqa: E402
import telegram  # noqa: E402
from sqlalchemy import text  # noqa: E402
from telegram import LinkPreviewOptions, Update  # noqa: E402
from telegram.constants import ParseMode  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    Defaults,
    PicklePersistence,
)
from telegram.warnings import PTBUserWarning  # noqa: E402

from bot import render  # noqa: E402
from bot.app import build_application, finish, freeze_start_up_heap, prepare  # noqa: E402
from bot.context import deps_of  # noqa: E402
from bot.local_api import LocalBotApi, Person  # noqa: E402
from bot.settings import Settings  # noqa: E402
from flows.link_flow import Position, S  # noqa: E402

JSON = dict[str, Any]
AnyApp = Application[Any, Any, Any, Any, Any, Any]

LINK = "/link"
# The three presses after /link, with the version each question carries (see bot.keyboards).
PRESSES: tuple[str, ...] = ("f:1:p:tiktok", "f:2:y", "f:3:y")
STEPS = 1 + len(PRESSES)
FINAL_VERSION = STEPS  # the row after the 4th stored step

WARMUP_USERS = 20
PROBE_USER = 9_000_000
WARMUP_BASE = 8_000_000
TIMED_BASE = 1_000_000
TRACED_BASE = 2_000_000
SCALE_BASE = 3_000_000
SCALE_CHUNK = 1_000
# Updates are built a hundred users at a time: a thousand users' raw updates (4,000 JSON
# dicts, ~8 MiB) held at once would leave the interpreter's arenas that much larger for the rest
# of the run, which is the harness's memory and not the bot's.
SCALE_FEED = 100
# The bots of a round take turns this many updates at a time (see `timed_rounds`).
CHUNK = 100
TRACE_FRAMES = 8  # enough to name the line of this repository an allocation came from
PROFILE_TOP = 25
PROFILE_TOP_OWN = 15
EPOLL_WAIT = "<method 'poll' of 'select.epoll' objects>"


# --- the two bots -----------------------------------------------------------------------------


@dataclass
class Bench:
    """A bot under test, on its own Bot API double."""

    name: str
    app: AnyApp
    api: LocalBotApi
    close: Callable[[], Awaitable[None]]
    # How the bot takes one raw update: Linkpilot through its inbox (stored, processed, its
    # messages owed and sent); the baseline parsed and handed to process_update.
    feed_one: Callable[[JSON], Awaitable[None]]
    # Extra check of the durable state: how many of the given users are where they should be.
    stored: Callable[[Sequence[int]], Awaitable[int]] | None = None
    # How the bot takes a batch as one getUpdates call returns it, until every update in it is
    # answered (None: one at a time, in order, which is what PTB's Application does by default).
    feed_batch: Callable[[list[JSON]], Awaitable[None]] | None = None


async def linkpilot_bench(database_url: str, name: str = "linkpilot", *,
                          webhook: bool = False) -> Bench:
    """Linkpilot as the tests build it, with its state in a fresh database (a SQLite file, or a
    PostgreSQL database made for the leg). By default the polling bot, as `linkpilot run`
    builds it, the only process on its database; with `webhook`, one webhook worker of
    several (`linkpilot run --webhook`): each update stored, then its chat's stored updates
    processed under the chat's lock, as a webhook request has them."""
    api = LocalBotApi()
    settings = Settings(_env_file=None,  # type: ignore[call-arg]
                        database_url=database_url, telegram_bot_token=None)
    app = build_application(settings, token=api.token, request=api, run_jobs=False,
                            alone=not webhook)
    processor = deps_of(app).processor
    assert processor is not None
    api.attach(app, deliver=processor.handle)
    await prepare(app)
    freeze_start_up_heap()  # as `linkpilot run` does after start-up

    async def stored(user_ids: Sequence[int]) -> int:
        # Read on a connection of its own, which on SQLite takes the write lock (BEGIN
        # IMMEDIATE): what the bot deferred goes first, or its timer could fire meanwhile and
        # wait on that lock from the event loop's thread, which the read needs to finish.
        await deps_of(app).db.flush_deferred()
        async with deps_of(app).db.engine.connect() as conn:
            count = (await conn.execute(
                text("SELECT count(*) FROM conversations WHERE flow = 'link' AND version = :v"
                     " AND user_id BETWEEN :lo AND :hi"),
                {"v": FINAL_VERSION, "lo": min(user_ids), "hi": max(user_ids)},
            )).scalar_one()
        return int(count)

    async def feed_batch(raws: list[JSON]) -> None:
        # The polling path: the batch stored in one transaction, then processed (different
        # people's updates at once, each person's in order) and every reply sent.
        await processor.receive(raws)
        await processor.drain()

    async def take_request(raw: JSON) -> None:
        # What a webhook worker does with one request: store the update (Telegram is answered
        # then), then process the chat's stored updates.
        for key in await processor.store([raw]):
            await processor.drain_chat(key)

    async def take_requests(raws: list[JSON]) -> None:
        # As many webhook requests in flight at once.
        await asyncio.gather(*(take_request(raw) for raw in raws))

    async def close() -> None:
        await finish(app)
        # The next leg (maybe the other bot, in this same process) starts from an ordinary heap.
        gc.unfreeze()

    if webhook:
        return Bench(name, app, api, close, take_request, stored, take_requests)
    return Bench(name, app, api, close, processor.handle, stored, feed_batch)


PLATFORM, PREREQUISITE = range(2)


def baseline_replies() -> list[render.Reply]:
    """The questions the baseline asks: the same texts and keyboards Linkpilot sends."""
    history: list[list[Any]] = [[S.PLATFORM.value, 0]]
    replies = [render.question(Position(S.PLATFORM, {"history": [], "scopes": []}), 1)]
    for prereq in range(3):
        data = {"platform": "tiktok", "prereq": prereq, "history": history, "scopes": []}
        replies.append(render.question(Position(S.PREREQUISITE, data), 2 + prereq))
        history = [*history, [S.PREREQUISITE.value, prereq]]
    return replies


async def baseline_bench(*, settle: bool, pickle_file: Path | None = None,
                         flush_every: float | None = None, name: str = "baseline") -> Bench:
    """The four steps the plain PTB way: a ConversationHandler with in-memory state.

    With ``pickle_file`` the conversation is persistent (``PicklePersistence``), flushed after
    every update when ``flush_every`` is 0, else whenever ``flush_every`` seconds have passed
    (PTB's usual set-up flushes every 60 s).

    With ``settle`` the pressed message is edited as Linkpilot does (chosen answer appended,
    buttons removed), so both bots make the same Bot API calls.
    """
    replies = baseline_replies()
    api = LocalBotApi()

    async def answer_press(update: Update, label: str) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        await query.answer()
        if settle and isinstance(query.message, telegram.Message):
            await query.edit_message_text(f"{query.message.text_html}\n\n<i>→ {label}</i>",
                                          reply_markup=None)

    async def link(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.effective_chat is not None
        reply = replies[0]
        await update.effective_chat.send_message(reply.text, reply_markup=reply.markup)
        return PLATFORM

    async def platform_chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.callback_query is not None and update.effective_chat is not None
        assert context.user_data is not None and update.callback_query.data is not None
        await answer_press(update, "TikTok")
        context.user_data["platform"] = update.callback_query.data.rsplit(":", 1)[-1]
        context.user_data["prereq"] = 0
        reply = replies[1]
        await update.effective_chat.send_message(reply.text, reply_markup=reply.markup)
        return PREREQUISITE

    async def prerequisite_met(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.effective_chat is not None and context.user_data is not None
        await answer_press(update, "Yes")
        context.user_data["prereq"] += 1
        reply = replies[1 + context.user_data["prereq"]]
        await update.effective_chat.send_message(reply.text, reply_markup=reply.markup)
        return PREREQUISITE

    async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        return ConversationHandler.END

    with warnings.catch_warnings():
        # "per_message=False: CallbackQueryHandler will not be tracked for every message" is
        # the intended set-up (one conversation per user, as in Linkpilot).
        warnings.simplefilter("ignore", PTBUserWarning)
        conversation = ConversationHandler(
            entry_points=[CommandHandler("link", link)],
            states={
                PLATFORM: [CallbackQueryHandler(platform_chosen, pattern=r"^f:\d+:p:")],
                PREREQUISITE: [CallbackQueryHandler(prerequisite_met, pattern=r"^f:\d+:y$")],
            },
            fallbacks=[CommandHandler("cancel", cancel)],
            name="link" if pickle_file else None, persistent=pickle_file is not None,
        )
    builder = (
        Application.builder()
        .token(api.token)
        .defaults(Defaults(parse_mode=ParseMode.HTML,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .request(api)
        .get_updates_request(api)
    )
    if pickle_file is not None:
        builder = builder.persistence(PicklePersistence(pickle_file, update_interval=3600))
    app: AnyApp = builder.build()
    app.add_handler(conversation)
    api.attach(app)
    await app.initialize()
    last_flush = time.perf_counter()

    async def feed_one(raw: JSON) -> None:
        nonlocal last_flush
        await app.process_update(Update.de_json(raw, app.bot))
        if flush_every is not None and time.perf_counter() - last_flush >= flush_every:
            await app.update_persistence()
            last_flush = time.perf_counter()

    return Bench(name, app, api, app.shutdown, feed_one)


# The floor's one row per person: its state, as small as a conversation row can be.
FLOOR_TABLE = ("CREATE TABLE floor_state (user_id BIGINT PRIMARY KEY, state INTEGER NOT NULL,"
               " version INTEGER NOT NULL)")
FLOOR_READ = "SELECT state, version FROM floor_state WHERE user_id = $1"
FLOOR_WRITE = ("INSERT INTO floor_state VALUES ($1, $2, 1) ON CONFLICT (user_id) DO UPDATE"
               " SET state = EXCLUDED.state, version = floor_state.version + 1")


async def floor_bench(dsn: str, *, settle: bool, read: bool) -> Bench:
    """The floor on PostgreSQL: the in-memory baseline, which before handling each update
    commits one small row per person to PostgreSQL (one round trip; asyncpg alone, a prepared
    statement, no transaction of its own), and with ``read`` first reads that row (a second
    round trip). Nothing else of Linkpilot's. What it loses against the baseline is what
    keeping state in PostgreSQL costs at the least, one update at a time: the write before the
    replies and, when state is read per update, the read before it."""
    import asyncpg  # the postgres extra; only with --postgres

    bench = await baseline_bench(settle=settle,
                                 name="floor-rw" if read else "floor-w")
    conn = await asyncpg.connect(dsn)
    await conn.execute(FLOOR_TABLE)
    write = await conn.prepare(FLOOR_WRITE)
    fetch = await conn.prepare(FLOOR_READ)
    handle, shutdown = bench.feed_one, bench.close

    async def feed_one(raw: JSON) -> None:
        user = (raw.get("message") or raw["callback_query"])["from"]["id"]
        if read:
            await fetch.fetchrow(user)
        await write.fetchval(user, int(raw["update_id"]) % 4)
        await handle(raw)

    async def close() -> None:
        await conn.close()
        await shutdown()

    bench.feed_one, bench.close = feed_one, close
    return bench


BenchFactory = Callable[[int], Awaitable[Bench]]


def factories(workdir: Path, *, settle: bool, pickle: bool = False,
              postgres: Any = None) -> dict[str, BenchFactory]:
    """Makers of a fresh bot per leg (``serial`` names the SQLite or pickle file); with
    ``postgres`` (a running ``tests.pg.PostgresServer``), Linkpilot on PostgreSQL too."""

    async def linkpilot(serial: int) -> Bench:
        return await linkpilot_bench(f"sqlite+aiosqlite:///{workdir / f'linkpilot-{serial}.db'}")

    async def linkpilot_pg(serial: int) -> Bench:
        from tests import pg  # the test set-up's own server; only with --postgres

        return await linkpilot_bench(postgres.url(await pg.create_database(postgres)),
                                     name="linkpilot-pg")

    async def linkpilot_webhook(serial: int) -> Bench:
        from tests import pg

        return await linkpilot_bench(postgres.url(await pg.create_database(postgres)),
                                     name="linkpilot-wh", webhook=True)

    async def baseline(serial: int) -> Bench:
        return await baseline_bench(settle=settle)

    async def pickle_every(serial: int) -> Bench:
        return await baseline_bench(settle=settle, pickle_file=workdir / f"p1-{serial}.pickle",
                                    flush_every=0, name="pickle-each")

    async def pickle_60s(serial: int) -> Bench:
        return await baseline_bench(settle=settle, pickle_file=workdir / f"p60-{serial}.pickle",
                                    flush_every=60, name="pickle-60s")

    async def floor(serial: int, *, read: bool) -> Bench:
        from tests import pg

        return await floor_bench(postgres.dsn(await pg.create_database(postgres)),
                                 settle=settle, read=read)

    made: dict[str, BenchFactory] = {"linkpilot": linkpilot, "baseline": baseline}
    if postgres is not None:
        made["linkpilot-pg"] = linkpilot_pg
        made["linkpilot-wh"] = linkpilot_webhook
        made |= {"floor-w": partial(floor, read=False), "floor-rw": partial(floor, read=True)}
    if pickle:
        made |= {"pickle-each": pickle_every, "pickle-60s": pickle_60s}
    return made


# --- the users --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    """What one user's conversation looks like, recorded from a probe user on the same bot."""

    pressed: list[JSON]  # the bot message each press is made on (Message JSON)
    final_text: str  # plain text of the bot's last question


def _copy(message: JSON) -> JSON:
    return json.loads(json.dumps(message))


async def record_script(bench: Bench) -> Script:
    """Walk the probe user through the four steps with ``Person`` and keep what it saw.

    Also checks that each pressed callback data is on the message it is pressed on, i.e. that
    the versions in ``PRESSES`` are the ones the bot issues.
    """
    api = bench.api
    person = Person(api, PROBE_USER, "Probe")
    await person.send(LINK)
    pressed: list[JSON] = []
    for data in PRESSES:
        message = person.last
        offered = [b.callback_data for row in message.buttons for b in row]
        if data not in offered:
            raise RuntimeError(f"{bench.name}: {data!r} is not offered; buttons: {offered}")
        stored = api.find(PROBE_USER, message.message_id)
        assert stored is not None
        pressed.append(_copy(api.message_json(stored)))
        await person.press_data(data, message.message_id)
        if person.last_answer is not None:
            raise RuntimeError(f"{bench.name}: {data!r} answered {person.last_answer!r}")
    return Script(pressed, person.last.plain)


def build_updates(bench: Bench, script: Script, user_ids: Sequence[int]) -> list[list[JSON]]:
    """Pre-build every user's updates as Telegram sends them (JSON): one list per step, users
    in order (round-robin). Both bots parse them in the timed loop.

    The double is prepared as ``Person`` would do it (user known, chat started, the /link
    message stored so message ids line up, callback query ids issued).
    """
    api = bench.api
    steps: list[list[JSON]] = [[] for _ in range(STEPS)]
    command = [{"type": "bot_command", "offset": 0, "length": len(LINK)}]
    for user_id in user_ids:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                      "language_code": "en"}
        api.register_user(user)
        api.started.add(user_id)
        incoming = api.record_incoming(user_id, LINK, command)
        steps[0].append(
            {"update_id": api.next_update_id(), "message": api.message_json(incoming)})
        for step, (data, template) in enumerate(zip(PRESSES, script.pressed, strict=True), 1):
            message = copy.deepcopy(template)
            message["chat"] = api.chat_json(user_id)
            query = {"id": api.new_query(user_id), "from": user, "message": message,
                     "data": data, "chat_instance": str(user_id * 31 + api.bot_user["id"])}
            steps[step].append({"update_id": api.next_update_id(), "callback_query": query})
    return steps


async def feed(bench: Bench, steps: list[list[JSON]]) -> list[float]:
    """Process every update in order; the latency of each, in seconds."""
    latencies: list[float] = []
    clock, feed_one = time.perf_counter, bench.feed_one
    for step in steps:
        for update in step:
            started = clock()
            await feed_one(update)
            latencies.append(clock() - started)
    return latencies


async def feed_batched(bench: Bench, steps: list[list[JSON]], size: int) -> list[float]:
    """Process the same updates in the same order, ``size`` at a time as getUpdates returns
    them; each update's latency is its batch's (from the batch's arrival to its last reply)."""
    updates = [update for step in steps for update in step]
    latencies: list[float] = []
    clock = time.perf_counter
    for start in range(0, len(updates), size):
        batch = updates[start:start + size]
        started = clock()
        if bench.feed_batch is not None:
            await bench.feed_batch(batch)
        else:
            for update in batch:
                await bench.feed_one(update)
        latencies += [clock() - started] * len(batch)
    return latencies


async def unfinished(bench: Bench, script: Script, user_ids: Sequence[int]) -> int:
    """How many users do not see the expected last question (or lack the stored row)."""
    last_id = script.pressed[-1]["message_id"] + 1
    wrong = 0
    for user_id in user_ids:
        message = bench.api.find(user_id, last_id)
        if message is None or message.plain != script.final_text:
            wrong += 1
    if bench.stored is not None:
        wrong = max(wrong, len(user_ids) - await bench.stored(user_ids))
    return wrong


# --- one timed leg ----------------------------------------------------------------------------


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of ``values`` (``share`` in 0..1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


@dataclass
class LegResult:
    """One bot's figures for one round."""

    name: str
    seconds: float
    latencies: list[float]
    calls: Counter[str]
    failures: int

    @property
    def updates(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.updates / self.seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000

    @property
    def calls_per_update(self) -> float:
        return sum(self.calls.values()) / self.updates


async def prepared(make: BenchFactory, serial: int, users: int
                   ) -> tuple[Bench, Script, list[list[JSON]], list[int]]:
    """A fresh bot, warmed up, with ``users`` users' updates built and not yet processed."""
    bench = await make(serial)
    script = await record_script(bench)
    warmup_ids = range(WARMUP_BASE, WARMUP_BASE + WARMUP_USERS)
    await feed(bench, build_updates(bench, script, warmup_ids))
    user_ids = list(range(TIMED_BASE, TIMED_BASE + users))
    return bench, script, build_updates(bench, script, user_ids), user_ids


async def timed_leg(make: BenchFactory, serial: int, users: int,
                    profiler: cProfile.Profile | None = None, batch: int = 0) -> LegResult:
    """Time one bot over ``users`` users (optionally under ``profiler``); with ``batch``,
    the updates come that many at a time."""
    bench, script, steps, user_ids = await prepared(make, serial, users)
    try:
        calls_before = len(bench.api.calls)
        gc.collect()
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        latencies = await (feed_batched(bench, steps, batch) if batch else feed(bench, steps))
        seconds = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        made = bench.api.calls[calls_before:]
        calls = Counter(c.method for c in made)
        failures = await unfinished(bench, script, user_ids) + sum(1 for c in made if c.error)
        return LegResult(bench.name, seconds, latencies, calls, failures)
    finally:
        await bench.close()


async def timed_rounds(make: dict[str, BenchFactory], users: int, rounds: int, batch: int = 0
                       ) -> list[dict[str, LegResult]]:
    """``rounds`` rounds; in each, every bot is built and warmed up, then they take turns on
    the same updates ``CHUNK`` at a time (the order of turns alternating chunk by chunk), so
    that the machine's drift, which moves a whole leg by a third within minutes, falls on
    every bot alike. A bot's time is the sum of its turns."""
    results: list[dict[str, LegResult]] = []
    for r in range(rounds):
        # A fresh database per bot and round: batched rounds take serials of their own.
        serial = r + (100 if batch else 0)
        names = list(make) if r % 2 == 0 else list(make)[::-1]
        got = await interleaved_round({name: make[name] for name in names}, serial, users,
                                      batch)
        for name in names:
            print(f"  round {r + 1}: {describe(got[name], 'batch ' if batch else '')}",
                  flush=True)
        results.append(got)
    return results


async def interleaved_round(make: dict[str, BenchFactory], serial: int, users: int,
                            batch: int = 0) -> dict[str, LegResult]:
    """One round of every bot, taking turns chunk by chunk (see ``timed_rounds``)."""
    prepared_bots = {name: await prepared(factory, serial, users)
                     for name, factory in make.items()}
    try:
        size = max(CHUNK, batch) // max(batch, 1) * max(batch, 1)
        flat = {name: [update for step in steps for update in step]
                for name, (_, _, steps, _) in prepared_bots.items()}
        calls_before = {name: len(bench.api.calls)
                        for name, (bench, _, _, _) in prepared_bots.items()}
        seconds = dict.fromkeys(make, 0.0)
        latencies: dict[str, list[float]] = {name: [] for name in make}
        order = list(make)
        total = len(next(iter(flat.values())))
        # Every bot's start-up heap and every bot's prepared updates out of the collector's
        # sight, as a bot's own process has only its own: otherwise what was built after the
        # last Linkpilot bot froze its start-up heap (see `linkpilot_bench`) is walked by every
        # full collection, charged to whichever bot allocates most (Linkpilot on SQLite, one
        # run each with the floors built after it: 0.78x without this, 0.82x with it).
        gc.collect()
        gc.freeze()
        for turn, start in enumerate(range(0, total, size)):
            for name in order if turn % 2 == 0 else order[::-1]:
                bench = prepared_bots[name][0]
                chunk = [flat[name][start:start + size]]
                started = time.perf_counter()
                latencies[name] += await (feed_batched(bench, chunk, batch) if batch
                                          else feed(bench, chunk))
                seconds[name] += time.perf_counter() - started
        got = {}
        for name, (bench, script, _, user_ids) in prepared_bots.items():
            made = bench.api.calls[calls_before[name]:]
            failures = (await unfinished(bench, script, user_ids)
                        + sum(1 for c in made if c.error))
            got[name] = LegResult(bench.name, seconds[name], latencies[name],
                                  Counter(c.method for c in made), failures)
        return got
    finally:
        for bench, _, _, _ in prepared_bots.values():
            await bench.close()
        gc.unfreeze()


def describe(result: LegResult, latency: str = "") -> str:
    calls = ", ".join(f"{m} {n / result.updates:.2f}" for m, n in sorted(result.calls.items()))
    failed = f"  FAILED UPDATES: {result.failures}" if result.failures else ""
    return (f"{result.name:<9} {result.per_second:7.0f} updates/s  {latency}median "
            f"{result.median_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
            f"Bot API calls/update {result.calls_per_update:.2f} ({calls}){failed}")


# --- memory (in a subprocess per bot) ----------------------------------------------------------


def rss_bytes() -> int:
    """Current resident set size (VmRSS); the peak from getrusage where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def memory_leg(make: BenchFactory, users: int) -> JSON:
    """RSS around ``users`` users, then tracemalloc growth over another ``users`` users.

    Both are taken twice: right after the users (the double's records of them included) and
    after the double has forgotten them (what the bot itself keeps).
    """
    bench, script, steps, user_ids = await prepared(make, 0, users)
    bench.api.forget([PROBE_USER, *range(WARMUP_BASE, WARMUP_BASE + WARMUP_USERS)])
    try:
        gc.collect()
        rss_before = rss_bytes()
        await feed(bench, steps)
        gc.collect()
        rss_after = rss_bytes()
        failures = await unfinished(bench, script, user_ids)
        bench.api.forget(user_ids)
        del steps
        gc.collect()
        rss_forgotten = rss_bytes()

        traced_ids = list(range(TRACED_BASE, TRACED_BASE + users))
        traced_steps = build_updates(bench, script, traced_ids)
        gc.collect()
        tracemalloc.start(TRACE_FRAMES)
        before = tracemalloc.take_snapshot()
        await feed(bench, traced_steps)
        gc.collect()
        with_double = tracemalloc.take_snapshot()
        failures += await unfinished(bench, script, traced_ids)
        bench.api.forget(traced_ids)
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    finally:
        await bench.close()

    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before = before.filter_traces(ignore)
    total = with_double.filter_traces(ignore).compare_to(before, "filename")
    bot_only = after.filter_traces(ignore).compare_to(before, "traceback")
    per_thousand = 1000 / users
    top = [{"kib": s.size_diff / 1024 * per_thousand, "where": _where(s.traceback)}
           for s in sorted(bot_only, key=lambda s: -s.size_diff)[:5]]
    return {
        "name": bench.name,
        "users": users,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_forgotten": rss_forgotten,
        "traced_total_per_1000": sum(s.size_diff for s in total) * per_thousand,
        "traced_bot_per_1000": sum(s.size_diff for s in bot_only) * per_thousand,
        "top_bot_growth": top,
        "failures": failures,
    }


def _where(traceback: tracemalloc.Traceback) -> str:
    """Where a block was allocated, and from which line of this repository (if not there)."""
    frames = [f"{_short(f.filename)}:{f.lineno}" for f in reversed(traceback)]  # newest first
    ours = next((f for f in frames if f.startswith(("bot/", "flows/", "storage/"))), None)
    return frames[0] + (f" (from {ours})" if ours and ours != frames[0] else "")


def measure_memory(name: str, args: argparse.Namespace) -> JSON:
    """Run one bot's memory leg in a fresh interpreter, so RSS is that bot's alone."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-leg", name,
               "--users", str(args.users)]
    command.append("--baseline-settle" if args.baseline_settle else "--no-baseline-settle")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory leg {name} failed:\n{done.stderr}")
    result: JSON = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_scale(name: str, args: argparse.Namespace) -> JSON:
    """Run one bot's scale leg in a fresh interpreter, so RSS is that bot's alone."""
    command = [sys.executable, str(Path(__file__).resolve()), "--scale-leg", name,
               "--scale", str(args.scale),
               "--baseline-settle" if args.baseline_settle else "--no-baseline-settle"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scale leg {name} failed:\n{done.stderr}")
    result: JSON = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def describe_memory(m: JSON) -> str:
    mib = 1024 * 1024
    lines = [
        f"{m['name']:<9} RSS {m['rss_before'] / mib:.1f} -> {m['rss_after'] / mib:.1f} MiB over "
        f"{m['users']} users ({(m['rss_after'] - m['rss_before']) / mib:+.1f} MiB; "
        f"{(m['rss_forgotten'] - m['rss_before']) / mib:+.1f} MiB once the double forgot them)",
        f"{'':<10}tracemalloc growth per 1,000 users: {m['traced_bot_per_1000'] / 1024:+.1f} KiB "
        f"kept by the bot ({m['traced_total_per_1000'] / 1024:+.1f} KiB with the double's "
        f"records); largest:",
    ]
    lines += [f"{'':<10}{t['kib']:+8.1f} KiB  {t['where']}" for t in m["top_bot_growth"]
              if abs(t["kib"]) >= 0.5]
    if m["failures"]:
        lines.append(f"{'':<10}FAILED UPDATES: {m['failures']}")
    return "\n".join(lines)


async def scale_leg(make: BenchFactory, total: int) -> JSON:
    """Resident memory after the first SCALE_CHUNK users walked the flow and after ``total``
    did, fed a chunk at a time; the double forgets each chunk once it is through (its records
    stand for Telegram's servers, not the bot), so the growth is what the bot keeps."""
    bench, script, steps, user_ids = await prepared(make, 0, SCALE_CHUNK)
    bench.api.forget([PROBE_USER, *range(WARMUP_BASE, WARMUP_BASE + WARMUP_USERS)])
    try:
        await feed(bench, steps)
        failures = await unfinished(bench, script, user_ids)
        bench.api.forget(user_ids)
        del steps
        gc.collect()
        rss_first = rss_bytes()
        rss_tenth: int | None = None  # after 10 chunks: is the growth warm-up or per user?
        done = SCALE_CHUNK
        while done < total:
            ids = list(range(SCALE_BASE + done, SCALE_BASE + min(total, done + SCALE_CHUNK)))
            for at in range(0, len(ids), SCALE_FEED):  # the harness's own updates, a few at a time
                await feed(bench, build_updates(bench, script, ids[at:at + SCALE_FEED]))
            failures += await unfinished(bench, script, ids)
            bench.api.forget(ids)
            done += len(ids)
            if done == 10 * SCALE_CHUNK and total > done:
                gc.collect()
                rss_tenth = rss_bytes()
        gc.collect()
        rss_last = rss_bytes()
    finally:
        await bench.close()
    return {"name": bench.name, "users": total, "rss_first": rss_first, "rss_last": rss_last,
            "rss_tenth": rss_tenth, "failures": failures}


def describe_scale(m: JSON) -> str:
    mib = 1024 * 1024
    line = (f"{m['name']:<9} RSS {m['rss_first'] / mib:.1f} MiB after {SCALE_CHUNK:,} users, "
            f"{m['rss_last'] / mib:.1f} MiB after {m['users']:,} "
            f"({(m['rss_last'] - m['rss_first']) / mib:+.1f} MiB")
    if m.get("rss_tenth") is not None:
        line += (f"; of which {(m['rss_tenth'] - m['rss_first']) / mib:+.1f} MiB by "
                 f"{10 * SCALE_CHUNK:,} users and {(m['rss_last'] - m['rss_tenth']) / mib:+.1f} "
                 f"MiB after")
    line += ")"
    return line + (f"; FAILED UPDATES: {m['failures']}" if m["failures"] else "")


# --- the profile --------------------------------------------------------------------------------


def _short(filename: str) -> str:
    """A file name without the interpreter's or the repository's prefix."""
    for marker in ("site-packages/", "lib/python3.11/", "lib/python3/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    if filename.startswith(str(REPO)):
        return filename[len(str(REPO)) + 1:]
    return filename


def _area(filename: str, func: str) -> str:
    """Which layer a profiled function belongs to."""
    if func == EPOLL_WAIT:
        return "idle: event loop waiting"
    if filename == "~":
        return "C built-ins (json, str, isinstance, queues, greenlet switches...)"
    if "site-packages/" in filename:  # before the repository's prefix: .venv may be inside it
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith(str(REPO)):
        relative = filename[len(str(REPO)) + 1:]
        if relative == "bot/local_api.py":
            return "Bot API double (bot/local_api.py)"
        return "benchmark" if relative.startswith("benchmarks/") else f"Linkpilot: {relative}"
    if filename.startswith("<sqlalchemy"):
        return "sqlalchemy"  # its generated wrappers
    if filename.startswith("<"):
        return "stdlib (other)"
    module = _short(filename).split("/", 1)[0].removesuffix(".py")
    return f"stdlib {module}" if module in ("asyncio", "json", "selectors", "copy", "enum",
                                            "logging", "re") else "stdlib (other)"


def print_profile(profiler: cProfile.Profile, updates: int, seconds: float) -> None:
    """Top entries by cumulative and by own time, in microseconds per update."""
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = \
        pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def rows(key: int, top: int) -> None:
        print(f"  {'calls/upd':>9} {'own us':>8} {'cum us':>8}  function")
        ranked = sorted(stats.items(), key=lambda item: -item[1][key])[:top]
        for (filename, line, func), (_, ncalls, own, cum, _) in ranked:
            where = f"{_short(filename)}:{line}" if line else filename
            print(f"  {ncalls / updates:9.2f} {own / updates * 1e6:8.1f} "
                  f"{cum / updates * 1e6:8.1f}  {func}  ({where})")

    areas: dict[str, float] = {}  # own seconds per area
    for (filename, _, func), (_, _, own, _, _) in stats.items():
        area = _area(filename, func)
        areas[area] = areas.get(area, 0.0) + own
    print(f"\nProfile of one Linkpilot leg: {updates} updates, {seconds / updates * 1e6:.0f} us "
          f"per update under cProfile (coroutines count one call per resumption)")
    print("\nOwn time by area, us per update:")
    ranked = sorted(areas.items(), key=lambda item: -item[1])
    shown = [(area, own) for area, own in ranked if own / updates * 1e6 >= 10]
    rest = sum(areas.values()) - sum(own for _, own in shown)
    for area, own in [*shown, ("everything else", rest)]:
        print(f"  {own / updates * 1e6:8.1f}  {area}")
    print(f"\nTop {PROFILE_TOP} by cumulative time:")
    rows(3, PROFILE_TOP)
    print(f"\nTop {PROFILE_TOP_OWN} by own time:")
    rows(2, PROFILE_TOP_OWN)


# --- main -----------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000, help="users per leg (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one Linkpilot leg and print the top entries")
    # Equal work is the default: both bots make the same Bot API calls per update.
    parser.add_argument("--baseline-settle", action=argparse.BooleanOptionalAction,
                        default=True,
                        help="the baseline also edits the pressed message, as Linkpilot does "
                             "(default; --no-baseline-settle for the cheaper PTB habit)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory legs")
    parser.add_argument("--pickle", action="store_true",
                        help="also time the baseline with PicklePersistence, flushed after "
                             "every update and every 60 s")
    parser.add_argument("--concurrent", type=int, default=0, metavar="N",
                        help="also send N users' updates at once and compare p99 latency")
    parser.add_argument("--batch", type=int, default=0, metavar="N",
                        help="also time every bot with the updates coming N at a time, as "
                             "long polling gets them (getUpdates returns at most 100)")
    parser.add_argument("--postgres", action="store_true",
                        help="also time Linkpilot on PostgreSQL, as the polling bot and as "
                             "one webhook worker: a server of its own in a temporary folder, as "
                             "the tests start it (needs its binaries and the postgres extra); "
                             "and the floors: the in-memory bot with a PostgreSQL write (and "
                             "read) per update")
    parser.add_argument("--scale", type=int, default=0, metavar="N",
                        help="also measure resident memory from 1,000 to N users who walked "
                             "the flow (each bot in a fresh process; slow: 4 updates per user)")
    parser.add_argument("--memory-leg", choices=["linkpilot", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--scale-leg", choices=["linkpilot", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.users < 1 or args.rounds < 1:
        parser.error("--users and --rounds must be at least 1")
    return args


def header(args: argparse.Namespace) -> str:
    return (f"Linkpilot throughput: {args.users} users x {STEPS} updates "
            f"({LINK} -> {' -> '.join(PRESSES)}), {args.rounds} round(s)\n"
            f"Python {platform.python_version()}, PTB {telegram.__version__}, SQLAlchemy "
            f"{sqlalchemy.__version__}, {os.cpu_count()} CPUs; baseline settles pressed "
            f"messages: {'yes' if args.baseline_settle else 'no'}")


FLOORS = {"floor-w": "a PostgreSQL write per update",
          "floor-rw": "a PostgreSQL read and write per update"}


def summary(results: list[dict[str, LegResult]], latency: str = "") -> None:
    """Medians of rounds, and Linkpilot's ratio to each peer measured round by round."""
    print("\nMedian of rounds:")
    for name in results[0]:
        legs = [r[name] for r in results]
        print(f"  {name:<12} {statistics.median(x.per_second for x in legs):7.0f} updates/s  "
              f"{latency}median {statistics.median(x.median_ms for x in legs):6.2f} ms  "
              f"p99 {statistics.median(x.p99_ms for x in legs):6.2f} ms  "
              f"Bot API calls/update {legs[0].calls_per_update:.2f}")
    for floor in [n for n in results[0] if n.startswith("floor") and "baseline" in results[0]]:
        speed = [r[floor].per_second / r["baseline"].per_second for r in results]
        print(f"  {floor} (the baseline + {FLOORS[floor]})/baseline throughput: "
              f"{statistics.median(speed):.2f} (range {min(speed):.2f}-{max(speed):.2f})")
    ours = [n for n in results[0] if n.startswith("linkpilot")]
    for mine in ours:
        label = {"linkpilot": "Linkpilot", "linkpilot-pg": "Linkpilot on PostgreSQL",
                 "linkpilot-wh": "Linkpilot webhook worker (PostgreSQL)"}[mine]
        # The floors are PostgreSQL's: Linkpilot on SQLite is not compared with them.
        for peer in [n for n in results[0] if not n.startswith("linkpilot")
                     and not (mine == "linkpilot" and n.startswith("floor"))]:
            speed = [r[mine].per_second / r[peer].per_second for r in results]
            print(f"  {label}/{peer} throughput: {statistics.median(speed):.2f} "
                  f"(range {min(speed):.2f}-{max(speed):.2f})")


async def concurrent_leg(make: BenchFactory, serial: int, users: int) -> LegResult:
    """Every user's step at once (``users`` updates in flight), step after step: the latency
    of each update from when all of them arrived."""
    bench, script, steps, user_ids = await prepared(make, serial, users)
    try:
        calls_before = len(bench.api.calls)
        latencies: list[float] = []
        started = time.perf_counter()
        for step in steps:
            arrived = time.perf_counter()

            async def one(raw: JSON, arrived: float = arrived) -> None:
                await bench.feed_one(raw)
                latencies.append(time.perf_counter() - arrived)

            await asyncio.gather(*(one(raw) for raw in step))
        seconds = time.perf_counter() - started
        made = bench.api.calls[calls_before:]
        failures = await unfinished(bench, script, user_ids) + sum(1 for c in made if c.error)
        return LegResult(bench.name, seconds, latencies, Counter(c.method for c in made),
                         failures)
    finally:
        await bench.close()


async def profile_leg(make: BenchFactory, users: int) -> None:
    profiler = cProfile.Profile()
    result = await timed_leg(make, 999, users, profiler)
    print_profile(profiler, result.updates, result.seconds)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = None
    if args.postgres:
        from tests import pg

        server = pg.PostgresServer.start()
        asyncio.run(pg.create_template(server))
    try:
        return _run(args, server)
    finally:
        if server is not None:
            server.stop()


def _run(args: argparse.Namespace, server: Any) -> int:
    with tempfile.TemporaryDirectory(prefix="linkpilot-bench-") as tmp:
        make = factories(Path(tmp), settle=args.baseline_settle, pickle=args.pickle,
                         postgres=server)
        if args.memory_leg:
            print(json.dumps(asyncio.run(memory_leg(make[args.memory_leg], args.users))))
            return 0
        if args.scale_leg:
            print(json.dumps(asyncio.run(scale_leg(make[args.scale_leg], args.scale))))
            return 0
        print(header(args), flush=True)
        print("\nTimed rounds (raw updates, users round-robin, one at a time):")
        results = asyncio.run(timed_rounds(make, args.users, args.rounds))
        summary(results)
        if args.batch:
            print(f"\nTimed rounds, the same updates {args.batch} at a time as getUpdates returns "
                  f"them (Linkpilot: its polling path, the batch stored in one transaction and "
                  f"different people's updates processed at once; the others: one at a time, "
                  f"as PTB's Application does by default):")
            summary(asyncio.run(timed_rounds(make, args.users, args.rounds, args.batch)),
                    "batch ")
        if args.concurrent:
            print(f"\n{args.concurrent} users at once (each step's updates all in flight; "
                  f"{args.rounds} round(s), which bot goes first alternating):")
            ratios = []
            for r in range(args.rounds):
                p99 = {}
                names = ("linkpilot", "baseline") if r % 2 == 0 else ("baseline", "linkpilot")
                for name in names:
                    leg = asyncio.run(concurrent_leg(make[name], 500 + r, args.concurrent))
                    p99[name] = leg.p99_ms
                    print(f"  round {r + 1}: {describe(leg)}", flush=True)
                ratios.append(p99["linkpilot"] / p99["baseline"])
            print(f"  Linkpilot/baseline p99: {statistics.median(ratios):.2f}x "
                  f"(range {min(ratios):.2f}x-{max(ratios):.2f}x)")
        if not args.no_memory:
            print(f"\nMemory (each bot in a fresh process; tracemalloc over another "
                  f"{args.users} users):", flush=True)
            for name in ("linkpilot", "baseline"):
                print("  " + describe_memory(measure_memory(name, args)), flush=True)
        if args.scale:
            print(f"\nMemory at scale (each bot in a fresh process, {SCALE_CHUNK:,} users at a "
                  f"time):", flush=True)
            for name in ("linkpilot", "baseline"):
                print("  " + describe_scale(measure_scale(name, args)), flush=True)
        if args.profile:
            asyncio.run(profile_leg(make["linkpilot"], args.users))
    return 0


if __name__ == "__main__":
    sys.exit(main())
