"""Strict YAML reading: duplicate keys rejected, numbers as Decimal, line map.

Every YAML number becomes an exact :class:`~decimal.Decimal` (never a float),
and a map from JSON pointer to line number lets error messages point into the
file.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    pass


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def loads_yaml(text: str, source: str = "<string>") -> tuple[Any, dict[str, int]]:
    """Parse YAML text; return (data, {json_pointer: line_number})."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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
        return Decimal(text)
    if node.tag == "tag:yaml.org,2002:int":
        value = c.construct_scalar(node)
        try:
            return Decimal(int(str(value).replace("_", ""), 0))
        except ValueError:
            return Decimal(str(value))
    if node.tag in {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}:
        return node.value
    return c.construct_object(node, deep=True)
