"""The composition root: the one place the Application is built and everything is wired."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import texts
from bot.context import Context, Deps, traced, utc_now
from bot.faq import FaqService
from bot.handlers import faq, link, requests
from bot.handlers.messaging import reply
from bot.settings import Settings
from storage.repositories import StaleWrite
from storage.uow import Database

logger = logging.getLogger(__name__)


def build_application(
    settings: Settings,
    *,
    token: str,
    request: BaseRequest | None = None,
    clock: Callable[[], datetime] = utc_now,
    rate_limit: bool = False,
    run_jobs: bool = True,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """Build the bot: database, knowledge base, handlers in order, jobs and commands.

    `request` replaces the HTTP layer (the in-process Bot API double in tests and chat mode).
    """
    db = Database(settings.database_url)
    deps = Deps(settings=settings, db=db, faq=FaqService(), clock=clock)
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        Application.builder()
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
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    application = builder.build()
    application.bot_data["deps"] = deps
    register(application)
    if run_jobs and application.job_queue is not None:
        application.job_queue.run_repeating(requests.expiry_sweep,
                                            interval=settings.expiry_check_seconds, first=1,
                                            name="expiry_sweep")
    return application


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Handlers in the order they are tried: commands that work in every state first, the
    free-text catch-all last."""
    add = application.add_handler
    # Commands available in every state.
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
    # Buttons, by callback-data prefix (see bot.keyboards).
    add(CallbackQueryHandler(link.on_flow_button, pattern=r"^f:"))
    add(CallbackQueryHandler(requests.on_request_button, pattern=r"^r:"))
    add(CallbackQueryHandler(requests.on_link_button, pattern=r"^t:"))
    add(CallbackQueryHandler(requests.on_skip_reason, pattern=r"^x:"))
    add(CallbackQueryHandler(faq.on_suggestion, pattern=r"^[sn]:"))
    add(CallbackQueryHandler(faq.on_faq_button, pattern=r"^(m|[cq]:)"))
    add(CallbackQueryHandler(on_unknown_button))
    # Unknown commands, then any other text: answers and questions.
    add(MessageHandler(filters.COMMAND, on_unknown_command))
    add(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, link.on_text))
    add(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, on_other_message))
    application.add_error_handler(on_error)


async def prepare(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Initialise the application and run its start-up (what `run_polling` does first)."""
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)


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
    logger.info("Linkpilot ready as @%s on %s", deps.bot_username,
                deps.db.engine.url.render_as_string(hide_password=True))


async def _post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    deps: Deps = application.bot_data["deps"]
    await deps.db.dispose()


@traced("unknown_button")
async def on_unknown_button(update: Update, context: Context) -> None:
    """A press whose data we never issued (forged, or from a much older version)."""
    if update.callback_query is not None:
        await update.callback_query.answer(texts.refusal("gone"))


@traced("unknown_command")
async def on_unknown_command(update: Update, context: Context) -> None:
    await reply(update, texts.UNKNOWN_COMMAND)


@traced("other_message")
async def on_other_message(update: Update, context: Context) -> None:
    """Stickers, photos and the like: say what the bot understands."""
    if update.effective_chat is not None and update.effective_user is not None:
        await reply(update, texts.TEXT_ONLY)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure with its traceback and tell the user instead of going silent."""
    stale = isinstance(context.error, StaleWrite)
    if stale:
        logger.info("lost a race on a conversation row: %s", context.error)
    else:
        logger.error("update failed: %s", update, exc_info=context.error)
    if not isinstance(update, Update):
        return
    said = texts.TRY_AGAIN if stale else texts.ERROR
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(said)
        elif update.effective_chat is not None:
            await update.effective_chat.send_message(said)
    except Exception:  # the error report must never raise in turn
        logger.exception("could not report the error to the user")
