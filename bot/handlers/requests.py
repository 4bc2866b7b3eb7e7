"""Link requests once sent: the owner's card, decisions, the approval link, lists, expiry."""

from __future__ import annotations

import logging

from telegram import Message, Update

from bot import approvals, keyboards, render, texts
from bot.context import Context, traced
from bot.handlers.messaging import edit, reply, settle, tell
from bot.render import Reply
from flows.platforms import InvalidHandle, get_platform
from flows.request_flow import Refused, Status
from storage.repositories import RequestRow

logger = logging.getLogger(__name__)

MAX_REASON = 500  # characters; the reason is forwarded in one message


def approval_link(context: Context, token: str) -> str:
    return f"https://t.me/{context.deps.bot_username or context.bot.username}?start={token}"


async def deliver(context: Context, request: RequestRow) -> None:
    """Put a new request in front of its owner: their card, or a link for the advertiser."""
    deps = context.deps
    if request.owner_id is not None:
        async with deps.db.unit_of_work() as uow:
            requester = await uow.users.get(request.requester_id)
        sent = await tell(context, request.owner_id,
                          Reply(render.owner_card(request, requester),
                                keyboards.owner_card(request.key)))
        if sent is not None:
            async with deps.db.unit_of_work() as uow:
                await uow.cards.add(request.id, sent.chat_id, sent.message_id, deps.clock())
                await uow.commit()
            await tell(context, request.requester_id,
                       texts.sent_to_owner(request.handle, request.expires_at))
            return
    async with deps.db.unit_of_work() as uow:
        token = await approvals.issue_link(uow, request)
        await uow.commit()
    await tell(context, request.requester_id, texts.forward_link(
        request.handle, approval_link(context, token), request.expires_at))


async def close_cards(context: Context, request: RequestRow) -> None:
    """Edit every card of a decided request: outcome line in, buttons out."""
    deps = context.deps
    async with deps.db.unit_of_work() as uow:
        cards = await uow.cards.take(request.id)
        requester = await uow.users.get(request.requester_id)
        await uow.commit()
    text = render.closed_card(request, requester)
    for card in cards:
        await edit(context, card.chat_id, card.message_id, text)


async def open_link(update: Update, context: Context, token: str) -> None:
    """/start <token>: show the one-time approval card to whoever opened the link."""
    deps, user = context.deps, update.effective_user
    assert user is not None
    async with deps.db.unit_of_work() as uow:
        await uow.users.seen(user.id, user.first_name, user.username, deps.clock())
        request = await uow.requests.by_token(token)
        requester = await uow.users.get(request.requester_id) if request else None
        await uow.commit()
    if request is None or request.status != Status.PENDING:
        await reply(update, texts.LINK_INVALID)
    elif request.requester_id == user.id:
        await reply(update, texts.OWN_LINK)
    elif request.owner_id is not None and request.owner_id != user.id:
        await reply(update, texts.refusal("claimed_by_other"))
    else:
        sent = await reply(update, Reply(render.owner_card(request, requester),
                                         keyboards.link_card(token)))
        if sent is not None:
            async with deps.db.unit_of_work() as uow:
                await uow.cards.add(request.id, sent.chat_id, sent.message_id, deps.clock())
                await uow.commit()


@traced("request_button")
async def on_request_button(update: Update, context: Context) -> None:
    """Approve, reject, cancel, unlink or revoke from a card or a list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pair = keyboards.parse_pair(query.data, "r")
    if pair is not None and pair[1] == "l":
        await _new_link(update, context, pair[0])
        return
    async with context.deps.db.unit_of_work() as uow:
        request = await uow.requests.by_key(pair[0]) if pair else None
        requester = await uow.users.get(request.requester_id) if request else None
    if pair is not None and request is not None and pair[1] in ("u", "v", "k"):
        await _confirm_or_keep(update, context, request, render.person(requester), pair[1])
        return
    await _decide(update, context, request, approvals.ACTIONS.get(pair[1]) if pair else None)


async def _confirm_or_keep(update: Update, context: Context, request: RequestRow,
                           requester: str, action: str) -> None:
    """Ask before unlinking or revoking; "keep" redraws the list it came from."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    mine = user.id == request.requester_id if action != "v" else user.id == request.owner_id
    if action == "k":
        await query.answer()
        await _refresh(update, await (_accounts_reply(context, user.id)
                                      if user.id == request.requester_id
                                      else _owned_reply(context, user.id)))
    elif not mine:
        await query.answer(texts.refusal("not_allowed"))
    elif request.status != Status.AUTHORIZED:
        await query.answer(texts.refusal("already", request.status))
    else:
        await query.answer()
        text = texts.confirm_unlink(request.handle, request.ad_account) if action == "u" \
            else texts.confirm_revoke(request.handle, requester, request.ad_account)
        yes = texts.YES_UNLINK if action == "u" else texts.YES_REVOKE
        await _refresh(update, Reply(text, keyboards.confirm(request.key, action, yes)))


@traced("link_button")
async def on_link_button(update: Update, context: Context) -> None:
    """Approve or reject from the card opened through a one-time approval link."""
    query = update.callback_query
    assert query is not None and query.data is not None
    pair = keyboards.parse_pair(query.data, "t")
    async with context.deps.db.unit_of_work() as uow:
        request = await uow.requests.by_token(pair[0]) if pair else None
    if request is None:
        await query.answer(texts.LINK_INVALID)
        await settle(query)
        return
    await _decide(update, context, request, approvals.ACTIONS.get(pair[1]) if pair else None,
                  holds_link=True)


async def _decide(update: Update, context: Context, request: RequestRow | None,
                  event: str | None, holds_link: bool = False) -> None:
    query, user, deps = update.callback_query, update.effective_user, context.deps
    assert query is not None and user is not None
    if request is None or event is None or (holds_link and event not in ("approve", "reject")):
        await query.answer(texts.refusal("gone"))
        return
    try:
        async with deps.db.unit_of_work() as uow:
            await uow.users.seen(user.id, user.first_name, user.username, deps.clock())
            acted = await approvals.act(uow, request, event, user.id, deps.clock(),
                                        holds_link=holds_link)
            if event == "reject":
                await approvals.expect_reason(uow, user.id, request.key, deps.clock())
            await uow.commit()
    except Refused as refused:
        await query.answer(texts.refusal(refused.reason, refused.status))
        if refused.reason == "already":
            await settle(query)
        return
    await query.answer(texts.DONE_ANSWERS[event])
    await _after_decision(update, context, acted)


async def _after_decision(update: Update, context: Context, acted: approvals.Acted) -> None:
    """Tell everyone concerned, and take the buttons off whatever showed the old status."""
    request, deps = acted.after, context.deps
    await close_cards(context, request)
    async with deps.db.unit_of_work() as uow:
        requester = render.person(await uow.users.get(request.requester_id))
    if acted.event == "approve":
        await tell(context, request.requester_id,
                   texts.approved_for_advertiser(request.handle, request.ad_account))
        await reply(update, texts.approved_for_owner(requester, request.handle))
    elif acted.event == "reject":
        await tell(context, request.requester_id, texts.rejected_for_advertiser(request.handle))
        await reply(update, Reply(texts.REASON_PROMPT, keyboards.skip_reason(request.key)))
    elif acted.event == "revoke":
        await tell(context, request.requester_id,
                   texts.revoked_for_advertiser(request.handle, request.ad_account))
        await _refresh(update, await _owned_reply(context, acted.actor_id))
    else:  # cancel or unlink, by the advertiser
        if request.owner_id is not None:
            said = texts.cancelled_for_owner if acted.event == "cancel" \
                else texts.unlinked_for_owner
            await tell(context, request.owner_id, said(requester, request.handle))
        await _refresh(update, await _accounts_reply(context, request.requester_id))


async def _refresh(update: Update, fresh: Reply) -> None:
    """Redraw the list a button was pressed on."""
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        await query.message.edit_text(fresh.text, reply_markup=fresh.markup)


async def _new_link(update: Update, context: Context, key: str) -> None:
    """A fresh approval link for the requester's own pending request (from /accounts)."""
    query, user, deps = update.callback_query, update.effective_user, context.deps
    assert query is not None and user is not None
    async with deps.db.unit_of_work() as uow:
        request = await uow.requests.by_key(key)
        usable = request is not None and request.requester_id == user.id \
            and request.status == Status.PENDING and deps.clock() < request.expires_at
        token = await approvals.issue_link(uow, request) if usable and request else None
        await uow.commit()
    if token is None or request is None:
        await query.answer(texts.refusal("gone"))
        return
    await query.answer()
    await reply(update, texts.forward_link(request.handle, approval_link(context, token),
                                           request.expires_at))


async def take_reason(update: Update, context: Context) -> bool:
    """If this user owes a rejection reason, store this message as it; True when it did."""
    message, user, deps = update.message, update.effective_user, context.deps
    assert message is not None and user is not None and message.text is not None
    reason = message.text.strip()
    request = None
    async with deps.db.unit_of_work() as uow:
        waiting = await approvals.reason_awaited(uow, user.id)
        if waiting is None:
            return False
        if len(reason) <= MAX_REASON:
            request = await uow.requests.by_key(waiting.data.get("key", ""))
            if request is not None:
                await approvals.add_reason(uow, request, user.id, reason, deps.clock())
            await approvals.stop_awaiting_reason(uow, waiting, deps.clock())
            await uow.commit()
    if len(reason) > MAX_REASON:
        await reply(update, texts.REASON_TOO_LONG)
        return True
    if request is not None:
        await tell(context, request.requester_id,
                   texts.reason_for_advertiser(request.handle, reason))
    await reply(update, texts.REASON_SENT)
    return True


@traced("skip_reason")
async def on_skip_reason(update: Update, context: Context) -> None:
    """The owner chose not to give a reason."""
    query, user, deps = update.callback_query, update.effective_user, context.deps
    assert query is not None and user is not None
    async with deps.db.unit_of_work() as uow:
        waiting = await approvals.reason_awaited(uow, user.id)
        if waiting is not None:
            await approvals.stop_awaiting_reason(uow, waiting, deps.clock())
            await uow.commit()
    await query.answer(texts.REASON_SKIPPED if waiting else texts.STALE_BUTTON)
    await settle(query, texts.REASON_SKIPPED if waiting else None)


async def _accounts_reply(context: Context, user_id: int) -> Reply:
    async with context.deps.db.unit_of_work() as uow:
        return render.accounts(await uow.requests.of_requester(user_id))


async def _owned_reply(context: Context, user_id: int) -> Reply:
    async with context.deps.db.unit_of_work() as uow:
        claims = await uow.claims.of_owner(user_id)
        grants = await uow.requests.authorized_for_owner(user_id)
        pending = await uow.requests.pending_for_owner(user_id)
        people = {r.requester_id: await uow.users.get(r.requester_id) for r in grants + pending}
    return render.owned(claims, [(r, people[r.requester_id]) for r in grants],
                        [(r, people[r.requester_id]) for r in pending])


@traced("accounts")
async def accounts(update: Update, context: Context) -> None:
    """/accounts: the advertiser's requests and linked accounts."""
    assert update.effective_user is not None
    await reply(update, await _accounts_reply(context, update.effective_user.id))


@traced("owned")
async def owned(update: Update, context: Context) -> None:
    """/owned: the owner's accounts and who may use them."""
    assert update.effective_user is not None
    await reply(update, await _owned_reply(context, update.effective_user.id))


@traced("claim")
async def claim(update: Update, context: Context) -> None:
    """/claim [platform] @handle: receive that account's requests in this chat."""
    user, deps, args = update.effective_user, context.deps, list(context.args or [])
    assert user is not None
    platform_id = args.pop(0).lower() if len(args) == 2 else "tiktok"
    if len(args) != 1 or platform_id not in texts.PLATFORM_NAMES:
        await reply(update, texts.CLAIM_USAGE)
        return
    try:
        platform = get_platform(platform_id)
        handle = platform.handle_rule.normalise(args[0])
    except (InvalidHandle, KeyError) as exc:
        problem = texts.handle_problem(exc.problem, exc.detail, exc.limit) \
            if isinstance(exc, InvalidHandle) else ""
        await reply(update, f"{problem}\n{texts.CLAIM_USAGE}".strip())
        return
    async with deps.db.unit_of_work() as uow:
        await uow.users.seen(user.id, user.first_name, user.username, deps.clock())
        standing, created = await approvals.claim(uow, user.id, platform.id, handle,
                                                  deps.clock())
        waiting = [r for r in await uow.requests.pending_for_owner(user.id)
                   if r.handle_key == standing.handle_key] if created else []
        await uow.commit()
    if created:
        await reply(update, texts.claimed(standing.handle, len(waiting)))
        for request in waiting:
            await deliver(context, request)
    elif standing.owner_id == user.id:
        await reply(update, texts.claim_already_yours(standing.handle))
    else:
        await reply(update, texts.claim_taken(handle))


async def expiry_sweep(context: Context) -> None:
    """Job: expire pending requests whose time is up, and tell their advertisers."""
    deps = context.deps
    async with deps.db.unit_of_work() as uow:
        expired = await approvals.expire_due(uow, deps.clock())
        await uow.commit()
    for request in expired:
        logger.info("request %s expired", request.id)
        await close_cards(context, request)
        await tell(context, request.requester_id, texts.expired_for_advertiser(request.handle))
