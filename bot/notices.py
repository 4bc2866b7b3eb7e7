"""Render the notices use cases owe (`flows.records.Notice`) into messages, at sending time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import keyboards, qr, render, texts, trust_notices
from bot.render import Reply
from flows.records import RequestRow, UserRow
from flows.request_flow import Status
from flows.usecases import REASON_WINDOW

__all__ = ["CARD_KINDS", "LINK_KINDS", "Reply", "render_notice"]

# Notices that carry a fresh one-time approval link: its token is issued as they are rendered.
LINK_KINDS = frozenset({"approval_link", "approval_qr"})

# Notices whose sent message is remembered (by its message id) against the request: cards are
# closed when the request is decided; a reply to a "why?" prompt is read as the reason.
CARD_KINDS = {"owner_card": "card", "link_card": "card", "reminder": "card",
              "reason_prompt": "prompt"}


def render_notice(kind: str, request: RequestRow, requester: UserRow | None,
                  data: dict[str, Any], now: datetime, *, link: str | None = None
                  ) -> Reply | None:
    """The message for one notice, or None when there is nothing to say any more (a card for a
    request that was decided before the card could go out)."""
    who, handle = render.person(requester), request.handle
    pending = request.status == Status.PENDING and now < request.expires_at
    if kind == "owner_card":
        return Reply(render.owner_card(request, requester),
                     keyboards.owner_card(request.key)) if pending else None
    if kind == "link_card":
        return Reply(render.owner_card(request, requester),
                     keyboards.link_card(data["token"])) if pending else None
    if kind == "reminder":
        if not pending:
            return None
        if request.owner_id is not None:
            return Reply(texts.reminder_for_owner(render.owner_card(request, requester)),
                         keyboards.owner_card(request.key))
        return Reply(texts.reminder_for_advertiser(handle, request.expires_at))
    if kind == "approval_link":
        assert link is not None
        return Reply(texts.forward_link(handle, link, request.expires_at, data.get("why", "")),
                     keyboards.send_as_qr(request.key))
    if kind == "approval_qr":
        assert link is not None
        return Reply(texts.approval_qr(handle, link, request.expires_at), photo=qr.png(link))
    if kind == "sent_to_owner":
        return Reply(texts.sent_to_owner(handle, request.expires_at)) if pending else None
    if kind == "close_card":
        return Reply(render.closed_card(request, requester))
    if kind == "reason_prompt":
        minutes = int(REASON_WINDOW.total_seconds() // 60)
        return Reply(texts.reason_prompt(who, minutes), keyboards.skip_reason(request.key))
    if kind in trust_notices.KINDS:
        return trust_notices.render(kind, request)
    simple = {
        "approved_for_advertiser": lambda: texts.approved_for_advertiser(handle,
                                                                         request.ad_account),
        "rejected_for_advertiser": lambda: texts.rejected_for_advertiser(handle),
        "reason_for_advertiser": lambda: texts.reason_for_advertiser(handle, data["reason"]),
        "revoked_for_advertiser": lambda: texts.revoked_for_advertiser(handle,
                                                                       request.ad_account),
        "expired_for_advertiser": lambda: texts.expired_for_advertiser(handle),
        "expired_for_owner": lambda: texts.expired_for_owner(who, handle),
        "cancelled_for_owner": lambda: texts.cancelled_for_owner(who, handle),
        "unlinked_for_owner": lambda: texts.unlinked_for_owner(who, handle),
        "withdrawn_for_owner": lambda: texts.withdrawn_for_owner(handle, request.ad_account),
        "withdrawn_for_advertiser": lambda: texts.withdrawn_for_advertiser(handle,
                                                                           request.ad_account),
    }
    return Reply(trust_notices.with_strength(simple[kind](), handle, data))



