"""Privacy (issue 11): /privacy says what is stored and for how long; /deleteme erases the
person's personal data once they confirm."""

from __future__ import annotations

from telegram import Update

from bot import keyboards, texts
from bot.context import Context, traced
from bot.handlers.messaging import answer, reply, settle
from bot.handlers.requests import actor_of
from bot.render import Reply
from flows import verification


@traced("privacy")
async def privacy(update: Update, context: Context) -> None:
    """/privacy: what is stored, why, and for how long."""
    settings = context.deps.settings
    await reply(update, texts.privacy(round(settings.retention_days),
                                      round(settings.request_expiry_days)))


@traced("deleteme")
async def deleteme(update: Update, context: Context) -> None:
    """/deleteme: ask before erasing anything."""
    await reply(update, Reply(texts.DELETEME_CONFIRM, keyboards.confirm_erase()), retire=True)


@traced("erase_button")
async def on_erase_button(update: Update, context: Context) -> None:
    """Yes erases the presser's personal data (and only theirs); No keeps everything."""
    query = update.callback_query
    assert query is not None
    await answer(query)
    if query.data != "d:yes":
        await settle(query, texts.DELETE_KEPT)
        return
    erased = await verification.erase_person(context.uow, actor_of(update).id,
                                             context.deps.clock())
    await settle(query, texts.YES_DELETE)
    await reply(update, texts.deleted(erased.cancelled, erased.withdrawn)
                + texts.spark_erased(erased.codes))
