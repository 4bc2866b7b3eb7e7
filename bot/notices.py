"""Render the notices use cases owe (`flows.records.Notice`) into messages, at sending time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import guides, keyboards, qr, render, texts, trust_notices
from bot.render import Reply
from flows.platforms import account
from flows.records import RequestRow, SparkCodeRow, UserRow
from flows.request_flow import Status
from flows.usecases import REASON_WINDOW

__all__ = ["CARD_KINDS", "LINK_KINDS", "SPARK_KINDS", "Reply", "render_notice", "render_spark"]

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
    who, handle = render.person(requester), account(request.platform, request.handle)
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
    guide = guides.of(request)
    simple = {
        "approved_for_advertiser": lambda: guide.approved_for_advertiser(request),
        "rejected_for_advertiser": lambda: texts.rejected_for_advertiser(handle),
        "reason_for_advertiser": lambda: texts.reason_for_advertiser(handle, data["reason"]),
        "revoked_for_advertiser": lambda: guide.revoked_for_advertiser(request),
        "expired_for_advertiser": lambda: texts.expired_for_advertiser(handle),
        "expired_for_owner": lambda: texts.expired_for_owner(who, handle),
        "cancelled_for_owner": lambda: texts.cancelled_for_owner(who, handle),
        "unlinked_for_owner": lambda: guide.unlinked_for_owner(request, who),
        "withdrawn_for_owner": lambda: texts.withdrawn_for_owner(handle, request.ad_account),
        "withdrawn_for_advertiser": lambda: texts.withdrawn_for_advertiser(handle,
                                                                           request.ad_account),
        # Temporary access (Meta partner access) ended by the clock.
        "access_ended_for_advertiser": lambda: guide.access_ended_for_advertiser(request),
        "access_ended_for_owner": lambda: guide.access_ended_for_owner(request, who),
    }
    return Reply(trust_notices.with_strength(simple[kind](), handle, data))



# --- Spark Ads authorization codes (issue 10) ----------------------------------------------------
# Their notices carry the code's row id (`data["code_id"]`); the row is read when they are sent.
SPARK_KINDS = frozenset({"spark_applied_for_creator", "spark_expired_for_creator",
                         "spark_expired_for_advertiser", "spark_deleted_for_advertiser",
                         "spark_extended_for_advertiser"})


def render_spark(kind: str, code: SparkCodeRow, creator: UserRow | None,
                 advertiser: UserRow | None) -> Reply | None:
    """The message for a Spark code notice, or None when it no longer holds (a code extended
    before its expiry notice went out)."""
    video = texts.video_label(code.video_id, code.video_handle)
    if kind == "spark_applied_for_creator":
        return Reply(texts.code_applied_for_creator(video, render.person(advertiser),
                                                    code.expires_at))
    if kind == "spark_deleted_for_advertiser":
        return Reply(texts.code_deleted_for_advertiser(video, render.person(creator)))
    if kind == "spark_extended_for_advertiser":
        if code.status != "active":
            return None
        return Reply(texts.code_extended_for_advertiser(video, render.person(creator),
                                                        code.expires_at))
    if code.status != "expired":
        return None
    if kind == "spark_expired_for_creator":
        who = render.person(advertiser) if code.applied_by is not None else None
        return Reply(texts.code_expired_for_creator(video, who, code.expires_at))
    return Reply(texts.code_expired_for_advertiser(video, render.person(creator),
                                                   code.expires_at))
