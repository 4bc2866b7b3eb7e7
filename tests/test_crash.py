"""Crash tests on the real `linkpilot` process: killed with SIGKILL at the worst moments, started
again, and every promise still kept exactly once.

The bot long-polls the Bot API double over real HTTP, as it would poll Telegram. LINKPILOT_CRASH_AT
makes the process kill itself at a named point: right after a batch of updates is stored (before
Telegram is told it arrived), or right after an update's transaction committed and before any of
the messages it owes was sent.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.local_api import HttpFront, LocalBotApi, RemotePerson, serve_http
from tests.updates import press_update, text_update

JSON = dict[str, Any]


class BotProcess:
    """`python -m bot.cli run` against the double, on one database file, started as often as a
    test likes."""

    def __init__(self, api: LocalBotApi, front: HttpFront, workdir: Path) -> None:
        self.api, self.front, self.workdir = api, front, workdir
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = workdir / "linkpilot.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, crash_at: str | None = None) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TELEGRAM_", "DATABASE_URL", "LOG_LEVEL", "LINKPILOT_"))}
        env |= {
            "TELEGRAM_BOT_TOKEN": self.api.token,
            "TELEGRAM_API_BASE_URL": self.front.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.workdir / 'bot.db'}",
            "PTB_TIMEDELTA": "true",
            "PYTHONUNBUFFERED": "1",
            "FLOOD_MESSAGES": "1000",
        }
        if crash_at:
            env["LINKPILOT_CRASH_AT"] = crash_at
        polls = len(self.api.calls_to("getUpdates"))
        with self.log_path.open("ab") as log_file:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.workdir, env=env,
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT)
        await self.until(lambda: bool(self.api.pending_polls)
                         or len(self.api.calls_to("getUpdates")) > polls,
                         "the bot to poll", allow_exit=crash_at is not None)

    async def until(self, predicate: Callable[[], bool], what: str, timeout: float = 30,
                    allow_exit: bool = False) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if self.proc is not None and self.proc.returncode is not None and not allow_exit:
                raise AssertionError(f"linkpilot exited {self.proc.returncode} waiting for "
                                     f"{what}:\n{self.log()}")
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.log()}")
            await asyncio.sleep(0.02)

    async def killed(self) -> None:
        """Wait for the process to kill itself at its crash point."""
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), 30)
        assert code == -signal.SIGKILL, f"exit {code}, not SIGKILL:\n{self.log()}"

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(self.proc.wait(), 15)
            assert code == 0, self.log()


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotProcess]:
    api = LocalBotApi()
    front = await serve_http(api)
    process = BotProcess(api, front, tmp_path)
    try:
        yield process
    finally:
        if process.proc is not None and process.proc.returncode is None:
            process.proc.kill()
            await process.proc.wait()
        await front.close()


def count(person: RemotePerson, marker: str) -> int:
    return sum(marker in m.plain for m in person.inbox)


async def request_to_owen(ada: RemotePerson, owen: RemotePerson) -> None:
    await owen.send("/claim @owen.makes")
    await ada.send("/link")
    await ada.press("TikTok")
    for _ in range(3):
        await ada.press("Yes")
    await ada.send("Acme Ads")
    await ada.send("@owen.makes")
    await ada.press("Use existing posts")
    await ada.press("Continue")


async def sent(ada: RemotePerson, owen: RemotePerson) -> None:
    await request_to_owen(ada, owen)
    await ada.press("Send request")
    await owen.wait_for(lambda: count(owen, "asks to use") == 1, "the card")


async def approved(ada: RemotePerson, owen: RemotePerson) -> None:
    await sent(ada, owen)
    await owen.press("Approve")
    await ada.wait_for(lambda: count(ada, "Authorized") == 1, "the approval")


Step = Callable[[RemotePerson, RemotePerson], Awaitable[None]]
Trigger = Callable[[RemotePerson, RemotePerson], Awaitable[JSON]]


async def _send(ada: RemotePerson, owen: RemotePerson) -> JSON:
    return press_update(ada, "Send request")


async def _approve(ada: RemotePerson, owen: RemotePerson) -> JSON:
    return press_update(owen, "Approve")


async def _reject(ada: RemotePerson, owen: RemotePerson) -> JSON:
    return press_update(owen, "Reject")


async def _cancel(ada: RemotePerson, owen: RemotePerson) -> JSON:
    await ada.send("/accounts")
    return press_update(ada, "Cancel @owen.makes")


async def _revoke(ada: RemotePerson, owen: RemotePerson) -> JSON:
    await owen.send("/owned")
    await owen.press("Revoke")
    return press_update(owen, "Yes, revoke")


CASES: list[tuple[str, Step, Trigger, str, str]] = [
    # (kind owed by the killed update, set-up, the update, who is owed, how it reads)
    ("owner_card", request_to_owen, _send, "owen", "asks to use"),
    ("approved_for_advertiser", sent, _approve, "ada", "Authorized"),
    ("rejected_for_advertiser", sent, _reject, "ada", "rejected your request"),
    ("cancelled_for_owner", sent, _cancel, "owen", "cancelled their request"),
    ("revoked_for_advertiser", approved, _revoke, "ada", "withdrew their approval"),
]


@pytest.mark.parametrize(("kind", "setup", "trigger", "to", "marker"), CASES,
                         ids=[c[0] for c in CASES])
async def test_killed_after_the_commit_and_before_the_send(
        bot: BotProcess, kind: str, setup: Step, trigger: Trigger, to: str,
        marker: str) -> None:
    ada = RemotePerson(bot.api, 1001, "Ada", "ada_ads")
    owen = RemotePerson(bot.api, 2002, "Owen", "owen_creator")
    target = {"ada": ada, "owen": owen}[to]
    await bot.start()
    await setup(ada, owen)
    await bot.stop()

    await bot.start(crash_at=f"after_commit:{kind}")
    before = count(target, marker)
    bot.api.enqueue(await trigger(ada, owen))
    await bot.killed()
    assert count(target, marker) == before, "sent before the crash point"

    await bot.start()
    await bot.until(lambda: count(target, marker) == before + 1, f"the {kind} after restart")
    await asyncio.sleep(1.0)  # a second copy would have arrived by now
    assert count(target, marker) == before + 1
    await bot.stop()
    assert "Traceback" not in bot.log(), bot.log()


async def test_killed_with_a_fetched_backlog_answers_every_update_once(bot: BotProcess) -> None:
    people = [RemotePerson(bot.api, 5000 + i, f"P{i}") for i in range(100)]
    for _ in range(3):
        for person in people:
            bot.api.enqueue(text_update(person, "/help"))
    await bot.start(crash_at="after_store")  # stores the first fetched batch, then dies
    await bot.killed()
    assert not any(person.inbox for person in people)

    await bot.start()
    await bot.until(lambda: all(count(p, "/link") >= 3 for p in people), "300 answers", 60)
    await asyncio.sleep(1.0)
    assert [count(p, "/link") for p in people] == [3] * 100, [m.plain[:60] for m in people[0].inbox]
    await bot.stop()
