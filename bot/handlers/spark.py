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


def codes_list(codes: spark.Codes) -> Reply:
    """/codes: the codes made, each with Extend and Delete, then the codes applied."""
    if not codes.made and not codes.applied:
        return Reply(texts.CODES_EMPTY)
    lines, rows = [], []
    if codes.made:
        lines.append(texts.CODES_TITLE)
    for number, (code, advertiser) in enumerate(codes.made, start=1):
        applied = render.person(advertiser) if code.applied_by is not None else None
        lines.append(texts.code_line(number, code.code,
                                     texts.video_label(code.video_id, code.video_handle),
                                     code.days, code.status, code.expires_at, applied))
        rows.append(keyboards.code_actions(number, code.key, code.version))
    if codes.applied:
        lines.append(texts.CODES_APPLIED_TITLE)
    for code, creator in codes.applied:
        lines.append(texts.applied_line(texts.video_label(code.video_id, code.video_handle),
                                        render.person(creator), code.status, code.expires_at))
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
        until = refused.code.expires_at if refused.code is not None else None
        await reply(update, texts.code_refused(refused.reason, until))
        return
    code = applied.code
    await reply(update, texts.code_applied(texts.video_label(code.video_id, code.video_handle),
                                           render.person(applied.creator), code.expires_at,
                                           applied.again))


@traced("spark_button")
async def on_spark_button(update: Update, context: Context) -> None:
    """A validity for a new code; Extend (periods, then one chosen), Delete (asked, then
    confirmed) or Keep on a listed code. A button about an older state redraws the list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    press = keyboards.parse_spark(query.data)
    actor, now, uow = actor_of(update), context.deps.clock(), context.uow
    try:
        if press is None:
            raise spark.Stale()
        if press.action == "v":
            made = await spark.make_code(uow, actor, press.version, press.days or 0, now)
            await answer(query)
            await settle(query, texts.validity_label(made.days))
            await reply(update, texts.code_made(
                made.code, texts.video_label(made.video_id, made.video_handle), made.days,
                made.expires_at))
        elif press.action == "e":
            found, _ = await spark.own_code(uow, actor.id, press.key, press.version)
            await answer(query)
            await redraw(query, Reply(
                texts.extend_question(texts.video_label(found.video_id, found.video_handle),
                                      found.status, found.expires_at),
                keyboards.extend_choices(found.key, found.version, spark.VALIDITY_DAYS)))
        elif press.action == "x":
            extended = await spark.extend_code(uow, actor, press.key, press.version,
                                               press.days or 0, now)
            await answer(query, texts.code_extended(
                texts.video_label(extended.video_id, None), extended.expires_at))
            await redraw(query, codes_list(await spark.codes(uow, actor.id)))
        elif press.action == "d":
            found, advertiser = await spark.own_code(uow, actor.id, press.key, press.version)
            await answer(query)
            applied = render.person(advertiser) if found.applied_by is not None else None
            await redraw(query, Reply(
                texts.confirm_delete_code(texts.video_label(found.video_id, found.video_handle),
                                          applied),
                keyboards.confirm_delete_code(found.key, found.version)))
        elif press.action == "D":
            deleted = await spark.delete_code(uow, actor, press.key, press.version, now)
            await answer(query, texts.code_deleted(texts.video_label(deleted.video_id, None)))
            await redraw(query, codes_list(await spark.codes(uow, actor.id)))
        else:  # "k": keep
            await answer(query, texts.CODE_KEPT)
            await redraw(query, codes_list(await spark.codes(uow, actor.id)))
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
    await redraw(query, codes_list(await spark.codes(context.uow, actor_of(update).id)))
