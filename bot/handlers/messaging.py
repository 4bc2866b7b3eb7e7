"""What a handler says: replies, edits and button answers, recorded in the update's outbox.

Nothing here talks to Telegram. Each call owes a message in the update's unit of work; the
processor commits it together with the update's state change, then the dispatcher
(`bot.outbox`) sends it, retrying and falling back as Telegram's answers require.
"""

from __future__ import annotations

from telegram import CallbackQuery, Message, Update

from bot.context import current_turn
from bot.keyboards import markup_json
from bot.render import Reply
from flows.records import Notice


def owe(notice: Notice, *, first: bool = False) -> None:
    """Owe any message in this update's unit of work."""
    current_turn().uow.outbox.add(notice, first=first)


async def reply(update: Update, message: Reply | str, *, first: bool = False,
                retire: bool = False) -> None:
    """Answer in the chat the update came from (`first`: before what the use case owes;
    `retire`: take the buttons off the chat's last question first)."""
    chat = update.effective_chat
    if chat is not None:
        await tell(chat.id, message, first=first, retire=retire)


async def tell(chat_id: int, message: Reply | str, *, first: bool = False,
               retire: bool = False) -> None:
    """Message a chat (this update's or someone else's)."""
    if isinstance(message, str):
        message = Reply(message)
    data: dict[str, object] = {"text": message.text, "markup": markup_json(message.markup)}
    if retire:
        data["retire"] = True
    owe(Notice("message", chat_id, data=data), first=first)


async def ask(update: Update, question: Reply) -> None:
    """Ask the link flow's next question. Only the latest question keeps its buttons: unless
    this update is a press on the previous one (which the press settles), its buttons go."""
    chat = update.effective_chat
    if chat is None:
        return
    owe(Notice("message", chat.id, data={"text": question.text,
                                         "markup": markup_json(question.markup), "question": True,
                                         "retire": update.callback_query is None}))


async def edit(chat_id: int, message_id: int, message: Reply | str) -> None:
    """Replace a message's text and buttons."""
    if isinstance(message, str):
        message = Reply(message)
    owe(Notice("edit", chat_id, data={"message_id": message_id, "text": message.text,
                                      "markup": markup_json(message.markup)}))


async def answer(query: CallbackQuery, text: str | None = None) -> None:
    """Answer a button press (the popup, or just the end of the spinner)."""
    owe(Notice("answer", query.from_user.id, data={"query_id": query.id, "text": text}))


async def settle(query: CallbackQuery, suffix: str | None = None) -> None:
    """Take the buttons off the message a button was pressed on (optionally noting the answer)."""
    message = query.message
    if not isinstance(message, Message):
        return
    if suffix is not None and message.text:
        await edit(message.chat_id, message.message_id,
                   f"{message.text_html}\n\n<i>{suffix}</i>")
    elif message.reply_markup is not None:
        owe(Notice("markup", message.chat_id, data={"message_id": message.message_id,
                                                    "markup": None}))


async def redraw(query: CallbackQuery, fresh: Reply) -> None:
    """Replace the message a button was pressed on (a list, a question ticked in place)."""
    message = query.message
    if isinstance(message, Message):
        await edit(message.chat_id, message.message_id, fresh)


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
