"""The Bot API double must answer like Telegram, so a real PTB Application behaves as in prod."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import pytest
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.local_api import LocalBotApi, Person

Ctx = ContextTypes.DEFAULT_TYPE


def _keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"pick:{label}")] for label in labels]
    )


async def start(update: Update, context: Ctx) -> None:
    assert update.effective_message is not None and update.effective_user is not None
    args = " ".join(context.args or [])
    await update.effective_message.reply_html(
        f"Hello <b>{update.effective_user.first_name}</b> &amp; welcome! {args}".rstrip(),
        reply_markup=_keyboard("Yes", "No", "Maybe later"),
    )


async def echo(update: Update, context: Ctx) -> None:
    assert update.effective_message is not None and update.effective_message.text
    await update.effective_message.reply_text(update.effective_message.text)


async def on_pick(update: Update, context: Ctx) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    choice = query.data.removeprefix("pick:")
    assert context.user_data is not None and query.message is not None
    context.user_data["last_message_text"] = getattr(query.message, "text", None)
    if choice not in ("Yes", "No", "Maybe later"):
        await query.answer("That button has expired.", show_alert=True)
        return
    await query.answer(f"You chose {choice}")
    await query.edit_message_text(f"You chose <i>{choice}</i>.", parse_mode="HTML")


blocked_events: list[str] = []


async def on_member(update: Update, context: Ctx) -> None:
    assert update.my_chat_member is not None
    blocked_events.append(update.my_chat_member.new_chat_member.status)


def build_app(api: LocalBotApi) -> Application:
    """A real Application whose Bot talks to the double, as the brief prescribes."""
    builder = Application.builder().token(api.token).request(api).get_updates_request(api)
    return builder.updater(None).build()


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[LocalBotApi, Application]]:
    # PTB 22.2+ warns on int time periods (RetryAfter.retry_after); opt in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    api = LocalBotApi()
    app = build_app(api)
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_pick, pattern=r"^pick:"))
    app.add_handler(ChatMemberHandler(on_member, ChatMemberHandler.MY_CHAT_MEMBER))
    api.attach(app)
    await app.initialize()
    yield api, app
    await app.shutdown()


async def test_get_me_and_token(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    assert app.bot.username == "linkpilot_bot"
    assert app.bot.id == 7000000001
    assert api.token.startswith("7000000001:") and len(api.token.split(":")[1]) == 35
    assert api.calls[0].method == "getMe"


async def test_start_command_with_payload_and_html(env: tuple[LocalBotApi, Application]) -> None:
    api, _ = env
    ana = Person(api, 101, "Ana", username="ana")
    [msg] = await ana.send("/start ref42")
    assert msg.text == "Hello <b>Ana</b> &amp; welcome! ref42"
    assert msg.plain == "Hello Ana & welcome! ref42"
    assert msg.parse_mode == "HTML"
    assert msg.labels == ["Yes", "No", "Maybe later"]
    assert msg.buttons[0][0].callback_data == "pick:Yes"
    assert msg.message_id == 2  # the user's /start was message 1 in this private chat
    assert ana.last == msg and ana.inbox == [msg]
    sent = api.calls_to("sendMessage")[-1]
    assert sent.params["chat_id"] == 101 and sent.error is None


async def test_command_with_bot_username_and_echo(env: tuple[LocalBotApi, Application]) -> None:
    api, _ = env
    ben = Person(api, 102, "Ben")
    [msg] = await ben.send("/start@linkpilot_bot")
    assert msg.plain.startswith("Hello Ben")
    [echoed] = await ben.send("just text <not html>")
    assert echoed.text == "just text <not html>" and echoed.parse_mode is None
    assert [m.message_id for m in ben.inbox] == [2, 4]


async def test_message_json_seen_by_ptb(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    Person(api, 103, "Cleo")
    api.started.add(103)
    message = await app.bot.send_message(103, "<b>bold</b> x", parse_mode="HTML")
    assert message.text == "bold x"  # Telegram returns the rendered text with entities
    assert message.entities[0].type == "bold" and message.entities[0].length == 4
    assert message.from_user is not None and message.from_user.id == app.bot.id
    assert message.chat.type == "private" and message.chat.first_name == "Cleo"
    assert message.reply_markup is None


async def test_press_edits_and_removes_keyboard(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    ana = Person(api, 101, "Ana")
    [first] = await ana.send("/start")
    [edited] = await ana.press("maybe")  # unique case-insensitive partial match
    assert edited.message_id == first.message_id
    assert edited.plain == "You chose Maybe later." and edited.edited
    assert not edited.has_buttons  # edit without reply_markup drops the keyboard
    assert ana.last_answer == "You chose Maybe later"
    assert api.callback_answers[-1].show_alert is False
    assert app.user_data[101]["last_message_text"].startswith("Hello Ana")
    assert api.unanswered_queries == {}


async def test_press_errors_are_clear(env: tuple[LocalBotApi, Application]) -> None:
    api, _ = env
    ana = Person(api, 101, "Ana")
    await ana.send("/start")
    with pytest.raises(AssertionError, match=r"no button 'Nope'.*Maybe later"):
        await ana.press("Nope")
    with pytest.raises(AssertionError, match="ambiguous"):
        await ana.press("e")  # "Yes" and "Maybe later"


async def test_forged_press_data(env: tuple[LocalBotApi, Application]) -> None:
    api, _ = env
    ana = Person(api, 101, "Ana")
    [msg] = await ana.send("/start")
    assert await ana.press_data("pick:Admin", msg.message_id) == []
    assert ana.last_answer == "That button has expired."
    assert ana.answers[-1].show_alert is True
    assert ana.last == msg  # untouched


async def test_press_on_deleted_message_gets_inaccessible(
    env: tuple[LocalBotApi, Application],
) -> None:
    api, app = env
    ana = Person(api, 101, "Ana")
    [msg] = await ana.send("/start")
    assert await app.bot.delete_message(101, msg.message_id)
    assert ana.inbox == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await app.bot.delete_message(101, msg.message_id)
    # The handler's edit fails like on Telegram; PTB logs it (no error handler registered).
    await ana.press_data("pick:Yes", msg.message_id)
    assert api.calls_to("editMessageText")[-1].error == "Bad Request: message to edit not found"


async def test_edit_not_modified_and_not_found(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    Person(api, 101, "Ana")
    api.started.add(101)
    kb = _keyboard("A")
    msg = await app.bot.send_message(101, "<b>hi</b>", parse_mode="HTML", reply_markup=kb)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_text(
            "<strong>hi</strong>", 101, msg.message_id, parse_mode="HTML", reply_markup=kb
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_reply_markup(101, msg.message_id, reply_markup=kb)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await app.bot.edit_message_text("x", 101, 999)
    # Same text, keyboard removed: that is a modification.
    edited = await app.bot.edit_message_text("<b>hi</b>", 101, msg.message_id, parse_mode="HTML")
    assert edited.reply_markup is None  # type: ignore[union-attr]
    [state] = api.messages(101)
    assert state.buttons == [] and state.edited
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_reply_markup(101, msg.message_id)
    await app.bot.edit_message_reply_markup(101, msg.message_id, reply_markup=_keyboard("B"))
    assert api.messages(101)[0].labels == ["B"]


async def test_html_and_content_errors(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    Person(api, 101, "Ana")
    api.started.add(101)
    with pytest.raises(BadRequest, match='unsupported start tag "br"'):
        await app.bot.send_message(101, "a<br>b", parse_mode="HTML")
    with pytest.raises(BadRequest, match="can't find end tag"):
        await app.bot.send_message(101, "<b>a", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await app.bot.send_message(101, "<b> </b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await app.bot.send_message(101, "x" * 4097)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await app.bot.send_message(
            101,
            "x",
            reply_markup=InlineKeyboardMarkup.from_button(
                InlineKeyboardButton("x", callback_data="d" * 65)
            ),
        )
    assert api.messages(101) == []


async def test_reply_keyboard_remove_not_echoed(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    Person(api, 101, "Ana")
    api.started.add(101)
    msg = await app.bot.send_message(101, "bye", reply_markup=ReplyKeyboardRemove())
    assert msg.reply_markup is None
    [state] = api.messages(101)
    assert state.reply_markup == {"remove_keyboard": True} and not state.has_buttons


async def test_forbidden_for_never_started_and_blocked(
    env: tuple[LocalBotApi, Application],
) -> None:
    api, app = env
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await app.bot.send_message(555, "hi")
    dana = Person(api, 104, "Dana")
    with pytest.raises(Forbidden, match="can't initiate"):
        await app.bot.send_message(104, "hi")
    [msg] = await dana.send("/start")
    api.block(104)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await app.bot.send_message(104, "hi")
    with pytest.raises(Forbidden, match="blocked"):
        await app.bot.edit_message_text("x", 104, msg.message_id)
    with pytest.raises(AssertionError, match="blocked the bot"):
        await dana.send("hello?")
    api.unblock(104)
    assert (await app.bot.send_message(104, "welcome back")).text == "welcome back"
    assert api.calls_to("sendMessage")[0].error is not None


async def test_block_from_app_sends_my_chat_member(env: tuple[LocalBotApi, Application]) -> None:
    api, _ = env
    blocked_events.clear()
    eve = Person(api, 105, "Eve")
    await eve.send("/start")
    await eve.block()
    await eve.unblock()
    assert blocked_events == ["kicked", "member"]
    assert 105 not in api.blocked


async def test_fail_next_retry_after(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    Person(api, 101, "Ana")
    api.started.add(101)
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as info:
            await app.bot.send_message(101, "hi")
        assert info.value.retry_after == dtm.timedelta(seconds=7)
    assert (await app.bot.send_message(101, "hi")).text == "hi"
    api.fail_next("editMessageText", 400, "Bad Request: message can't be edited")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await app.bot.edit_message_text("x", 101, 1)


async def test_double_answer_and_unknown_query(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    ana = Person(api, 101, "Ana")
    await ana.send("/start")
    await ana.press("Yes")
    qid = api.callback_answers[-1].callback_query_id
    with pytest.raises(BadRequest, match="Query is too old"):
        await app.bot.answer_callback_query(qid, text="again")
    with pytest.raises(BadRequest, match="Query is too old"):
        await app.bot.answer_callback_query("123", text="who?")
    assert [a.text for a in ana.answers] == ["You chose Yes"]


async def test_commands_registered(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    await app.bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("help", "Help")])
    await app.bot.set_my_commands([BotCommand("start", "Anfangen")], language_code="de")
    assert api.commands == [("start", "Begin"), ("help", "Help")]
    assert api.commands_for(language_code="de") == [("start", "Anfangen")]
    assert [c.command for c in await app.bot.get_my_commands()] == ["start", "help"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await app.bot.set_my_commands([BotCommand("Bad-Name", "x")])
    await app.bot.delete_my_commands()
    assert api.commands == []


async def test_misc_methods(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    Person(api, 101, "Ana", username="ana")
    assert await app.bot.delete_webhook()
    assert await app.bot.get_updates(timeout=0) == ()
    api.enqueue(
        {
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "x",
                "chat": api.chat_json(101),
                "from": {"id": 101, "is_bot": False, "first_name": "Ana"},
            }
        }
    )
    [upd] = await app.bot.get_updates(timeout=0)
    assert upd.message is not None and upd.message.text == "x"
    assert await app.bot.get_updates(offset=upd.update_id + 1, timeout=0) == ()
    chat = await app.bot.get_chat(101)
    assert chat.first_name == "Ana" and chat.username == "ana"
    assert await app.bot.set_chat_menu_button()
    # Telegram answers 404 for unknown methods. PTB maps any 404 to InvalidToken, and
    # do_api_request on an initialized bot re-raises that as EndPointNotFound.
    with pytest.raises(EndPointNotFound):
        await app.bot.do_api_request("noSuchMethod")
    with pytest.raises(InvalidToken, match="Not Found"):
        await api.post(f"https://api.telegram.org/bot{api.token}/noSuchMethod")
    assert api.calls[-1].error == "Not Found"


async def test_restart_with_new_application(env: tuple[LocalBotApi, Application]) -> None:
    api, old = env
    ana = Person(api, 101, "Ana")
    [before] = await ana.send("/start")
    app = build_app(api)
    app.add_handler(CallbackQueryHandler(on_pick, pattern=r"^pick:"))
    api.attach(app)
    await app.initialize()
    try:
        [after] = await ana.press("No", before)
        assert after.message_id == before.message_id and after.plain == "You chose No."
    finally:
        await app.shutdown()
        api.attach(old)


async def test_long_polling_smoke(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    api = LocalBotApi()
    app = Application.builder().token(api.token).request(api).get_updates_request(api).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    ana = Person(api, 101, "Ana")
    api.started.add(101)
    api.attach(app)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(timeout=dtm.timedelta(seconds=5))
    api.enqueue({"message": api.message_json(api.record_incoming(101, "ping", []))})
    for _ in range(200):
        if ana.inbox:
            break
        await asyncio.sleep(0.01)
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    assert [m.text for m in ana.inbox] == ["ping"]
    assert api.calls_to("deleteWebhook")  # start_polling clears any webhook first


# --- photos --------------------------------------------------------------------------------------

def _png(text: str = "https://t.me/linkpilot_bot?start=abc") -> bytes:
    import io

    import segno

    out = io.BytesIO()
    segno.make(text).save(out, kind="png", scale=5)
    return out.getvalue()


async def test_send_photo_upload_caption_and_file_id(env: tuple[LocalBotApi, Application]) -> None:
    api, app = env
    ana = Person(api, 101, "Ana")
    await ana.send("/start")
    png = _png()
    width = int.from_bytes(png[16:20], "big")
    msg = await app.bot.send_photo(101, png, caption="A <b>QR</b> code", parse_mode="HTML",
                                   reply_markup=_keyboard("Yes"))
    assert msg.caption == "A QR code" and msg.text is None
    assert [(e.type, e.offset, e.length) for e in msg.caption_entities] == [("bold", 2, 2)]
    assert [(p.width, p.height) for p in msg.photo] == [(90, 90), (width, width)]
    assert len({p.file_unique_id for p in msg.photo}) == 2
    stored = ana.last
    assert stored.photo == png and stored.plain == "A QR code" and stored.labels == ["Yes"]

    # A photo sent before goes again by its file_id; a text edit of a photo is refused.
    again = await app.bot.send_photo(101, msg.photo[-1].file_id)
    assert ana.last.photo == png and again.caption is None
    with pytest.raises(BadRequest, match=r"(?i)no text in the message to edit"):
        await app.bot.edit_message_text("text", chat_id=101, message_id=msg.message_id)
    await app.bot.edit_message_reply_markup(chat_id=101, message_id=msg.message_id)
    assert not api.messages(101)[-2].has_buttons

    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await app.bot.send_photo(101, "AgACAgI-unknown")
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await app.bot.send_photo(101, b"not an image at all")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await app.bot.send_photo(101, png, caption="x" * 1025)
    with pytest.raises(Forbidden, match="can't initiate"):
        await app.bot.send_photo(555, png)
    api.block(101)
    with pytest.raises(Forbidden, match="blocked"):
        await app.bot.send_photo(101, png)
    api.unblock(101)
    api.fail_next("sendPhoto", 429, "Too Many Requests: retry after 5", retry_after=5)
    with pytest.raises(RetryAfter):
        await app.bot.send_photo(101, png)
    assert [m.photo == png for m in ana.inbox] == [False, True, True]  # refused: not stored


async def test_send_photo_over_http_is_a_multipart_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    from telegram import Bot

    from bot.local_api import serve_http

    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    api = LocalBotApi()
    ana = Person(api, 101, "Ana")
    api.started.add(ana.user_id)
    png = _png("over http")
    async with await serve_http(api) as front, Bot(api.token, base_url=front.base_url) as bot:
        msg = await bot.send_photo(101, png, caption="Scan me &amp; smile", parse_mode="HTML")
    assert msg.caption == "Scan me & smile" and msg.photo[-1].file_size == len(png)
    assert ana.last.photo == png
