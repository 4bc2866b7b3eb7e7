"""Platforms an advertiser can link, described as data so flows never hard-code one of them."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

# --- free text: what a person types that is kept or shown to someone else ------------------------

SHOWN_BAD = 3  # a refusal names at most this many offending characters, then counts the rest
# Characters that change how text around them reads without being seen: bidirectional
# overrides, embeddings, isolates and marks, and zero-width characters.
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")


class TextProblem(StrEnum):
    """Why a piece of free text was refused, whatever field it was for."""

    BLANK = "blank"
    INVISIBLE = "invisible"  # control characters, direction overrides, zero-width characters
    TOO_LONG = "too_long"


class UnsafeText(ValueError):
    """Free text the bot will not keep or show to anyone: `shown` names the first offending
    characters (distinct, in order of appearance), `more` counts the other distinct ones."""

    def __init__(self, problem: TextProblem, *, shown: tuple[str, ...] = (), more: int = 0,
                 limit: int = 0, length: int = 0) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.shown = shown
        self.more = more
        self.limit = limit
        self.length = length


def _forbidden(ch: str, multiline: bool) -> bool:
    if ch in BIDI or ch in ZERO_WIDTH:
        return True
    if ch == "\t" or (multiline and ch == "\n"):
        return False
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


def offending(text: str, keep: Callable[[str], object]) -> tuple[tuple[str, ...], int]:
    """The first SHOWN_BAD distinct characters for which `keep` is false, and how many other
    distinct ones there are."""
    bad = list(dict.fromkeys(ch for ch in text if not keep(ch)))
    return tuple(bad[:SHOWN_BAD]), max(0, len(bad) - SHOWN_BAD)


def clean_text(raw: str, *, max_length: int, multiline: bool = False) -> str:
    """Free text as it may be kept: Unicode NFC, stripped; raises UnsafeText for text that is
    blank (whitespace only), carries control, direction or zero-width characters (so text of
    zero-width characters only is refused too; tab always and newline with `multiline`
    excepted), or is over `max_length`."""
    text = unicodedata.normalize("NFC", raw)
    # Looked for before stripping: str.strip() would quietly drop some controls at the ends.
    shown, more = offending(text.strip(" \t\n\r"), lambda ch: not _forbidden(ch, multiline))
    if shown:
        raise UnsafeText(TextProblem.INVISIBLE, shown=shown, more=more)
    text = text.strip()
    if not text:
        raise UnsafeText(TextProblem.BLANK)
    if len(text) > max_length:
        raise UnsafeText(TextProblem.TOO_LONG, limit=max_length, length=len(text))
    return text


def scrubbed(raw: str, limit: int) -> str:
    """Text kept without being refused (a name Telegram gave us, a question asked): NFC,
    without control, direction or zero-width characters, spaces collapsed, at most `limit`
    characters."""
    text = "".join(ch for ch in unicodedata.normalize("NFC", raw)
                   if not _forbidden(ch, multiline=False))
    return " ".join(text.split())[:limit]


def display_name(raw: str, limit: int = 64) -> str:
    """A name Telegram gave us, made safe to show others (it can't be refused: it isn't
    typed to us)."""
    return scrubbed(raw, limit) or "?"


class HandleProblem(StrEnum):
    """Why a handle was refused; the bot turns each into a sentence."""

    EMPTY = "empty"
    SPACES = "spaces"
    BAD_CHARACTERS = "bad_characters"
    TRAILING_PERIOD = "trailing_period"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    VIDEO_LINK = "video_link"  # a video's address; `detail` names its account when it shows


class InvalidHandle(ValueError):
    """A handle that breaks the platform's username rules. For bad characters, `detail` holds
    the first few (distinct) and `more` counts the other distinct ones."""

    def __init__(self, problem: HandleProblem, *, detail: str = "", limit: int = 0,
                 more: int = 0) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.detail = detail
        self.limit = limit
        self.more = more


MAX_HANDLE_INPUT = 2048  # characters: room for a pasted share address and its long query


@dataclass(frozen=True, slots=True)
class HandleRule:
    """A platform's username rules: allowed characters, length, and the profile URL prefix."""

    allowed: str  # a regex character class body, e.g. "A-Za-z0-9._"
    min_length: int
    max_length: int
    no_trailing_period: bool
    url_pattern: str  # matches a pasted profile URL; group 1 is the handle
    # A video's address: group 1 is its account's handle when the address names it.
    video_patterns: tuple[str, ...] = ()

    def normalise(self, raw: str) -> str:
        """Return the handle as typed without '@' or URL, or raise InvalidHandle (or
        UnsafeText, for blank text and invisible characters) with the reason."""
        try:
            text = clean_text(raw, max_length=MAX_HANDLE_INPUT)
        except UnsafeText as exc:
            if exc.problem is TextProblem.BLANK:
                raise InvalidHandle(HandleProblem.EMPTY) from None
            if exc.problem is TextProblem.TOO_LONG:
                raise InvalidHandle(HandleProblem.TOO_LONG, limit=self.max_length) from None
            raise
        if match := re.match(self.url_pattern, text, flags=re.IGNORECASE):
            text = match.group(1)
        else:
            for pattern in self.video_patterns:
                if video := re.match(pattern, text, flags=re.IGNORECASE):
                    raise InvalidHandle(HandleProblem.VIDEO_LINK,
                                        detail=self._video_owner(video))
        text = text.removeprefix("@")
        if not text:
            raise InvalidHandle(HandleProblem.EMPTY)
        if any(ch.isspace() for ch in text):
            raise InvalidHandle(HandleProblem.SPACES)
        allowed = re.compile(f"[{self.allowed}]")
        shown, more = offending(text, allowed.fullmatch)
        if shown:
            raise InvalidHandle(HandleProblem.BAD_CHARACTERS, detail="".join(shown), more=more)
        if self.no_trailing_period and text.endswith("."):
            raise InvalidHandle(HandleProblem.TRAILING_PERIOD)
        if len(text) < self.min_length:
            raise InvalidHandle(HandleProblem.TOO_SHORT, limit=self.min_length)
        if len(text) > self.max_length:
            raise InvalidHandle(HandleProblem.TOO_LONG, limit=self.max_length)
        return text

    def _video_owner(self, match: re.Match[str]) -> str:
        """The handle a video address names, if there is one and it is a valid handle."""
        name = match.group(1) if match.re.groups else None
        if not name:
            return ""
        try:
            return self.normalise(name)
        except (InvalidHandle, UnsafeText):
            return ""

    @staticmethod
    def key(handle: str) -> str:
        """The form two handles are compared in (usernames are case-insensitive)."""
        return handle.lower()


@dataclass(frozen=True, slots=True)
class Platform:
    """What linking on one platform asks of the advertiser and grants to them."""

    id: str
    prerequisites: tuple[str, ...]
    handle_rule: HandleRule
    scopes: tuple[str, ...]
    # The scope that publishes content, which needs a visibility choice (None: no such scope).
    visibility_scope: str | None = None
    visibility_options: tuple[str, ...] = field(default=())
    available: bool = True


TIKTOK = Platform(
    id="tiktok",
    prerequisites=("business_center", "ad_account_role", "business_account"),
    handle_rule=HandleRule(
        allowed="A-Za-z0-9._",
        min_length=2,
        max_length=24,
        no_trailing_period=True,
        url_pattern=r"^(?:https?://)?(?:www\.|m\.)?tiktok\.com/@([^/?#\s]+)/?(?:[?#].*)?$",
        video_patterns=(
            r"^(?:https?://)?(?:www\.|m\.)?tiktok\.com/@([^/?#\s]+)/(?:video|photo)/\d+"
            r"/?(?:[?#].*)?$",
            r"^(?:https?://)?(?:vm|vt)\.tiktok\.com/[^\s]*$",
            r"^(?:https?://)?(?:www\.|m\.)?tiktok\.com/(?:t|v)/[^\s]*$",
        ),
    ),
    scopes=("existing_posts", "new_videos"),
    visibility_scope="new_videos",
    visibility_options=("ads_only", "profile_and_ads"),
)

PLATFORMS: dict[str, Platform] = {p.id: p for p in (TIKTOK,)}


def get_platform(platform_id: str) -> Platform:
    """Look a platform up by id; KeyError for an unknown one."""
    return PLATFORMS[platform_id]


def available_platforms() -> tuple[Platform, ...]:
    """The platforms an advertiser may pick today, in menu order."""
    return tuple(p for p in PLATFORMS.values() if p.available)


AD_ACCOUNT_NAME_MIN = 2
AD_ACCOUNT_NAME_MAX = 100


class AdAccountProblem(StrEnum):
    """Why an ad account name was refused."""

    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    MULTILINE = "multiline"
    QUESTION = "question"


class InvalidAdAccountName(ValueError):
    """An ad account name the flow will not store."""

    def __init__(self, problem: AdAccountProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def normalise_ad_account_name(raw: str) -> str:
    """Return a clean ad account name or raise InvalidAdAccountName (or UnsafeText)."""
    stripped = raw.strip(" \t\n\r")  # not str.strip(): controls at the ends are refused
    if "\n" in stripped:
        raise InvalidAdAccountName(AdAccountProblem.MULTILINE)
    try:
        # Bounded generously here: the name's own length rule below says "at most 100".
        text = " ".join(clean_text(stripped, max_length=10_000).split())
    except UnsafeText as exc:
        if exc.problem is TextProblem.BLANK:
            raise InvalidAdAccountName(AdAccountProblem.TOO_SHORT) from None
        raise
    if "?" in text:
        # A question mark never belongs in an account name; the text is a question for the FAQ.
        raise InvalidAdAccountName(AdAccountProblem.QUESTION)
    if len(text) < AD_ACCOUNT_NAME_MIN:
        raise InvalidAdAccountName(AdAccountProblem.TOO_SHORT)
    if len(text) > AD_ACCOUNT_NAME_MAX:
        raise InvalidAdAccountName(AdAccountProblem.TOO_LONG)
    return text


_QUESTION_START = re.compile(
    r"^(what|whats|what's|how|why|where|when|which|who|can|could|do|does|did|is|are|should|"
    r"will|would|may|help|explain|tell me)\b",
    re.IGNORECASE,
)


def looks_like_question(text: str) -> bool:
    """True for text phrased as a question, so it may go to the FAQ rather than the form."""
    stripped = text.strip()
    return stripped.endswith("?") or (
        len(stripped.split()) >= 3 and bool(_QUESTION_START.match(stripped))
    )
