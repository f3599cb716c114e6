"""app.engine.yamlio reads with libyaml's parser under PyYAML's composer: the same data and line map as
the pure-Python loader, and the same refusals (aliases, depth) before any node is made."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.engine import yamlio
from app.engine.errors import LimitExceeded

ROOT = Path(__file__).resolve().parents[2]
FILES = [*sorted((ROOT / "rulesets").glob("*/*.yaml")), ROOT / "docs" / "examples" / "example-district-2024.yaml"]

pytestmark = pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML without libyaml reads in Python only")


def _pure(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, dict[str, int]]:
    with monkeypatch.context() as m:
        m.setattr(yamlio, "_FastLoader", None)
        return yamlio.loads_yaml(text)


def test_the_fast_loader_is_used():
    assert yamlio._FastLoader is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem if p.parent.name == "examples" else p.parent.name)
def test_both_loaders_read_the_same(path: Path, monkeypatch: pytest.MonkeyPatch):
    text = path.read_text(encoding="utf-8")
    assert yamlio.loads_yaml(text) == _pure(text, monkeypatch)


@pytest.mark.parametrize("text", ["a: &x 1\nb: *x\n", "a: " + "[" * 40 + "]" * 40 + "\n"])
def test_aliases_and_depth_are_refused_by_both(text: str, monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(LimitExceeded):
        yamlio.loads_yaml(text)
    with pytest.raises(LimitExceeded):
        _pure(text, monkeypatch)


def test_a_syntax_error_names_its_line():
    with pytest.raises(yamlio.YamlError, match="line 2"):
        yamlio.loads_yaml("a: 1\nb: [1, 2\nc: 3\n", "f.yaml")
