"""Webhook mode: every request checked for the secret, 200 only once the update is stored, and
several workers on one PostgreSQL database giving exactly what one worker gives."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import SECRET_HEADER, build_application, serve_webhook
from bot.local_api import LocalBotApi, Person, serve_http
from bot.settings import Settings
from storage.repositories import INBOX
from storage.uow import Database
from tests import pg
from tests.updates import JSON, press_update, text_update

SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


# --- one worker, in this process -----------------------------------------------------------------

@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[tuple[LocalBotApi, str]]:
    api = LocalBotApi()
    port = free_port()
    hooked = settings.model_copy(update={
        "webhook_secret": SECRET, "webhook_listen": f"127.0.0.1:{port}",
        "webhook_url": "https://bot.example.org/telegram"})
    app = build_application(hooked, token=api.token, request=api, run_jobs=False)
    api.attach(app)
    stop = asyncio.Event()
    running = asyncio.create_task(serve_webhook(app, stop, handle_signals=False))
    url = f"http://127.0.0.1:{port}/telegram"
    async with httpx.AsyncClient() as client:
        async def listening() -> None:
            while True:
                assert not running.done(), running
                try:
                    await client.post(url)
                    return
                except httpx.ConnectError:
                    await asyncio.sleep(0.02)
        await asyncio.wait_for(listening(), 20)
    try:
        yield api, url
    finally:
        stop.set()
        await asyncio.wait_for(running, 20)


async def test_a_webhook_worker_registers_and_answers(worker: tuple[LocalBotApi, str],
                                                     settings: Settings) -> None:
    api, url = worker
    assert api.webhook == {"url": "https://bot.example.org/telegram", "secret_token": SECRET,
                           "allowed_updates": ["message", "callback_query"]}
    ada = Person(api, 1001, "Ada", "ada_ads")
    async with httpx.AsyncClient() as client:
        refused = await client.post(url, json=text_update(ada, "/link"),
                                    headers={SECRET_HEADER: "wrong"})
        assert refused.status_code == 401
        missing = await client.post(url, json=text_update(ada, "/link"))
        assert missing.status_code == 401
        bad = await client.post(url, content=b"not json", headers={SECRET_HEADER: SECRET})
        assert bad.status_code == 400
        ok = await client.post(url, json=text_update(ada, "/link"),
                               headers={SECRET_HEADER: SECRET})
        assert ok.status_code == 200
        await until(lambda: any("Which platform" in m.plain for m in ada.inbox), "a reply")
    await asyncio.sleep(0.3)
    assert sum("Which platform" in m.plain for m in ada.inbox) == 1  # refused ones did nothing
    db = Database(settings.database_url)
    try:
        async with db.engine.connect() as conn:
            assert len(list(await conn.execute(INBOX.select()))) == 1
    finally:
        await db.dispose()


# --- two worker processes on one PostgreSQL database -------------------------------------------

SCRIPT: list[tuple[str, str]] = [
    ("send", "/link"), ("press", "TikTok"), ("press", "Yes"), ("press", "Yes"), ("press", "Yes"),
    ("send", "Acme Ads"), ("send", "@owen.makes"), ("press", "Use existing posts"),
    ("press", "Continue"), ("send", "/status"),
]


class Workers:
    """`linkpilot run --webhook` processes sharing one database and one Bot API double."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url, self.workdir = database_url, workdir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: list[str] = []

    async def start(self, api_url: str, token: str, names: list[str]) -> None:
        for name in names:  # one after the other: the first applies the migrations
            port = free_port()
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("TELEGRAM_", "DATABASE_URL", "WEBHOOK_", "WORKER_"))}
            env |= {"TELEGRAM_BOT_TOKEN": token, "TELEGRAM_API_BASE_URL": api_url,
                    "DATABASE_URL": self.database_url, "WORKER_ID": name,
                    "WEBHOOK_SECRET": SECRET, "WEBHOOK_LISTEN": f"127.0.0.1:{port}",
                    "PTB_TIMEDELTA": "true", "FLOOD_MESSAGES": "1000"}
            with (self.workdir / f"{name}.log").open("wb") as log:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "bot.cli", "run", "--webhook"], cwd=self.workdir,
                    env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))
            url = f"http://127.0.0.1:{port}/telegram"
            async with httpx.AsyncClient() as client:
                for _ in range(600):
                    assert self.procs[-1].poll() is None, self.log(name)
                    try:
                        await client.post(url)
                        break
                    except httpx.ConnectError:
                        await asyncio.sleep(0.05)
            self.urls.append(url)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


async def walk(urls: list[str], api: LocalBotApi) -> list[str]:
    """Ada's script, her updates sent to the workers in turn; what she sees at the end."""
    ada = Person(api, 1001, "Ada", "ada_ads")
    async with httpx.AsyncClient() as client:
        for n, (kind, what) in enumerate(SCRIPT):
            seen = len(api.touched)
            update: JSON = text_update(ada, what) if kind == "send" else press_update(ada, what)
            posted = await client.post(urls[n % len(urls)], json=update,
                                       headers={SECRET_HEADER: SECRET})
            assert posted.status_code == 200
            await until(lambda seen=seen: len(api.touched) > seen, f"the answer to {what!r}")
            await asyncio.sleep(0.15)  # let the whole reply arrive
    await asyncio.sleep(0.5)
    assert not api.unanswered_queries
    return [m.plain for m in ada.inbox]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_two_workers_give_exactly_what_one_worker_gives(
        database_url: str, tmp_path: Path, postgres: Any) -> None:
    async def run(names: list[str], url: str, where: Path) -> list[str]:
        api = LocalBotApi()
        front = await serve_http(api)
        where.mkdir()
        workers = Workers(url, where)
        try:
            await workers.start(front.base_url, api.token, names)
            return await walk(workers.urls, api)
        finally:
            workers.stop()
            await front.close()
            for name in names:
                assert "Traceback" not in workers.log(name), workers.log(name)

    one = await run(["solo"], database_url, tmp_path / "one")
    other = await pg.create_database(postgres)
    try:
        two = await run(["a", "b"], postgres.url(other), tmp_path / "two")
    finally:
        await pg.drop_database(postgres, other)
    assert two == one
    assert "step 6 of 6" in one[-2].lower() and "Send it to the account owner?" in one[-1]


@pytest.mark.parametrize("backend", ["postgresql"])
async def test_what_another_worker_stores_while_one_holds_the_chat_is_taken_by_that_one(
        settings: Settings) -> None:
    """Worker a is committing Ada's press, her chat's lock held (its commit waits for her
    conversation's row, which another connection holds). Worker b stores her next update
    meanwhile, cannot take the lock and leaves it: a takes it once its commit is through, with
    no sweep to wait for (none runs here)."""
    from sqlalchemy import text

    from bot.app import finish, prepare
    from bot.context import deps_of

    api = LocalBotApi()
    apps = [build_application(settings.model_copy(update={"worker_id": name}), token=api.token,
                              request=api, run_jobs=False) for name in ("a", "b")]
    for app in apps:
        await prepare(app)
    a, b = (deps_of(app).processor for app in apps)
    assert a is not None and b is not None
    try:
        ada = Person(api, 1001, "Ada", "ada_ads")
        api.attach(apps[0], deliver=a.handle)
        await ada.send("/link")
        press, status = press_update(ada, "TikTok"), text_update(ada, "/status")
        seen = len(ada.inbox)
        async with deps_of(apps[0]).db.engine.connect() as conn:
            await conn.execute(text(
                "SELECT 1 FROM conversations WHERE user_id = :u AND flow = 'link' FOR UPDATE"),
                {"u": ada.user_id})
            assert await a.store([press]) == {ada.user_id}
            working = asyncio.create_task(a.drain_chat(ada.user_id))
            # Until a's commit waits for the row, the chat's lock held.
            assert await pg.until_a_lock_is_waited_for(conn, working), \
                "worker a's commit never waited for the row"
            assert await b.store([status]) == {ada.user_id}
            await b.drain_chat(ada.user_id)  # the chat is a's for now
            assert len(ada.inbox) == seen
            await conn.rollback()  # the row is free: a's commit goes through
        await asyncio.wait_for(working, 20)
        assert "check 1 of 3" in ada.inbox[seen].plain  # the press's next question
        assert any("Link request: step 2 of 6" in m.plain for m in ada.inbox[seen:])  # /status
        async with deps_of(apps[0]).db.unit_of_work() as uow:
            assert await uow.inbox.unfinished() == []
    finally:
        for app in apps:
            await finish(app)
