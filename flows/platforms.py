"""Platforms an advertiser can link, described as data so flows never hard-code one of them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class HandleProblem(StrEnum):
    """Why a handle was refused; the bot turns each into a sentence."""

    EMPTY = "empty"
    SPACES = "spaces"
    BAD_CHARACTERS = "bad_characters"
    TRAILING_PERIOD = "trailing_period"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"


class InvalidHandle(ValueError):
    """A handle that breaks the platform's username rules."""

    def __init__(self, problem: HandleProblem, *, detail: str = "", limit: int = 0) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.detail = detail
        self.limit = limit


@dataclass(frozen=True, slots=True)
class HandleRule:
    """A platform's username rules: allowed characters, length, and the profile URL prefix."""

    allowed: str  # a regex character class body, e.g. "A-Za-z0-9._"
    min_length: int
    max_length: int
    no_trailing_period: bool
    url_pattern: str  # matches a pasted profile URL; group 1 is the handle

    def normalise(self, raw: str) -> str:
        """Return the handle as typed without '@' or URL, or raise InvalidHandle with the reason."""
        text = raw.strip()
        if match := re.match(self.url_pattern, text, flags=re.IGNORECASE):
            text = match.group(1)
        text = text.removeprefix("@")
        if not text:
            raise InvalidHandle(HandleProblem.EMPTY)
        if any(ch.isspace() for ch in text):
            raise InvalidHandle(HandleProblem.SPACES)
        bad = sorted(set(re.sub(f"[{self.allowed}]", "", text)))
        if bad:
            raise InvalidHandle(HandleProblem.BAD_CHARACTERS, detail="".join(bad))
        if self.no_trailing_period and text.endswith("."):
            raise InvalidHandle(HandleProblem.TRAILING_PERIOD)
        if len(text) < self.min_length:
            raise InvalidHandle(HandleProblem.TOO_SHORT, limit=self.min_length)
        if len(text) > self.max_length:
            raise InvalidHandle(HandleProblem.TOO_LONG, limit=self.max_length)
        return text

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
    """Return a clean ad account name or raise InvalidAdAccountName."""
    stripped = raw.strip()
    if "\n" in stripped:
        raise InvalidAdAccountName(AdAccountProblem.MULTILINE)
    text = " ".join(stripped.split())
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
