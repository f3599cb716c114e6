"""Submission files (YAML or JSON) for the command line and the fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.engine.yamlio import YamlError, loads_yaml

_KEYS = {"unit", "fiscal_year", "kind", "evaluator", "facts", "answers", "overrides"}


class SubmissionFileError(ValueError):
    pass


@dataclass(slots=True)
class SubmissionFile:
    unit: dict[str, Any]
    fiscal_year: int
    kind: str
    evaluator: str | None
    facts: dict[str, Any] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)


def _plain(value: Any) -> Any:
    """Decimal → str recursively, for unit metadata."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def parse_submission(data: Any, source: str) -> SubmissionFile:
    if not isinstance(data, dict):
        raise SubmissionFileError(f"{source}: a submission is a mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise SubmissionFileError(f"{source}: unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    year = data.get("fiscal_year")
    if isinstance(year, bool) or not isinstance(year, int | Decimal) or int(year) != year:
        raise SubmissionFileError(f"{source}: fiscal_year must be a year such as 2023")
    kind = data.get("kind", "self")
    if kind not in {"self", "third_party"}:
        raise SubmissionFileError(f"{source}: kind must be self or third_party")
    for key in ("facts", "answers", "overrides"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise SubmissionFileError(f"{source}: {key} must be a mapping")
    unit = data.get("unit") or {}
    if not isinstance(unit, dict):
        raise SubmissionFileError(f"{source}: unit must be a mapping")
    return SubmissionFile(
        unit=_plain(unit),
        fiscal_year=int(year),
        kind=kind,
        evaluator=data.get("evaluator"),
        facts=data.get("facts") or {},
        answers=data.get("answers") or {},
        overrides=data.get("overrides") or {},
    )


def load_submission_file(path: Path) -> SubmissionFile:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise SubmissionFileError(f"{path}: not valid JSON: {exc}") from None
    else:
        try:
            data, _ = loads_yaml(text, str(path))
        except YamlError as exc:
            raise SubmissionFileError(str(exc)) from None
    return parse_submission(data, str(path))
