"""Raw updates as Telegram delivers them, built for a simulated person without handing them to
the bot (tests that post them over HTTP or queue them for getUpdates themselves)."""

from __future__ import annotations

from typing import Any

from bot.local_api import Person

JSON = dict[str, Any]


def press_update(person: Person, label: str) -> JSON:
    """The callback query a press of `label` sends (to enqueue without waiting for the bot)."""
    data, message_id = person._button(label)
    stored = person.api.find(person.user_id, message_id)
    assert stored is not None
    return {"update_id": person.api.next_update_id(), "callback_query": {
        "id": person.api.new_query(person.user_id), "from": person.user,
        "message": person.api.message_json(stored), "data": data,
        "chat_instance": str(person.user_id)}}


def text_update(person: Person, text: str) -> JSON:
    api = person.api
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] \
        if text.startswith("/") else []
    api.started.add(person.user_id)
    stored = api.record_incoming(person.user_id, text, entities)
    return {"update_id": api.next_update_id(), "message": api.message_json(stored)}
