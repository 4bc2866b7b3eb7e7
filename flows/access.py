"""Temporary access (Meta partner access): the clock ends it once its time is up.

A request may ask for access that ends by itself (3 to 75 days, as Meta offers for people in a
portfolio). Its end is stored on approval; the clock job reads what is due from the database,
so an end falls on time even when the bot was down at that moment.
"""

from __future__ import annotations

from datetime import datetime

from flows import request_flow
from flows.ports import UnitOfWork
from flows.records import Notice, RequestRow
from flows.request_flow import Role, Status


async def end_access_due(uow: UnitOfWork, now: datetime, limit: int = 100
                         ) -> list[RequestRow]:
    """End the temporary access whose time is up and tell both sides (the owner is reminded to
    remove the partner in Meta if it is still there). Conditional updates make it safe in
    several processes; the caller commits."""
    ended = []
    for request in await uow.requests.access_due(now, limit):
        decision = request_flow.decide(request.status, "end", Role.SYSTEM, now=now,
                                       ends_at=request.access_ends_at)
        if not await uow.requests.move(request.id, decision.from_, decision.to, now):
            continue  # unlinked, revoked or ended meanwhile
        await uow.audit.record(request.id, None, "end", decision.from_, decision.to, now)
        await uow.grants.close(request.id, Status.ENDED, now)
        after = await uow.requests.get(request.id)
        assert after is not None
        uow.outbox.add(Notice("access_ended_for_advertiser", after.requester_id, after.id))
        if after.owner_id is not None:
            uow.outbox.add(Notice("access_ended_for_owner", after.owner_id, after.id))
        ended.append(after)
    return ended
