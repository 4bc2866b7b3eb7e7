"""Spark Ads authorization codes (issue 10): /code makes one for a creator's video, /codes lists
them with Extend and Delete, /apply is the advertiser's side, and the buttons of each."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot import keyboards, render, texts
from bot.context import Context, traced
from bot.handlers.messaging import answer, redraw, reply, settle
from bot.handlers.requests import actor_of
from bot.render import Reply
from flows import spark
from flows.platforms import UnsafeText
from flows.records import SparkCodeRow, UserRow


def codes_list(codes: spark.Codes) -> Reply:
    """/codes: the codes made, each with Extend and Delete, then the codes applied."""
    if not codes.made and not codes.applied:
        return Reply(texts.CODES_EMPTY)
    lines, rows = [], []
    if codes.made:
        lines.append(texts.CODES_TITLE)
    for number, (code, advertiser) in enumerate(codes.made, start=1):
        applied = render.person(advertiser) if code.applied_by is not None else None
        lines.append(texts.code_line(number, code.code, _video(code), code.days, code.status,
                                     code.expires_at, applied))
        rows.append(keyboards.code_actions(number, code.key, code.version))
    if codes.applied:
        lines.append(texts.CODES_APPLIED_TITLE)
    for code, creator in codes.applied:
        lines.append(texts.applied_line(_video(code), render.person(creator), code.status,
                                        code.expires_at))
    return Reply("\n\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


@traced("code")
async def code(update: Update, context: Context) -> None:
    """/code <video link or id>: ask how long the new code should work."""
    raw = " ".join(context.args or [])
    try:
        video, version = await spark.begin_code(context.uow, actor_of(update), raw,
                                                context.deps.clock())
    except spark.InvalidVideo as exc:
        await reply(update, texts.VIDEO_PROBLEMS[exc.problem])
        return
    except UnsafeText as exc:
        await reply(update, texts.unsafe_text("video", exc.problem, exc.shown, exc.more,
                                              exc.limit, exc.length))
        return
    await reply(update, Reply(texts.choose_validity(texts.video_label(video.id, video.handle)),
                              keyboards.validity_choices(version, spark.VALIDITY_DAYS)))


@traced("codes")
async def codes(update: Update, context: Context) -> None:
    """/codes: the person's codes, to copy, extend or delete."""
    await reply(update, codes_list(await spark.codes(context.uow, actor_of(update).id)))


@traced("apply")
async def apply(update: Update, context: Context) -> None:
    """/apply <code>: the advertiser applies a creator's code; Ads Manager's answer."""
    if not context.args:
        await reply(update, texts.APPLY_USAGE)
        return
    try:
        applied = await spark.apply_code(context.uow, actor_of(update), " ".join(context.args),
                                         context.deps.clock())
    except spark.CodeRefused as refused:
        await reply(update, texts.code_refused(refused.reason, refused.expires_at))
        return
    code = applied.code
    await reply(update, texts.code_applied(_video(code), render.person(applied.creator),
                                           code.expires_at, applied.again))


def _video(code: SparkCodeRow) -> str:
    return texts.video_label(code.video_id, code.video_handle)


def extend_question(code: SparkCodeRow) -> Reply:
    return Reply(texts.extend_question(_video(code), code.status, code.expires_at),
                 keyboards.extend_choices(code.key, code.version, spark.VALIDITY_DAYS))


def delete_question(code: SparkCodeRow, advertiser: UserRow | None) -> Reply:
    applied = render.person(advertiser) if code.applied_by is not None else None
    return Reply(texts.confirm_delete_code(_video(code), applied),
                 keyboards.confirm_delete_code(code.key, code.version))


Press = keyboards.SparkPress


async def _choose_period(update: Update, context: Context, press: Press) -> None:
    """A period for the video waiting in /code: the code is made and shown."""
    query = update.callback_query
    assert query is not None
    made = await spark.make_code(context.uow, actor_of(update), press.version, press.days or 0,
                                 context.deps.clock())
    await answer(query)
    await settle(query, texts.validity_label(made.days))
    await reply(update, texts.code_made(made.code, _video(made), made.days, made.expires_at))


async def _ask_period(update: Update, context: Context, press: Press) -> None:
    """Extend: which new period."""
    query = update.callback_query
    assert query is not None
    code, _ = await spark.own_code(context.uow, actor_of(update).id, press.key, press.version,
                                   "extend", context.deps.clock())
    await answer(query)
    await redraw(query, extend_question(code))


async def _extend(update: Update, context: Context, press: Press) -> None:
    query = update.callback_query
    assert query is not None
    code = await spark.extend_code(context.uow, actor_of(update), press.key, press.version,
                                   press.days or 0, context.deps.clock())
    await answer(query, texts.code_extended(texts.video_label(code.video_id, None),
                                            code.expires_at))
    await _redraw_list(update, context)


async def _ask_delete(update: Update, context: Context, press: Press) -> None:
    """Delete: asked first (saying who applied the code)."""
    query = update.callback_query
    assert query is not None
    code, advertiser = await spark.own_code(context.uow, actor_of(update).id, press.key,
                                            press.version, "delete", context.deps.clock())
    await answer(query)
    await redraw(query, delete_question(code, advertiser))


async def _delete(update: Update, context: Context, press: Press) -> None:
    query = update.callback_query
    assert query is not None
    code = await spark.delete_code(context.uow, actor_of(update), press.key, press.version,
                                   context.deps.clock())
    await answer(query, texts.code_deleted(texts.video_label(code.video_id, None)))
    await _redraw_list(update, context)


async def _keep(update: Update, context: Context, press: Press) -> None:
    query = update.callback_query
    assert query is not None
    await answer(query, texts.CODE_KEPT)
    await _redraw_list(update, context)


async def _redraw_list(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    await redraw(query, codes_list(await spark.codes(context.uow, actor_of(update).id)))


SPARK_ACTIONS = {"v": _choose_period, "e": _ask_period, "x": _extend, "d": _ask_delete,
                 "D": _delete, "k": _keep}


@traced("spark_button")
async def on_spark_button(update: Update, context: Context) -> None:
    """A period for a new code; Extend (periods, then one chosen), Delete (asked, then
    confirmed) or Keep on a listed code. A button about an older state redraws the list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    press = keyboards.parse_spark(query.data)
    try:
        if press is None:
            raise spark.Stale()
        await SPARK_ACTIONS[press.action](update, context, press)
    except spark.Stale:
        await _stale(update, context, press)


async def _stale(update: Update, context: Context, press: keyboards.SparkPress | None) -> None:
    """A button drawn for an older state: a validity question is settled; a list is redrawn."""
    query = update.callback_query
    assert query is not None
    if press is None or press.action == "v":
        await answer(query, texts.STALE_BUTTON)
        await settle(query)
        return
    await answer(query, texts.CODES_CHANGED)
    await _redraw_list(update, context)


# --- a code pasted without /apply (issue 10, gaps) ------------------------------------------------

async def pasted_code(update: Update, text: str) -> bool:
    """Text that is a whole Spark code, sent without /apply: say how to apply it (pasting alone
    doesn't say the person means to use it up) and change nothing. False for other text."""
    if not spark.looks_like_code(text):
        return False
    await reply(update, texts.pasted_code(spark.normalise_code(text)))
    return True
