"""A ruleset's own test cases (``cases:`` in a ruleset file), as OpenFisca's YAML tests are.

Each case is a submission (facts, answers, overrides) and what scoring it must give: the total,
the grade, the completeness and any indicator's points. ``jixiao rulesets test`` runs them,
``rulesets:validate`` reports each failure and registration refuses a ruleset whose cases fail.

This module is the one definition of a case's shape; the ruleset file-format models import
:class:`RulesetCase` from here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CaseExpect(BaseModel):
    """What scoring the case's submission must give; anything left out is not checked."""

    model_config = ConfigDict(extra="forbid")

    total: Decimal | None = Field(default=None, description="The total after adjustments and rounding.")
    grade: str | None = Field(default=None, description="The grade (优/良/中/差 or the ruleset's own).")
    status: Literal["complete", "incomplete"] | None = Field(
        default=None, description="complete: nothing missing; incomplete: some fact or answer missing.")
    indicators: dict[str, Decimal] = Field(
        default_factory=dict, description="Points awarded, by indicator or adjustment code.")


class RulesetCase(BaseModel):
    """One worked example: a submission and the scores the ruleset must give it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="What the case shows, e.g. 'seed 001 盐港中学'.")
    description: str | None = None
    fiscal_year: int | None = Field(default=None, description="Defaults to the ruleset's first fiscal year.")
    facts: dict[str, Any] = Field(default_factory=dict)
    answers: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, Any] = Field(default_factory=dict)
    expect: CaseExpect
