"""Spark code rules on the in-memory unit of work: reading a video, the code's format, and the
lifecycle (make, apply, one advertiser only, extend, delete, expire) with every answer Ads
Manager gives, and that a refusal writes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from flows import spark, spark_flow, usecases
from flows.platforms import UnsafeText
from flows.records import SparkCodeRow
from flows.spark import CodeRefused, InvalidVideo, Stale, Video, VideoProblem
from flows.usecases import Actor
from tests.fakes import FakeUnitOfWork

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OWEN = Actor(2002, "Owen", "owen_creator")  # a creator
ADA = Actor(1001, "Ada", "ada_ads")  # an advertiser
BOB = Actor(4004, "Bob")  # another advertiser
VIDEO_ID = "7301234567890123456"
VIDEO_URL = f"https://www.tiktok.com/@owen.makes/video/{VIDEO_ID}?lang=en"


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


def told(uow: FakeUnitOfWork) -> list[tuple[str, int]]:
    return [(n.kind, n.chat_id) for n in uow.notices]


async def make(uow: FakeUnitOfWork, days: int = 30, video: str = VIDEO_URL,
               now: datetime = T0) -> SparkCodeRow:
    _, version = await spark.begin_code(uow, OWEN, video, now)
    return await spark.make_code(uow, OWEN, version, days, now)


# --- the video ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("typed", "expected"), [
    (VIDEO_URL, Video(VIDEO_ID, "owen.makes")),
    (f"tiktok.com/@Owen.Makes/video/{VIDEO_ID}", Video(VIDEO_ID, "Owen.Makes")),
    (f"  {VIDEO_ID}  ", Video(VIDEO_ID)),
])
def test_a_video_is_read_from_its_address_or_id(typed: str, expected: Video) -> None:
    assert spark.parse_video(typed) == expected


@pytest.mark.parametrize(("typed", "problem"), [
    ("", VideoProblem.EMPTY),
    ("https://vm.tiktok.com/ZMabc123/", VideoProblem.SHORT_LINK),
    (f"https://www.tiktok.com/@owen.makes/photo/{VIDEO_ID}", VideoProblem.PHOTO),
    ("https://www.tiktok.com/@owen.makes", VideoProblem.PROFILE),
    ("my best video", VideoProblem.NOT_A_VIDEO),
    ("12345", VideoProblem.NOT_A_VIDEO),
])
def test_what_is_not_a_video_says_why(typed: str, problem: VideoProblem) -> None:
    with pytest.raises(InvalidVideo) as caught:
        spark.parse_video(typed)
    assert caught.value.problem is problem


def test_a_video_with_invisible_characters_is_refused() -> None:
    with pytest.raises(UnsafeText):
        spark.parse_video(f"{VIDEO_ID}\u200b")


# --- the code -----------------------------------------------------------------------------------

def test_codes_look_like_spark_codes_and_never_repeat() -> None:
    codes = {spark.new_code() for _ in range(1000)}
    assert len(codes) == 1000
    for code in list(codes)[:50]:
        assert len(code) == spark.CODE_LENGTH and code[0] == "#" and code.endswith("=")
        assert re.fullmatch(r"#[A-Za-z0-9+/]+=", code)
        assert spark.normalise_code(f"  {code}\n") == code
        assert spark.normalise_code(code[1:]) == code  # the "#" left behind when copying


@pytest.mark.parametrize("damage", [
    lambda c: c[:-5],  # cut short
    lambda c: c[:20] + " " + c[20:],  # a space inside
    lambda c: c[:20] + "\u200b" + c[20:],  # an invisible character inside
    lambda c: c + "x",
    lambda c: "",
])
def test_a_damaged_code_is_a_format_error(damage: object) -> None:
    code = spark.new_code()
    with pytest.raises(CodeRefused) as caught:
        spark.normalise_code(damage(code))  # type: ignore[operator]
    assert caught.value.reason == "format"


# --- the lifecycle ------------------------------------------------------------------------------

async def test_a_code_is_made_for_the_chosen_period(uow: FakeUnitOfWork) -> None:
    code = await make(uow, days=60)
    assert (code.video_id, code.video_handle, code.days) == (VIDEO_ID, "owen.makes", 60)
    assert code.expires_at == T0 + timedelta(days=60) and code.status == "active"
    assert (await spark.codes(uow, OWEN.id)).made == [(code, None)]


async def test_the_period_question_is_answered_once(uow: FakeUnitOfWork) -> None:
    _, version = await spark.begin_code(uow, OWEN, VIDEO_ID, T0)
    await spark.make_code(uow, OWEN, version, 7, T0)
    with pytest.raises(Stale):
        await spark.make_code(uow, OWEN, version, 30, T0)
    assert len(uow.spark_codes.rows) == 1


async def test_only_the_offered_periods(uow: FakeUnitOfWork) -> None:
    _, version = await spark.begin_code(uow, OWEN, VIDEO_ID, T0)
    with pytest.raises(Stale):
        await spark.make_code(uow, OWEN, version, 180, T0)
    assert uow.spark_codes.rows == {}


async def test_applied_by_one_advertiser_who_sees_the_video_and_creator(
        uow: FakeUnitOfWork) -> None:
    code = await make(uow)
    applied = await spark.apply_code(uow, ADA, code.code, T0 + timedelta(hours=1))
    assert applied.code.applied_by == ADA.id and not applied.again
    assert applied.creator is not None and applied.creator.first_name == "Owen"
    assert told(uow) == [("spark_applied_for_creator", OWEN.id)]
    again = await spark.apply_code(uow, ADA, code.code, T0 + timedelta(hours=2))
    assert again.again and told(uow) == [("spark_applied_for_creator", OWEN.id)]
    before = uow.snapshot()
    with pytest.raises(CodeRefused) as caught:
        await spark.apply_code(uow, BOB, code.code, T0 + timedelta(hours=3))
    assert caught.value.reason == "taken"
    assert uow.snapshot() == before
    assert (await spark.codes(uow, ADA.id)).applied == [(applied.code, applied.creator)]


async def test_wrong_format_not_found_own_and_expired(uow: FakeUnitOfWork) -> None:
    code = await make(uow, days=7)
    before = uow.snapshot()
    for who, text, reason in [(ADA, code.code[:40], "format"),
                              (ADA, spark.new_code(), "not_found"),
                              (OWEN, code.code, "own")]:
        with pytest.raises(CodeRefused) as caught:
            await spark.apply_code(uow, who, text, T0)
        assert caught.value.reason == reason
    assert uow.snapshot() == before
    # Past its period, before the clock got to it: expired all the same.
    with pytest.raises(CodeRefused) as caught:
        await spark.apply_code(uow, ADA, code.code, T0 + timedelta(days=7))
    assert caught.value.reason == "expired"
    assert caught.value.expires_at == code.expires_at


async def test_extend_gives_a_new_period_and_tells_the_advertiser(
        uow: FakeUnitOfWork) -> None:
    code = await make(uow, days=7)
    applied = (await spark.apply_code(uow, ADA, code.code, T0)).code
    later = T0 + timedelta(days=3)
    extended = await spark.extend_code(uow, OWEN, code.key, applied.version, 365, later)
    assert extended.expires_at == later + timedelta(days=365) and extended.days == 365
    assert told(uow)[-1] == ("spark_extended_for_advertiser", ADA.id)
    # The Extend button drawn before the extension no longer works.
    with pytest.raises(Stale):
        await spark.extend_code(uow, OWEN, code.key, applied.version, 30, later)
    # Nobody but the creator extends.
    with pytest.raises(Stale):
        await spark.extend_code(uow, ADA, code.key, extended.version, 30, later)


async def test_deleted_codes_are_not_found(uow: FakeUnitOfWork) -> None:
    code = await make(uow)
    with pytest.raises(Stale):
        await spark.delete_code(uow, ADA, code.key, code.version, T0)
    deleted = await spark.delete_code(uow, OWEN, code.key, code.version, T0)
    assert deleted.status == "deleted"
    assert told(uow) == []  # nobody had applied it
    with pytest.raises(CodeRefused) as caught:
        await spark.apply_code(uow, ADA, code.code, T0)
    assert caught.value.reason == "not_found"
    assert (await spark.codes(uow, OWEN.id)).made == []
    with pytest.raises(Stale):
        await spark.delete_code(uow, OWEN, code.key, deleted.version, T0)


async def test_deleting_an_applied_code_tells_its_advertiser(uow: FakeUnitOfWork) -> None:
    code = await make(uow)
    applied = (await spark.apply_code(uow, ADA, code.code, T0)).code
    await spark.delete_code(uow, OWEN, code.key, applied.version, T0)
    assert told(uow)[-1] == ("spark_deleted_for_advertiser", ADA.id)


async def test_the_clock_expires_codes_and_tells_both_sides(uow: FakeUnitOfWork) -> None:
    unused = await make(uow, days=7)
    used = await make(uow, days=7)
    later = await make(uow, days=30)
    await spark.apply_code(uow, ADA, used.code, T0)
    uow.outbox.notices.clear()
    assert await spark.expire_codes(uow, T0 + timedelta(days=7) - timedelta(seconds=1)) == []
    expired = await spark.expire_codes(uow, T0 + timedelta(days=7))
    assert sorted(c.id for c in expired) == sorted([unused.id, used.id])
    assert sorted(told(uow)) == sorted([("spark_expired_for_creator", OWEN.id),
                                        ("spark_expired_for_creator", OWEN.id),
                                        ("spark_expired_for_advertiser", ADA.id)])
    assert await spark.expire_codes(uow, T0 + timedelta(days=8)) == []  # once only
    assert uow.spark_codes.rows[later.id].status == "active"
    with pytest.raises(CodeRefused) as caught:
        await spark.apply_code(uow, BOB, unused.code, T0 + timedelta(days=8))
    assert caught.value.reason == "expired"


async def test_an_expired_code_extended_works_again_for_its_advertiser(
        uow: FakeUnitOfWork) -> None:
    code = await make(uow, days=7)
    await spark.apply_code(uow, ADA, code.code, T0)
    await spark.expire_codes(uow, T0 + timedelta(days=7))
    expired = uow.spark_codes.rows[code.id]
    now = T0 + timedelta(days=10)
    await spark.extend_code(uow, OWEN, code.key, expired.version, 30, now)
    assert (await spark.apply_code(uow, ADA, code.code, now)).again
    with pytest.raises(CodeRefused) as caught:
        await spark.apply_code(uow, BOB, code.code, now)
    assert caught.value.reason == "taken"


async def test_deleteme_erases_unused_codes_and_keeps_applied_ones(
        uow: FakeUnitOfWork) -> None:
    unused = await make(uow)
    used = await make(uow)
    await spark.apply_code(uow, ADA, used.code, T0)
    erased = await usecases.erase_person(uow, OWEN.id, T0)
    assert erased.codes == 1
    assert set(uow.spark_codes.rows) == {used.id}
    with pytest.raises(CodeRefused) as caught:
        await spark.apply_code(uow, BOB, unused.code, T0)
    assert caught.value.reason == "not_found"
    applied = await spark.apply_code(uow, ADA, used.code, T0)
    assert applied.creator is not None and applied.creator.deleted


# --- the machine's rules ------------------------------------------------------------------------

LATER = T0 + timedelta(days=30)


@pytest.mark.parametrize(("status", "event", "actor", "applied_by", "now", "outcome"), [
    ("active", "apply", ADA.id, None, T0, "active"),
    ("active", "apply", ADA.id, ADA.id, T0, "active"),  # their own, again
    ("active", "apply", ADA.id, BOB.id, T0, "taken"),
    ("active", "apply", ADA.id, None, LATER, "expired"),  # due, not yet swept
    ("expired", "apply", ADA.id, ADA.id, T0, "expired"),
    ("deleted", "apply", ADA.id, None, T0, "not_found"),
    ("active", "apply", OWEN.id, None, T0, "own"),
    ("active", "extend", OWEN.id, ADA.id, T0, "active"),
    ("expired", "extend", OWEN.id, None, LATER, "active"),
    ("deleted", "extend", OWEN.id, None, T0, "gone"),
    ("active", "extend", ADA.id, ADA.id, T0, "gone"),
    ("expired", "delete", OWEN.id, None, T0, "deleted"),
    ("active", "delete", BOB.id, None, T0, "gone"),
    ("active", "expire", None, None, LATER, "expired"),
    ("active", "expire", None, None, T0, "not_due"),
    ("deleted", "expire", None, None, LATER, "not_due"),
])
def test_who_may_do_what_to_a_code(status: str, event: str, actor: int | None,
                                   applied_by: int | None, now: datetime,
                                   outcome: str) -> None:
    try:
        result = str(spark_flow.judge(status, event, actor, creator_id=OWEN.id,
                                      applied_by=applied_by, now=now,
                                      expires_at=T0 + timedelta(days=7)))
    except CodeRefused as refused:
        result = refused.reason
    assert result == outcome
