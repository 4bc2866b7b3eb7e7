"""Sending, editing and answering, with Telegram's expected failures turned into log lines."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden

from bot.context import Context
from bot.render import Reply

logger = logging.getLogger(__name__)


async def reply(update: Update, message: Reply | str) -> Message | None:
    """Answer in the chat the update came from."""
    if isinstance(message, str):
        message = Reply(message)
    chat = update.effective_chat
    if chat is None:
        return None
    return await chat.send_message(message.text, reply_markup=message.markup)


async def tell(context: Context, chat_id: int, message: Reply | str) -> Message | None:
    """Message another user; None (and a log line) if Telegram says they can't be reached."""
    if isinstance(message, str):
        message = Reply(message)
    try:
        return await context.bot.send_message(chat_id, message.text, reply_markup=message.markup)
    except Forbidden as exc:
        logger.info("chat %s unreachable: %s", chat_id, exc.message)
        return None


async def edit(context: Context, chat_id: int, message_id: int, text: str,
               markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace a message's text and buttons; an unchanged or vanished message is fine."""
    try:
        await context.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id,
                                            reply_markup=markup)
    except (BadRequest, Forbidden) as exc:
        if "not modified" not in exc.message.lower():
            logger.info("could not edit %s/%s: %s", chat_id, message_id, exc.message)


async def settle(query: CallbackQuery, suffix: str | None = None) -> None:
    """Take the buttons off the message a button was pressed on (optionally noting the answer)."""
    message = query.message
    if not isinstance(message, Message):
        return
    try:
        if suffix is not None and message.text:
            await message.edit_text(f"{message.text_html}\n\n<i>{suffix}</i>", reply_markup=None)
        elif message.reply_markup is not None:
            await message.edit_reply_markup(reply_markup=None)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            logger.info("could not settle message %s: %s", message.message_id, exc.message)


def pressed_label(query: CallbackQuery) -> str | None:
    """The text of the button that was pressed, from the message's own keyboard."""
    message = query.message
    markup = message.reply_markup if isinstance(message, Message) else None
    if markup is None:
        return None
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return button.text
    return None
