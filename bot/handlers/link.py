"""The advertiser's guided conversation: /start, /link, /back, /cancel, /status, its buttons
and typed answers, with free-text questions sent to the knowledge base."""

from __future__ import annotations

from typing import Any

from telegram import Update

from bot import guides, render, texts
from bot.context import Context, note_states, traced
from bot.handlers import faq, requests, spark
from bot.handlers.messaging import answer, ask, pressed_label, redraw, reply, settle
from bot.handlers.requests import actor_of
from bot.keyboards import parse_flow
from flows import usecases
from flows.link_flow import (
    AMBIGUOUS,
    FlowError,
    NoScopeChosen,
    NothingToUndo,
    Position,
    S,
    UnknownChoice,
    typed_answer,
)
from flows.platforms import (
    InvalidAdAccountName,
    InvalidAnswer,
    InvalidHandle,
    UnsafeText,
    account,
    looks_like_question,
)
from flows.teams import NotInTeam
from flows.usecases import (
    DuplicateRequest,
    NoConversation,
    OverLimit,
    OwnHandle,
    Stale,
    Step,
    position_of,
)

# Button action -> (flow event, name of the argument the button carries).
EVENTS: dict[str, tuple[str, str | None]] = {
    "p": ("choose_platform", "platform"),
    "y": ("answer_yes", None),
    "n": ("answer_no", None),
    "d": ("fixed", None),
    "s": ("toggle_scope", "scope"),
    "ok": ("confirm_scopes", None),
    "v": ("choose_visibility", "option"),
    "send": ("send", None),
    "edit": ("edit", None),
    "e": ("edit_field", "field"),
    "x": ("cancel", None),
    "b": ("back", None),
    "t": ("all_still_true", None),
    "r": ("review", None),
    "dd": ("choose_duration", "days"),  # temporary access (Meta)
}


def flow_error(exc: Exception | None) -> str:
    if isinstance(exc, NoScopeChosen):
        return texts.NO_SCOPE
    if isinstance(exc, NothingToUndo):
        return texts.FIRST_QUESTION
    if isinstance(exc, UnknownChoice):
        return texts.UNKNOWN_CHOICE
    return texts.NOT_NOW


async def show(update: Update, step: Step) -> None:
    """Say what follows a step: the next question, or the end (a sent request's messages are
    owed by the use case that recorded it)."""
    note_states(step.before, step.position.state)
    if step.position.state == S.CANCELLED:
        await reply(update, texts.CANCELLED, retire=update.callback_query is None)
    elif step.request is None:
        await ask(update, render.question(step.position, step.version))


@traced("start")
async def start(update: Update, context: Context) -> None:
    """/start: welcome, or open a one-time approval link (/start <token>)."""
    if context.args:
        await requests.open_link(update, context, context.args[0])
        return
    actor = actor_of(update)
    await context.uow.users.seen(actor.id, actor.first_name, actor.username,
                                 context.deps.clock())
    row = await usecases.conversation(context.uow, actor.id)
    await reply(update, texts.welcome(actor.first_name))
    if row is not None:
        await reply(update, texts.RESUMING)
        await ask(update, render.question(position_of(row), row.version))


@traced("help")
async def help_command(update: Update, context: Context) -> None:
    """/help: what the bot does and its commands."""
    await reply(update, texts.HELP)


@traced("link")
async def link(update: Update, context: Context) -> None:
    """/link: start a link request, or resume the one in progress."""
    step = await usecases.begin_link(context.uow, actor_of(update), context.deps.clock())
    if step.resumed:
        await reply(update, texts.RESUMING)
    await show(update, step)


@traced("cancel")
async def cancel(update: Update, context: Context) -> None:
    """/cancel: stop the link request in progress (nothing is sent), or an open "why?"."""
    deps, user_id = context.deps, actor_of(update).id
    if await usecases.end_reason_step(context.uow, user_id, deps.clock()):
        await reply(update, texts.REASON_SKIPPED)
        return
    await _command_event(update, context, "cancel")


@traced("back")
async def back(update: Update, context: Context) -> None:
    """/back: return to the previous question."""
    await _command_event(update, context, "back")


async def _command_event(update: Update, context: Context, event: str) -> None:
    deps, user_id = context.deps, actor_of(update).id
    try:
        step = await usecases.link_event(context.uow, user_id, event, deps.clock(),
                                         deps.settings.request_lifetime)
    except NoConversation:
        await reply(update, texts.NOTHING_TO_CANCEL if event == "cancel" else texts.NO_FLOW)
        return
    except FlowError as exc:
        row = await usecases.conversation(context.uow, user_id)
        await reply(update, flow_error(exc))
        if row is not None:
            await ask(update, render.question(position_of(row), row.version))
        return
    await show(update, step)


@traced("status")
async def status(update: Update, context: Context) -> None:
    """/status: the step in progress and the request counts."""
    user_id = actor_of(update).id
    row = await usecases.conversation(context.uow, user_id)
    mine = await context.uow.requests.of_requester(user_id, limit=1000)
    note_states(row.state if row else None, row.state if row else None)
    counts = [sum(r.status == s for r in mine) for s in ("pending", "authorized")]
    await reply(update, render.status(position_of(row) if row else None, *counts))
    if row is not None:
        await ask(update, render.question(position_of(row), row.version))


@traced("flow_button")
async def on_flow_button(update: Update, context: Context) -> None:
    """A button answering the current question; old questions' buttons are refused."""
    query, deps = update.callback_query, context.deps
    assert query is not None and query.data is not None
    press = parse_flow(query.data)
    if press is not None and press.action in ("w", "l"):
        await _without_transition(update, context, press.version, press.action)
        return
    event, arg_name = EVENTS.get(press.action, ("", None)) if press else ("", None)
    try:
        step = await usecases.link_event(
            context.uow, actor_of(update).id, event, deps.clock(),
            deps.settings.request_lifetime, version=press.version if press else -1,
            limits=deps.settings.limits, **({arg_name: press.arg} if press and arg_name else {}))
    except (NoConversation, Stale):
        await answer(query, texts.STALE_BUTTON)
        await settle(query)
        return
    except (DuplicateRequest, OwnHandle, OverLimit, NotInTeam) as refused:
        await answer(query)
        await reply(update, await _not_sent(update, context, refused))
        return
    except FlowError as exc:
        await answer(query, flow_error(exc))
        return
    await answer(query)
    if event == "toggle_scope":
        # Permissions are ticked in place, on the same message.
        note_states(step.before, step.position.state)
        await redraw(query, render.question(step.position, step.version))
        return
    await settle(query, f"→ {pressed_label(query) or ''}")
    await show(update, step)


async def _without_transition(update: Update, context: Context, version: int,
                              action: str) -> None:
    """"What's this?" explains in place; "Later" keeps the place and says how to come back."""
    query = update.callback_query
    assert query is not None
    row = await usecases.conversation(context.uow, actor_of(update).id)
    if row is None or row.version != version:
        await answer(query, texts.STALE_BUTTON)
        await settle(query)
        return
    note_states(row.state, row.state)
    await answer(query)
    position = position_of(row)
    if action == "w" and position.state == S.PREREQUISITE:
        await redraw(query, render.question(position, row.version, explained=True))
    elif action == "l":
        await settle(query, f"→ {texts.LATER}")
        await reply(update, texts.LATER_SAVED)


@traced("text")
async def on_text(update: Update, context: Context) -> None:
    """Typed text: a rejection reason, an answer to the current question, or a question."""
    message, deps = update.message, context.deps
    assert message is not None and message.text is not None
    if await requests.take_reason(update, context):
        return
    text, user_id = message.text, actor_of(update).id
    row = await usecases.conversation(context.uow, user_id)
    position = position_of(row) if row is not None else None
    if await spark.pasted_code(update, text):  # Spark code without /apply (issue 10, gaps)
        if position is not None:
            await ask(update, render.question(position, row.version if row else 0))
        return
    if row is not None and position is not None:
        note_states(row.state, row.state)
        typed = None if position.expects_text else typed_answer(position, text)
        if typed == AMBIGUOUS:
            await reply(update, texts.TYPED_AMBIGUOUS)
            await ask(update, render.question(position, row.version))
            return
        if typed is not None:
            await _typed_button(update, context, typed[0], typed[1])
            return
        if position.expects_text and not await _is_question(context, text):
            try:
                step = await usecases.link_text(context.uow, row, text, deps.clock(),
                                                deps.settings.request_lifetime)
            except (InvalidHandle, InvalidAdAccountName, InvalidAnswer, UnsafeText) as exc:
                await reply(update, _invalid(exc, position))
                await ask(update, render.question(position, row.version))
                return
            except NotInTeam as refused:  # teams (issue 10): the named ad account's team
                await reply(update, texts.not_in_team(refused.reason, refused.ad_account))
                await ask(update, render.question(position, row.version))
                return
            await show(update, step)
            return
    await faq.answer_question(update, context, text)
    if row is not None and position is not None:
        await reply(update, texts.BACK_TO_FLOW)
        await ask(update, render.question(position, row.version))


async def _typed_button(update: Update, context: Context, event: str,
                        kwargs: dict[str, Any]) -> None:
    """A typed "yes" taken as the Yes button of the current question."""
    deps = context.deps
    try:
        step = await usecases.link_event(context.uow, actor_of(update).id, event, deps.clock(),
                                         deps.settings.request_lifetime, **kwargs)
    except FlowError as exc:
        await reply(update, flow_error(exc))
        return
    await show(update, step)


async def _not_sent(update: Update, context: Context,
                    refused: DuplicateRequest | OwnHandle | OverLimit | NotInTeam) -> str:
    if isinstance(refused, NotInTeam):  # teams (issue 10)
        return texts.not_in_team(refused.reason, refused.ad_account)
    if isinstance(refused, DuplicateRequest):
        request = refused.request
        return texts.duplicate_request(account(request.platform, request.handle),
                                       request.ad_account, request.created_at)
    if isinstance(refused, OverLimit):
        row = await usecases.conversation(context.uow, actor_of(update).id)
        handle = row.data.get("handle", "") if row else ""
        shown = account(row.data.get("platform", "tiktok"), handle) if row and handle else ""
        return texts.over_limit(refused.reason, refused.until, refused.count, shown)
    row = await usecases.conversation(context.uow, actor_of(update).id)
    platform = row.data.get("platform", "tiktok") if row else "tiktok"
    return guides.of_platform(platform).own_handle(account(platform, str(refused.args[0])))


async def _is_question(context: Context, text: str) -> bool:
    """Text at a typed-answer step counts as a question only when phrased as one and either
    unusable as an answer ("?") or something the knowledge base recognises."""
    if not looks_like_question(text):
        return False
    if "?" in text:
        return True
    await context.deps.faq.refresh(context.uow)
    return context.deps.faq.lookup(text).decision != "decline"


def _invalid(exc: InvalidHandle | InvalidAdAccountName | InvalidAnswer | UnsafeText,
             position: Position) -> str:
    state = position.state
    if isinstance(exc, UnsafeText):
        return unsafe_reply(exc, TEXT_FIELD_OF.get(state, "ad_account"))
    if isinstance(exc, InvalidHandle):
        return texts.handle_problem(exc.problem, exc.detail, exc.limit, exc.more,
                                    position.data.get("platform", "tiktok"))
    if isinstance(exc, InvalidAnswer):
        return texts.answer_problem(exc.field, exc.problem, exc.low, exc.high, exc.length)
    return texts.AD_ACCOUNT_PROBLEMS[exc.problem]


def unsafe_reply(exc: UnsafeText, field: str) -> str:
    """Why free text for `field` was refused (short however long the text was)."""
    return texts.unsafe_text(field, exc.problem, exc.shown, exc.more, exc.limit, exc.length)


# What typed text at each step is called in a refusal.
TEXT_FIELD_OF: dict[str, str] = {S.HANDLE: "handle", S.AD_ACCOUNT: "ad_account",
                                  S.BUSINESS_ID: "business_id", S.DURATION: "access_days"}
