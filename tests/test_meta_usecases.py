"""Temporary access (Meta partner access) on the in-memory unit of work: when it ends, who is
told, and what it leaves alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows import usecases
from flows.access import end_access_due
from flows.records import RequestRow
from flows.request_flow import Status
from flows.usecases import Actor
from tests.fakes import FakeUnitOfWork

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LIFETIME = timedelta(days=7)
ADA, OWEN = Actor(1001, "Ada", "ada_ads"), Actor(2002, "Owen")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


async def meta_request(uow: FakeUnitOfWork, days: str) -> RequestRow:
    """Owen's Instagram account claimed, and Ada's request for it sent (`days`: "0" for
    access until removed)."""
    await usecases.claim(uow, OWEN, "instagram", "owen.makes", T0)
    step = await usecases.begin_link(uow, ADA, T0)

    async def press(event: str, **kwargs: str) -> usecases.Step:
        return await usecases.link_event(uow, ADA.id, event, T0, LIFETIME, **kwargs)

    async def type_(text: str) -> usecases.Step:
        row = await usecases.conversation(uow, ADA.id)
        assert row is not None
        return await usecases.link_text(uow, row, text, T0, LIFETIME)

    step = await press("choose_platform", platform="instagram")
    while step.position.state == "prerequisite":
        step = await press("answer_yes")
    await type_("Acme Ads")
    await type_("1234567890123456")
    await type_("@owen.makes")
    await press("toggle_scope", scope="ads")
    await press("confirm_scopes")
    await press("choose_duration", days=days)
    step = await press("send")
    assert step.request is not None
    uow.notices.clear()
    return step.request


async def approved(uow: FakeUnitOfWork, days: str, at: datetime) -> RequestRow:
    request = await meta_request(uow, days)
    await usecases.decide(uow, OWEN, "approve", at, key=request.key)
    uow.notices.clear()
    after = await uow.requests.get(request.id)
    assert after is not None
    return after


async def test_the_request_keeps_the_business_id_and_the_length(uow: FakeUnitOfWork) -> None:
    request = await meta_request(uow, "30")
    assert (request.business_id, request.access_days, request.access_ends_at) == \
        ("1234567890123456", 30, None)


async def test_access_runs_from_the_approval_and_ends_when_due(uow: FakeUnitOfWork) -> None:
    at = T0 + timedelta(days=3)
    request = await approved(uow, "30", at)
    assert request.access_ends_at == at + timedelta(days=30)
    assert await end_access_due(uow, at + timedelta(days=30) - timedelta(seconds=1)) == []
    ended = await end_access_due(uow, at + timedelta(days=30))
    assert [(r.id, r.status) for r in ended] == [(request.id, Status.ENDED)]
    assert [(n.kind, n.chat_id) for n in uow.notices] == [
        ("access_ended_for_advertiser", ADA.id), ("access_ended_for_owner", OWEN.id)]
    assert await end_access_due(uow, at + timedelta(days=60)) == []  # once only


async def test_access_until_removed_has_no_end(uow: FakeUnitOfWork) -> None:
    request = await approved(uow, "0", T0)
    assert (request.access_days, request.access_ends_at) == (None, None)
    assert await end_access_due(uow, T0 + timedelta(days=3650)) == []


async def test_revoked_access_is_not_ended_again(uow: FakeUnitOfWork) -> None:
    request = await approved(uow, "7", T0)
    await usecases.decide(uow, OWEN, "revoke", T0 + timedelta(days=1), key=request.key)
    uow.notices.clear()
    assert await end_access_due(uow, T0 + timedelta(days=8)) == []
    assert uow.notices == []
    after = await uow.requests.get(request.id)
    assert after is not None and after.status == Status.REVOKED
