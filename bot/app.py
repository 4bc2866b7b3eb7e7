"""The composition root: the one place the Application is built and everything is wired."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import texts
from bot.context import Context, Deps, _turn, deps_of, traced, utc_now
from bot.faq import FaqService
from bot.handlers import admin, faq, link, privacy, requests, spark, teams, verify
from bot.handlers.messaging import answer, reply
from bot.inbox import ALLOWED_UPDATES, FloodGate, Processor, poll
from bot.outbox import Dispatcher
from bot.settings import Settings, logins_enabled
from flows.teams import INVITE_PREFIX
from storage.repositories import AlreadyDone, StaleWrite
from storage.uow import Database

logger = logging.getLogger(__name__)


class LinkpilotApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application without the per-person bookkeeping for a persistence we don't use.

    State lives in the database, read per update; PTB would still remember every user and chat
    id it ever saw, for a `BasePersistence` that is never set, so memory grew with users.
    """

    def _mark_for_persistence_update(self, *, update: object | None = None,
                                     job: Any = None) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)


def build_application(
    settings: Settings,
    *,
    token: str,
    request: BaseRequest | None = None,
    clock: Callable[[], datetime] = utc_now,
    rate_limit: bool = False,
    run_jobs: bool = True,
    alone: bool = False,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the bot: database, knowledge base, handlers in order, jobs and commands.

    `request` replaces the HTTP layer (the in-process Bot API double in tests and chat mode).
    `alone`: no other process processes updates or sends messages on this database (the
    polling bot, the terminal chat; not webhook workers), so write-backs may be deferred on
    PostgreSQL too (`storage.uow.Database`).
    """
    db = Database(settings.database_url, clock, worker=settings.worker_id, alone=alone)
    deps = Deps(settings=settings, db=db, faq=FaqService(), clock=clock)
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
        .application_class(LinkpilotApplication)
        .token(token)
        .context_types(ContextTypes(context=Context))
        .defaults(Defaults(parse_mode=ParseMode.HTML,
                           link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.telegram_api_base_url:
        builder = builder.base_url(settings.telegram_api_base_url)
    if settings.telegram_api_file_url:
        builder = builder.base_file_url(settings.telegram_api_file_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    if rate_limit:
        # Pacing only: a 429 is handed straight back to the outbox dispatcher, which holds
        # just that chat instead of stalling every send as the limiter's own retry would.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=0))
    application = builder.build()
    application.bot_data["deps"] = deps
    deps.dispatcher = Dispatcher(application.bot, db, clock,
                                 bot_username=lambda: deps.bot_username,
                                 max_attempts=settings.send_max_attempts)
    deps.processor = Processor(application, deps, deps.dispatcher,
                               FloodGate(settings.flood_messages, settings.flood_seconds))
    register(application)
    if run_jobs and application.job_queue is not None:
        application.job_queue.run_repeating(requests.clock_job,
                                            interval=settings.expiry_check_seconds, first=1,
                                            name="clock")
    return application


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Handlers in the order they are tried: commands that work in every state first, the
    free-text catch-all last."""
    add = application.add_handler
    # Commands available in every state.
    # Teams (issue 10): a team invite link, before any other /start.
    add(CommandHandler("start", teams.open_invite,
                       filters=filters.Regex(rf"^/start(@\w+)?\s+{INVITE_PREFIX}[\w-]+\s*$")))
    add(CommandHandler("start", link.start))
    add(CommandHandler("help", link.help_command))
    add(CommandHandler("cancel", link.cancel))
    add(CommandHandler("back", link.back))
    add(CommandHandler("status", link.status))
    # Features.
    add(CommandHandler("link", link.link))
    add(CommandHandler("accounts", requests.accounts))
    add(CommandHandler("owned", requests.owned))
    add(CommandHandler("claim", requests.claim))
    add(CommandHandler("faq", faq.faq_command))
    add(CommandHandler("privacy", privacy.privacy))
    add(CommandHandler("deleteme", privacy.deleteme))
    # Spark Ads authorization codes (issue 10).
    add(CommandHandler("code", spark.code))
    add(CommandHandler("codes", spark.codes))
    add(CommandHandler("apply", spark.apply))
    add(CommandHandler("team", teams.team_command))  # teams (issue 10)
    # Trust (issue 11): platform logins, and operators (others: "unknown command").
    add(CommandHandler("verify", verify.verify))
    add(CommandHandler("admin", admin.admin))
    # Buttons, by callback-data prefix (see bot.keyboards).
    add(CallbackQueryHandler(link.on_flow_button, pattern=r"^f:"))
    # Teams (issue 10): cancel and unlink ask the requester's team role first.
    add(CallbackQueryHandler(teams.on_guarded_request_button, pattern=r"^r:[^:]+:(c|u|u!)$"))
    add(CallbackQueryHandler(requests.on_request_button, pattern=r"^r:"))
    add(CallbackQueryHandler(requests.on_link_button, pattern=r"^t:"))
    add(CallbackQueryHandler(requests.on_skip_reason, pattern=r"^x:"))
    add(CallbackQueryHandler(requests.on_unblock_button, pattern=r"^b:\d+$"))
    add(CallbackQueryHandler(privacy.on_erase_button, pattern=r"^d:(yes|no)$"))
    add(CallbackQueryHandler(spark.on_spark_button, pattern=r"^sp:"))  # Spark codes (issue 10)
    add(CallbackQueryHandler(faq.on_suggestion, pattern=r"^[sn]:"))
    add(CallbackQueryHandler(faq.on_faq_button, pattern=r"^(m|[cq]:)"))
    add(CallbackQueryHandler(teams.on_team_button, pattern=r"^g:"))  # teams (issue 10)
    add(CallbackQueryHandler(verify.on_verify_button, pattern=r"^v:"))  # trust (issue 11)
    add(CallbackQueryHandler(on_unknown_button))
    # Unknown commands, then any other text: answers and questions.
    add(MessageHandler(filters.COMMAND, on_unknown_command))
    add(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, link.on_text))
    add(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, on_other_message))
    application.add_error_handler(on_error)
    # Trust (issue 11): people an operator blocked are turned away before any handler.
    application.add_handler(TypeHandler(Update, admin.gate), group=-1)


async def _start_up(application: Application[Any, Any, Any, Any, Any, Any],
                    stop: asyncio.Event, handle_signals: bool) -> bool:
    """Signals, then start-up, waiting for an unreachable Bot API with backoff (one log line
    per attempt); a token Telegram rejects raises InvalidToken. False if stopped meanwhile."""
    deps = deps_of(application)
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    where = deps.settings.telegram_api_base_url or "api.telegram.org"
    backoff = 1.0
    while True:
        try:
            await prepare(application)
            if handle_signals:  # a process of its own, not a test's borrowed event loop
                freeze_start_up_heap()
            return True
        except InvalidToken:
            raise
        except NetworkError as exc:
            logger.warning("cannot reach the Bot API at %s (%s); retrying in %.0fs", where,
                           exc.message, backoff)
            await application.shutdown()
            try:
                await asyncio.wait_for(stop.wait(), backoff)
                return False
            except TimeoutError:
                backoff = min(backoff * 2, 60.0)


async def serve(application: Application[Any, Any, Any, Any, Any, Any],
                stop: asyncio.Event | None = None, *, handle_signals: bool = True) -> None:
    """Run the bot on long polling until `stop` is set (or SIGINT / SIGTERM). On the way out,
    updates already stored are finished."""
    deps = deps_of(application)
    assert deps.dispatcher is not None and deps.processor is not None
    stop = stop or asyncio.Event()
    if not await _start_up(application, stop, handle_signals):
        return
    logins: web.AppRunner | None = None  # trust (issue 11): the platform login endpoint
    try:
        await application.bot.delete_webhook()
        await application.start()
        logins = await verify.start_server(application)
        sender = asyncio.create_task(deps.dispatcher.run_forever(stop))
        poller = asyncio.create_task(poll(
            application.bot, deps.processor, stop,
            base_url=deps.settings.telegram_api_base_url or "api.telegram.org"))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([poller, stopping], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await deps.processor.drain()
        await sender
    finally:
        stop.set()
        if logins is not None:
            await logins.cleanup()
        if application.running:
            await application.stop()
        await finish(application)


SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def serve_webhook(application: Application[Any, Any, Any, Any, Any, Any],
                        stop: asyncio.Event | None = None, *,
                        handle_signals: bool = True) -> None:
    """Run one webhook worker until `stop` is set (or SIGINT / SIGTERM).

    Every request must carry the secret token; an update is answered 200 only once it is
    stored, then processed here or by any other worker on the same database (each chat by one
    worker at a time, oldest first). With WEBHOOK_URL set, the webhook is registered too.
    """
    deps = deps_of(application)
    assert deps.dispatcher is not None and deps.processor is not None
    settings, processor = deps.settings, deps.processor
    secret = settings.require_webhook_secret()
    host, port = settings.webhook_address()
    stop = stop or asyncio.Event()

    async def on_update(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            logger.warning("webhook request without the right secret token, refused")
            return web.Response(status=401)
        try:
            raw = await request.json()
            int(raw["update_id"])
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400)
        for key in await processor.store([raw]):
            processor.drain_soon(key)
        return web.Response(status=200)

    if not await _start_up(application, stop, handle_signals):
        return
    runner: web.AppRunner | None = None
    try:
        await application.start()
        if settings.webhook_url:
            await application.bot.set_webhook(settings.webhook_url, secret_token=secret,
                                              allowed_updates=ALLOWED_UPDATES)
        server = web.Application()
        server.router.add_post(settings.webhook_path, on_update)
        if logins_enabled(settings):  # trust (issue 11): platform logins come back here
            server.add_routes(verify.routes(application))
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        logger.info("webhook worker %s listening on %s:%d%s", deps.db.worker, host, port,
                    settings.webhook_path)
        sender = asyncio.create_task(deps.dispatcher.run_forever(stop))
        sweeper = asyncio.create_task(processor.sweep_forever(stop))
        await stop.wait()
        await runner.cleanup()
        runner = None
        await processor.drain()
        await asyncio.gather(sender, sweeper)
    finally:
        stop.set()
        if runner is not None:
            await runner.cleanup()
        if application.running:
            await application.stop()
        await finish(application)


async def prepare(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Initialise the application and run its start-up (what `run_polling` does first)."""
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)


def freeze_start_up_heap() -> None:
    """Take what start-up built out of the garbage collector's sight (`gc.freeze`).

    The knowledge base's index, SQLAlchemy's and PTB's tables and the compiled statements are
    some hundred thousand objects that live as long as the process. Every full collection
    walked all of them again: 6% of an update's time in the throughput benchmark, against 1%
    for the in-memory bot. Called once, by a process of its own (`serve`, `serve_webhook`),
    after start-up; a later knowledge-base reload stays collectable as usual."""
    gc.collect()
    gc.freeze()


async def finish(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Shut the application down and run its clean-up (what `run_polling` does last)."""
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


async def _post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    deps: Deps = application.bot_data["deps"]
    await deps.db.migrate()
    await deps.faq.load(deps.db, deps.clock())
    deps.bot_username = application.bot.username
    await application.bot.set_my_commands([BotCommand(c, d) for c, d in texts.COMMANDS])
    await application.bot.set_my_description(texts.DESCRIPTION)
    await application.bot.set_my_short_description(texts.SHORT_DESCRIPTION)
    assert deps.dispatcher is not None and deps.processor is not None
    await deps.dispatcher.recover()
    await deps.processor.recover()
    logger.info("Linkpilot ready as @%s on %s", deps.bot_username,
                deps.db.engine.url.render_as_string(hide_password=True))


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    deps: Deps = application.bot_data["deps"]
    await deps.db.dispose()


@traced("unknown_button")
async def on_unknown_button(update: Update, context: Context) -> None:
    """A press whose data we never issued (forged, or from a much older version)."""
    if update.callback_query is not None:
        await answer(update.callback_query, texts.refusal("gone"))


@traced("unknown_command")
async def on_unknown_command(update: Update, context: Context) -> None:
    await reply(update, texts.UNKNOWN_COMMAND)


@traced("other_message")
async def on_other_message(update: Update, context: Context) -> None:
    """Stickers, photos and the like: say what the bot understands."""
    if update.effective_chat is not None and update.effective_user is not None:
        await reply(update, texts.TEXT_ONLY)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Note the failure for the inbox processor, which rolls the update's work back and tells
    the person. Logged by update id and type only: updates can carry approval tokens."""
    turn = _turn.get()
    if turn is not None:
        turn.error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    kind = _update_kind(update)
    if isinstance(context.error, StaleWrite):
        logger.info("update %s (%s) lost a race (stale row or database deadlock); asked to "
                    "try again", update_id, kind)
    elif isinstance(context.error, AlreadyDone):
        logger.info("update %s (%s) was a redelivery, processed meanwhile", update_id, kind)
    else:
        logger.error("update %s (%s) failed", update_id, kind, exc_info=context.error)


def _update_kind(update: object) -> str:
    if not isinstance(update, Update):
        return type(update).__name__
    if update.callback_query is not None:
        return "callback_query"
    if update.message is not None and update.message.text and update.message.text[:1] == "/":
        return "command " + update.message.text.split(maxsplit=1)[0][:32]
    return "message" if update.message is not None else "other"
