"""Deliberately broken ruleset files: each must fail to load with a RulesetError that says
what is wrong and on which line.

Each file in ``broken/`` starts with ``# expect: <message fragment>`` and marks the line the
error must name with a trailing ``# <- error`` comment. Adding a case = adding a file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.engine.errors import RulesetError
from app.engine.facts import Vocabulary
from app.engine.ruleset import load_ruleset_text

BROKEN_DIR = Path(__file__).parent / "broken"
FILES = sorted(BROKEN_DIR.glob("*.yaml"))
MARK = "# <- error"

# Files that expose engine bugs: the loader raises something other than RulesetError.
# (file stem -> reason; each is run as a strict xfail). Empty: every file is refused properly.
KNOWN_BUGS: dict[str, str] = {}


def expectation(path: Path) -> tuple[str, int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    first = re.fullmatch(r"# expect: (.+)", lines[0])
    assert first, f"{path.name}: the first line must be '# expect: <fragment>'"
    marked = [i + 1 for i, line in enumerate(lines) if line.rstrip().endswith(MARK)]
    assert len(marked) == 1, f"{path.name}: exactly one line must end with '{MARK}'"
    return first.group(1).strip(), marked[0]


def names_line(message: str, line: int) -> bool:
    """The message names ``line`` as "line N" (YAML-level errors and loader checks alike)."""
    return re.search(rf"\bline {line}\b", message) is not None


def test_broken_files_exist() -> None:
    assert len(FILES) >= 12


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[p.stem])) if p.stem in KNOWN_BUGS else p
        for p in FILES
    ],
    ids=[p.stem for p in FILES],
)
def test_broken_ruleset_is_refused(path: Path, vocabulary: Vocabulary) -> None:
    fragment, line = expectation(path)
    source = path.name
    error = load_error(path, vocabulary)
    assert isinstance(error, RulesetError), f"{path.name}: raised {type(error).__name__}: {error}, not RulesetError"
    messages = [p.message for p in error.problems]
    assert error.source == source
    matching = [m for m in messages if fragment in m]
    assert matching, f"no message contains {fragment!r}: {messages}"
    assert any(names_line(m, line) for m in matching), f"no message names line {line}: {matching}"
    assert all(source in text for text in str(error).splitlines()), "every line of the error names the file"


def load_error(path: Path, vocabulary: Vocabulary) -> Exception:
    """The exception loading ``path`` raises (any kind: which one is part of what is tested)."""
    try:
        load_ruleset_text(path.read_text(encoding="utf-8"), vocabulary, source=path.name)
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError(f"{path.name}: loaded without error")


def test_base_of_the_broken_files_is_valid(vocabulary: Vocabulary) -> None:
    """The files share one valid base; make sure it is the defect, not the base, that fails."""
    base = (BROKEN_DIR / "children_sum.yaml").read_text(encoding="utf-8")
    fixed = base.replace("        name: 社会效益\n        points: 4\n", "        name: 社会效益\n        points: 5\n")
    assert fixed != base
    rs = load_ruleset_text(fixed, vocabulary, source="fixed.yaml")
    assert rs.ref == "broken-example@1"
    assert [leaf.code for leaf in rs.leaves] == ["1.1", "1.2", "1.3"]


def test_every_builtin_ruleset_loads(registry) -> None:  # type: ignore[no-untyped-def]
    refs = registry.refs()
    assert refs == ["huizhou-huidong@2023", "shenzhen-yantian@2023", "shenzhen@2021", "yiyang-ziyang@2023"]
    for rs in registry.all():
        assert rs.total_points == sum((i.points for i in rs.indicators), start=rs.total_points * 0)
        assert rs.facts_used() <= set(registry.vocabulary.facts)
