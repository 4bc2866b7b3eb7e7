"""Approval by QR code: the one-time approval link as an image, sent as a photo through the
outbox, its token issued when the image is made.

The real Application, a real database (SQLite and PostgreSQL) and the Bot API double; the photo
Telegram received is decoded back with a QR reader of its own (zxing-cpp), never with segno.
"""

from __future__ import annotations

import io
import re

import pytest
import zxingcpp
from PIL import Image

from bot import texts
from bot.local_api import Person, SentMessage
from tests.conftest import BACKENDS, Clock, World, send_request
from tests.test_delivery import FAULTS, card_of, owed, settle_all, statuses


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


LINK = re.compile(r"^https://t\.me/linkpilot_bot\?start=([\w-]+)$")


def decode(photo: bytes) -> str:
    """The text of the one QR code in a PNG, as a phone's camera would read it."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(photo)))
    assert [f.format for f in found] == [zxingcpp.BarcodeFormat.QRCode]
    return found[0].text


def photos(person: Person) -> list[SentMessage]:
    return [m for m in person.inbox if m.photo is not None]


def token_of(photo: SentMessage) -> str:
    assert photo.photo is not None
    m = LINK.match(decode(photo.photo))
    assert m, "not an approval link"
    return m.group(1)


def link_token(person: Person) -> str:
    message = next(m for m in reversed(person.inbox) if "?start=" in m.plain and not m.photo)
    return message.plain.split("?start=")[1].split()[0]


async def test_the_qr_code_from_accounts_is_a_working_approval_link(
        world: World, ada: Person, owen: Person, eve: Person) -> None:
    await send_request(ada)  # unclaimed: Ada gets a link to forward
    old = link_token(ada)
    await ada.send("/accounts")
    assert "QR code @owen.makes" in ada.last.labels
    [photo] = await ada.press("QR code @owen.makes")
    assert photo.photo is not None and photo == photos(ada)[-1]
    assert "scans it with their phone's camera" in photo.plain
    assert "any earlier link or QR code no longer works" in photo.plain
    assert "expires on 29 Nov 2026, 12:00 UTC" in photo.plain
    token = token_of(photo)
    assert token != old and f"?start={token}" in photo.plain  # the caption carries the link

    await owen.send(f"/start {old}")
    assert owen.last.plain == texts.LINK_INVALID  # one live token per request
    await ada.send(f"/start {token}")
    assert "can't approve it yourself" in ada.last.plain
    await owen.send(f"/start {token}")
    await owen.press("Approve", card_of(owen))
    assert await statuses(world) == ["authorized"]
    assert "Authorized" in ada.last.plain
    await eve.send(f"/start {token}")
    assert eve.last.plain == texts.LINK_INVALID


async def test_the_link_message_sends_itself_as_a_qr_code(
        world: World, ada: Person, owen: Person) -> None:
    await send_request(ada)
    link = ada.last
    assert "one-time approval link" in link.plain and link.labels == [texts.SEND_AS_QR]
    await ada.press(texts.SEND_AS_QR, link)
    first = token_of(photos(ada)[-1])
    await ada.press(texts.SEND_AS_QR, link)  # again: a new code, the first one dies
    second = token_of(photos(ada)[-1])
    assert first != second and len(photos(ada)) == 2
    await owen.send(f"/start {first}")
    assert owen.last.plain == texts.LINK_INVALID
    await owen.send(f"/start {second}")
    await owen.press("Reject", card_of(owen))
    assert await statuses(world) == ["rejected"]


async def test_only_the_requester_gets_a_code_and_only_while_it_waits(
        world: World, clock: Clock, ada: Person, owen: Person, eve: Person) -> None:
    await send_request(ada)
    link = ada.last
    data = next(b.callback_data for row in link.buttons for b in row)
    assert data is not None and data.endswith(":q")
    await eve.send("/help")
    await eve.press_data(data, eve.last.message_id)  # a forged press from a stranger
    assert eve.last_answer == texts.refusal("gone")
    await owen.send("/claim owen.makes")  # the owner claims: still Ada's, still pending
    await ada.press(texts.SEND_AS_QR, link)
    assert len(photos(ada)) == 1 and photos(eve) == []

    await ada.send("/accounts")
    await ada.press("Cancel @owen.makes")
    await ada.press(texts.SEND_AS_QR, link)  # decided: refused, the button taken off
    assert ada.last_answer == texts.refusal("gone")
    assert not next(m for m in ada.inbox if m.message_id == link.message_id).has_buttons
    assert len(photos(ada)) == 1
    assert [c for c in world.api.calls_to("sendPhoto") if c.error] == []


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
async def test_a_fault_on_send_photo_is_retried_and_the_code_arrives_once(
        world: World, clock: Clock, ada: Person, owen: Person, eve: Person, fault: str) -> None:
    await send_request(ada)
    world.api.fail_next("sendPhoto", chat_id=ada.user_id, **FAULTS[fault])  # type: ignore[arg-type]
    await ada.press(texts.SEND_AS_QR, ada.last)
    assert photos(ada) == []
    await eve.send("/help")  # everyone else is served meanwhile
    assert "/link" in eve.last.plain

    await settle_all(world, clock)
    [photo] = photos(ada)
    assert await owed(world) == []
    await owen.send(f"/start {token_of(photo)}")  # the token issued by the try that got through
    await owen.press("Approve", card_of(owen))
    assert await statuses(world) == ["authorized"]
