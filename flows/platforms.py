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
    # Characters two handles are compared without (Facebook ignores periods in usernames).
    ignored_in_key: str = ""
    # Addresses that name the account by a numeric id (group 1), and whether a bare number is
    # taken as such an id; ids skip the username rules.
    id_patterns: tuple[str, ...] = ()
    numeric_ids: bool = False
    # How the platform writes an account (issue 10, gaps): "@name" or the bare name, and the
    # words before a numeric id ("Page ID 100064212345678").
    at_sign: bool = True
    id_label: str = ""

    def display(self, handle: str) -> str:
        """The account as the platform writes it, for every message that names it."""
        if self.numeric_ids and handle.isascii() and handle.isdigit():
            return f"{self.id_label} {handle}".strip()
        return f"@{handle}" if self.at_sign else handle

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
        for pattern in self.id_patterns:
            if by_id := re.match(pattern, text, flags=re.IGNORECASE):
                return by_id.group(1)
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
        if self.numeric_ids and text.isascii() and text.isdigit():
            return text
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

    def key(self, handle: str) -> str:
        """The form two handles are compared in (usernames are case-insensitive, and some
        platforms ignore periods too)."""
        key = handle.lower()
        for ch in self.ignored_in_key:
            key = key.replace(ch, "")
        return key


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
    # Which set of next steps and removal paths the bot tells both sides (bot/guides.py).
    guide: str = "tiktok"
    # Scopes that stand alone: choosing one clears the others, choosing another clears it.
    exclusive_scopes: tuple[str, ...] = ()
    # The agency's own Business ID is asked after the ad account (Meta partner access).
    asks_business_id: bool = False
    # Access that ends by itself: (fewest, most) days, and the lengths offered as buttons.
    temporary_days: tuple[int, int] | None = None
    duration_choices: tuple[int, ...] = ()


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

# --- Meta: Instagram and Facebook Pages (partner access) ------------------------------------
# Meta's names for access to a Page or an Instagram account: full control, or partial access
# with tasks (Meta Business Help Center on Page access, as mirrored by chatarchitect).
META_SCOPES = ("full_control", "content", "community_activity", "messages_calls", "ads",
               "insights", "leads")
# Meta documents temporary access of 3 to 75 days (for people in a portfolio).
META_TEMPORARY_DAYS = (3, 75)

INSTAGRAM = Platform(
    id="instagram",
    prerequisites=("agency_portfolio", "professional_account", "connected_page",
                   "page_in_portfolio"),
    handle_rule=HandleRule(
        # Only third-party sources give these rules (up to 30 letters, digits, "_" and "."),
        # and none gives a minimum or rules on where periods may stand: they are not enforced.
        allowed="A-Za-z0-9._",
        min_length=1,
        max_length=30,
        no_trailing_period=False,
        url_pattern=r"^(?:https?://)?(?:www\.|m\.)?instagram\.com/@?([^/?#\s]+)/?(?:[?#].*)?$",
        video_patterns=(
            r"^(?:https?://)?(?:www\.|m\.)?instagram\.com/stories/([^/?#\s]+)/[^\s]*$",
            r"^(?:https?://)?(?:www\.|m\.)?instagram\.com/(?:p|reel|reels|tv)/[^\s]*$",
            r"^(?:https?://)?(?:www\.|m\.)?instagram\.com/([^/?#\s]+)/(?:p|reel|reels|tv)/"
            r"[^\s]*$",
        ),
    ),
    scopes=META_SCOPES,
    guide="meta",
    exclusive_scopes=("full_control",),
    asks_business_id=True,
    temporary_days=META_TEMPORARY_DAYS,
    duration_choices=(7, 30, 75),
)

FACEBOOK_PAGE = Platform(
    id="facebook",
    prerequisites=("agency_portfolio", "page_portfolio", "approver_full_control",
                   "two_factor"),
    handle_rule=HandleRule(
        # Meta's help: A-Z, 0-9 and periods, at least 5 characters, periods and capitals not
        # telling usernames apart. No source gives a maximum: 50 only bounds what is stored.
        allowed="A-Za-z0-9.",
        min_length=5,
        max_length=50,
        no_trailing_period=False,
        url_pattern=r"^(?:https?://)?(?:www\.|m\.|web\.)?(?:facebook|fb)\.com/"
                    # Not the site's own paths: posts, videos and id addresses are read below.
                    r"(?!(?:profile\.php|people|pages|watch|reel|share|story\.php|photo|"
                    r"permalink\.php|groups|events)(?:[/?#]|$))([^/?#\s]+)/?(?:[?#].*)?$",
        video_patterns=(
            r"^(?:https?://)?(?:www\.|m\.|web\.)?(?:facebook|fb)\.com/([^/?#\s]+)/"
            r"(?:posts|videos|photos|reels)/[^\s]*$",
            r"^(?:https?://)?(?:www\.|m\.|web\.)?(?:facebook|fb)\.com/(?:watch|reel|share|"
            r"story\.php|photo|permalink\.php)[/?][^\s]*$",
            r"^(?:https?://)?fb\.watch/[^\s]*$",
        ),
        ignored_in_key=".",
        # Pages without a username go by their numeric id (profile.php?id=...).
        id_patterns=(
            r"^(?:https?://)?(?:www\.|m\.|web\.)?(?:facebook|fb)\.com/profile\.php\?"
            r"(?:[^#\s]*&)?id=(\d+)(?:[&#][^\s]*)?$",
            r"^(?:https?://)?(?:www\.|m\.|web\.)?(?:facebook|fb)\.com/(?:people|pages)/"
            r"[^/?#\s]+/(\d+)/?(?:[?#][^\s]*)?$",
        ),
        numeric_ids=True,
        at_sign=False,
        id_label="Page ID",
    ),
    scopes=META_SCOPES,
    guide="meta",
    exclusive_scopes=("full_control",),
    asks_business_id=True,
    temporary_days=META_TEMPORARY_DAYS,
    duration_choices=(7, 30, 75),
)

PLATFORMS: dict[str, Platform] = {p.id: p for p in (TIKTOK, INSTAGRAM, FACEBOOK_PAGE)}


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


# --- Meta: the agency's Business ID and temporary access ----------------------------------------
# The only source on the Business (portfolio) ID's length says 16 digits, and it is a
# third-party one; Meta's numeric ids have grown over the years (older ones have 15 digits), so
# one digit either way is accepted rather than refusing a real ID on that source's word.
BUSINESS_ID_MIN, BUSINESS_ID_MAX = 15, 17


class AnswerProblem(StrEnum):
    """Why a Business ID or a number of days was refused."""

    EMPTY = "empty"
    NOT_DIGITS = "not_digits"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    OUT_OF_RANGE = "out_of_range"


class InvalidAnswer(ValueError):
    """A typed Business ID or number of days the flow will not take; `field` names which."""

    def __init__(self, field_name: str, problem: AnswerProblem, *, low: int = 0,
                 high: int = 0, length: int = 0) -> None:
        super().__init__(problem.value)
        self.field = field_name
        self.problem = problem
        self.low, self.high, self.length = low, high, length


def normalise_business_id(raw: str) -> str:
    """A Business ID as digits only (spaces and dashes people paste are dropped), or
    InvalidAnswer with the reason."""
    text = clean_text(raw, max_length=MAX_HANDLE_INPUT) if raw.strip() else ""
    digits = re.sub(r"[\s\-]", "", text)
    if not digits:
        raise InvalidAnswer("business_id", AnswerProblem.EMPTY)
    if not (digits.isascii() and digits.isdigit()):
        raise InvalidAnswer("business_id", AnswerProblem.NOT_DIGITS)
    if len(digits) < BUSINESS_ID_MIN:
        raise InvalidAnswer("business_id", AnswerProblem.TOO_SHORT, low=BUSINESS_ID_MIN,
                            high=BUSINESS_ID_MAX, length=len(digits))
    if len(digits) > BUSINESS_ID_MAX:
        raise InvalidAnswer("business_id", AnswerProblem.TOO_LONG, low=BUSINESS_ID_MIN,
                            high=BUSINESS_ID_MAX, length=len(digits))
    return digits


def normalise_access_days(platform: Platform, raw: str) -> int:
    """A typed number of days of temporary access, within the platform's range, or
    InvalidAnswer with the reason ("30", "30 days" and "30d" all read as 30)."""
    assert platform.temporary_days is not None
    low, high = platform.temporary_days
    text = re.sub(r"\s*(?:days?|d)\s*$", "", raw.strip(), flags=re.IGNORECASE)
    if not text:
        raise InvalidAnswer("access_days", AnswerProblem.EMPTY, low=low, high=high)
    if not (text.isascii() and text.isdigit()):
        raise InvalidAnswer("access_days", AnswerProblem.NOT_DIGITS, low=low, high=high)
    days = int(text)
    if not low <= days <= high:
        raise InvalidAnswer("access_days", AnswerProblem.OUT_OF_RANGE, low=low, high=high)
    return days


# --- Commands that name an account: /claim, /verify, /admin claim (issue 10, gaps) ---------------

@dataclass(frozen=True, slots=True)
class AccountArgs:
    """What a command's arguments say about an account: its platform (None when they name
    none that exists) and the identifier as typed (None when only a platform was given)."""

    platform: Platform | None
    raw: str | None


def _names_platform(rule: HandleRule, text: str) -> bool:
    """True when `text` is an address on this platform (a profile, an id or a video)."""
    patterns = (rule.url_pattern, *rule.id_patterns, *rule.video_patterns)
    return any(re.match(p, text, flags=re.IGNORECASE) for p in patterns)


def read_account_args(args: list[str], default: str = "tiktok") -> AccountArgs:
    """Read `[platform] identifier` as people type it after a command.

    A bare platform word ("instagram") names the platform and no account, so nothing is read
    as an account called @instagram; a profile address names its own platform; otherwise the
    identifier is the default platform's (TikTok, the oldest form of the commands)."""
    if len(args) == 2:
        return AccountArgs(PLATFORMS.get(args[0].lower()), args[1])
    if len(args) != 1:
        return AccountArgs(None, None)
    word = args[0]
    if word.lower() in PLATFORMS:
        return AccountArgs(PLATFORMS[word.lower()], None)
    for platform in PLATFORMS.values():
        if _names_platform(platform.handle_rule, word):
            return AccountArgs(platform, word)
    return AccountArgs(PLATFORMS[default], word)


def account(platform_id: str, handle: str) -> str:
    """An account as its platform writes it: "@name" on TikTok and Instagram, "page.name" or
    "Page ID 100064212345678" for a Facebook Page (an unknown platform: "@name")."""
    platform = PLATFORMS.get(platform_id)
    return platform.handle_rule.display(handle) if platform else f"@{handle}"
