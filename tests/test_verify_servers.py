"""Where platform logins come back (issue 11): the webhook server in webhook mode, a small
server of the bot's own on OAUTH_LISTEN when long polling. Real servers, real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from bot.app import SECRET_HEADER, build_application, serve, serve_webhook
from bot.local_api import LocalBotApi, Person, serve_http
from bot.settings import Settings
from tests.oauth_double import FACEBOOK_CLIENT, TIKTOK_CLIENT, OAuthDouble
from tests.test_webhook import SECRET, free_port, until
from tests.updates import text_update


def with_logins(settings: Settings, double: OAuthDouble, base: str, **more: object) -> Settings:
    assert double.server is not None
    return settings.model_copy(update={
        "tiktok_client_key": TIKTOK_CLIENT[0], "tiktok_client_secret": TIKTOK_CLIENT[1],
        "facebook_app_id": FACEBOOK_CLIENT[0], "facebook_app_secret": FACEBOOK_CLIENT[1],
        "oauth_redirect_base_url": base,
        "oauth_api_base_url": str(double.server.make_url("")).rstrip("/"), **more})


async def test_in_webhook_mode_logins_come_back_to_the_webhook_server(
        settings: Settings, double: OAuthDouble) -> None:
    api, port = LocalBotApi(), free_port()
    hooked = with_logins(settings, double, f"http://127.0.0.1:{port}",
                         webhook_secret=SECRET, webhook_listen=f"127.0.0.1:{port}")
    app = build_application(hooked, token=api.token, request=api, run_jobs=False)
    api.attach(app)
    stop = asyncio.Event()
    running = asyncio.create_task(serve_webhook(app, stop, handle_signals=False))
    owen = Person(api, 2002, "Owen", "owen_creator")
    try:
        async with httpx.AsyncClient(follow_redirects=True) as client:
            async def post(text: str) -> None:
                while True:
                    assert not running.done(), running
                    try:
                        answer = await client.post(f"http://127.0.0.1:{port}/telegram",
                                                   json=text_update(owen, text),
                                                   headers={SECRET_HEADER: SECRET})
                        assert answer.status_code == 200
                        return
                    except httpx.ConnectError:
                        await asyncio.sleep(0.02)

            await post("/verify @owen.makes")
            await until(lambda: any(b.url for m in owen.inbox for row in m.buttons
                                    for b in row), "the login button")
            url = next(b.url for m in owen.inbox for row in m.buttons for b in row if b.url)
            page = await client.get(url)
            assert page.status_code == 200 and "@owen.makes is verified" in page.text
            assert str(page.url).startswith(f"http://127.0.0.1:{port}/oauth/tiktok?")
            await until(lambda: "is verified as yours" in owen.last.plain, "Owen to be told")
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)


async def test_when_long_polling_the_bot_serves_logins_on_oauth_listen(
        tmp_path: Path, double: OAuthDouble) -> None:
    api = LocalBotApi()
    front = await serve_http(api)
    port = free_port()
    plain = Settings(_env_file=None,  # type: ignore[call-arg]
                     database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
                     telegram_bot_token=None, telegram_api_base_url=front.base_url)
    settings = with_logins(plain, double, "https://bot.example.org",
                           oauth_listen=f"127.0.0.1:{port}")
    app = build_application(settings, token=api.token)
    stop = asyncio.Event()
    running = asyncio.create_task(serve(app, stop, handle_signals=False))
    endpoint = f"http://127.0.0.1:{port}/oauth/tiktok"
    try:
        async with httpx.AsyncClient() as client:
            while True:
                assert not running.done(), running
                try:
                    page = await client.get(endpoint, params={"code": "c", "state": "no.such"})
                    break
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
            assert page.status_code == 400 and "not one Linkpilot gave out" in page.text
    finally:
        stop.set()
        try:
            await asyncio.wait_for(running, 20)
        finally:
            await front.close()
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):  # stopped with the bot
            await client.get(endpoint)
