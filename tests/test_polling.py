"""The bot long-polling a Bot API-compatible HTTP server: the issue's "done when".

`LocalBotApi` is served over real HTTP (`serve_http`); the bot talks to it with PTB's own
HTTPXRequest, exactly as it would talk to api.telegram.org or a self-hosted Bot API server, and
two simulated people (`RemotePerson`) reach it only through `getUpdates`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import InvalidToken

from bot.app import build_application, serve
from bot.local_api import HttpFront, LocalBotApi, Person, RemotePerson, SentMessage, serve_http
from bot.settings import Settings


def card_of(person: Person) -> SentMessage:
    """The owner's latest request card."""
    cards = [m for m in person.inbox if "Link request" in m.plain and "asks to use" in m.plain]
    assert cards, "no request card"
    return cards[-1]


async def two_user_approval(ada: RemotePerson, owen: RemotePerson) -> None:
    """Owner claims the account; advertiser asks; owner approves on the card."""
    await owen.send("/claim @owen.makes")
    assert "@owen.makes is now yours" in owen.last.plain

    await ada.send("/link")
    await ada.press("TikTok")
    for _ in range(3):
        await ada.press("Yes")
    await ada.send("Acme Ads")
    await ada.send("@owen.makes")
    await ada.press("Use existing posts")
    await ada.press("Continue")
    summary = ada.last
    assert "Ad account: Acme Ads" in summary.plain
    assert "Account to link: @owen.makes" in summary.plain
    await ada.press("Send request")
    await ada.wait_for(lambda: "Request sent to the owner of @owen.makes" in ada.last.plain,
                       "the request to be sent")

    await owen.wait_for(lambda: any("asks to use" in m.plain for m in owen.inbox), "the card")
    card = card_of(owen)
    assert "Ada (@ada_ads) asks to use your TikTok account @owen.makes" in card.plain
    assert card.labels == ["✅ Approve", "❌ Reject", "What am I allowing?",
                           "🚫 Block this advertiser"]
    await owen.press("Approve", card)
    await ada.wait_for(lambda: "Authorized" in ada.last.plain, "Ada to be told")
    assert owen.last_answer == "Approved."
    assert "Authorized" in ada.last.plain and "Link accounts" in ada.last.plain
    assert not card_of(owen).has_buttons
    assert "✅ Approved" in card_of(owen).plain


def people(api: LocalBotApi) -> tuple[RemotePerson, RemotePerson]:
    ada = RemotePerson(api, 1001, "Ada", "ada_ads")
    return ada, RemotePerson(api, 2002, "Owen", "owen_creator")


# --- the bot in this process, over HTTP ----------------------------------------------------------

async def test_application_long_polls_the_http_front(tmp_path: Path) -> None:
    async def scenario() -> None:
        api = LocalBotApi()
        front = await serve_http(api)
        settings = Settings(_env_file=None,  # type: ignore[call-arg]
                            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                            telegram_bot_token=None, telegram_api_base_url=front.base_url)
        # No request= override: PTB's real HTTPXRequest talks HTTP to the front.
        app = build_application(settings, token=api.token)
        stop = asyncio.Event()
        running = asyncio.create_task(serve(app, stop, handle_signals=False))
        try:
            while not api.pending_polls:
                assert not running.done(), running
                await asyncio.sleep(0.01)
            assert api.calls_to("getMe") and api.calls_to("setMyCommands")
            ada, owen = people(api)
            await two_user_approval(ada, owen)
            assert front.requests > 10
        finally:
            stop.set()
            try:
                await asyncio.wait_for(running, 10)
            finally:
                await front.close()
        assert not api.unanswered_queries
        assert not [c for c in api.calls if c.error], [c for c in api.calls if c.error]

    await asyncio.wait_for(scenario(), 60)


# --- the real `linkpilot` process ----------------------------------------------------------------

async def test_linkpilot_command_long_polls_and_completes_the_flow(tmp_path: Path) -> None:
    api = LocalBotApi()
    front = await serve_http(api)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "DATABASE_URL", "LOG_LEVEL", "REQUEST_EXPIRY"))}
    env |= {
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": front.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
        "PTB_TIMEDELTA": "true",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "linkpilot.log"

    def log() -> str:
        return log_path.read_text(errors="replace")

    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", cwd=tmp_path, env=env,
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        async def polling() -> None:
            # A getUpdates call is recorded when it returns; a long poll is visible while it waits.
            while not (api.pending_polls or api.calls_to("getUpdates")):
                assert proc.returncode is None, f"linkpilot exited {proc.returncode}:\n{log()}"
                await asyncio.sleep(0.05)

        try:
            await asyncio.wait_for(polling(), 60)
        except TimeoutError:
            pytest.fail(f"linkpilot never called getUpdates; its log:\n{log()}")
        ada, owen = people(api)
        await asyncio.wait_for(two_user_approval(ada, owen), 90)

        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = await asyncio.wait_for(proc.wait(), 10)
        stopped_in = time.monotonic() - started
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await front.close()
    assert code == 0, log()
    assert "Traceback" not in log(), log()
    assert stopped_in < 10
    assert api.calls_to("deleteWebhook") and api.calls_to("setMyCommands")
    # run_polling asks only for what the bot handles.
    assert api.calls_to("getUpdates")[-1].params.get("allowed_updates") == [
        "message", "callback_query"]


# --- the HTTP front itself -----------------------------------------------------------------------

async def _same_calls_in_process_and_over_http(exercise: Any) -> tuple[list[Any], list[Any]]:
    """Run ``exercise(bot)`` against a fresh double in-process, then another over HTTP."""
    results = []
    for over_http in (False, True):
        api = LocalBotApi()
        Person(api, 101, "Ana", "ana")
        api.started.add(101)
        front: HttpFront | None = await serve_http(api) if over_http else None
        try:
            bot = (Bot(api.token, base_url=front.base_url) if front is not None
                   else Bot(api.token, request=api, get_updates_request=api))
            async with bot:
                await exercise(bot)
        finally:
            if front is not None:
                await front.close()
        results.append([(c.method, c.params, c.error) for c in api.calls])
    return results[0], results[1]


async def test_parameters_decode_exactly_as_in_process() -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y:1")]])

    async def exercise(bot: Bot) -> None:
        sent = await bot.send_message(101, "42", reply_markup=keyboard, parse_mode="HTML")
        await bot.edit_message_text("true", chat_id=101, message_id=sent.message_id)
        await bot.edit_message_text("[1, 2] & {\"a\": null}", chat_id=101,
                                    message_id=sent.message_id, parse_mode=None)
        await bot.send_message("@ana", "ünïcødé ✅ <b>x</b>\nline 2", disable_notification=True)
        await bot.send_chat_action(101, "typing")
        await bot.set_my_commands([BotCommand("start", "Begin")], language_code="de")
        await bot.get_updates(offset=3, limit=10, timeout=0, allowed_updates=["message"])
        # multipart/form-data: a file part (skipped, as in-process) and a caption
        with pytest.raises(InvalidToken, match="Not Found"):
            await bot.send_document(101, document=b"%PDF-1.4 bytes", filename="a.pdf",
                                    caption="7")

    local, remote = await _same_calls_in_process_and_over_http(exercise)
    assert remote == local
    methods = [m for m, _, _ in remote]
    assert methods == ["getMe", "sendMessage", "editMessageText", "editMessageText",
                       "sendMessage", "sendChatAction", "setMyCommands", "getUpdates",
                       "sendDocument"]
    assert remote[1][1]["text"] == "42" and remote[1][1]["chat_id"] == 101
    assert remote[-1][1] == {"chat_id": 101, "caption": "7"}


async def test_http_semantics() -> None:
    api = LocalBotApi()
    Person(api, 101, "Ana")
    api.started.add(101)
    front = await serve_http(api)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            r = await client.get(f"{front.url}/getMe")
            assert r.status_code == 200 and r.json()["result"]["username"] == "linkpilot_bot"
            r = await client.post(f"{front.base_url}123:{'B' * 35}/getMe")
            assert r.status_code == 401
            assert r.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
            r = await client.post(f"{front.url}/noSuchMethod")
            assert r.status_code == 404 and r.json()["description"] == "Not Found"
            r = await client.get(f"http://{front.host}:{front.port}/elsewhere")
            assert r.status_code == 404
            # JSON bodies and query strings work too; errors keep Telegram's status and JSON.
            r = await client.post(f"{front.url}/sendMessage", json={"chat_id": 101, "text": "hi"})
            assert r.status_code == 200 and r.json()["result"]["text"] == "hi"
            r = await client.get(f"{front.url}/sendMessage", params={"chat_id": 999, "text": "x"})
            assert r.status_code == 403 and r.json()["ok"] is False
            r = await client.post(f"{front.url}/sendMessage", data={"chat_id": "101", "text": ""})
            assert r.status_code == 400
            assert r.json()["description"] == "Bad Request: message text is empty"
            api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
            r = await client.post(f"{front.url}/sendMessage", data={"chat_id": 101, "text": "x"})
            assert r.status_code == 429 and r.json()["parameters"] == {"retry_after": 3}

            # A long poll returns as soon as an update is queued...
            asyncio.get_running_loop().call_later(
                0.2, api.enqueue, {"message": api.message_json(api.record_incoming(101, "a", []))})
            started = time.monotonic()
            r = await client.post(f"{front.url}/getUpdates", data={"timeout": 5})
            assert [u["message"]["text"] for u in r.json()["result"]] == ["a"]
            assert 0.15 < time.monotonic() - started < 2
            # ...or empty when its timeout runs out.
            last = r.json()["result"][-1]["update_id"]
            started = time.monotonic()
            r = await client.post(f"{front.url}/getUpdates",
                                  data={"offset": last + 1, "timeout": 0.3})
            assert r.json() == {"ok": True, "result": []}
            assert 0.25 < time.monotonic() - started < 2

        # A client that gives up on a long poll does not leave it waiting on the server.
        async with httpx.AsyncClient(timeout=5) as client:
            poll = asyncio.ensure_future(
                client.post(f"{front.url}/getUpdates", data={"timeout": 30}))
            await _until(lambda: bool(api.pending_polls))
            poll.cancel()
            with pytest.raises(asyncio.CancelledError):
                await poll
        await _until(lambda: not api.pending_polls)
    finally:
        await front.close()
    assert not front._connections


async def test_close_drops_pending_long_polls() -> None:
    api = LocalBotApi()
    front = await serve_http(api)
    async with httpx.AsyncClient(timeout=5) as client:
        poll = asyncio.ensure_future(client.post(f"{front.url}/getUpdates", data={"timeout": 30}))
        await _until(lambda: bool(api.pending_polls))
        started = time.monotonic()
        await front.close()
        with pytest.raises(httpx.HTTPError):
            await poll
        assert time.monotonic() - started < 2
    assert not api.pending_polls


async def _until(predicate: Any, timeout: float = 5) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)
