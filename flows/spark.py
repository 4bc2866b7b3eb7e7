"""Spark Ads authorization codes (TikTok): the rules and use cases.

A creator makes a code for one of their videos, valid for a period they choose, and sends it to
an advertiser; the advertiser applies it and gets the answer TikTok Ads Manager would give.
A code serves one advertiser only, can be extended or deleted by its creator, and expires by
itself (the clock's job), which both sides are told.

The code itself is kept in the clear, on purpose. TikTok lets a creator copy a code again at
any time (Ad settings, Manage, Copy code), and Linkpilot's /codes does the same: a hash alone
would make that impossible. What keeps a code safe instead: it is 47 random bytes from
`secrets` (nobody guesses it), it works for one advertiser only, it expires, its creator can
delete it, it never appears in a log or a callback, and /deleteme erases the creator's unused
codes. (Approval links are different: they are never shown twice, so only their hash is kept.)
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flows.platforms import (
    MAX_HANDLE_INPUT,
    TIKTOK,
    InvalidHandle,
    TextProblem,
    UnsafeText,
    clean_text,
)
from flows.ports import UnitOfWork
from flows.records import ConversationRow, Notice, SparkCodeRow, UserRow
from flows.spark_flow import CodeRefused as CodeRefused  # callers catch it from here
from flows.spark_flow import judge
from flows.usecases import Actor

SPARK_FLOW = "spark"  # per user: the video waiting for a validity choice
VALIDITY_DAYS = (7, 30, 60, 365)  # the periods TikTok offers (domain notes 1.E)
CODE_BYTES = 47  # base64: 64 characters, the last one "=", like TikTok's codes
CODE_LENGTH = 1 + 64  # with the leading "#"
_CODE = re.compile(r"#[A-Za-z0-9+/]{63}=")
_VIDEO_ID = re.compile(r"\d{10,25}")  # TikTok's are 19 digits today
_VIDEO_IN_ADDRESS = re.compile(r"/video/(\d{10,25})(?:[/?#]|$)")


# --- what the creator types -----------------------------------------------------------------------

class VideoProblem(StrEnum):
    """Why text was not taken as one of the creator's videos."""

    EMPTY = "empty"
    SHORT_LINK = "short_link"  # vm.tiktok.com/...: the video's id is not in it
    PHOTO = "photo"
    PROFILE = "profile"
    NOT_A_VIDEO = "not_a_video"


class InvalidVideo(ValueError):
    def __init__(self, problem: VideoProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Video:
    """A TikTok video: its id, and its account's handle when the address named it."""

    id: str
    handle: str | None = None


def parse_video(raw: str) -> Video:
    """A video from a pasted TikTok video address or a numeric video id; raises InvalidVideo
    (or UnsafeText for invisible or control characters)."""
    try:
        text = clean_text(raw, max_length=MAX_HANDLE_INPUT)
    except UnsafeText as exc:
        if exc.problem is TextProblem.BLANK:
            raise InvalidVideo(VideoProblem.EMPTY) from None
        raise
    if _VIDEO_ID.fullmatch(text):
        return Video(text)
    rule = TIKTOK.handle_rule
    # The platform's own patterns say what a video address is; the first one names the account.
    for pattern in rule.video_patterns:
        if match := re.match(pattern, text, flags=re.IGNORECASE):
            found = _VIDEO_IN_ADDRESS.search(match.group(0))
            if found is None:
                if "/photo/" in text.lower():
                    raise InvalidVideo(VideoProblem.PHOTO)
                raise InvalidVideo(VideoProblem.SHORT_LINK)
            return Video(found.group(1), _handle_of(match))
    if re.match(rule.url_pattern, text, flags=re.IGNORECASE):
        raise InvalidVideo(VideoProblem.PROFILE)
    raise InvalidVideo(VideoProblem.NOT_A_VIDEO)


def _handle_of(match: re.Match[str]) -> str | None:
    name = match.group(1) if match.re.groups else None
    if not name:
        return None
    try:
        return TIKTOK.handle_rule.normalise(name)
    except (InvalidHandle, UnsafeText):
        return None


# --- the codes ------------------------------------------------------------------------------------

def new_code() -> str:
    """A fresh code: "#" and 64 base64 characters from 47 random bytes (376 bits)."""
    return "#" + base64.b64encode(secrets.token_bytes(CODE_BYTES)).decode("ascii")


def new_code_key() -> str:
    """A short opaque key naming a code row in callback data (never the code itself)."""
    return secrets.token_urlsafe(9)


def normalise_code(raw: str) -> str:
    """The code as stored, from what was pasted (spaces around it ignored); CodeRefused
    ("format") for anything that is not a whole code."""
    text = raw.strip()
    if not text.startswith("#"):
        text = "#" + text  # the "#" is easily left behind when copying
    if not _CODE.fullmatch(text):
        raise CodeRefused("format")
    return text


def expiry_for(now: datetime, days: int) -> datetime:
    if days not in VALIDITY_DAYS:
        raise ValueError(f"validity of {days} days is not offered")
    return now + timedelta(days=days)


class Stale(Exception):
    """A button about a code (or a video waiting for a period) that has changed since."""


# --- use cases ------------------------------------------------------------------------------------

async def _seen(uow: UnitOfWork, who: Actor, now: datetime) -> None:
    await uow.users.seen(who.id, who.first_name, who.username, now)


async def begin_code(uow: UnitOfWork, creator: Actor, raw_video: str, now: datetime
                     ) -> tuple[Video, int]:
    """/code <video>: remember the video until a validity period is chosen. Returns the video
    and the version the period buttons carry. Raises InvalidVideo or UnsafeText."""
    video = parse_video(raw_video)
    await _seen(uow, creator, now)
    row = await uow.conversations.load(creator.id, SPARK_FLOW)
    before = row or ConversationRow(creator.id, SPARK_FLOW, "choosing", {}, 0)
    saved = await uow.conversations.save(
        before, "choosing", {"video": video.id, "handle": video.handle}, now)
    return video, saved.version


async def make_code(uow: UnitOfWork, creator: Actor, version: int, days: int,
                    now: datetime) -> SparkCodeRow:
    """A validity period chosen: make the code. Stale if that question was answered since."""
    row = await uow.conversations.load(creator.id, SPARK_FLOW)
    if row is None or row.state != "choosing" or row.version != version \
            or days not in VALIDITY_DAYS:
        raise Stale()
    await uow.conversations.save(row, "done", {}, now)
    return await uow.spark_codes.create(
        key=new_code_key(), code=new_code(), creator_id=creator.id,
        video_id=row.data["video"], video_handle=row.data.get("handle"), days=days, now=now,
        expires_at=expiry_for(now, days))


@dataclass(frozen=True, slots=True)
class Codes:
    """What /codes lists: the codes a person made (not deleted), and the ones they applied
    with their creators."""

    made: list[tuple[SparkCodeRow, UserRow | None]]
    applied: list[tuple[SparkCodeRow, UserRow | None]]


async def codes(uow: UnitOfWork, user_id: int) -> Codes:
    """The person's codes, newest first: made (with who applied each) and applied."""
    made = [(c, await uow.users.get(c.applied_by) if c.applied_by is not None else None)
            for c in await uow.spark_codes.of_creator(user_id)]
    applied = [(c, await uow.users.get(c.creator_id))
               for c in await uow.spark_codes.applied_by(user_id)]
    return Codes(made, applied)


async def own_code(uow: UnitOfWork, creator_id: int, key: str, version: int, event: str,
                   now: datetime) -> tuple[SparkCodeRow, UserRow | None]:
    """The creator's code as the button saw it, if `event` ("extend" or "delete") may happen
    to it, with the advertiser who applied it; Stale if it changed, is gone or isn't theirs."""
    code = await uow.spark_codes.by_key(key)
    if code is None or code.version != version:
        raise Stale()
    try:
        judge(code.status, event, creator_id, creator_id=code.creator_id,
              applied_by=code.applied_by, now=now, expires_at=code.expires_at)
    except CodeRefused:
        raise Stale() from None
    applied = await uow.users.get(code.applied_by) if code.applied_by is not None else None
    return code, applied


async def extend_code(uow: UnitOfWork, creator: Actor, key: str, version: int, days: int,
                      now: datetime) -> SparkCodeRow:
    """A new validity period from now, for an active or expired code (an expired one works
    again); the advertiser who applied it is told. Stale if the code changed meanwhile."""
    code, _ = await own_code(uow, creator.id, key, version, "extend", now)
    if days not in VALIDITY_DAYS or not await uow.spark_codes.extend(
            code.id, version, days, expiry_for(now, days), now):
        raise Stale()
    after = await uow.spark_codes.get(code.id)
    assert after is not None
    if after.applied_by is not None:
        uow.outbox.add(Notice("spark_extended_for_advertiser", after.applied_by,
                              data={"code_id": after.id}))
    return after


async def delete_code(uow: UnitOfWork, creator: Actor, key: str, version: int,
                      now: datetime) -> SparkCodeRow:
    """Delete a code (confirmed): applying it answers auth_code_not_found from now on, and
    the advertiser who applied it is told. Stale if it changed meanwhile."""
    code, _ = await own_code(uow, creator.id, key, version, "delete", now)
    if not await uow.spark_codes.delete(code.id, version, now):
        raise Stale()
    if code.applied_by is not None:
        uow.outbox.add(Notice("spark_deleted_for_advertiser", code.applied_by,
                              data={"code_id": code.id}))
    after = await uow.spark_codes.get(code.id)
    assert after is not None
    return after


@dataclass(frozen=True, slots=True)
class Applied:
    code: SparkCodeRow
    creator: UserRow | None
    again: bool  # this advertiser had applied it already


async def apply_code(uow: UnitOfWork, advertiser: Actor, raw: str, now: datetime
                     ) -> Applied:
    """/apply <code>: what Ads Manager answers. Raises CodeRefused with the reason; the
    creator is told when their code is applied."""
    text = normalise_code(raw)
    code = await uow.spark_codes.by_code(text)
    if code is None:
        raise CodeRefused("not_found")
    judge(code.status, "apply", advertiser.id, creator_id=code.creator_id,
          applied_by=code.applied_by, now=now, expires_at=code.expires_at)
    creator = await uow.users.get(code.creator_id)
    if code.applied_by == advertiser.id:
        return Applied(code, creator, again=True)
    await _seen(uow, advertiser, now)  # the code names them from now on
    if not await uow.spark_codes.apply(code.id, advertiser.id, now):
        raise CodeRefused("taken", code.expires_at)  # another advertiser was a moment faster
    after = await uow.spark_codes.get(code.id)
    assert after is not None
    uow.outbox.add(Notice("spark_applied_for_creator", after.creator_id,
                          data={"code_id": after.id}))
    return Applied(after, creator, again=False)


async def expire_codes(uow: UnitOfWork, now: datetime, limit: int = 100
                       ) -> list[SparkCodeRow]:
    """The clock: codes whose period is over expire, and the creator and the advertiser who
    applied each are told. Conditional updates: safe in several processes, and nothing is
    forgotten after downtime (the due codes are read from the database)."""
    expired = []
    for code in await uow.spark_codes.due(now, limit):
        try:
            judge(code.status, "expire", None, creator_id=code.creator_id,
                  applied_by=code.applied_by, now=now, expires_at=code.expires_at)
        except CodeRefused:
            continue
        if not await uow.spark_codes.expire(code.id, now):
            continue  # extended, deleted or expired meanwhile
        uow.outbox.add(Notice("spark_expired_for_creator", code.creator_id,
                              data={"code_id": code.id}))
        if code.applied_by is not None:
            uow.outbox.add(Notice("spark_expired_for_advertiser", code.applied_by,
                                  data={"code_id": code.id}))
        expired.append(code)
    return expired


# --- a code pasted without /apply (issue 10, gaps) ------------------------------------------------

def looks_like_code(text: str) -> bool:
    """True when typed text is a whole Spark code (the same format check /apply makes), so
    it can be told apart from a question."""
    try:
        normalise_code(text)
    except CodeRefused:
        return False
    return True
