"""The knowledge base data file: validation and import into the database.

The file (storage/knowledge/faq.yaml) is versioned with the code; `linkpilot kb load` makes the
stored knowledge base equal to it. A malformed file names the entry and field at fault and
changes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storage.repositories import KbEntryRow
from storage.uow import Database

BUNDLED_KB = Path(__file__).with_name("knowledge") / "faq.yaml"
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ALLOWED_TAGS = {"b", "i", "code", "a"}
_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)\b[^>]*>")


class KbFileError(ValueError):
    """The data file is malformed; the message names the entry and the field."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=_ID.pattern, max_length=48)
    title: str = Field(min_length=5, max_length=200)
    phrasings: list[str] = Field(min_length=1)
    answer: str = Field(min_length=20, max_length=3500)
    platform: str = Field(pattern=r"^(tiktok|meta|instagram|facebook|general)$")
    category: str
    related: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    @field_validator("phrasings")
    @classmethod
    def _phrasings_not_blank(cls, value: list[str]) -> list[str]:
        if any(not p.strip() for p in value):
            raise ValueError("phrasings must not be blank")
        return [p.strip() for p in value]

    @field_validator("answer")
    @classmethod
    def _telegram_html(cls, value: str) -> str:
        bad = {t.lower() for t in _TAG.findall(value)} - _ALLOWED_TAGS
        if bad:
            raise ValueError(f"answer uses HTML tags Telegram does not allow: {sorted(bad)}")
        return value

    @field_validator("sources")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"^https?://\S+$", url):
                raise ValueError(f"source is not a URL: {url!r}")
        return value


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    categories: dict[str, str] = Field(min_length=1)
    entries: list[dict[str, Any]] = Field(min_length=1)


def parse_kb(text: str) -> tuple[list[tuple[str, str]], list[KbEntryRow]]:
    """Validate a knowledge base document; KbFileError names the first problem found."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KbFileError(f"not valid YAML: {exc}") from None
    try:
        document = _File.model_validate(raw)
    except ValidationError as exc:
        raise KbFileError(f"file: {_first_error(exc)}") from None
    entries: list[KbEntryRow] = []
    seen: set[str] = set()
    for index, item in enumerate(document.entries):
        label = f"entry {item.get('id')!r}" if isinstance(item, dict) and item.get("id") \
            else f"entry #{index + 1}"
        try:
            entry = _Entry.model_validate(item)
        except ValidationError as exc:
            raise KbFileError(f"{label}: {_first_error(exc)}") from None
        if entry.id in seen:
            raise KbFileError(f"{label}: field 'id': duplicate id")
        if entry.category not in document.categories:
            raise KbFileError(f"{label}: field 'category': unknown category {entry.category!r}")
        seen.add(entry.id)
        entries.append(KbEntryRow(entry.id, entry.title, entry.phrasings, entry.answer,
                                  entry.platform, entry.category, entry.related, entry.sources))
    for row in entries:
        missing = [r for r in row.related if r not in seen or r == row.id]
        if missing:
            raise KbFileError(f"entry {row.id!r}: field 'related': unknown or self ids {missing}")
    return list(document.categories.items()), entries


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(root)"
    return f"field {field!r}: {err['msg']}"


def read_kb_file(path: Path) -> str:
    """The data file's text; KbFileError, naming the file, when it can't be read as UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KbFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise KbFileError(f"{path}: is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        line = exc.object[:exc.start].count(b"\n") + 1
        raise KbFileError(f"{path}: not UTF-8 text (line {line}); save it as UTF-8") from None
    except OSError as exc:
        raise KbFileError(f"{path}: can't be read ({exc.strerror or exc})") from None


async def load_kb(db: Database, path: Path, now: datetime) -> tuple[int, int, int]:
    """Import a data file into the stored knowledge base: (added, updated, removed)."""
    categories, entries = parse_kb(read_kb_file(path))
    async with db.unit_of_work() as uow:
        counts = await uow.knowledge.replace(categories, entries, now)
        await uow.commit()
    return counts
