"""An in-process double of the Telegram Bot API, for tests and the terminal chat mode.

Only the far side of the network is faked: a real :class:`telegram.ext.Application` and a real
:class:`telegram.Bot` send their requests to :class:`LocalBotApi` (a PTB ``BaseRequest``) instead
of HTTP. It answers with Bot API JSON, errors included, so PTB raises its real exceptions
(``Forbidden``, ``BadRequest``, ``RetryAfter``...). :class:`Person` plays a Telegram user: it
builds real ``Update`` objects, feeds them to ``application.process_update`` and reports what the
user would now see.

Known simplifications: private chats only; HTML is parsed like Telegram does (``can't parse
entities`` errors included) but Markdown modes are not parsed; of media, photos only (sent as an
upload or by a ``file_id`` the double issued); no inline mode or groups.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    from telegram.ext import Application

JSON = dict[str, Any]

__all__ = [
    "ApiCall",
    "Button",
    "CallbackAnswer",
    "HttpFront",
    "LocalBotApi",
    "Person",
    "RemotePerson",
    "SentMessage",
    "decode_form",
    "serve_http",
]

_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ESCAPES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTR = re.compile(r"""([a-zA-Z][\w-]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are"
    " exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error reply (raised inside the double, turned into a JSON error response)."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


def _u16(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def render(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """Turn message text into Telegram's ``(plain text, entities)`` the way the server does.

    Only HTML is interpreted; a malformed or unsupported tag raises the 400 Telegram returns.
    """
    if (parse_mode or "").upper() != "HTML":
        return text, []

    def fail(why: str) -> ApiError:
        return ApiError(400, f"Bad Request: can't parse entities: {why}")

    out: list[str] = []
    entities: list[JSON] = []
    stack: list[tuple[str, JSON, int]] = []  # (tag, entity, start offset in UTF-16 units)
    pos, i = 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            at = len(text[:i].encode())
            end = text.find(">", i)
            if end < 0:
                raise fail(f"Unclosed start tag at byte offset {at}")
            inner = text[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise fail(f"Unexpected end tag at byte offset {at}")
                tag, opened, start = stack.pop()
                if name != tag:
                    raise fail(
                        f'Unmatched end tag at byte offset {at}, expected "</{tag}>", '
                        f'found "</{name}>"'
                    )
                if pos > start and opened:
                    entities.append({**opened, "offset": start, "length": pos - start})
            else:
                m = re.match(r"[a-zA-Z][a-zA-Z0-9-]*", inner)
                name = m.group(0).lower() if m else ""
                attrs = {k.lower(): a or b or c for k, a, b, c in _ATTR.findall(inner[len(name) :])}
                kind = _TAGS.get(name)
                if kind is None or (name == "span" and attrs.get("class") != "tg-spoiler"):
                    raise fail(f'Unsupported start tag "{name}" at byte offset {at}')
                entity: JSON = {"type": kind}
                if name == "a":
                    if not attrs.get("href"):
                        entity = {}  # Telegram keeps the text of an <a> without href, unlinked
                    else:
                        entity["url"] = attrs["href"]
                elif name == "blockquote" and "expandable" in attrs:
                    entity["type"] = "expandable_blockquote"
                elif name == "tg-emoji":
                    entity["custom_emoji_id"] = attrs.get("emoji-id", "")
                elif name == "code" and stack and stack[-1][0] == "pre":
                    lang = attrs.get("class", "")
                    if lang.startswith("language-"):
                        stack[-1][1]["language"] = lang.removeprefix("language-")
                    entity = {}  # <pre><code> is a single pre entity
                stack.append((name, entity, pos))
            i = end + 1
            continue
        if ch == "&":
            m = re.match(r"&(#\d+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);", text[i:])
            if m and (m.group(1)[0] == "#" or m.group(1) in _ESCAPES):
                ref = m.group(1)
                base = 16 if ref[:2] in ("#x", "#X") else 10
                code = int(ref.lstrip("#xX"), base) if ref[0] == "#" else -1
                if code < 0x110000:
                    ch = _ESCAPES[ref] if code < 0 else chr(code)
                    i += len(m.group(0)) - 1
        out.append(ch)
        pos += _u16(ch)
        i += 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


@dataclass(frozen=True)
class Button:
    """One inline keyboard button as the user sees it."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class SentMessage:
    """A snapshot of a message the bot sent, as it stands (after edits) when taken."""

    chat_id: int
    message_id: int
    text: str  # exactly as the bot sent it (HTML included)
    parse_mode: str | None
    buttons: list[list[Button]] = field(default_factory=list)
    reply_markup: JSON | None = None  # raw reply_markup of the last send/edit, any kind
    link_preview_options: JSON | None = None
    edited: bool = False
    photo: bytes | None = None  # the image of a photo message (``text`` is then its caption)

    @property
    def plain(self) -> str:
        """The text (a photo's caption) as displayed: tags stripped, HTML entities unescaped."""
        return render(self.text, self.parse_mode)[0]

    @property
    def labels(self) -> list[str]:
        """All inline button texts, row by row."""
        return [b.text for row in self.buttons for b in row]

    @property
    def has_buttons(self) -> bool:
        return bool(self.labels)


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made; ``error`` is the description when it was refused."""

    method: str
    params: JSON
    error: str | None = None


@dataclass(frozen=True)
class CallbackAnswer:
    """One ``answerCallbackQuery`` the bot made."""

    callback_query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None = None


@dataclass
class _Stored:
    chat_id: int
    message_id: int
    from_bot: bool
    text: str
    parse_mode: str | None = None
    plain: str = ""
    entities: list[JSON] = field(default_factory=list)
    markup: JSON | None = None
    inline: JSON | None = None
    preview: JSON | None = None
    date: int = 0
    edit_date: int | None = None
    deleted: bool = False
    photo: bytes | None = None  # a photo message: text, plain and entities are its caption
    photo_sizes: list[JSON] = field(default_factory=list)


@dataclass
class _Fault:
    code: int  # 0: the request times out
    description: str
    retry_after: int | None
    times: int
    chat_id: int | None = None  # only calls for this chat


# Methods that take uploaded files (their handlers get the multipart file parts too).
_UPLOADS = frozenset({"sendphoto"})
# Telegram's method names are case-insensitive; calls are recorded under the documented spelling
# whatever spelling the bot used, so the calls of two bots compare.
_METHODS = {name.lower(): name for name in (
    "getMe", "setMyCommands", "setMyDescription", "setMyShortDescription", "getMyCommands",
    "deleteMyCommands", "sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup",
    "deleteMessage", "deleteMessages", "sendChatAction", "answerCallbackQuery", "getUpdates",
    "setWebhook", "deleteWebhook", "getWebhookInfo", "setChatMenuButton", "getChat", "close",
    "logOut")}


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG or JPEG image; None for anything else Telegram would refuse."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data) and data[i] == 0xFF:
            marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):  # start of frame: height, then width
                h = int.from_bytes(data[i + 5 : i + 7], "big")
                return int.from_bytes(data[i + 7 : i + 9], "big"), h
            i += 2 + length
    return None


def _buttons(inline: JSON | None) -> list[list[Button]]:
    rows = (inline or {}).get("inline_keyboard", [])
    return [
        [Button(b.get("text", ""), b.get("callback_data"), b.get("url")) for b in row]
        for row in rows
    ]


class LocalBotApi(BaseRequest):
    """An in-memory Bot API server for a single bot; use as both request objects of the Bot."""

    def __init__(
        self,
        bot_id: int = 7000000001,
        username: str = "linkpilot_bot",
        first_name: str = "Linkpilot",
    ) -> None:
        self.bot_user: JSON = {
            "id": bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self.started: set[int] = set()
        self.blocked: set[int] = set()
        self.calls: list[ApiCall] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.menu_button: JSON | None = None
        self.descriptions: dict[tuple[str, str], str] = {}  # (kind, language) -> text
        self.webhook: JSON | None = None  # what setWebhook registered
        self._application: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._deliver: Callable[[JSON], Awaitable[None]] | None = None
        self._users: dict[int, JSON] = {}
        self._chats: dict[int, dict[int, _Stored]] = {}
        self._next_id: dict[int, int] = {}
        self.touched: list[tuple[int, int]] = []  # (chat_id, message_id) per send/edit
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._faults: dict[str, list[_Fault]] = {}
        # Calls made to wait (a slow network): method -> [(chat id or None, its release)].
        self._holds: dict[str, list[tuple[int | None, asyncio.Event]]] = {}
        self.held: list[str] = []  # the methods of the calls waiting now
        self._queries: dict[str, int] = {}  # unanswered callback query id -> user id
        self._update_seq = itertools.count(1)
        self._query_seq = itertools.count(4_200_000_000_000_000_001)
        self._queue: list[JSON] = []
        self._queue_waiters: set[asyncio.Event] = set()  # pending long-poll getUpdates
        self._photos: dict[str, bytes] = {}  # file_id -> image, for photos sent before

    # --- BaseRequest --------------------------------------------------------------------------
    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open: the 'network' is this object."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rstrip("/").rsplit("/", 1)[-1]
        params: JSON = json.loads(
            json.dumps(request_data.parameters if request_data else {}, default=str)
        )
        # An uploaded file is not among the parameters: PTB sends it as a multipart file part.
        files: dict[str, bytes] = {}
        for key, part in (request_data.multipart_data if request_data else {}).items():
            content = part[1]
            files[key] = content if isinstance(content, bytes) else content.read()
        return await self.dispatch(name, params, files)

    async def dispatch(
        self, name: str, params: JSON, files: dict[str, bytes] | None = None
    ) -> tuple[int, bytes]:
        """Run Bot API method ``name`` with decoded ``params`` and uploaded ``files`` (multipart
        file parts by field name): ``(HTTP status, JSON body)``."""
        name = _METHODS.get(name.lower(), name)
        await self._wait_if_held(name, params)
        try:
            fault = self._take_fault(name, params)
            if fault and fault.code == 0:
                self.calls.append(ApiCall(name, params, "timed out"))
                raise TimedOut(fault.description or "Timed out")
            if fault:
                raise ApiError(fault.code, fault.description, fault.retry_after)
            handler = getattr(self, f"_m_{name.lower()}", None)
            if handler is None:
                raise ApiError(404, "Not Found")
            result = handler(params, files or {}) if name.lower() in _UPLOADS else handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as err:
            self.calls.append(ApiCall(name, params, err.description))
            body: JSON = {"ok": False, "error_code": err.code, "description": err.description}
            if err.retry_after is not None:
                body["parameters"] = {"retry_after": err.retry_after}
            return err.code, json.dumps(body).encode()
        self.calls.append(ApiCall(name, params))
        return 200, json.dumps({"ok": True, "result": result}).encode()

    # --- test-facing API -------------------------------------------------------------------------
    @property
    def token(self) -> str:
        return f"{self.bot_user['id']}:{'A' * 35}"

    @property
    def application(self) -> Application[Any, Any, Any, Any, Any, Any]:
        if self._application is None:
            raise RuntimeError("LocalBotApi.attach(application) was not called")
        return self._application

    def attach(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        deliver: Callable[[JSON], Awaitable[None]] | None = None,
    ) -> None:
        """Route simulated people's updates to ``application`` (again after a restart).

        ``deliver`` takes each raw update (as Telegram would send it) and returns once it is
        handled; by default the update is parsed and given to ``application.process_update``.
        """
        self._application = application
        self._deliver = deliver

    async def deliver(self, update: JSON) -> None:
        """Hand one raw update to the attached bot and wait until it has been handled."""
        if self._deliver is not None:
            await self._deliver(update)
            return
        app = self.application
        await app.process_update(Update.de_json(update, app.bot))

    def block(self, user_id: int) -> None:
        self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self.blocked.discard(user_id)

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (for ``chat_id``, if given) fail with
        this Bot API error; ``error_code`` 0 makes them time out (PTB raises ``TimedOut``)."""
        self._faults.setdefault(method.lower(), []).append(
            _Fault(error_code, description, retry_after, times, chat_id)
        )

    def hold_next(self, method: str, chat_id: int | None = None) -> asyncio.Event:
        """Make the next call of ``method`` (for ``chat_id``, if given) wait, as on a slow
        network, until the returned event is set; while it waits its method is in ``held``."""
        release = asyncio.Event()
        self._holds.setdefault(method.lower(), []).append((chat_id, release))
        return release

    async def _wait_if_held(self, method: str, params: JSON) -> None:
        holds = self._holds.get(method.lower()) or []
        chat = params.get("chat_id")
        for hold in holds:
            if hold[0] is None or str(hold[0]) == str(chat):
                holds.remove(hold)
                self.held.append(method)
                try:
                    await hold[1].wait()
                finally:
                    self.held.remove(method)
                return

    def clear_faults(self) -> None:
        """Forget every fault not yet used: the trouble is over."""
        self._faults.clear()

    def forget(self, user_ids: Iterable[int]) -> None:
        """Drop everything kept about these users, and the call logs (Telegram's memory, not
        the bot's: long benchmarks call this so the double's records don't count as growth)."""
        self.calls.clear()
        self.callback_answers.clear()
        self.touched.clear()
        for user_id in user_ids:
            self._chats.pop(user_id, None)
            prefix = f"AgACAgI{user_id}_"
            for file_id in [f for f in self._photos if f.startswith(prefix)]:
                del self._photos[file_id]
            self._next_id.pop(user_id, None)
            self._users.pop(user_id, None)
            self.started.discard(user_id)

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Current state of every (undeleted) message the bot sent to ``chat_id``."""
        return [
            self._snapshot(m)
            for m in self._chats.get(chat_id, {}).values()
            if m.from_bot and not m.deleted
        ]

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    @property
    def commands(self) -> list[tuple[str, str]]:
        """(command, description) pairs for the default scope and language."""
        return self.commands_for()

    def commands_for(
        self, scope: JSON | None = None, language_code: str = ""
    ) -> list[tuple[str, str]]:
        cmds = self._commands.get(self._scope_key(scope, language_code), [])
        return [(c["command"], c["description"]) for c in cmds]

    @property
    def unanswered_queries(self) -> dict[str, int]:
        """Callback query ids the bot has not answered yet (the user still sees a spinner)."""
        return dict(self._queries)

    def enqueue(self, update: JSON) -> None:
        """Queue a raw update for ``getUpdates`` (long-polling tests); assigns ``update_id``."""
        update.setdefault("update_id", self.next_update_id())
        self._queue.append(update)
        for waiter in self._queue_waiters:
            waiter.set()

    @property
    def pending_polls(self) -> int:
        """Long-polling ``getUpdates`` calls waiting for an update right now (a bot polls)."""
        return len(self._queue_waiters)

    def continue_update_ids(self, after: int) -> None:
        """Number new updates from ``after + 1``: Telegram's update ids only ever grow, across
        restarts of the bot too (a bot that remembers ids it has seen relies on it)."""
        self._update_seq = itertools.count(after + 1)

    def next_update_id(self) -> int:
        return next(self._update_seq)

    def register_user(self, user: JSON) -> None:
        self._users[user["id"]] = user

    def chat_json(self, chat_id: int) -> JSON:
        user = self._users.get(chat_id, {"first_name": str(chat_id)})
        chat: JSON = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        if user.get("username"):
            chat["username"] = user["username"]
        return chat

    def message_json(self, m: _Stored) -> JSON:
        data: JSON = {
            "message_id": m.message_id,
            "date": m.date,
            "chat": self.chat_json(m.chat_id),
            "from": self.bot_user if m.from_bot else self._users[m.chat_id],
        }
        if m.photo is not None:
            data["photo"] = m.photo_sizes
            if m.plain:
                data["caption"] = m.plain
            if m.entities:
                data["caption_entities"] = m.entities
        else:
            data["text"] = m.plain
        if m.photo is None and m.entities:
            data["entities"] = m.entities
        if m.inline:
            data["reply_markup"] = m.inline
        if m.edit_date:
            data["edit_date"] = m.edit_date
        return data

    def record_incoming(self, chat_id: int, text: str, entities: list[JSON]) -> _Stored:
        """Store a message the user sent (it shares the chat's message_id sequence)."""
        return self._store(_Stored(chat_id, 0, False, text, None, text, entities))

    def touched_since(self, mark: int, chat_id: int) -> list[int]:
        """Ids of messages sent/edited in ``chat_id`` since ``len(touched)`` was ``mark``."""
        return list(dict.fromkeys(mid for chat, mid in self.touched[mark:] if chat == chat_id))

    def find(self, chat_id: int, message_id: int) -> _Stored | None:
        return self._chats.get(chat_id, {}).get(message_id)

    def new_query(self, user_id: int) -> str:
        qid = str(next(self._query_seq))
        self._queries[qid] = user_id
        return qid

    # --- internals -------------------------------------------------------------------------------
    def _take_fault(self, method: str, params: JSON) -> _Fault | None:
        faults = self._faults.get(method.lower())
        if not faults:
            return None
        chat = params.get("chat_id")
        if chat is None and "callback_query_id" in params:
            chat = self._queries.get(str(params["callback_query_id"]))
        for fault in faults:
            if fault.chat_id is None or str(fault.chat_id) == str(chat):
                fault.times -= 1
                if fault.times <= 0:
                    faults.remove(fault)
                return fault
        return None

    def _store(self, m: _Stored) -> _Stored:
        m.message_id = self._next_id.get(m.chat_id, 0) + 1
        self._next_id[m.chat_id] = m.message_id
        m.date = int(time.time())
        self._chats.setdefault(m.chat_id, {})[m.message_id] = m
        return m

    @staticmethod
    def _snapshot(m: _Stored) -> SentMessage:
        return SentMessage(
            m.chat_id,
            m.message_id,
            m.text,
            m.parse_mode,
            _buttons(m.inline),
            m.markup,
            m.preview,
            m.edit_date is not None,
            m.photo,
        )

    @staticmethod
    def _scope_key(scope: JSON | None, language_code: str | None) -> tuple[str, str]:
        return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code or ""

    def _chat_id(self, params: JSON) -> int:
        raw = params.get("chat_id")
        if isinstance(raw, str) and raw.startswith("@"):
            for uid, user in self._users.items():
                if (user.get("username") or "").lower() == raw[1:].lower():
                    return uid
            raise ApiError(400, "Bad Request: chat not found")
        try:
            chat_id = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat not found") from None
        if chat_id <= 0:
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _reachable(self, params: JSON) -> int:
        chat_id = self._chat_id(params)
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id not in self.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat_id

    @staticmethod
    def _content(params: JSON) -> tuple[str, list[JSON]]:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        plain, entities = render(text, params.get("parse_mode"))
        entities = entities or list(params.get("entities") or [])
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if _u16(plain) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        return plain, entities

    @staticmethod
    def _inline(markup: JSON | None) -> JSON | None:
        """Validate an inline keyboard; other markups are not echoed in the Message."""
        if not markup or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for b in row:
                data, url = b.get("callback_data"), b.get("url")
                if data is not None and not 1 <= len(data.encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if url is not None and not re.match(r"(https?|tg)://\S+$", url):
                    raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
                if set(b) <= {"text"}:
                    raise ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                    )
        return markup if any(markup["inline_keyboard"]) else None

    def _editable(self, params: JSON) -> _Stored:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        chat_id = self._chat_id(params)
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        m = self.find(chat_id, int(params.get("message_id") or 0))
        if m is None or m.deleted:
            raise ApiError(400, "Bad Request: message to edit not found")
        if not m.from_bot:
            raise ApiError(400, "Bad Request: message can't be edited")
        return m

    def _apply_edit(
        self, m: _Stored, params: JSON, text: str, plain: str, entities: list[JSON]
    ) -> JSON:
        inline = self._inline(params.get("reply_markup"))
        if (plain, entities, inline) == (m.plain, m.entities, m.inline):
            raise ApiError(400, _NOT_MODIFIED)
        m.plain, m.entities, m.inline = plain, entities, inline
        m.markup, m.edit_date = params.get("reply_markup"), int(time.time())
        if "text" in params:
            m.text, m.parse_mode = text, params.get("parse_mode")
            m.preview = params.get("link_preview_options")
        self.touched.append((m.chat_id, m.message_id))
        return self.message_json(m)

    # --- Bot API methods (``_m_<lowercased name>``) ---------------------------------------------
    def _m_getme(self, _: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_setmycommands(self, p: JSON) -> bool:
        commands = p.get("commands") or []
        if len(commands) > 100:
            raise ApiError(400, "Bad Request: BOT_COMMANDS_TOO_MUCH")
        for c in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", c.get("command", "")):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(c.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._scope_key(p.get("scope"), p.get("language_code"))] = commands
        return True

    def _m_setmydescription(self, p: JSON) -> bool:
        description = p.get("description") or ""
        if len(description) > 512:
            raise ApiError(400, "Bad Request: description is too long")
        self.descriptions[("description", p.get("language_code") or "")] = description
        return True

    def _m_setmyshortdescription(self, p: JSON) -> bool:
        short = p.get("short_description") or ""
        if len(short) > 120:
            raise ApiError(400, "Bad Request: short description is too long")
        self.descriptions[("short_description", p.get("language_code") or "")] = short
        return True

    def _m_getmycommands(self, p: JSON) -> list[JSON]:
        return self._commands.get(self._scope_key(p.get("scope"), p.get("language_code")), [])

    def _m_deletemycommands(self, p: JSON) -> bool:
        self._commands.pop(self._scope_key(p.get("scope"), p.get("language_code")), None)
        return True

    def _m_sendmessage(self, p: JSON) -> JSON:
        chat_id = self._reachable(p)
        plain, entities = self._content(p)
        m = self._store(
            _Stored(
                chat_id,
                0,
                True,
                p["text"],
                p.get("parse_mode"),
                plain,
                entities,
                p.get("reply_markup"),
                self._inline(p.get("reply_markup")),
                p.get("link_preview_options"),
            )
        )
        self.touched.append((chat_id, m.message_id))
        return self.message_json(m)

    def _m_sendphoto(self, p: JSON, files: dict[str, bytes]) -> JSON:
        chat_id = self._reachable(p)
        photo = self._photo(p, files)
        caption = p.get("caption")
        plain: str = ""
        entities: list[JSON] = []
        if isinstance(caption, str):
            plain, entities = render(caption, p.get("parse_mode"))
            entities = entities or list(p.get("caption_entities") or [])
            if _u16(plain) > 1024:
                raise ApiError(400, "Bad Request: message caption is too long")
        m = _Stored(
            chat_id,
            0,
            True,
            caption or "",
            p.get("parse_mode"),
            plain,
            entities,
            p.get("reply_markup"),
            self._inline(p.get("reply_markup")),
            photo=photo,
        )
        self._store(m)
        m.photo_sizes = self._photo_sizes(m, photo)
        self.touched.append((chat_id, m.message_id))
        return self.message_json(m)

    def _photo(self, p: JSON, files: dict[str, bytes]) -> bytes:
        """The image of a sendPhoto: an upload, or a photo sent before named by its file_id."""
        raw = p.get("photo")
        if isinstance(raw, str) and raw.startswith("attach://"):
            raw = files.get(raw.removeprefix("attach://"))
        elif raw is None:
            raw = files.get("photo")
        if isinstance(raw, str):
            known = self._photos.get(raw)
            if known is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            return known
        if not raw:
            raise ApiError(400, "Bad Request: there is no photo in the request")
        if _image_size(raw) is None:
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        return raw

    def _photo_sizes(self, m: _Stored, photo: bytes) -> list[JSON]:
        """PhotoSize objects as Telegram makes them: a thumbnail and the photo, larger side at
        most 1280 px, each with a file_id this double accepts in a later sendPhoto."""
        size = _image_size(photo)
        assert size is not None
        width, height = size
        sizes: list[JSON] = []
        for kind, limit in (("s", 90), ("x", 1280)):
            scale = min(1.0, limit / max(width, height))
            unique = hashlib.sha256(photo).hexdigest()[:16] + kind
            file_id = f"AgACAgI{m.chat_id}_{m.message_id}_{unique}"
            self._photos[file_id] = photo
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": unique,
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": len(photo),
                }
            )
        return sizes

    def _m_editmessagetext(self, p: JSON) -> JSON:
        m = self._editable(p)
        if m.photo is not None:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        plain, entities = self._content(p)
        return self._apply_edit(m, p, p["text"], plain, entities)

    def _m_editmessagereplymarkup(self, p: JSON) -> JSON:
        m = self._editable(p)
        return self._apply_edit(m, p, m.text, m.plain, m.entities)

    def _m_deletemessage(self, p: JSON) -> bool:
        m = self.find(self._chat_id(p), int(p.get("message_id") or 0))
        if m is None or m.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        m.deleted = True
        return True

    def _m_deletemessages(self, p: JSON) -> bool:
        chat_id = self._chat_id(p)
        for mid in p.get("message_ids") or []:
            if (m := self.find(chat_id, int(mid))) is not None:
                m.deleted = True
        return True

    def _m_sendchataction(self, p: JSON) -> bool:
        self._reachable(p)
        return True

    def _m_answercallbackquery(self, p: JSON) -> bool:
        qid = str(p.get("callback_query_id"))
        if qid not in self._queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        if len(p.get("text") or "") > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        user_id = self._queries.pop(qid)
        self.callback_answers.append(
            CallbackAnswer(qid, user_id, p.get("text"), bool(p.get("show_alert")), p.get("url"))
        )
        return True

    async def _m_getupdates(self, p: JSON) -> list[JSON]:
        offset = int(p.get("offset") or 0)
        if offset:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        if not self._queue and float(p.get("timeout") or 0) > 0:
            waiter = asyncio.Event()
            self._queue_waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter.wait(), float(p["timeout"]))
            except TimeoutError:
                pass
            finally:
                self._queue_waiters.discard(waiter)
        return self._queue[: int(p.get("limit") or 100)]

    def _m_setwebhook(self, p: JSON) -> bool:
        if not str(p.get("url") or "").startswith("https://"):
            raise ApiError(400, "Bad Request: bad webhook: an HTTPS URL must be provided")
        self.webhook = {k: p.get(k) for k in ("url", "secret_token", "allowed_updates")}
        return True

    def _m_deletewebhook(self, p: JSON) -> bool:
        self.webhook = None
        if p.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _m_getwebhookinfo(self, _: JSON) -> JSON:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    def _m_setchatmenubutton(self, p: JSON) -> bool:
        self.menu_button = p.get("menu_button")
        return True

    def _m_getchat(self, p: JSON) -> JSON:
        chat_id = self._chat_id(p)
        if chat_id not in self._users:
            raise ApiError(400, "Bad Request: chat not found")
        gifts = dict.fromkeys(
            (
                "unlimited_gifts",
                "limited_gifts",
                "unique_gifts",
                "premium_subscription",
                "gifts_from_channels",
            ),
            False,
        )
        return {
            **self.chat_json(chat_id),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _m_close(self, _: JSON) -> bool:
        return True

    def _m_logout(self, _: JSON) -> bool:
        return True


class Person:
    """A simulated Telegram user chatting privately with the bot through ``api.application``.

    Handlers run inside ``process_update``; work a handler pushes to background tasks
    (``block=False``, ``create_task``, job queue) is not waited for.
    """

    def __init__(
        self,
        api: LocalBotApi,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str = "en",
    ) -> None:
        self.api, self.user_id = api, user_id
        self.user: JSON = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if username:
            self.user["username"] = username
        self._presses: list[str] = []
        api.register_user(self.user)

    # --- what the person sees --------------------------------------------------------------------
    @property
    def inbox(self) -> list[SentMessage]:
        return self.api.messages(self.user_id)

    @property
    def last(self) -> SentMessage:
        inbox = self.inbox
        if not inbox:
            raise AssertionError(f"{self.user['first_name']} has received no messages")
        return inbox[-1]

    @property
    def answers(self) -> list[CallbackAnswer]:
        return [a for a in self.api.callback_answers if a.user_id == self.user_id]

    @property
    def last_answer(self) -> str | None:
        """Text of the answer to this person's most recent press (None if none or no text)."""
        if not self._presses:
            return None
        for a in self.answers:
            if a.callback_query_id == self._presses[-1]:
                return a.text
        return None

    # --- what the person does --------------------------------------------------------------------
    async def send(self, text: str, reply_to: SentMessage | None = None) -> list[SentMessage]:
        """Send a private text message (as a reply to ``reply_to``, as Telegram's Reply does);
        returns the messages the bot sent or edited meanwhile."""
        if self.user_id in self.api.blocked:
            raise AssertionError(f"user {self.user_id} has blocked the bot; unblock() first")
        entities: list[JSON] = []
        if m := _COMMAND.match(text):
            entities.append({"type": "bot_command", "offset": 0, "length": _u16(m.group(0))})
        self.api.started.add(self.user_id)
        stored = self.api.record_incoming(self.user_id, text, entities)
        message = self.api.message_json(stored)
        if reply_to is not None:
            original = self.api.find(self.user_id, reply_to.message_id)
            if original is None:
                raise AssertionError(f"message {reply_to.message_id} is not in the chat")
            message["reply_to_message"] = self.api.message_json(original)
        return await self._deliver({"message": message})

    async def press(self, label: str, message: SentMessage | None = None) -> list[SentMessage]:
        """Press the inline button labelled ``label`` (exact, else unique case-insensitive part)."""
        data, message_id = self._button(label, message)
        return await self.press_data(data, message_id)

    def _button(self, label: str, message: SentMessage | None = None) -> tuple[str, int]:
        """``(callback_data, message_id)`` of the button :meth:`press` would press."""
        candidates = (
            [m for m in self.inbox if m.message_id == message.message_id]
            if message is not None
            else list(reversed(self.inbox))
        )
        if message is not None and not candidates:
            raise AssertionError(f"message {message.message_id} is no longer in the chat")
        for msg in candidates:
            buttons = [b for row in msg.buttons for b in row]
            found = [b for b in buttons if b.text == label] or [
                b for b in buttons if label.lower() in b.text.lower()
            ]
            if len(found) == 1 or (found and found[0].text == label):
                button = found[0]
                if button.callback_data is None:
                    raise AssertionError(f"button {button.text!r} is a URL button ({button.url})")
                return button.callback_data, msg.message_id
            if len(found) > 1:
                raise AssertionError(f"{label!r} is ambiguous: {[b.text for b in found]}")
        seen = [msg.labels for msg in candidates if msg.has_buttons]
        raise AssertionError(f"no button {label!r}; available: {seen}")

    async def press_data(self, data: str, message_id: int) -> list[SentMessage]:
        """Deliver a callback query with arbitrary ``data`` for ``message_id`` (may be forged)."""
        stored = self.api.find(self.user_id, message_id)
        if stored is not None and not stored.deleted:
            msg = self.api.message_json(stored)
        else:  # Telegram attaches an InaccessibleMessage (date 0)
            msg = {"chat": self.api.chat_json(self.user_id), "message_id": message_id, "date": 0}
        qid = self.api.new_query(self.user_id)
        self._presses.append(qid)
        return await self._deliver(
            {
                "callback_query": {
                    "id": qid,
                    "from": self.user,
                    "message": msg,
                    "data": data,
                    "chat_instance": str(self.user_id * 31 + self.api.bot_user["id"]),
                }
            }
        )

    async def block(self) -> None:
        """Block the bot in the Telegram app (the bot receives a my_chat_member update)."""
        self.api.block(self.user_id)
        await self._deliver(self._member_update("member", "kicked"))

    async def unblock(self) -> None:
        self.api.unblock(self.user_id)
        await self._deliver(self._member_update("kicked", "member"))

    def _member_update(self, old: str, new: str) -> JSON:
        def member(status: str) -> JSON:
            extra = {"until_date": 0} if status == "kicked" else {}
            return {"status": status, "user": self.api.bot_user, **extra}

        return {
            "my_chat_member": {
                "chat": self.api.chat_json(self.user_id),
                "from": self.user,
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            }
        }

    async def _deliver(self, payload: JSON) -> list[SentMessage]:
        mark = len(self.api.touched)
        await self.api.deliver({"update_id": self.api.next_update_id(), **payload})
        ids = self.api.touched_since(mark, self.user_id)
        current = {m.message_id: m for m in self.inbox}
        return [current[mid] for mid in ids if mid in current]


# --- the same double over HTTP ------------------------------------------------------------------
# PTB's HTTPXRequest posts ``RequestData.json_parameters``: each value JSON-encoded unless it is
# a ``str`` (sent as is). With no files that is ``application/x-www-form-urlencoded``; with files
# it is ``multipart/form-data`` (file parts carry a filename). Other clients may send JSON bodies or
# query strings. Decoding must give what ``RequestData.parameters`` gives in-process.

# Top-level parameters whose value is free text: never JSON-decoded ("42" stays a string there).
_TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "language_code",
        "business_connection_id",
        "message_effect_id",
        "action",
        "emoji",
        "title",
        "description",
        "short_description",
        "name",
        "question",
        "explanation",
        "secret_token",
        "ip_address",
        "payload",
        "currency",
        "start_parameter",
        "custom_title",
    }
)
_MAX_HEADER_BYTES = 64 * 1024
_MAX_BODY_BYTES = 64 * 1024 * 1024


def decode_form(fields: list[tuple[str, str]]) -> JSON:
    """Form fields -> Bot API parameters, as ``RequestData.parameters`` holds them in-process.

    Objects, arrays, numbers and booleans arrive JSON-encoded; strings arrive as they are. A value
    is JSON-decoded unless its parameter is free text or the decoded value would be a string.
    """
    params: JSON = {}
    for key, raw in fields:
        value: Any = raw
        if key not in _TEXT_PARAMS:
            try:
                decoded = json.loads(raw)
            except ValueError:
                pass
            else:
                if not isinstance(decoded, str):
                    value = decoded
        params[key] = value
    return params


def _header_param(header: str, name: str) -> str | None:
    m = re.search(rf"""(?:^|;)\s*{name}\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))""", header, re.I)
    if m is None:
        return None
    return re.sub(r"\\(.)", r"\1", m.group(1)) if m.group(1) is not None else m.group(2)


def _multipart_fields(
    body: bytes, content_type: str, files: dict[str, bytes] | None = None
) -> list[tuple[str, str]]:
    """Non-file fields of a multipart/form-data body. File parts (they carry a filename) go to
    ``files`` by field name: in-process they are not among ``RequestData.parameters`` either."""
    boundary = _header_param(content_type, "boundary")
    if not boundary:
        raise ApiError(400, "Bad Request: multipart boundary is missing")
    delimiter = b"--" + boundary.encode("latin-1")
    fields: list[tuple[str, str]] = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):  # the closing delimiter
            break
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, val = line.partition(":")
            if key.strip().lower() == "content-disposition":
                disposition = val.strip()
        name = _header_param(disposition, "name")
        if name is None:
            continue
        if _header_param(disposition, "filename") is not None:
            if files is not None:
                files[name] = content
            continue
        fields.append((name, content.decode("utf-8")))
    return fields


def _request_params(
    query: str, content_type: str, body: bytes, files: dict[str, bytes] | None = None
) -> JSON:
    """A request's parameters; uploaded files (multipart file parts) go to ``files``."""
    from urllib.parse import parse_qsl

    params = decode_form(parse_qsl(query, keep_blank_values=True)) if query else {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body.strip():
        return params
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Bad Request: JSON request body must be an object")
        params.update(data)
    elif kind == "multipart/form-data":
        params.update(decode_form(_multipart_fields(body, content_type, files)))
    else:  # application/x-www-form-urlencoded, and what clients send without a content type
        text = body.decode("utf-8")
        params.update(decode_form(parse_qsl(text, keep_blank_values=True)))
    return params


class HttpFront:
    """A running HTTP/1.1 server in front of a :class:`LocalBotApi` (see :func:`serve_http`)."""

    def __init__(self, api: LocalBotApi, host: str = "127.0.0.1", port: int = 0) -> None:
        self.api, self.host, self.port = api, host, port
        self.requests = 0  # HTTP requests answered, 401s and 404s included
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        """What to give PTB as ``base_url`` (TELEGRAM_API_BASE_URL): the token follows it."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def url(self) -> str:
        """The Bot API URL prefix with the token, for plain HTTP clients: ``<url>/getMe``."""
        return f"{self.base_url}{self.api.token}"

    async def start(self) -> HttpFront:
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and drop every open connection (pending long polls included)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HttpFront:
        return self if self._server is not None else await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- connection handling ---------------------------------------------------------------------
    def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await self._read_request(reader, writer)
                if request is None:
                    break
                method, target, headers, body = request
                keep_alive = headers.get("connection", "").lower() != "close"
                result = await self._answer(reader, method, target, headers, body)
                if result is None:  # the client went away while we waited
                    break
                status, payload = result
                self._send(writer, status, payload, keep_alive)
                await writer.drain()
                self.requests += 1
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except ValueError:  # malformed request line, headers or chunk size
            with _suppress_connection_errors():
                self._send(writer, 400, _error_body(400, "Bad Request"), False)
                await writer.drain()
        finally:
            writer.close()
            with _suppress_connection_errors():
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, str, dict[str, str], bytes] | None:
        line = await reader.readline()
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = await reader.readline()
        if not line:
            return None
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            raise ValueError("bad request line")
        method, target, _ = parts
        headers: dict[str, str] = {}
        size = 0
        while True:
            line = await reader.readline()
            size += len(line)
            if size > _MAX_HEADER_BYTES:
                raise ValueError("headers too large")
            if line in (b"\r\n", b"\n", b""):
                break
            key, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise ValueError("bad header line")
            headers[key.strip().lower()] = value.strip()
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            while True:
                size_line = await reader.readline()
                length = int(size_line.split(b";", 1)[0].strip() or b"x", 16)
                if length == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(await reader.readexactly(length))
                await reader.readexactly(2)
            body = b"".join(chunks)
        else:
            length = int(headers.get("content-length") or 0)
            if not 0 <= length <= _MAX_BODY_BYTES:
                raise ValueError("bad content length")
            body = await reader.readexactly(length)
        return method.upper(), target, headers, body

    async def _answer(
        self,
        reader: asyncio.StreamReader,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, bytes] | None:
        from urllib.parse import unquote, urlsplit

        split = urlsplit(target)
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]+)/?", unquote(split.path))
        if m is None or method not in ("GET", "POST"):
            return 404, _error_body(404, "Not Found")
        if m.group(1) != self.api.token:
            return 401, _error_body(401, "Unauthorized")
        files: dict[str, bytes] = {}
        try:
            params = _request_params(split.query, headers.get("content-type", ""), body, files)
        except (ApiError, UnicodeDecodeError) as err:
            desc = err.description if isinstance(err, ApiError) else "Bad Request: invalid UTF-8"
            return 400, _error_body(400, desc)
        call = asyncio.ensure_future(self.api.dispatch(m.group(2), params, files))
        try:
            # A long poll can outlive its client (a cancelled request, a stopping updater): stop
            # waiting for it when the connection closes, as Telegram does.
            while not call.done():
                await asyncio.wait({call}, timeout=0.05)
                if not call.done() and reader.at_eof():
                    call.cancel()
                    with _suppress_connection_errors():
                        await call
                    return None
        except BaseException:
            call.cancel()
            raise
        return call.result()

    @staticmethod
    def _send(writer: asyncio.StreamWriter, status: int, payload: bytes, keep_alive: bool) -> None:
        from http import HTTPStatus

        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Error"
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            "Server: linkpilot-local-bot-api\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + payload)


def _error_body(code: int, description: str) -> bytes:
    return json.dumps({"ok": False, "error_code": code, "description": description}).encode()


def _suppress_connection_errors() -> Any:
    import contextlib

    return contextlib.suppress(ConnectionError, asyncio.CancelledError, OSError)


async def serve_http(api: LocalBotApi, host: str = "127.0.0.1", port: int = 0) -> HttpFront:
    """Serve ``api`` as a Bot API-compatible HTTP server (``port=0``: any free port).

    Point a bot at ``front.base_url`` (PTB's ``base_url``, or TELEGRAM_API_BASE_URL) with
    ``api.token`` as its token; ``await front.close()`` when done.
    """
    return await HttpFront(api, host, port).start()


class RemotePerson(Person):
    """A :class:`Person` whose updates travel through ``getUpdates`` instead of process_update.

    For a bot that long-polls ``api`` (over :func:`serve_http`, in this process or another). Each
    action queues the update, then waits (at most ``timeout`` seconds) until the bot has fetched
    it and answered -- a message sent or edited in this chat for a text message, the callback
    query answered for a press -- and then until the bot has made no Bot API call for ``settle``
    seconds. It returns the messages sent or edited in this chat meanwhile; a bot that does not
    answer in time is an AssertionError.
    """

    def __init__(
        self,
        api: LocalBotApi,
        user_id: int,
        first_name: str,
        username: str | None = None,
        language_code: str = "en",
        *,
        timeout: float = 10.0,
        settle: float = 0.2,
    ) -> None:
        super().__init__(api, user_id, first_name, username, language_code)
        self.timeout, self.settle = timeout, settle

    async def wait_for(self, predicate: Any, what: str, timeout: float | None = None) -> None:
        """Poll ``predicate()`` until it is true (AssertionError naming ``what`` on timeout)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if timeout is None else timeout)
        while not predicate():
            if loop.time() > deadline:
                recent = [(c.method, c.error) for c in self.api.calls[-5:]]
                raise AssertionError(
                    f"{self.user['first_name']}: timed out waiting for {what}; "
                    f"last Bot API calls: {recent}"
                )
            await asyncio.sleep(0.01)

    async def press(self, label: str, message: SentMessage | None = None) -> list[SentMessage]:
        """Like :meth:`Person.press`, but waits (up to ``timeout``) for the button to show up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            try:
                data, message_id = self._button(label, message)
            except AssertionError:
                if loop.time() > deadline:
                    raise
                await asyncio.sleep(0.01)
            else:
                return await self.press_data(data, message_id)

    async def _deliver(self, payload: JSON) -> list[SentMessage]:
        api = self.api
        mark, calls_mark = len(api.touched), len(api.calls)
        update: JSON = {"update_id": api.next_update_id(), **payload}
        api.enqueue(update)
        uid = update["update_id"]
        await self.wait_for(
            lambda: all(u["update_id"] != uid for u in api._queue), f"update {uid} to be fetched"
        )
        if "callback_query" in payload:
            qid = payload["callback_query"]["id"]
            await self.wait_for(lambda: qid not in api._queries, f"the answer to press {qid}")
        elif "message" in payload:
            await self.wait_for(
                lambda: bool(api.touched_since(mark, self.user_id)), "the bot's reply"
            )
        await self._settle(calls_mark)
        ids = api.touched_since(mark, self.user_id)
        current = {m.message_id: m for m in self.inbox}
        return [current[mid] for mid in ids if mid in current]

    async def _settle(self, calls_mark: int) -> None:
        """Wait until the bot has been quiet (no call but getUpdates) for ``self.settle`` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout

        def activity() -> int:
            return sum(1 for c in self.api.calls[calls_mark:] if c.method.lower() != "getupdates")

        seen, since = activity(), loop.time()
        while loop.time() - since < self.settle and loop.time() < deadline:
            await asyncio.sleep(0.01)
            if (now := activity()) != seen:
                seen, since = now, loop.time()
