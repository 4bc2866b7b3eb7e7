"""Keyboards go into the outbox as the Bot API's JSON (`bot.keyboards.markup_json`), built
without PTB's generic serialiser on the hot path: what is stored must be exactly what PTB would
have sent, or buttons would change meaning between owing a message and sending it."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton as Button
from telegram import InlineKeyboardMarkup, LoginUrl, WebAppInfo

from bot import keyboards
from flows.link_flow import Position, S


def flow_keyboards() -> list[InlineKeyboardMarkup]:
    made = []
    for state, data in [(S.PLATFORM, {}), (S.PREREQUISITE, {"platform": "tiktok"}),
                        (S.SUMMARY, {"platform": "tiktok"})]:
        markup = keyboards.flow_keyboard(Position(state, data), 3)
        assert markup is not None
        made.append(markup)
    return made


@pytest.mark.parametrize("markup", [
    *flow_keyboards(),
    keyboards.owner_card("k1"),
    keyboards.link_card("tok"),
    InlineKeyboardMarkup([[Button("Open", url="https://example.com/a?b=1")],
                          [Button("Share", switch_inline_query="spark"),
                           Button("Here", switch_inline_query_current_chat="")]]),
    # Fields that are objects or flags go through PTB's own serialiser.
    InlineKeyboardMarkup([[Button("App", web_app=WebAppInfo("https://example.com/app")),
                           Button("Log in", login_url=LoginUrl("https://example.com/login"))]]),
    InlineKeyboardMarkup([[Button("Pay", pay=True), Button("Ünïcode ✓", callback_data="x:é")]]),
    InlineKeyboardMarkup([[Button("New", callback_data="n", api_kwargs={"style": "primary"})]]),
], ids=lambda m: str(m.inline_keyboard[0][0].text))
def test_a_keyboard_is_stored_as_ptb_would_send_it(markup: InlineKeyboardMarkup) -> None:
    assert keyboards.markup_json(markup) == markup.to_dict()


def test_no_keyboard_is_stored_as_none() -> None:
    assert keyboards.markup_json(None) is None
