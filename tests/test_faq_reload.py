"""The running bot answers from what `linkpilot kb learn` and `kb load` store, without a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from bot.cli import kb_learn, kb_load
from bot.local_api import Person
from storage.knowledge import BUNDLED_KB
from tests.conftest import BACKENDS, World


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


QUESTION = "what is the deal with that square barcode thing for the creator"
ENTRY = "tiktok-qr-code-approval"


async def test_a_learned_phrasing_is_answered_by_the_running_bot(
        world: World, ada: Person) -> None:
    title = world.deps.faq.entry(ENTRY).title  # type: ignore[union-attr]
    await ada.send(QUESTION)
    before = ada.last
    assert title not in before.plain.split("\n")[0]  # not answered (offered or declined)
    # The operator's command, run beside the bot as another process would (own connection).
    said = await asyncio.to_thread(kb_learn, world.settings, ENTRY, QUESTION)
    assert "1 logged asks settled" in said
    await ada.send(QUESTION)
    assert ada.last.plain.split("\n")[0] == title  # answered outright, no restart
    await ada.send("What's the weather in Paris tomorrow?")  # the rest still works
    assert "don't know the answer" in ada.last.plain


async def test_a_question_learned_twice_in_one_tick_is_still_seen(
        world: World, ada: Person) -> None:
    # The bot's clock stands still in tests: the store's revision moves forward anyway.
    other = "how does the creator scan the thing we send"
    for question in (QUESTION, other):
        async with world.deps.db.unit_of_work() as uow:
            await uow.knowledge.learn(question, ENTRY, world.deps.clock())
            await uow.commit()
        await ada.send(question)
        assert ada.last.plain.startswith(world.deps.faq.entry(ENTRY).title)  # type: ignore[union-attr]


async def test_a_reloaded_knowledge_base_file_is_answered_by_the_running_bot(
        world: World, ada: Person, tmp_path: Path) -> None:
    document = yaml.safe_load(BUNDLED_KB.read_text(encoding="utf-8"))
    entry = next(e for e in document["entries"] if e["id"] == ENTRY)
    entry["title"] = "Approving by scanning a QR code (retitled)"
    path = tmp_path / "faq.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    await ada.send("/faq")
    said = await asyncio.to_thread(kb_load, world.settings, path)
    assert "1 updated" in said
    await ada.send("/faq qr code approval")
    assert "(retitled)" in ada.last.plain
