"""The `linkpilot` command: settings errors, the FAQ as JSON, loading the knowledge base, misses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import Settings, SettingsError, load_settings
from storage.knowledge import BUNDLED_KB


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory (no .env) with a database of its own."""
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_API_FILE_URL",
                 "DATABASE_URL", "REQUEST_EXPIRY_DAYS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_missing_token_is_one_clear_line(isolated: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "bot.cli"], capture_output=True, text=True,
                            cwd=isolated, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "TELEGRAM_BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_token_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "not-a-token")
    with pytest.raises(SettingsError, match="does not look like a bot token"):
        load_settings().require_token()


def test_settings_come_from_a_dotenv_file(isolated: Path) -> None:
    (isolated / ".env").write_text("REQUEST_EXPIRY_DAYS=3\nLOG_LEVEL=debug\n"
                                   "TELEGRAM_API_BASE_URL=http://localhost:8081/bot\n")
    settings = Settings()
    assert settings.request_lifetime.days == 3
    assert settings.log_level == "DEBUG"
    assert settings.telegram_api_base_url == "http://localhost:8081/bot"


def test_invalid_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_EXPIRY_DAYS", "-1")
    with pytest.raises(SettingsError, match="REQUEST_EXPIRY_DAYS"):
        load_settings()


def test_base_urls_reach_the_bot_only_when_set() -> None:
    from bot.app import build_application

    plain = build_application(Settings(_env_file=None), token="1:" + "a" * 35)  # type: ignore[call-arg]
    assert plain.bot.base_url.startswith("https://api.telegram.org/bot")
    custom = build_application(
        Settings(_env_file=None, telegram_api_base_url="http://localhost:8081/bot",  # type: ignore[call-arg]
                 telegram_api_file_url="http://localhost:8081/file/bot"),
        token="1:" + "a" * 35)
    assert custom.bot.base_url.startswith("http://localhost:8081/bot")
    assert custom.bot.base_file_url.startswith("http://localhost:8081/file/bot")


def test_faq_prints_the_best_match_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "faq", "how long is a spark ads code valid?")
    assert code == 0
    found = json.loads(out)
    assert found["decision"] == "answer"
    assert found["id"] == "spark-code-validity"
    assert found["choices"] == []
    assert 0 < found["score"] <= 1
    assert "365" in found["answer"]


def test_faq_declines_with_a_null_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "faq", "what's a good recipe for pancakes")
    assert code == 0
    found = json.loads(out)
    assert found["decision"] == "decline"
    assert found["id"] is None and found["answer"] is None and found["choices"] == []


def test_faq_lists_only_the_choices_the_bot_would_show(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "faq", "spark code")
    assert code == 0
    found = json.loads(out)
    assert found["decision"] == "choose" and found["id"] is None
    assert 1 <= len(found["choices"]) <= 3
    assert all(c.startswith("spark-") for c in found["choices"])


def test_faq_in_another_language_declines_and_says_so(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "faq", "¿Cómo vinculo mi cuenta de TikTok?")
    assert code == 0
    found = json.loads(out)
    assert found["decision"] == "decline" and found["id"] is None
    assert found["language"] == "es"


def test_kb_load_is_idempotent(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "kb", "load")
    assert code == 0 and "added" in out
    code, out, _ = run(capsys, "kb", "load", str(BUNDLED_KB))
    assert "0 added, 0 updated, 0 removed" in out


def test_kb_load_rejects_a_malformed_file_and_changes_nothing(
        capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    run(capsys, "kb", "load")
    broken = isolated / "broken.yaml"
    text = BUNDLED_KB.read_text(encoding="utf-8")
    broken.write_text(text.replace("category: spark", "category: nowhere", 1), encoding="utf-8")
    code, _, err = run(capsys, "kb", "load", str(broken))
    assert code == 1
    assert "field 'category'" in err and "entry 'spark-" in err
    code, out, _ = run(capsys, "kb", "load")
    assert "0 added, 0 updated, 0 removed" in out


def test_kb_misses_lists_unanswered_questions(capsys: pytest.CaptureFixture[str],
                                              isolated: Path) -> None:
    import asyncio

    from bot.context import utc_now
    from storage.uow import Database

    async def log() -> None:
        db = Database(f"sqlite+aiosqlite:///{isolated / 'cli.db'}")
        await db.migrate()
        async with db.unit_of_work() as uow:
            for _ in range(2):
                await uow.knowledge.log_question(1, "can I pay with crypto", "miss", None, 0.1,
                                                 utc_now())
            await uow.commit()
        await db.dispose()

    asyncio.run(log())
    code, out, _ = run(capsys, "kb", "misses")
    assert code == 0
    assert "   2  miss" in out and "can I pay with crypto" in out


def test_kb_learn_turns_a_miss_into_an_answer(capsys: pytest.CaptureFixture[str],
                                              isolated: Path) -> None:
    import asyncio

    from bot.context import utc_now
    from storage.uow import Database

    question = "my gran asks how the thing with the wee picture code works"
    run(capsys, "kb", "load")
    before = json.loads(run(capsys, "faq", question)[1])
    assert before["decision"] != "answer"

    async def log() -> None:
        db = Database(f"sqlite+aiosqlite:///{isolated / 'cli.db'}")
        async with db.unit_of_work() as uow:
            await uow.knowledge.log_question(7, question, "miss", None, 0.1, utc_now())
            await uow.commit()
        await db.dispose()

    asyncio.run(log())
    assert question in run(capsys, "kb", "misses")[1]
    code, out, _ = run(capsys, "kb", "learn", "tiktok-qr-code-approval", question)
    assert code == 0 and "1 logged asks settled" in out
    assert question not in run(capsys, "kb", "misses")[1]
    after = json.loads(run(capsys, "faq", question)[1])
    assert after["decision"] == "answer" and after["id"] == "tiktok-qr-code-approval"

    async def users() -> list[object]:
        db = Database(f"sqlite+aiosqlite:///{isolated / 'cli.db'}")
        from storage.repositories import KB_QUESTIONS

        async with db.engine.connect() as conn:
            rows = await conn.execute(KB_QUESTIONS.select())
            found = [r.user_id for r in rows]
        await db.dispose()
        return found

    assert asyncio.run(users()) == [None, None]  # the person is removed


def test_kb_learn_rejects_an_unknown_entry(capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "kb", "load")
    code, _, err = run(capsys, "kb", "learn", "no-such-entry", "a question")
    assert code == 1 and "no-such-entry" in err


def test_kb_misses_lists_picked_suggestions_as_candidate_phrasings(
        capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    import asyncio

    from bot.context import utc_now
    from storage.uow import Database

    async def log() -> None:
        db = Database(f"sqlite+aiosqlite:///{isolated / 'cli.db'}")
        await db.migrate()
        async with db.unit_of_work() as uow:
            log_id = await uow.knowledge.log_question(1, "spark thing", "suggested",
                                                      "spark-what-are", 0.2, utc_now())
            await uow.knowledge.resolve_question(log_id, 1, "chosen", "spark-what-are")
            await uow.commit()
        await db.dispose()

    asyncio.run(log())
    out = run(capsys, "kb", "misses")[1]
    assert "candidate phrasings" in out
    assert "chosen" in out and "spark-what-are" in out and "spark thing" in out
