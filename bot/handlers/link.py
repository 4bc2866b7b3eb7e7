"""The advertiser's guided conversation: /start, /link, /back, /cancel, /status, its buttons
and typed answers, with free-text questions sent to the knowledge base."""

from __future__ import annotations

from telegram import Update

from bot import linking, render, texts
from bot.context import Context, note_states, traced
from bot.handlers import faq, requests
from bot.handlers.messaging import pressed_label, reply, settle
from bot.keyboards import parse_flow
from flows.link_flow import FlowError, NoScopeChosen, NothingToUndo, S, UnknownChoice
from flows.platforms import InvalidAdAccountName, InvalidHandle, looks_like_question

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
}


def flow_error(exc: Exception | None) -> str:
    if isinstance(exc, NoScopeChosen):
        return texts.NO_SCOPE
    if isinstance(exc, NothingToUndo):
        return texts.FIRST_QUESTION
    if isinstance(exc, UnknownChoice):
        return texts.UNKNOWN_CHOICE
    return texts.NOT_NOW


async def show(update: Update, context: Context, step: linking.Step) -> None:
    """Say what follows a step: the next question, the request's delivery, or the end."""
    if step.request is not None:
        await requests.deliver(context, step.request)
    elif step.position.state == S.CANCELLED:
        await reply(update, texts.CANCELLED)
    else:
        await reply(update, render.question(step.position, step.version))


@traced("start")
async def start(update: Update, context: Context) -> None:
    """/start: welcome, or open a one-time approval link (/start <token>)."""
    if context.args:
        await requests.open_link(update, context, context.args[0])
        return
    user, deps = update.effective_user, context.deps
    assert user is not None
    async with deps.db.unit_of_work() as uow:
        await uow.users.seen(user.id, user.first_name, user.username, deps.clock())
        row = await linking.active(uow, user.id)
        await uow.commit()
    await reply(update, texts.welcome(user.first_name))
    if row is not None:
        await reply(update, texts.RESUMING)
        await reply(update, render.question(linking.position_of(row), row.version))


@traced("help")
async def help_command(update: Update, context: Context) -> None:
    """/help: what the bot does and its commands."""
    await reply(update, texts.HELP)


@traced("link")
async def link(update: Update, context: Context) -> None:
    """/link: start a link request, or resume the one in progress."""
    user, deps = update.effective_user, context.deps
    assert user is not None
    async with deps.db.unit_of_work() as uow:
        await uow.users.seen(user.id, user.first_name, user.username, deps.clock())
        step, resumed = await linking.begin(uow, user.id, deps.clock())
        await uow.commit()
    if resumed:
        await reply(update, texts.RESUMING)
    await show(update, context, step)


@traced("cancel")
async def cancel(update: Update, context: Context) -> None:
    """/cancel: stop the link request in progress (nothing is sent)."""
    await _command_event(update, context, "cancel")


@traced("back")
async def back(update: Update, context: Context) -> None:
    """/back: return to the previous question."""
    await _command_event(update, context, "back")


async def _command_event(update: Update, context: Context, event: str) -> None:
    user, deps = update.effective_user, context.deps
    assert user is not None
    tried = await linking.attempt(deps.db, user.id, event, deps.clock(),
                                  deps.settings.request_lifetime)
    if tried.row is None:
        await reply(update, texts.NOTHING_TO_CANCEL if event == "cancel" else texts.NO_FLOW)
    elif isinstance(tried.error, FlowError):
        await reply(update, flow_error(tried.error))
        await reply(update, render.question(linking.position_of(tried.row), tried.row.version))
    elif tried.step is not None:
        await show(update, context, tried.step)


@traced("status")
async def status(update: Update, context: Context) -> None:
    """/status: the step in progress and the request counts."""
    user, deps = update.effective_user, context.deps
    assert user is not None
    async with deps.db.unit_of_work() as uow:
        row = await linking.active(uow, user.id)
        mine = await uow.requests.of_requester(user.id, limit=1000)
    note_states(row.state if row else None, row.state if row else None)
    counts = [sum(r.status == s for r in mine) for s in ("pending", "authorized")]
    await reply(update, render.status(linking.position_of(row) if row else None, *counts))
    if row is not None:
        await reply(update, render.question(linking.position_of(row), row.version))


@traced("flow_button")
async def on_flow_button(update: Update, context: Context) -> None:
    """A button answering the current question; old questions' buttons are refused."""
    query, user, deps = update.callback_query, update.effective_user, context.deps
    assert query is not None and query.data is not None and user is not None
    press = parse_flow(query.data)
    if press is not None and press.action in ("w", "l"):
        await _without_transition(update, context, press.version, press.action)
        return
    event, arg_name = EVENTS.get(press.action, ("", None)) if press else ("", None)
    tried = await linking.attempt(
        deps.db, user.id, event, deps.clock(), deps.settings.request_lifetime,
        version=press.version if press else -1,
        **({arg_name: press.arg} if press and arg_name else {}))
    if tried.step is None:
        stale = tried.row is None or isinstance(tried.error, linking.Stale)
        await query.answer(texts.STALE_BUTTON if stale else flow_error(tried.error))
        if stale:
            await settle(query)
        return
    await query.answer()
    if event == "toggle_scope":
        # Permissions are ticked in place, on the same message.
        fresh = render.question(tried.step.position, tried.step.version)
        await query.edit_message_text(fresh.text, reply_markup=fresh.markup)
        return
    await settle(query, f"→ {pressed_label(query) or ''}")
    await show(update, context, tried.step)


async def _without_transition(update: Update, context: Context, version: int,
                              action: str) -> None:
    """"What's this?" explains in place; "Later" keeps the place and says how to come back."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    row = await linking.peek(context.deps.db, user.id)
    if row is None or row.version != version:
        await query.answer(texts.STALE_BUTTON)
        await settle(query)
        return
    await query.answer()
    position = linking.position_of(row)
    if action == "w" and position.state == S.PREREQUISITE:
        fresh = render.question(position, row.version, explained=True)
        await query.edit_message_text(fresh.text, reply_markup=fresh.markup)
    elif action == "l":
        await settle(query, f"→ {texts.LATER}")
        await reply(update, texts.LATER_SAVED)


@traced("text")
async def on_text(update: Update, context: Context) -> None:
    """Typed text: a rejection reason, an answer to the current question, or a question."""
    message, user, deps = update.message, update.effective_user, context.deps
    assert message is not None and message.text is not None and user is not None
    if await requests.take_reason(update, context):
        return
    text = message.text
    tried = await linking.attempt_text(deps.db, user.id, text, deps.clock(),
                                       deps.settings.request_lifetime,
                                       lambda t: _is_question(context, t))
    if tried.step is not None:
        await show(update, context, tried.step)
        return
    position = tried.position
    if isinstance(tried.error, (InvalidHandle, InvalidAdAccountName)):
        await reply(update, _invalid(tried.error))
    else:
        await faq.answer_question(update, context, text)
        if position is not None:
            await reply(update, texts.BACK_TO_FLOW)
    if tried.row is not None and position is not None:
        await reply(update, render.question(position, tried.row.version))


def _is_question(context: Context, text: str) -> bool:
    """Text at a typed-answer step counts as a question only when phrased as one and either
    unusable as an answer ("?") or something the knowledge base recognises."""
    if not looks_like_question(text):
        return False
    return "?" in text or context.deps.faq.lookup(text).decision != "decline"


def _invalid(exc: InvalidHandle | InvalidAdAccountName) -> str:
    if isinstance(exc, InvalidHandle):
        return texts.handle_problem(exc.problem, exc.detail, exc.limit)
    return texts.AD_ACCOUNT_PROBLEMS[exc.problem]

