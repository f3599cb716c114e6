"""Strict YAML reading: duplicate keys rejected, numbers as Decimal, line map.

Every YAML number becomes an exact :class:`~decimal.Decimal` (never a float),
and a map from JSON pointer to line number lets error messages point into the
file.

Rulesets arrive over the API, so reading one must stay proportional to its size:
anchors and aliases are refused (an alias repeats a node without repeating its
text: six levels of ten aliases are a million nodes in 370 bytes; no built-in file
uses them), nesting is at most :data:`MAX_DEPTH` levels (PyYAML composes nodes
recursively), and a number has at most :data:`NUMBER_TEXT_MAX` characters, below
10^15 with at most 12 decimal places.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from app.engine.errors import LimitExceeded

#: Deepest nesting of mappings and sequences (the built-in rulesets reach 8).
MAX_DEPTH = 32
#: Longest text of a number.
NUMBER_TEXT_MAX = 40
_NUMBER_MAX_ADJUSTED = 14  # below 10^15
_NUMBER_MAX_PLACES = 12


class YamlError(ValueError):
    pass


class _Checks:
    """Composes no alias or anchor and no node deeper than MAX_DEPTH (a mixin of the loaders below)."""

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[attr-defined]
        line = event.start_mark.line + 1 if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise LimitExceeded(f"line {line}: YAML anchors and aliases (&name, *name) are not accepted; "
                                "write each value out")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitExceeded(f"line {line}: the document nests deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)  # type: ignore[misc, no-any-return]
        finally:
            self._depth -= 1


class _Loader(_Checks, yaml.SafeLoader):
    """PyYAML's safe loader with the checks."""


_FastLoader: type | None = None
if yaml.__with_libyaml__:
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.cyaml import CParser  # type: ignore[attr-defined]
    from yaml.resolver import Resolver

    class _CLoader(_Checks, Composer, CParser, SafeConstructor, Resolver):
        """libyaml scans and parses (C, about five times faster: a ruleset file with its cases is
        ~60 KB); PyYAML's Python composer builds the nodes, so the checks above still see every
        event before a node is made (Composer precedes CParser's C composer in the MRO)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _FastLoader = _CLoader


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def loads_yaml(text: str, source: str = "<string>") -> tuple[Any, dict[str, int]]:
    """Parse YAML text; return (data, {json_pointer: line_number})."""
    try:
        node = yaml.compose(text, Loader=_FastLoader or _Loader)
    except yaml.YAMLError as exc:
        raise YamlError(f"{source}: not valid YAML: {exc}") from None
    lines: dict[str, int] = {}
    if node is None:
        return None, lines
    constructor = yaml.SafeLoader("")
    return _build(node, "", lines, constructor, source), lines


def load_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    return loads_yaml(path.read_text(encoding="utf-8"), str(path))


def _build(node: yaml.Node, pointer: str, lines: dict[str, int], c: yaml.SafeLoader, source: str) -> Any:
    lines[pointer or "/"] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        c.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(key_node, pointer + "/?", {}, c, source)
            if isinstance(key, Decimal):
                key = format(key, "f")
            if not isinstance(key, str | bool) and key is not None:
                key = str(key)
            if key in result:
                raise YamlError(
                    f"{source}: line {key_node.start_mark.line + 1}: duplicate key '{key}'"
                )
            child = f"{pointer}/{_escape(str(key))}"
            result[key] = _build(value_node, child, lines, c, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, f"{pointer}/{i}", lines, c, source) for i, v in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)
    if node.tag == "tag:yaml.org,2002:float":
        text = node.value.replace("_", "")
        if text.lower() in {".nan", ".inf", "-.inf", "+.inf"}:
            raise YamlError(f"{source}: line {node.start_mark.line + 1}: {node.value} is not a number we accept")
        return _bounded(node, Decimal(_short(node, text, source)), source)
    if node.tag == "tag:yaml.org,2002:int":
        value = _short(node, str(c.construct_scalar(node)), source)
        try:
            return _bounded(node, Decimal(int(value.replace("_", ""), 0)), source)
        except ValueError:
            return _bounded(node, Decimal(value), source)
    if node.tag in {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}:
        return node.value
    return c.construct_object(node, deep=True)


def _short(node: yaml.Node, text: str, source: str) -> str:
    if len(text) > NUMBER_TEXT_MAX:
        raise YamlError(f"{source}: line {node.start_mark.line + 1}: a number has at most {NUMBER_TEXT_MAX} characters")
    return text


def _bounded(node: yaml.Node, d: Decimal, source: str) -> Decimal:
    """``d`` if it is below 10^15 with at most 12 decimal places (no ruleset needs more; any
    arithmetic on such numbers stays far from the Decimal context's limits)."""
    exponent = d.as_tuple().exponent
    if d and (d.adjusted() > _NUMBER_MAX_ADJUSTED or (isinstance(exponent, int) and exponent < -_NUMBER_MAX_PLACES
                                                      and d != d.quantize(Decimal(1).scaleb(-_NUMBER_MAX_PLACES)))):
        raise YamlError(f"{source}: line {node.start_mark.line + 1}: {node.value} is out of range: numbers are "
                        f"below 10^15 with at most {_NUMBER_MAX_PLACES} decimal places")
    return d
