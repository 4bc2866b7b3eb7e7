"""Link requests once sent: decisions on cards and approval links, the reason for a rejection,
the advertiser's and the owner's lists, claims, and the clock's jobs.

Each handler parses the update, calls one use case on the update's unit of work and says what
happened; the use cases owe every message to other people, the dispatcher sends them.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update

from bot import guides, keyboards, render, texts
from bot.context import Context, Deps, traced
from bot.handlers.messaging import answer, redraw, reply, settle
from bot.render import Reply
from flows import access, spark, teams, usecases, verification
from flows.platforms import InvalidHandle, UnsafeText, account, display_name, read_account_args
from flows.records import ClaimRow, RequestRow
from flows.request_flow import Refused
from flows.usecases import ACTIONS, CONFIRMS, Actor

logger = logging.getLogger(__name__)


def actor_of(update: Update) -> Actor:
    user = update.effective_user
    assert user is not None
    # Telegram's name is shown to the other side: without direction tricks or invisible text.
    return Actor(user.id, display_name(user.first_name), user.username)


def refusal_text(refused: Refused) -> str:
    if refused.reason == "link_invalid":
        return texts.LINK_INVALID
    if refused.reason == "own_link":
        return texts.OWN_LINK
    return texts.refusal(refused.reason, refused.status)


async def open_link(update: Update, context: Context, token: str) -> None:
    """/start <token>: the one-time approval card, for whoever may decide through it."""
    try:
        await usecases.open_approval_link(context.uow, actor_of(update), token,
                                          context.deps.clock())
    except Refused as refused:
        await reply(update, refusal_text(refused))


@traced("request_button")
async def on_request_button(update: Update, context: Context) -> None:
    """Approve, reject, cancel, unlink or revoke from a card or a list; a new approval link
    (or QR code) from a list or a link."""
    query, deps = update.callback_query, context.deps
    assert query is not None and query.data is not None
    key, action = keyboards.parse_pair(query.data, "r") or ("", "")
    actor, now = actor_of(update), deps.clock()
    try:
        if action == "l":
            await usecases.link_again(context.uow, actor, key, now)
            await answer(query)
        elif action == "q":
            await usecases.approval_qr(context.uow, actor, key, now)
            await answer(query)
        elif action == "w":
            await _explain(update, await context.uow.requests.by_key(key))
        elif action == "b":
            checked = await usecases.check(context.uow, actor, key, "reject", now)
            await answer(query)
            await reply(update, Reply(texts.confirm_block(render.person(checked.requester)),
                                      keyboards.confirm_block(key)))
        elif action == "b!":
            blocked = await usecases.block_advertiser(context.uow, actor, key, now)
            await answer(query)
            await settle(query, texts.YES_BLOCK)
            await reply(update, texts.blocked(render.person(blocked.requester),
                                              blocked.rejected))
        elif action == "bx":
            await answer(query)
            await settle(query, texts.NO_BLOCK)
        elif action == "k":
            await answer(query)
            request = await context.uow.requests.by_key(key)
            # The owner kept a grant (from /owned); anyone else, a request (teams: a teammate's).
            mine = request is not None and request.owner_id != actor.id
            await redraw(query, await (_accounts(context, actor.id) if mine
                                       else _owned(context, actor.id)))
        elif action in CONFIRMS:
            checked = await usecases.check(context.uow, actor, key, CONFIRMS[action], now)
            await answer(query)
            await redraw(query, _confirmation(checked))
        elif action in ACTIONS:
            await _decided(update, context, await usecases.decide(
                context.uow, actor, ACTIONS[action], now, key=key))
        else:
            raise Refused("gone")
    except Refused as refused:
        await _refused(update, refused)


@traced("link_button")
async def on_link_button(update: Update, context: Context) -> None:
    """Approve or reject from the card opened through a one-time approval link."""
    query = update.callback_query
    assert query is not None and query.data is not None
    token, action = keyboards.parse_pair(query.data, "t") or ("", "")
    try:
        if action == "w":
            await _explain(update, await context.uow.requests.by_token(token))
            return
        if action not in ("a", "r"):
            raise Refused("gone")
        await _decided(update, context, await usecases.decide(
            context.uow, actor_of(update), ACTIONS[action], context.deps.clock(), token=token))
    except Refused as refused:
        await _refused(update, refused)


async def _explain(update: Update, request: RequestRow | None) -> None:
    """"What am I allowing?": each permission of the request in plain words."""
    query = update.callback_query
    assert query is not None
    if request is None:
        raise Refused("gone")
    await answer(query)
    await reply(update, guides.of(request).allowing(request))


async def _refused(update: Update, refused: Refused) -> None:
    query = update.callback_query
    assert query is not None
    await answer(query, refusal_text(refused))
    if refused.reason in ("already", "gone"):
        await settle(query)


def _confirmation(checked: usecases.Decided) -> Reply:
    request, guide = checked.request, guides.of(checked.request)
    if checked.event == "unlink":
        return Reply(guide.confirm_unlink(request),
                     keyboards.confirm(request.key, "u", texts.YES_UNLINK))
    return Reply(guide.confirm_revoke(request, render.person(checked.requester)),
                 keyboards.confirm(request.key, "v", texts.YES_REVOKE))


async def _decided(update: Update, context: Context, decided: usecases.Decided) -> None:
    """Say what the decision did to the person who made it (others are owed by the use case)."""
    query, request = update.callback_query, decided.request
    assert query is not None
    guide, who = guides.of(request), render.person(decided.requester)
    await answer(query, texts.DONE_ANSWERS[decided.event])
    if decided.event == "approve":
        await reply(update, guide.approved_for_owner(request, who))
    elif decided.event == "revoke":
        await redraw(query, await _owned(context, decided.actor_id))
        await reply(update, guide.revoked_for_owner(request, who))
    elif decided.event in ("cancel", "unlink"):
        await redraw(query, await _accounts(context, decided.actor_id))
        if decided.event == "unlink":
            await reply(update, guide.unlinked_for_advertiser(request))


async def take_reason(update: Update, context: Context) -> bool:
    """Text replying to a rejected request's card or "why?" prompt is the reason; True if it
    was taken as one (or refused as too long)."""
    message = update.message
    assert message is not None and message.text is not None
    replied = message.reply_to_message.message_id if message.reply_to_message else None
    try:
        request = await usecases.give_reason(context.uow, actor_of(update), replied,
                                             message.text, context.deps.clock())
    except usecases.ReasonTooLong:
        await reply(update, texts.REASON_TOO_LONG)
        return True
    except UnsafeText as exc:
        await reply(update, texts.unsafe_text("reason", exc.problem, exc.shown, exc.more))
        return True
    if request is None:
        return False
    await reply(update, texts.REASON_SENT)
    return True


@traced("unblock")
async def on_unblock_button(update: Update, context: Context) -> None:
    """An owner lets a blocked advertiser ask again (from /owned)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    actor = actor_of(update)
    done = await usecases.unblock(context.uow, actor, int(query.data.partition(":")[2]))
    await answer(query, texts.UNBLOCKED if done else texts.STALE_BUTTON)
    await redraw(query, await _owned(context, actor.id))


@traced("skip_reason")
async def on_skip_reason(update: Update, context: Context) -> None:
    """The owner chose not to give a reason."""
    query = update.callback_query
    assert query is not None and query.data is not None
    key = query.data.partition(":")[2]
    skipped = await usecases.skip_reason(context.uow, actor_of(update), key,
                                         context.deps.clock())
    await answer(query, texts.REASON_SKIPPED if skipped else texts.STALE_BUTTON)
    await settle(query, texts.REASON_SKIPPED if skipped else None)


async def _accounts(context: Context, user_id: int) -> Reply:
    mine = await usecases.accounts(context.uow, user_id)
    view = await teams.accounts_view(context.uow, user_id, mine)  # teams (issue 10)
    return render.accounts(mine, view.read_only, view.team)


async def _owned(context: Context, user_id: int) -> Reply:
    owned = await usecases.owned(context.uow, user_id)
    return _with_verify_buttons(context, owned.claims, render.owned(
        owned.claims, owned.grants, owned.pending, owned.blocked))


@traced("accounts")
async def accounts(update: Update, context: Context) -> None:
    """/accounts: the advertiser's requests and linked accounts."""
    await reply(update, await _accounts(context, actor_of(update).id))


@traced("owned")
async def owned(update: Update, context: Context) -> None:
    """/owned: the owner's accounts and who may use them."""
    await reply(update, await _owned(context, actor_of(update).id))


@traced("claim")
async def claim(update: Update, context: Context) -> None:
    """/claim [platform] @handle: receive that account's requests in this chat."""
    said = read_account_args(list(context.args or []))
    if said.platform is None or said.raw is None:  # a bare platform word claims nothing
        await reply(update, texts.claim_usage(said.platform.id if said.platform else None))
        return
    platform = said.platform
    try:
        handle = platform.handle_rule.normalise(said.raw)
    except (InvalidHandle, UnsafeText) as exc:
        await reply(update, f"{_handle_problem(exc, platform.id)}\n"
                            f"{texts.claim_usage(platform.id)}")
        return
    actor = actor_of(update)
    claimed = await verification.claim_handle(context.uow, actor, platform.id, handle,
                                              context.deps.clock())
    if claimed.created:
        # The waiting requests' cards follow this line; a claim is unverified until /verify.
        shown = account(platform.id, claimed.claim.handle)
        await reply(update, Reply(texts.claimed(shown, claimed.waiting)
                                  + texts.strength_mark(claimed.claim.strength),
                                  _verify_button(context, claimed.claim)), first=True)
    elif claimed.claim.owner_id == actor.id:
        await reply(update, texts.claim_already_yours(account(platform.id, claimed.claim.handle)))
    else:
        await reply(update, texts.claim_taken(account(platform.id, handle)))


def _handle_problem(exc: Exception, platform_id: str) -> str:
    """Why a /claim argument is not a handle (short, however long it was)."""
    if isinstance(exc, InvalidHandle):
        return texts.handle_problem(exc.problem, exc.detail, exc.limit, exc.more, platform_id)
    if isinstance(exc, UnsafeText):
        return texts.unsafe_text("handle", exc.problem, exc.shown, exc.more, exc.limit,
                                 exc.length)
    return ""


async def clock_tick(deps: Deps) -> tuple[int, int]:
    """Job: remind owners before requests expire, expire what is due, tell both sides; drop
    free text older than the retention period.

    Runs from the database in batches until nothing is left (so it catches up after downtime);
    each batch commits with the messages it owes, which the dispatcher then sends, so one
    failed notice never silences the others. Returns (reminded, expired).
    """
    settings, reminded, expired = deps.settings, 0, 0
    while True:
        now = deps.clock()
        async with deps.db.unit_of_work() as uow:
            batch_reminded = await usecases.remind_due(uow, now, settings.reminder_ahead)
            batch_expired = await usecases.expire_due(uow, now)
            codes_expired = await spark.expire_codes(uow, now)  # Spark codes (issue 10)
            batch_ended = await access.end_access_due(uow, now)  # temporary access (Meta)
            await usecases.apply_retention(uow, now, settings.retention)
            await uow.inbox.purge(now - settings.inbox_keep)
            await uow.outbox.purge_failed(now - settings.retention)
            await uow.commit()
            owed = uow.owed
        reminded, expired = reminded + len(batch_reminded), expired + len(batch_expired)
        for request in batch_expired:
            logger.info("request %s expired", request.id)
        for code in codes_expired:
            logger.info("spark code %s expired", code.id)
        if deps.dispatcher is not None:
            await deps.dispatcher.deliver(owed)
        for request in batch_ended:
            logger.info("request %s: temporary access ended", request.id)
        if (len(batch_reminded) < 100 and len(batch_expired) < 100 and len(codes_expired) < 100
                and len(batch_ended) < 100):
            return reminded, expired


async def clock_job(context: Context) -> None:
    """The JobQueue's entry point for `clock_tick`."""
    await clock_tick(context.deps)


def _verify_button(context: Context, claim: ClaimRow) -> InlineKeyboardMarkup | None:
    """(issue 11) A "Verify" button under a new claim, when platform logins are set up."""
    from bot.handlers.verify import verify_keyboard
    from bot.settings import login_credentials

    provider = verification.PROVIDER_OF.get(claim.platform, "")
    if login_credentials(context.deps.settings, provider) is None:
        return None
    return verify_keyboard(claim.platform, claim.handle_key)


def _with_verify_buttons(context: Context, claims: list[ClaimRow], said: Reply) -> Reply:
    """(issue 11) /owned: a "Verify" button for each claim not verified yet, when its
    platform's login is set up."""
    rows = [list(row) for row in (said.markup.inline_keyboard if said.markup else ())]
    for claim in claims:
        if claim.verified_at is None and (button := _verify_button(context, claim)):
            rows += [list(row) for row in button.inline_keyboard]
    return Reply(said.text, InlineKeyboardMarkup(rows) if rows else None, said.photo)
