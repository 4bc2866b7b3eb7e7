"""Operators (issue 11): `/admin` for the ids in OPERATOR_IDS (everyone else gets the usual
"unknown command"), and the gate that turns away people an operator blocked."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot import texts
from bot.admin import Usage, run_admin
from bot.context import Context, traced
from bot.handlers.messaging import answer, reply
from bot.settings import operators
from flows import usecases
from storage.uow import UnitOfWork


@traced("admin")
async def admin(update: Update, context: Context) -> None:
    """/admin ...: an operator command; unknown to anyone not an operator."""
    user, settings = update.effective_user, context.deps.settings
    staff = operators(settings)
    if user is None or user.id not in staff:
        await reply(update, texts.UNKNOWN_COMMAND)
        return
    try:
        said = await run_admin(context.uow, f"operator:{user.id}", list(context.args or []),
                               context.deps.clock(), protected=staff)
    except Usage as exc:
        said = f"{exc}\n{texts.ADMIN_USAGE}"
    await reply(update, f"<pre>{escape(said[:3900])}</pre>")


# What a blocked person may still do: read what is kept about them and erase it (/privacy,
# /deleteme and its confirmation buttons). A block stops using the bot, not one's own rights.
_OWN_DATA_COMMANDS = ("/privacy", "/deleteme")
_ERASE_BUTTONS = ("d:yes", "d:no")


def _about_own_data(update: Update) -> bool:
    if update.callback_query is not None:
        return update.callback_query.data in _ERASE_BUTTONS
    message = update.message
    words = (message.text or "").split() if message is not None else []
    return bool(words) and words[0].split("@")[0].lower() in _OWN_DATA_COMMANDS


_READ_WITH_THE_GATE = (usecases.LINK_FLOW, usecases.PREREQUISITES_FLOW)


async def read_ahead(uow: UnitOfWork, user_id: int, chat_id: int | None) -> None:
    """The gate's read, sent before the update is parsed: on PostgreSQL the server answers it
    meanwhile. The gate takes the answer if it asks the same (it reads again otherwise, as
    for an operator, who is not read at all)."""
    await uow.bans.read_ahead(user_id, _READ_WITH_THE_GATE, chat_id)


async def gate(update: Update, context: Context) -> None:
    """Before any handler: a person an operator blocked gets one fixed, polite reply."""
    user = update.effective_user
    if user is None or user.id in operators(context.deps.settings) or _about_own_data(update):
        return
    # The link conversation comes with the same read (most updates load it next), and the
    # prerequisites the person confirmed before (/link reads them when it starts a walk).
    # And the chat's live question, whose buttons come off if a new question is asked.
    chat = update.effective_chat
    if not await context.uow.bans.turned_away(user.id, _READ_WITH_THE_GATE,
                                              chat.id if chat is not None else None):
        return
    if update.callback_query is not None:
        await answer(update.callback_query, texts.BANNED)
    elif update.effective_chat is not None:
        await reply(update, texts.BANNED)
    raise ApplicationHandlerStop
