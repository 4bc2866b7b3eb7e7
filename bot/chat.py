"""`linkpilot chat`: the real handlers in a terminal, with no token and no network.

The bot talks to the in-process Bot API double instead of Telegram. You speak as one of two
people (an advertiser and an account owner) and switch between them, so one person can play a
whole approval.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any

from bot import qr
from bot.app import build_application, finish, prepare
from bot.context import deps_of
from bot.local_api import LocalBotApi, Person, SentMessage
from bot.settings import Settings

HELP = """\
Type a message or a /command as the current person. A number presses that button of the
latest message with buttons. Pasting a t.me approval link opens it.
  :advertiser / :owner   speak as Ada (advertiser) or Owen (account owner)
  :inbox                 show the current person's messages again
  :help                  this text          :quit  leave (Ctrl-D works too)"""

_DEEP_LINK = re.compile(r"^(?:https?://)?t\.me/\w+\?start=([\w-]+)$")
_LINK_IN_TEXT = re.compile(r"(?:https?://)?t\.me/\w+\?start=[\w-]+")


@dataclass
class Seat:
    """One person at the terminal and the buttons they can press by number."""

    name: str
    person: Person
    buttons: list[tuple[int, str]]  # (message_id, label), numbered from 1


def show(seats: dict[str, Seat], current: str, api: LocalBotApi, mark: int,
         answers_mark: int) -> None:
    """Print every message sent or edited since `mark`, for everyone, with numbered buttons,
    and the popup a press since `answers_mark` showed (once)."""
    for seat in seats.values():
        ids = api.touched_since(mark, seat.person.user_id)
        messages = {m.message_id: m for m in seat.person.inbox}
        for message_id in ids:
            if message_id in messages:
                _print_message(seat, messages[message_id], seat.name != current)
    for answer in api.callback_answers[answers_mark:]:
        if answer.text and answer.user_id == seats[current].person.user_id:
            print(f"  (popup) {answer.text}")


def _print_message(seat: Seat, message: SentMessage, elsewhere: bool) -> None:
    head = f"[to {seat.person.user['first_name']}]" if elsewhere else "[bot]"
    edited = " (edited)" if message.edited else ""
    print(f"\n{head}{edited}")
    if message.photo is not None:
        # The terminal can't show the image; a QR code's caption carries its link, drawn here
        # as the same code in block characters (scannable from the screen).
        link = _LINK_IN_TEXT.search(message.plain)
        print("  (photo)")
        if link:
            for line in qr.terminal(link.group(0)).splitlines():
                print(f"  {line}")
    for line in message.plain.splitlines():
        print(f"  {line}")
    if message.has_buttons:
        seat.buttons = [(message.message_id, label) for label in message.labels]
        print("  " + "  ".join(f"[{i}] {label}" for i, (_, label) in enumerate(seat.buttons, 1)))


class Keyboard:
    """Lines typed at the terminal, read ahead by a daemon thread so Ctrl-C never waits for Enter.

    Not asyncio.to_thread(input): a blocked read can't be interrupted and asyncio.run waits for
    its executor's threads on the way out, so the chat hung after Ctrl-C until Enter. Nor
    input() on a thread of our own: on a pipe it holds sys.stdin's lock, and a daemon thread
    holding that lock while the interpreter exits is a fatal error. So: read file descriptor 0.
    """

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()  # None: end of input
        threading.Thread(target=self._read, name="chat-keyboard", daemon=True).start()

    async def line(self, prompt: str) -> str:
        """The next line, after showing `prompt`; EOFError at the end of input (Ctrl-D)."""
        print(prompt, end="", flush=True)
        text = await self._lines.get()
        if text is None:
            raise EOFError
        return text

    def _read(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        while True:
            try:
                chunk = os.read(sys.stdin.fileno(), 4096)
            except (OSError, ValueError, AttributeError):  # closed, or no stdin at all
                chunk = b""
            pending += decoder.decode(chunk, final=not chunk)
            *complete, pending = pending.split("\n")
            for text in complete:
                self._put(text.rstrip("\r"))
            if not chunk:
                if pending:
                    self._put(pending)
                self._put(None)
                return

    def _put(self, text: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: the chat is over
            self._loop.call_soon_threadsafe(self._lines.put_nowait, text)


async def run_chat(settings: Settings, lines: Any = None) -> None:
    """Run the chat loop; `lines` (an iterator of input lines) replaces the keyboard in tests."""
    api = LocalBotApi()
    application = build_application(settings, token=api.token, request=api, run_jobs=True,
                                    alone=True)
    deps = deps_of(application)
    assert deps.processor is not None and deps.dispatcher is not None
    api.attach(application, deliver=deps.processor.handle)
    await prepare(application)
    await application.start()
    seats = {
        "advertiser": Seat("advertiser", Person(api, 1001, "Ada", "ada_ads"), []),
        "owner": Seat("owner", Person(api, 2002, "Owen", "owen_creator"), []),
    }
    async with deps.db.unit_of_work() as uow:
        api.continue_update_ids(await uow.inbox.last_id() or 0)
        for seat in seats.values():
            # Telegram remembers who has started the bot; so does the database, across runs.
            if await uow.users.get(seat.person.user_id) is not None:
                api.started.add(seat.person.user_id)
    stop = asyncio.Event()
    sender = asyncio.create_task(deps.dispatcher.run_forever(stop))
    current = "advertiser"
    keyboard = Keyboard() if lines is None else None
    print(f"Linkpilot chat, database {settings.database_url}\n{HELP}\n")
    print("You are Ada, an advertiser. Try /link; Owen can /claim @his_handle first.")
    try:
        while True:
            prompt = f"{seats[current].person.user['first_name']}> "
            try:
                text = next(lines) if keyboard is None else await keyboard.line(prompt)
            except (EOFError, StopIteration):
                print()  # Ctrl-D leaves the cursor after the prompt
                break
            except asyncio.CancelledError:
                print()  # Ctrl-C: asyncio.run cancels us; say goodbye below, then stop
                raise
            text = text.strip()
            if not text:
                continue
            if text in (":quit", ":q", ":exit"):
                break
            if text in (":advertiser", ":owner"):
                current = text[1:]
                print(f"(now speaking as {seats[current].person.user['first_name']})")
                continue
            if text == ":help":
                print(HELP)
                continue
            seat = seats[current]
            if text == ":inbox":
                for message in seat.person.inbox:
                    _print_message(seat, message, False)
                continue
            mark, answers_mark = len(api.touched), len(api.callback_answers)
            if text.isdigit() and 1 <= int(text) <= len(seat.buttons):
                message_id, label = seat.buttons[int(text) - 1]
                target = next((m for m in seat.person.inbox if m.message_id == message_id), None)
                try:
                    await seat.person.press(label, target)
                except AssertionError:  # its message lost its buttons meanwhile
                    print("  (that button is gone)")
                    continue
            else:
                # Other text, and numbers no button has (a Business ID, a Page ID, a number
                # of days) are typed messages.
                link = _DEEP_LINK.match(text)
                await seat.person.send(f"/start {link.group(1)}" if link else text)
            show(seats, current, api, mark, answers_mark)
    finally:
        stop.set()
        await sender
        await application.stop()
        await finish(application)
        print("bye")
