"""Questions and answers: /faq browsing and search, and free-text questions at any point."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot import keyboards, texts
from bot.context import Context, traced
from bot.handlers.messaging import answer, redraw, reply, settle
from bot.render import Reply
from flows.faq import KbEntry
from flows.platforms import scrubbed


def answer_reply(context: Context, entry: KbEntry) -> Reply:
    """An entry's answer, with its related entries as buttons."""
    related = [e for e in (context.deps.faq.entry(r) for r in entry.related) if e is not None]
    markup = keyboards.faq_topics([(e.id, e.title) for e in related])
    return Reply(f"<b>{texts.esc(entry.title)}</b>\n\n{entry.answer}", markup)


async def answer_question(update: Update, context: Context, question: str) -> None:
    """Answer free text from the knowledge base: an answer, three suggestions, or "don't know"."""
    deps, user = context.deps, update.effective_user
    await deps.faq.refresh(context.uow)
    found = deps.faq.lookup(question)
    if found.decision == "answer" and found.best is not None:
        entry = deps.faq.entry(found.best.entry_id)
        if entry is not None:
            await reply(update, answer_reply(context, entry))
            return
    outcome = "suggested" if found.decision == "choose" and found.choices else "miss"
    log_id = await context.uow.knowledge.log_question(
        user.id if user else None, scrubbed(question, 1000), outcome,
        found.candidates[0].entry_id if found.candidates else None,
        found.candidates[0].score if found.candidates else None, deps.clock())
    if outcome == "suggested":
        topics = [(e.id, e.title) for e in
                  (deps.faq.entry(c.entry_id) for c in found.choices) if e is not None]
        await reply(update, Reply(texts.FAQ_CHOOSE, keyboards.faq_suggestions(log_id, topics)))
    elif found.language != "en":
        await reply(update, Reply(texts.FAQ_ENGLISH_ONLY, keyboards.faq_menu(deps.faq.categories)))
    else:
        await reply(update, Reply(texts.FAQ_DONT_KNOW, InlineKeyboardMarkup(
            [[keyboards.Button(texts.FAQ_TOPICS, callback_data="m")]])))


@traced("faq")
async def faq_command(update: Update, context: Context) -> None:
    """/faq browses the topics; /faq <words> searches them."""
    words = " ".join(context.args or []).strip()
    if words:
        await answer_question(update, context, words)
    else:
        await reply(update, Reply(texts.FAQ_MENU, keyboards.faq_menu(context.deps.faq.categories)))


@traced("faq_button")
async def on_faq_button(update: Update, context: Context) -> None:
    """Menu, category and topic buttons."""
    query, faq = update.callback_query, context.deps.faq
    assert query is not None and query.data is not None
    kind, _, arg = query.data.partition(":")
    if kind == "m":
        await answer(query)
        await redraw(query, Reply(texts.FAQ_MENU, keyboards.faq_menu(faq.categories)))
    elif kind == "c" and faq.category_title(arg):
        await answer(query)
        title = texts.FAQ_CATEGORY.format(title=texts.esc(faq.category_title(arg)))
        await redraw(query, Reply(title, keyboards.faq_topics(faq.topics(arg))))
    elif kind == "q" and (entry := faq.entry(arg)) is not None:
        await answer(query)
        await reply(update, answer_reply(context, entry))
    else:
        await answer(query, texts.FAQ_GONE)


@traced("faq_suggestion")
async def on_suggestion(update: Update, context: Context) -> None:
    """A pick among suggested topics, or "None of these"; both are logged for the KB's growth."""
    query, user, deps = update.callback_query, update.effective_user, context.deps
    assert query is not None and query.data is not None and user is not None
    kind, _, rest = query.data.partition(":")
    log_id, _, entry_id = rest.partition(":")
    entry = deps.faq.entry(entry_id) if kind == "s" else None
    if not log_id.isdigit() or (kind == "s" and entry is None):
        await answer(query, texts.FAQ_GONE)
        return
    await context.uow.knowledge.resolve_question(int(log_id), user.id,
                                                 "chosen" if entry else "none_fit",
                                                 entry.id if entry else None)
    await answer(query)
    await settle(query)
    await reply(update, answer_reply(context, entry) if entry else Reply(
        texts.FAQ_NOTED, InlineKeyboardMarkup([[keyboards.Button(texts.FAQ_TOPICS,
                                                                 callback_data="m")]])))
