"""`linkpilot chat` with Meta requests: numbers that are no button's (a Business ID, a Page ID,
a number of days) are typed, not refused as buttons."""

from __future__ import annotations

import pytest

from bot.chat import run_chat
from bot.settings import Settings


async def test_a_facebook_page_request_typed_in_the_terminal(
        settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    lines = iter([
        ":owner", "/claim facebook Acme.Shoes", ":advertiser",
        "/link", "3", "1", "1", "1", "1",  # Facebook Page, four Yes
        "Acme Ads", "1234567890123456", "100064212345678",
        "6", "8",  # Insights, Continue
        "12",  # 12 days, typed
        ":quit",
    ])
    await run_chat(settings, lines)
    out = capsys.readouterr().out
    assert "Agency's Business ID: 1234567890123456" in out
    assert "Account to link: Page ID 100064212345678" in out
    assert "Access: 12 days from approval" in out and "Permissions: Insights" in out
    assert "(no such button)" not in out
