"""`linkpilot chat`: the real handlers in a terminal, across restarts of the chat itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from bot import qr, texts
from bot.chat import run_chat
from bot.settings import Settings


async def chat(settings: Settings, capsys: pytest.CaptureFixture[str], *lines: str) -> str:
    capsys.readouterr()
    feed: Iterator[str] = iter(lines)
    await run_chat(settings, feed)
    return capsys.readouterr().out


async def test_the_owner_stays_reachable_after_a_restart(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    await chat(settings, capsys, ":owner", "/claim @owen.makes", ":quit")
    out = await chat(settings, capsys,  # a new `linkpilot chat` on the same database
                     "/link", "1", "1", "1", "1", "Acme Ads", "@owen.makes", "1", "3", "1",
                     ":quit")
    assert "[to Owen]" in out and "asks to use your TikTok account @owen.makes" in out
    assert "one-time approval link" not in out  # not treated as unreachable


async def test_a_popup_is_shown_once(settings: Settings,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = await chat(settings, capsys, "/link", "1", "1", "1", "1", "Acme Ads", "@owen.makes",
                     "3", "/help", ":quit")  # Continue with no permission ticked
    assert out.count("(popup)") == 1  # not repeated after /help
    assert "(popup) Please select at least one permission" in out


async def test_the_terminal_chat_draws_the_qr_code(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    out = await chat(settings, capsys, "/link", "1", "1", "1", "1", "Acme Ads", "@owen.makes",
                     "1", "3", "1", "1", ":quit")  # sent (unclaimed), then Send as QR code
    assert f"[1] {texts.SEND_AS_QR}" in out
    shown = out[out.index("(photo)"):]
    link = re.search(r"https://t\.me/linkpilot_bot\?start=[\w-]+", shown)
    assert link is not None and "as a QR code" in shown
    drawn = "\n".join(f"  {line}" for line in qr.terminal(link.group(0)).splitlines())
    assert drawn in shown
