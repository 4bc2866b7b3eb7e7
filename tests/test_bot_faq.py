"""The knowledge base in the chat: questions at any point, suggestions, browsing, and the log."""

from __future__ import annotations

from bot.local_api import Person
from storage.repositories import KB_QUESTIONS
from tests.conftest import World, pass_prerequisites


async def logged(world: World) -> list[tuple[str, str, str | None]]:
    async with world.deps.db.engine.connect() as conn:
        rows = await conn.execute(KB_QUESTIONS.select().order_by(KB_QUESTIONS.c.id))
        return [(r.question, r.outcome, r.entry_id) for r in rows]


async def reach_handle_question(ada: Person) -> None:
    await pass_prerequisites(ada)
    await ada.send("Acme Ads")


async def test_question_while_waiting_for_a_username_resumes_the_same_step(
        world: World, ada: Person) -> None:
    await reach_handle_question(ada)
    replies = await ada.send("How do I unlink a TikTok account from my ad account?")
    assert "Link accounts" in replies[0].plain  # the unlink answer
    assert replies[-2].plain == "Back to your request:"
    assert "Which TikTok account should be linked?" in replies[-1].plain
    await ada.send("@brand.name")  # the step is unchanged: the username is still accepted
    assert "Which permissions" in ada.last.plain


async def test_a_valid_answer_is_never_taken_for_a_question(ada: Person) -> None:
    await pass_prerequisites(ada)
    await ada.send("Spark Ads Agency")  # a name made of FAQ words is still a name
    assert "Which TikTok account" in ada.last.plain
    await ada.send("spark.ads")
    assert "Which permissions" in ada.last.plain


async def test_question_at_a_button_step_keeps_the_buttons(ada: Person) -> None:
    await ada.send("/link")
    await ada.press("TikTok")
    replies = await ada.send("what is a business center?")
    assert "Before you start: check 1 of 3" in replies[-1].plain
    assert replies[-1].labels[:2] == ["Yes", "No"]
    await ada.press("Yes", replies[-1])
    assert "Admin or Operator" in ada.last.plain


async def test_out_of_scope_questions_are_declined_and_logged(world: World, ada: Person) -> None:
    await ada.send("What's the weather in Paris tomorrow?")
    assert "don't know the answer" in ada.last.plain
    assert ada.last.labels == ["All topics"]
    assert [row[:2] for row in await logged(world)] == [
        ("What's the weather in Paris tomorrow?", "miss")]


async def test_answers_offer_related_topics(ada: Person) -> None:
    await ada.send("what are spark ads")
    answer = ada.last
    assert "Spark" in answer.plain
    assert len(answer.labels) >= 2 and answer.labels[-1] == "All topics"
    related = answer.labels[0]
    await ada.press(related, answer)
    assert related in ada.last.plain


async def test_faq_browsing_by_category(world: World, ada: Person) -> None:
    await ada.send("/faq")
    menu = ada.last
    assert "Questions and answers" in menu.plain
    categories = menu.labels
    assert len(categories) >= 6
    await ada.press(categories[0], menu)
    topics = next(m for m in ada.inbox if m.message_id == menu.message_id)
    assert topics.labels[-1] == "All topics" and len(topics.labels) > 1
    await ada.press(topics.labels[0], topics)
    assert topics.labels[0] in ada.last.plain
    await ada.press("All topics", topics)
    assert next(m for m in ada.inbox if m.message_id == menu.message_id).labels == categories


async def test_faq_command_searches(ada: Person) -> None:
    await ada.send("/faq spark code expired")
    assert "4025" in ada.last.plain or "expired" in ada.last.plain.lower()


async def test_suggestions_and_none_of_these_are_logged(world: World, ada: Person) -> None:
    # Find a question the matcher is unsure about, using the bot's own matcher.
    candidates = ["access", "account permissions", "code", "tiktok account", "remove"]
    faq = world.deps.faq
    ambiguous = [q for q in candidates if faq.lookup(q).decision == "choose"]
    assert ambiguous, "expected at least one ambiguous query among the candidates"
    question = ambiguous[0]
    await ada.send(question)
    offer = ada.last
    assert "not sure which" in offer.plain
    assert offer.labels[-1] == "None of these" and 2 <= len(offer.labels) <= 4
    await ada.press(offer.labels[0], offer)
    assert offer.labels[0] in ada.last.plain
    await ada.send(question)
    await ada.press("None of these")
    assert "noted the question" in ada.last.plain
    outcomes = [(q, o) for q, o, _ in await logged(world)]
    assert outcomes == [(question, "chosen"), (question, "none_fit")]


async def test_a_question_in_another_language_is_told_english_and_offered_the_topics(
        world: World, ada: Person) -> None:
    await ada.send("¿Cómo desvinculo mi cuenta de TikTok del administrador de anuncios?")
    assert "answers questions in English" in ada.last.plain
    assert len(ada.last.labels) >= 6  # the topic categories
    await ada.press(ada.last.labels[0], ada.last)
    assert ada.last.labels[-1] == "All topics"
    assert [row[1] for row in await logged(world)] == ["miss"]


async def test_an_unsure_question_offers_only_the_plausible_topics(
        world: World, ada: Person) -> None:
    found = world.deps.faq.lookup("spark code")
    assert found.decision == "choose"
    await ada.send("spark code")
    offer = ada.last
    assert "Did you mean" in offer.plain
    titles = [world.deps.faq.entry(c.entry_id).title for c in found.choices]  # type: ignore[union-attr]
    assert offer.labels == [*titles, "None of these"]


async def test_a_learned_phrasing_is_answered_after_a_reload(world: World, ada: Person) -> None:
    question = "what is the deal with that square barcode thing for the creator"
    assert world.deps.faq.lookup(question).decision != "answer"
    async with world.deps.db.unit_of_work() as uow:
        await uow.knowledge.learn(question, "tiktok-qr-code-approval", world.deps.clock())
        await uow.commit()
    await world.deps.faq.load(world.deps.db, world.deps.clock())
    await ada.send(question)
    assert world.deps.faq.entry("tiktok-qr-code-approval").title in ada.last.plain  # type: ignore[union-attr]
