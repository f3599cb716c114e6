"""The scoring engine: pure, no web framework, no database, no I/O beyond reading rulesets."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from app.engine.ruleset import RulesetRegistry

DEFAULT_RULESETS_DIR = Path(__file__).resolve().parents[2] / "rulesets"


def rulesets_dir() -> Path:
    return Path(os.environ.get("JIXIAO_RULESETS_DIR", DEFAULT_RULESETS_DIR))


@lru_cache(maxsize=1)
def builtin_registry() -> RulesetRegistry:
    """The rulesets shipped in ``rulesets/`` (loaded once per process)."""
    return RulesetRegistry.from_directory(rulesets_dir())
