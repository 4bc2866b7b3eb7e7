"""The `linkpilot` command: settings errors, the FAQ as JSON, loading the knowledge base, misses."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
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
    assert code == 2
    assert err.startswith("linkpilot: knowledge base not loaded: ") and err.count("\n") == 1
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


# --- Errors an operator can fix: exit code 2 and exactly one line on stderr ----------------------
# Each runs the real command in a process of its own, in an empty working directory, with a token
# that looks real (it must never be printed) and a Bot API address that refuses at once, so a
# check that failed to fire could not sit waiting for Telegram.

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SETTINGS_VARIABLES = ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE_URL", "TELEGRAM_API_FILE_URL",
                      "DATABASE_URL", "REQUEST_EXPIRY_DAYS", "EXPIRY_CHECK_SECONDS", "LOG_LEVEL")
SUBCOMMANDS = (["run"], ["chat"], ["faq", "how long is a spark code valid?"], ["kb", "misses"])


def environment(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(PTB_TIMEDELTA="true", TELEGRAM_BOT_TOKEN=TOKEN,
               TELEGRAM_API_BASE_URL="http://127.0.0.1:9/bot")
    env.update(settings)
    return env


def linkpilot(cwd: Path, *args: str, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    """`linkpilot ARGS` as a user would run it, with stdin at end of input."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd,
                          env=env if env is not None else environment(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def linkpilot_each(runs: list[tuple[Path, list[str], dict[str, str]]]
                   ) -> list[subprocess.CompletedProcess[str]]:
    """Several `linkpilot` commands (working folder, arguments, environment) at once: each
    spends half a second importing, and there are two cores."""
    procs = [(argv, subprocess.Popen([sys.executable, "-m", "bot.cli", *argv], cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True))
             for cwd, argv, env in runs]
    results = []
    for argv, proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(argv, proc.returncode, out, err))
    return results


def linkpilot_all(cwd: Path, argvs: list[list[str]], env: dict[str, str]
                  ) -> list[subprocess.CompletedProcess[str]]:
    """Several `linkpilot` commands at once, in one folder with one environment."""
    return linkpilot_each([(cwd, argv, env) for argv in argvs])


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit code 2, one `linkpilot: ` line on stderr holding `fragments`, no token anywhere."""
    where = f"`linkpilot {' '.join(result.args[-2:])}`"
    assert result.returncode == 2, f"{where} exited {result.returncode}: {result.stderr}"
    assert result.stderr.startswith("linkpilot: "), f"{where}: {result.stderr}"
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("\n"), \
        f"{where} printed more than one line:\n{result.stderr}"
    for fragment in fragments:
        assert fragment in result.stderr, f"{where}: {result.stderr}"
    assert TOKEN.split(":")[1] not in result.stderr + result.stdout
    return result.stderr.rstrip("\n")


def unwritable_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o555)
        return folder
    # Root writes through permission bits; sysfs refuses new files even to root.
    if not Path("/sys/kernel").is_dir():
        pytest.skip("running as root without a sysfs to stand for a read-only folder")
    return Path("/sys")


def test_every_subcommand_checks_the_database_before_it_starts(isolated: Path) -> None:
    env = environment(DATABASE_URL="sqlite+aiosqlite:///no-such-folder/linkpilot.db")
    for result in linkpilot_all(isolated, [list(argv) for argv in SUBCOMMANDS], env):
        line = assert_one_line_error(result)
        assert line == ("linkpilot: the folder for the SQLite database does not exist: "
                        f"{isolated / 'no-such-folder'} (create it, or change DATABASE_URL)")
    assert not (isolated / "no-such-folder").exists()


UNUSABLE_URLS = [  # (subcommand, DATABASE_URL, the line)
    (["chat"], "nonsense",
     "linkpilot: DATABASE_URL is not a database URL; expected e.g. sqlite+aiosqlite:///linkpilot.db"
     " or postgresql+asyncpg://user:password@host/linkpilot"),
    (["run"], "sqlite:///x.db",
     "linkpilot: DATABASE_URL uses SQLite's synchronous driver; use sqlite+aiosqlite:///x.db"),
    (["faq", "hi"], "sqlite+nodriver:///x.db",
     "linkpilot: DATABASE_URL names an unknown database or driver 'sqlite+nodriver'; expected e.g."
     " sqlite+aiosqlite:///linkpilot.db or postgresql+asyncpg://user:password@host/linkpilot"),
    (["kb", "load"], "postgresql+psycopg2://ada:s3cret-pw@db/linkpilot",
     "linkpilot: DATABASE_URL's driver 'psycopg2' is not asynchronous; "
     "use postgresql+asyncpg and pip install -e '.[postgres]'"),
]


def test_an_unusable_database_url_is_one_line(tmp_path: Path) -> None:
    folders = [tmp_path / f"case{index}" for index in range(len(UNUSABLE_URLS))]
    for folder in folders:
        folder.mkdir()
    results = linkpilot_each([(folder, argv, environment(DATABASE_URL=url))
                              for folder, (argv, url, _) in zip(folders, UNUSABLE_URLS,
                                                                strict=True)])
    for folder, result, (_, url, expected) in zip(folders, results, UNUSABLE_URLS, strict=True):
        assert assert_one_line_error(result) == expected, url
        assert "s3cret-pw" not in result.stderr
        assert not list(folder.iterdir()), f"{url}: nothing is made before the URL is checked"


def test_a_missing_driver_names_the_extra(isolated: Path, tmp_path_factory: pytest.TempPathFactory
                                          ) -> None:
    # asyncpg is not in the `test` extra; shadow it anyway so the test holds after
    # `pip install -e '.[postgres]'` too.
    uninstalled = tmp_path_factory.mktemp("uninstalled")
    (uninstalled / "asyncpg.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'asyncpg'\", name='asyncpg')\n")
    env = environment(DATABASE_URL="postgresql+asyncpg://ada:s3cret-pw@localhost/linkpilot",
                      PYTHONPATH=str(uninstalled))
    for result in linkpilot_all(isolated, [["faq", "hi"], ["run"]], env):
        line = assert_one_line_error(result)
        assert line == "linkpilot: DATABASE_URL needs the asyncpg driver: " \
                       "pip install -e '.[postgres]'"


def test_a_driver_that_is_not_installed_is_one_line(isolated: Path) -> None:
    result = linkpilot(isolated, "kb", "misses", env=environment(
        DATABASE_URL="mysql+aiomysql://ada:s3cret-pw@localhost/linkpilot"))
    assert_one_line_error(result, "needs the aiomysql driver, which is not installed")
    assert "s3cret-pw" not in result.stderr


def test_an_unwritable_sqlite_folder_is_one_line(isolated: Path) -> None:
    folder = unwritable_folder(isolated)
    env = environment(DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'linkpilot.db'}")
    for result in linkpilot_all(isolated, [list(argv) for argv in SUBCOMMANDS], env):
        assert_one_line_error(
            result, f"linkpilot: the folder for the SQLite database is not writable: {folder} (")
    assert not (folder / "linkpilot.db").exists()


def test_a_file_where_the_sqlite_folder_should_be_is_one_line(isolated: Path) -> None:
    (isolated / "data").write_text("not a folder")
    result = linkpilot(isolated, "faq", "hi",
                       env=environment(DATABASE_URL="sqlite+aiosqlite:///data/linkpilot.db"))
    assert assert_one_line_error(result) == \
        f"linkpilot: the SQLite database's folder is a file: {isolated / 'data'}"


def test_a_dotenv_that_is_not_utf8_is_one_line(isolated: Path) -> None:
    (isolated / ".env").write_bytes(f"TELEGRAM_BOT_TOKEN={TOKEN}\n".encode()
                                    + "LOG_LEVEL=INFO # café\n".encode("latin-1"))
    env = environment()
    del env["TELEGRAM_BOT_TOKEN"]
    for result in linkpilot_all(isolated, [["run"], ["chat"]], env):
        assert assert_one_line_error(result) == \
            "linkpilot: .env is not UTF-8 text (line 2); save it as UTF-8"


def test_kb_load_of_a_file_it_cannot_read_is_one_line(isolated: Path) -> None:
    (isolated / "knowledge").mkdir()
    text = BUNDLED_KB.read_text(encoding="utf-8")
    (isolated / "latin1.yaml").write_bytes(text.replace("–", "-").encode("utf-8")
                                           .replace(b"version:", b"# r\xe9vision\nversion:", 1))
    bad_line = (isolated / "latin1.yaml").read_bytes().split(b"\n").index(b"# r\xe9vision") + 1
    results = linkpilot_all(isolated, [["kb", "load", "faq.yml"], ["kb", "load", "knowledge"],
                                       ["kb", "load", "latin1.yaml"]], environment())
    assert [assert_one_line_error(result) for result in results] == [
        "linkpilot: knowledge base not loaded: faq.yml: no such file",
        "linkpilot: knowledge base not loaded: knowledge: is a folder, not a file",
        f"linkpilot: knowledge base not loaded: latin1.yaml: not UTF-8 text (line {bad_line}); "
        "save it as UTF-8",
    ]


def test_a_yaml_error_spanning_lines_is_still_one_line(isolated: Path) -> None:
    (isolated / "faq.yaml").write_text("version: [1\n", encoding="utf-8")
    result = linkpilot(isolated, "kb", "load", "faq.yaml")
    assert_one_line_error(result, "linkpilot: knowledge base not loaded: not valid YAML:")


# --- Leaving `linkpilot chat` ---------------------------------------------------------------------

def start_chat(cwd: Path, terminal: bool) -> tuple[subprocess.Popen[bytes], int]:
    """`linkpilot chat` on a pseudo-terminal or on pipes; returns it and the fd to read it on."""
    env = environment(DATABASE_URL=f"sqlite+aiosqlite:///{cwd / 'chat.db'}")
    if terminal:
        controller, terminal_fd = pty.openpty()
        proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat"], cwd=cwd, env=env,
                                stdin=terminal_fd, stdout=terminal_fd, stderr=subprocess.PIPE)
        os.close(terminal_fd)
        return proc, controller
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "chat"], cwd=cwd, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, proc.stdout.fileno()


def read_until(fd: int, marker: bytes | None, timeout: float = 30) -> bytes:
    """Output up to `marker`, or (None) to the end; a terminal's CR LF read as LF."""
    seen = b""
    deadline = time.monotonic() + timeout
    while marker is None or marker not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {marker!r} within {timeout} s; got {seen[-300:]!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # a terminal whose last process has gone
            chunk = b""
        if not chunk and marker is None:
            break
        assert chunk, f"output ended before {marker!r}; got {seen[-300:]!r}"
        seen += chunk.replace(b"\r\n", b"\n")
    return seen


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_ctrl_c_in_chat_says_goodbye_and_exits_at_once(isolated: Path, terminal: bool) -> None:
    proc, output = start_chat(isolated, terminal)
    try:
        shown = read_until(output, b"Ada> ")
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends; nobody presses Enter after it
        assert proc.wait(timeout=10) == 130  # it used to wait for Enter, however long
        assert (shown + read_until(output, None)).endswith(b"Ada> \nbye\n")
        assert proc.stderr is not None and proc.stderr.read() == b""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if terminal:
            os.close(output)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_end_of_input_in_chat_says_goodbye(isolated: Path) -> None:
    env = environment(DATABASE_URL=f"sqlite+aiosqlite:///{isolated / 'chat.db'}")
    result = subprocess.run([sys.executable, "-m", "bot.cli", "chat"], cwd=isolated, env=env,
                            input=":owner\n/claim @owen.makes\n", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "@owen.makes is now yours here" in result.stdout
    assert result.stdout.endswith("Owen> \nbye\n")
    assert result.stderr == ""


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


# --- `linkpilot run` against a Bot API that says no, or is not there -----------------------------

async def test_a_token_telegram_rejects_is_one_line(isolated: Path) -> None:
    from bot.local_api import LocalBotApi, serve_http

    front = await serve_http(LocalBotApi())  # it knows another token: every call is a 401
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=isolated,
            env=environment(TELEGRAM_API_BASE_URL=front.base_url),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await front.close()
    result = subprocess.CompletedProcess(["linkpilot", "run"], proc.returncode or 0,
                                         out.decode(), err.decode())
    assert_one_line_error(result, "Telegram rejected TELEGRAM_BOT_TOKEN")


def test_an_unreachable_bot_api_is_retried_one_line_per_attempt(isolated: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=isolated,
                            env=environment(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(5)  # attempts after 0, 1 and 3 seconds
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    attempts = [line for line in err.splitlines() if "cannot reach the Bot API" in line]
    assert len(attempts) >= 2, err
    assert all("127.0.0.1:9" in line and "retrying in" in line for line in attempts)
    assert "Traceback" not in err and TOKEN not in err + out
    assert len(err.splitlines()) == len(attempts), err  # nothing but one line per attempt
    assert proc.returncode == 0
