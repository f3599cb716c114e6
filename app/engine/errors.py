"""Errors raised by the engine, each naming where in the input it went wrong."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: a JSON pointer into the input and a message."""

    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "message": self.message}


class InvalidInput(ValueError):
    """Submission data the engine refuses, with every problem found."""

    def __init__(self, problems: list[Problem], title: str = "The submission is not valid") -> None:
        self.problems = problems
        self.title = title
        super().__init__("; ".join(f"{p.pointer}: {p.message}" for p in problems))


class RulesetError(ValueError):
    """A ruleset file that does not load, with every problem found."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p.message}" for p in problems))


class FormulaError(ValueError):
    """A formula that does not parse or uses something not allowed."""


class FormulaZeroDivision(ArithmeticError):
    """A division by zero while evaluating a formula."""


class LimitExceeded(RulesetError):
    """A document over one of the fixed bounds that keep reading it cheap (YAML anchors and
    aliases, nesting depth, a formula's length or depth): refused as a whole, before anything
    else in it is looked at. The API answers it with 422 on every route that reads rulesets."""

    def __init__(self, message: str, pointer: str = "/") -> None:
        super().__init__("limit", [Problem(pointer, message)])
