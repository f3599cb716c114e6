"""What a ruleset version needs of a submission: the one description behind
``GET /v1/rulesets/{name}/{version}/requirements``, the JSON Schema of
``…/submission.schema.json`` and the check of ``PUT …/submissions/{year}?ruleset=``.

:func:`describe` derives the description from the loaded ruleset (its indicators, their rules'
public attributes and the answer addresses the loader found, ``Ruleset.answer_shapes``) and from
the fact vocabulary. :func:`submission_schema` is generated from that description only, and
:func:`check` validates a submission with that schema (``jsonschema``), turning each error into a
JSON pointer: what a client reads, what it validates against and what the service refuses are one
definition. Everything is cached per ruleset content hash (a version never changes).

Not compiled with mypyc: it runs once per ruleset version, not per assessment.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from app.api.limits import CODE_MAX, ENTRIES_MAX, FINDINGS_MAX, REASON_MAX, SCORE_TEXT_MAX
from app.engine.errors import Problem
from app.engine.facts import DEFAULT_PLACES, UNITS, FactDef, Vocabulary
from app.engine.rules import fmt
from app.engine.ruleset import Indicator, Ruleset

#: Decimal places an answer's score may carry (app.api.limits.Score).
SCORE_PLACES = 6

# --------------------------------------------------------------------------- number patterns


def _int_le(n: int) -> str:
    """A regular expression for the non-negative integers 0..n written without leading zeros."""
    s = str(n)
    m = len(s)
    alts = ["0"]
    if m >= 2:
        alts.append("[1-9]" if m == 2 else f"[1-9][0-9]{{0,{m - 2}}}")
    for i in range(m):
        d = int(s[i])
        lo = 1 if i == 0 else 0
        if d > lo:
            rest = m - i - 1
            digit = f"[{lo}-{d - 1}]" if d - 1 > lo else str(lo)
            alts.append(s[:i] + digit + ("" if not rest else "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"))
    if s != "0":
        alts.append(s)
    return "(?:" + "|".join(dict.fromkeys(alts)) + ")"


def _fraction_le(frac: str, places: int) -> str:
    """The digits after the point (1 to ``places``) of a fraction at most 0.``frac``."""
    frac = frac.rstrip("0")
    if not frac:
        return f"0{{1,{places}}}"
    k = len(frac)
    alts: list[str] = []
    for i in range(k):
        d = int(frac[i])
        if d > 0:
            rest = places - i - 1
            digit = f"[0-{d - 1}]" if d > 1 else "0"
            alts.append(frac[:i] + digit + (f"[0-9]{{0,{rest}}}" if rest else ""))
        if i:
            alts.append(frac[:i])
    alts.append(frac + (f"0{{0,{places - k}}}" if places > k else ""))
    return "(?:" + "|".join(dict.fromkeys(alts)) + ")"


def decimal_le(maximum: Decimal, places: int) -> str:
    """The body of a regular expression matching the plain decimal text of every number from 0 to
    ``maximum`` with at most ``places`` decimal places ("0.5", "22", "007.50"); no sign, no
    exponent, no separators."""
    text = format(maximum, "f")
    whole, _, frac = text.partition(".")
    top = int(whole)
    any_frac = f"(?:\\.[0-9]{{1,{places}}})?" if places else ""
    alts = []
    if top > 0:
        alts.append(_int_le(top - 1) + any_frac)
    alts.append(str(top) + (f"(?:\\.{_fraction_le(frac, places)})?" if places else ""))
    return "0*(?:" + "|".join(alts) + ")"


def decimal_eq(value: Decimal) -> str:
    """The body of a regular expression matching the plain decimal text of ``value`` exactly."""
    whole, _, frac = fmt(value).partition(".")
    frac = frac.rstrip("0")
    return "0*" + whole + (f"\\.{frac}0*" if frac else "(?:\\.0+)?")


# --------------------------------------------------------------------------- the description


def _n(d: Decimal) -> str:
    return fmt(d)


def _json_number(d: Decimal) -> int | float:
    """A bound as a JSON number (an integer when it is one)."""
    return int(d) if d == d.to_integral_value() else float(d)


def fact_entry(f: FactDef) -> dict[str, Any]:
    """A fact as a client writes it: the vocabulary's fields (all of them, passed through) with its
    JSON types, the pattern of its text form and its example."""
    out = dict(f.as_dict())
    places = f.places
    if f.unit == "boolean":
        out.update(json_type=["boolean"], pattern=None, example=False)
    elif f.unit == "percent":
        out.update(json_type=["string"], pattern=f"^\\s*{decimal_le(f.max, places)}\\s*%\\s*$",
                   example=out.get("example") or "97.67%")
    elif f.unit == "count":
        out.update(json_type=["integer", "string"], pattern=f"^\\s*{decimal_le(f.max, 0)}\\s*$",
                   example=out.get("example") or 12)
    else:
        out.update(json_type=["string", "number"], pattern=f"^\\s*{decimal_le(f.max, places)}\\s*$",
                   example=out.get("example") or "318.98")
    out.setdefault("example", None)
    return out


@dataclass(slots=True)
class _Read:
    fact: str
    role: str
    required: bool
    formula: str | None


def _reads(rule: Any) -> Iterator[_Read]:
    """The facts a rule reads, each with its role and whether the rule needs it to score."""
    seen: set[str] = set()
    for z in getattr(rule, "zero_if", None) or ():
        for n in sorted(z.when.names):
            seen.add(n)
            yield _Read(n, "zero_if", True, z.when.text)
    kind = getattr(rule, "kind", "")
    if kind == "composite":
        for part in rule.parts:
            yield from _reads(part.rule)
        return
    if kind == "checklist":
        for it in rule.items:
            if it.fact is not None:
                yield _Read(it.fact, "checklist_item", True, None)
            for cond in it.conditions:
                for n in cond.names:
                    # met_if / nothing_to_count: absent, the item is answered as usual
                    yield _Read(n, "condition", False, cond.when.text)
        return
    if kind == "judgment":
        for n in getattr(rule, "shown", ()):  # shown next to the judgment, never scored
            if n not in seen:
                yield _Read(n, "shown", False, rule.formula_text)
        return
    mean = getattr(rule, "mean", None)
    formula = getattr(rule, "formula", None)
    in_formula = set(formula.names) if formula is not None else set()
    nothing = getattr(rule, "nothing_to_count", None)
    vacuous = set(nothing.when.names) if nothing is not None else set()
    for n in getattr(rule, "names", ()):
        if n == mean:
            yield _Read(n, "cohort_mean", True, rule.formula_text)
        elif n in in_formula:
            yield _Read(n, "formula", True, rule.formula_text)
        elif nothing is not None and n in vacuous:
            yield _Read(n, "nothing_to_count", True, nothing.when.text)
        elif n not in seen:  # a deduction's counts, the quarters of a quarterly rule
            yield _Read(n, "count" if kind == "deduction" else "formula", True, rule.formula_text)


def _addresses(rule: Any, addr: str, points: Decimal, part: dict[str, Any] | None
               ) -> Iterator[tuple[str, Any, Decimal, dict[str, Any] | None, Any]]:
    """(address, rule, points, part, checklist item) of every place a rule may read an answer."""
    if getattr(rule, "kind", "") == "composite":
        for p in rule.parts:
            yield from _addresses(p.rule, f"{addr}/{p.key}", p.points, {"key": p.key, "name": p.name})
        return
    items = getattr(rule, "items", None)
    if getattr(rule, "kind", "") == "checklist" and items is not None:
        for it in items:
            if it.fact is None:
                yield f"{addr}/{it.key}", rule, it.points, part, it
        return
    yield addr, rule, points, part, None


_NEEDED_TEXT = {
    "always": "评分必需：缺少该答复时指标待评价人判定，评价不完整",
    "unless_zero_if": "评分必需，除非得0分的条件（zero_if）成立",
    "unless_decided_by_facts": "评分必需，除非该项已由数据判定满足（met_if / nothing_to_count）",
    "when_not_computable": "仅在无法由数据计算时需要（分母为0或数值不在任何评分档内）",
    "in_judgment_band": "数值落入“由评价人视情评分”的档位时需要，得分不超过该档上限",
    "optional": "可选",
}


def _judgment_need(rule: Any) -> tuple[str, list[dict[str, str]]]:
    kind = getattr(rule, "kind", "")
    caps: list[dict[str, str]] = []
    if kind == "judgment":
        return ("unless_zero_if" if getattr(rule, "zero_if", None) else "always"), caps
    bands = getattr(rule, "bands", None)
    if kind == "bands" and bands:
        percent = bool(getattr(rule, "percent", True))
        caps = [{"when": f"{rule.label}{b.text(percent)}", "maximum": _n(b.score)} for b in bands if b.judgment]
        if caps:
            return "in_judgment_band", caps
    return "when_not_computable", caps


def _answer_entry(rs: Ruleset, leaf: Indicator, addr: str, shape: str, points: Decimal, rule: Any,
                  part: dict[str, Any] | None, item: Any) -> dict[str, Any]:
    shapes = set(shape.split("+"))
    caps: list[dict[str, str]] = []
    if "item" in shapes:
        kind, forms = "item", ["boolean", "score", "object"]
        needed = "unless_decided_by_facts" if item is not None and item.conditions else "always"
        reason, reason_when = "optional", "可填写未达到的原因；未填写时扣分事由为“未达到”"
        keys = ["met", "score", "reason"]
    elif "judgment" in shapes:
        kind, forms = "judgment", ["score", "object"]
        needed, caps = _judgment_need(rule)
        reason, reason_when = "required_when_points_lost", "得分低于分值时必须填写扣分事由（reason）"
        keys = ["score", "reason", "met"]
    elif "findings" in shapes:
        kind, forms = "findings", ["object"]
        needed = "always"
        reason, reason_when = "each_finding", "每条发现的问题即一条扣分事由；无问题时为空列表"
        keys = ["findings", "reason"]
    elif "events" in shapes:
        kind, forms = "events", ["object"]
        needed = "optional"
        reason, reason_when = "each_event", "每个事项一条说明（events），或只给次数（count）"
        keys = ["events", "count", "reason"]
    else:
        kind, forms = "not_applicable", ["object"]
        needed = "optional"
        reason, reason_when = "optional", "可说明不适用的理由"
        keys = ["not_applicable", "reason"]
    if "na" in shapes:
        keys.append("not_applicable")
    na = None
    if "na" in shapes and leaf.not_applicable is not None:
        na = {"when": leaf.not_applicable.when.text if leaf.not_applicable.when else None,
              "transfer_to": leaf.not_applicable.transfer_to}
    entry: dict[str, Any] = {
        "address": addr,
        "indicator_code": leaf.code,
        "indicator_name": leaf.name,
        "criteria": leaf.criteria,
        "rule": getattr(rule, "kind", None),
        "part": part,
        "item": None if item is None else {"key": item.key, "text": item.text, "points": _n(item.points)},
        "kind": kind,
        "forms": forms,
        "keys": sorted(set(keys)),
        "points": _n(points),
        "needed": needed,
        "needed_when": _NEEDED_TEXT[needed],
        "caps": caps,
        "reason": reason,
        "reason_when": reason_when,
        "score": {"minimum": "0", "maximum": _n(points), "places": SCORE_PLACES} if kind in ("item", "judgment") else None,
        "not_applicable": na,
        "per": None,
        "maximum": None,
        "max_items": FINDINGS_MAX if kind in ("findings", "events") else None,
    }
    if kind == "findings":
        entry["per"] = _n(rule.per)
    return entry


def _describe(rs: Ruleset, vocab: Vocabulary) -> dict[str, Any]:
    answers: dict[str, dict[str, Any]] = {}
    readers: dict[str, list[dict[str, Any]]] = {}
    computed: list[dict[str, Any]] = []

    def read(fact: str, leaf: Indicator, role: str, required: bool, formula: str | None) -> None:
        entries = readers.setdefault(fact, [])
        for e in entries:
            if e["code"] == leaf.code and e["role"] == role:
                e["required"] = e["required"] or required
                return
        entries.append({"code": leaf.code, "name": leaf.name, "role": role, "required": required,
                        "formula": formula})

    for leaf in rs.leaves:
        rule = leaf.rule
        if rule is not None:
            for r in _reads(rule):
                read(r.fact, leaf, r.role, r.required, r.formula)
        na = leaf.not_applicable
        if na is not None and na.when is not None:
            for n in sorted(na.when.names):
                # needed unless the evaluator answers not_applicable: false (app.engine.scoring)
                read(n, leaf, "not_applicable", True, na.when.text)
        own: list[str] = []
        if rule is not None:
            for addr, r, points, part, item in _addresses(rule, leaf.code, leaf.points, None):
                shape = rs.answer_shapes.get(addr)
                if shape is None:
                    continue
                answers[addr] = _answer_entry(rs, leaf, addr, shape[0], points, r, part, item)
                own.append(addr)
        shape = rs.answer_shapes.get(leaf.code)
        if shape is not None and leaf.code not in answers:
            answers[leaf.code] = _answer_entry(rs, leaf, leaf.code, shape[0], leaf.points, rule, None, None)
            own.append(leaf.code)
        if not any(answers[a]["needed"] in ("always", "unless_zero_if", "unless_decided_by_facts") for a in own):
            computed.append({
                "code": leaf.code, "name": leaf.name, "points": _n(leaf.points),
                "rule": None if rule is None else rule.kind, "formula": leaf.formula_text,
                "fallback_answers": own,
            })
    for adj in rs.adjustments:
        shape = rs.answer_shapes.get(adj.code)
        if shape is None:
            continue
        answers[adj.code] = {
            "address": adj.code, "indicator_code": adj.code, "indicator_name": adj.name, "criteria": adj.criteria,
            "rule": adj.kind, "part": None, "item": None, "kind": "events", "forms": ["object"],
            "keys": ["count", "events", "reason"], "points": _n(adj.max), "needed": "optional",
            "needed_when": _NEEDED_TEXT["optional"], "caps": [], "reason": "each_event",
            "reason_when": "每个事项一条说明（events），或只给次数（count）", "score": None,
            "not_applicable": None, "per": _n(adj.per), "maximum": _n(adj.max), "max_items": FINDINGS_MAX,
        }
    facts: list[dict[str, Any]] = []
    for key in sorted(readers):
        entry = fact_entry(vocab[key])
        rs_readers = readers[key]
        entry["read_by"] = rs_readers
        entry["required_by"] = sorted({r["code"] for r in rs_readers if r["required"]})
        entry["optional_for"] = sorted({r["code"] for r in rs_readers if not r["required"]})
        entry["required"] = bool(entry["required_by"])
        facts.append(entry)
    overrides = []
    for leaf in rs.leaves:
        extra = sum((rs.by_code[c].points for c in rs.transfers.get(leaf.code, [])), Decimal(0))
        overrides.append({"code": leaf.code, "name": leaf.name, "points": _n(leaf.points),
                          "maximum": _n(leaf.points + extra)})
    return {
        "kind": "unit", "ref": rs.ref, "name": rs.name, "version": rs.version, "title": rs.title,
        "content_hash": rs.content_hash, "fiscal_years": list(rs.fiscal_years),
        "facts": facts,
        "answers": list(answers.values()),
        "computed": computed,
        "overrides": overrides,
        "other_facts": "A submission may also carry any other fact of the vocabulary (GET /v1/facts); "
                       "this ruleset does not read it.",
    }


# --------------------------------------------------------------------------- the JSON Schema

_REASON: dict[str, Any] = {"type": ["string", "null"], "maxLength": REASON_MAX}
_GIVEN_REASON: dict[str, Any] = {"type": "string", "pattern": "\\S", "maxLength": REASON_MAX,
                                 "description": "扣分事由 (reason): required, not blank"}
_TEXTS: dict[str, Any] = {"type": "array", "maxItems": FINDINGS_MAX,
                          "items": {"type": "string", "pattern": "\\S", "maxLength": REASON_MAX}}


def _score(maximum: Decimal) -> dict[str, Any]:
    said = (f"a score is a number from 0 to {_n(maximum)} with at most {SCORE_PLACES} decimal places "
            "(a JSON number or its text)")
    return {
        "description": said,
        "if": {"type": "string"},
        "then": {"maxLength": SCORE_TEXT_MAX, "pattern": f"^{decimal_le(maximum, SCORE_PLACES)}$", "description": said},
        "else": {"type": "number", "minimum": 0, "maximum": _json_number(maximum), "description": said},
    }


def _full(points: Decimal, said: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"if": {"type": "string"}, "then": {"pattern": f"^{decimal_eq(points)}$"},
                           "else": {"const": _json_number(points)}}
    if said:
        for key in ("then", "else"):
            out[key]["description"] = said
    return out


def _answer_schema(entry: Mapping[str, Any]) -> dict[str, Any]:
    kind = entry["kind"]
    keys = set(entry["keys"])
    props: dict[str, Any] = {"reason": _REASON}
    points = Decimal(entry["points"])
    if "score" in keys:
        props["score"] = _score(points)
    if "met" in keys:
        props["met"] = {"type": "boolean"}
    if "not_applicable" in keys:
        props["not_applicable"] = {"type": "boolean"}
    if "findings" in keys:
        props["findings"] = _TEXTS
    if "events" in keys:
        props["events"] = _TEXTS
    if "count" in keys:
        props["count"] = {"if": {"type": "string"}, "then": {"pattern": "^\\s*[0-9]{1,7}\\s*$"},
                          "else": {"type": "integer", "minimum": 0, "maximum": 1_000_000}}
    obj: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if kind == "judgment":
        obj["if"] = {"required": ["score"], "properties": {"score": {"not": _full(points)}}}
        obj["then"] = {"required": ["reason"], "properties": {"reason": _GIVEN_REASON},
                       "description": f"a score below the full {_n(points)} points needs a reason (扣分事由)"}
    if kind == "findings":
        obj["required"] = ["findings"]
        obj["description"] = "the problems found: {findings: [...]} (an empty list when there are none)"
    if kind == "item":
        bare: dict[str, Any] = {"if": {"type": "boolean"}, "then": True, "else": _score(points)}
    elif kind == "judgment":
        said = (f"a bare score is the full {_n(points)} points; a lower score is {{score, reason}} with its "
                "扣分事由")
        bare = {"type": ["number", "string"], **_full(points, said), "description": said}
    else:
        bare = {"type": "object", "description": f"this answer is an object with {', '.join(sorted(keys))}"}
    return {
        "title": f"{entry['indicator_code']} {entry['indicator_name']}",
        "description": f"{kind}: {entry['needed_when']}",
        "if": {"type": "object"}, "then": obj, "else": bare,
    }


def _fact_schema(entry: Mapping[str, Any]) -> dict[str, Any]:
    types = list(entry["json_type"])
    out: dict[str, Any] = {"title": entry["name"], "description": entry.get("description") or entry["name"]}
    if types == ["boolean"]:
        out["type"] = ["boolean", "null"]
        return out
    text: dict[str, Any] = {"pattern": entry["pattern"], "maxLength": 40}
    if entry["unit"] == "wan_yuan":
        # a comma only as a thousands separator (the vocabulary checks the bound)
        grouped = f"^\\s*[0-9]{{1,3}}(?:,[0-9]{{3}})+(?:\\.[0-9]{{1,{entry['places']}}})?\\s*$"
        text = {"maxLength": 40, "anyOf": [{"pattern": entry["pattern"]}, {"pattern": grouped}]}
    number: dict[str, Any] = {"minimum": _json_number(Decimal(entry["minimum"])),
                              "maximum": _json_number(Decimal(entry["maximum"]))}
    out["type"] = [*types, "null"]
    if "number" in types or "integer" in types:
        out["if"] = {"type": "string"}
        out["then"] = text
        out["else"] = number
    else:
        out.update(text)
    return out


def _override_schema(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {"title": f"{entry['code']} {entry['name']}", "type": "object", "required": ["score", "reason"],
            "description": "an override is {score, reason}, both required",
            "properties": {"score": _score(Decimal(entry["maximum"])), "reason": _GIVEN_REASON},
            "additionalProperties": False}


def _schema(description: Mapping[str, Any], vocab: Vocabulary) -> dict[str, Any]:
    read = {f["key"]: f for f in description["facts"]}
    facts = {key: _fact_schema(read.get(key) or fact_entry(f)) for key, f in sorted(vocab.facts.items())}
    answers = {a["address"]: _answer_schema(a) for a in description["answers"]}
    overrides = {o["code"]: _override_schema(o) for o in description["overrides"]}
    name, version = description["name"], description["version"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"/v1/rulesets/{name}/{version}/submission.schema.json",
        "title": f"A submission for {description['ref']}",
        "description": f"{description['title']}: facts, answers and overrides a submission scored under "
                       f"{description['ref']} may carry (GET /v1/rulesets/{name}/{version}/requirements "
                       "says which are needed). Generated from the ruleset.",
        "type": "object",
        "properties": {
            "facts": {"type": "object", "maxProperties": ENTRIES_MAX, "properties": facts,
                      "additionalProperties": False},
            "answers": {"type": "object", "maxProperties": ENTRIES_MAX, "properties": answers,
                        "additionalProperties": False},
            "overrides": {"type": "object", "maxProperties": ENTRIES_MAX, "properties": overrides,
                          "additionalProperties": False},
            "note": {"type": ["string", "null"], "maxLength": REASON_MAX},
            # the fields of a submission file (jixiao score, tests/fixtures/seeds)
            "unit": {"type": "object"},
            "fiscal_year": {"type": ["integer", "string"], "pattern": "^[0-9]{4}$", "minimum": 1990, "maximum": 2100},
            "kind": {"enum": ["self", "third_party"]},
            "evaluator": {"type": ["string", "null"], "maxLength": 200},
        },
        "additionalProperties": False,
        "$comment": f"ruleset content hash {description['content_hash']}; codes at most {CODE_MAX} characters",
    }


# --------------------------------------------------------------------------- cache and check


@dataclass(slots=True)
class Contract:
    description: dict[str, Any]
    schema: dict[str, Any]
    validator: Draft202012Validator
    #: the two documents as answered (JSON bytes), and their strong ETags (digests of those bytes: a
    #: new vocabulary or a new version of this module changes them, the ruleset's hash alone would not)
    description_json: bytes
    schema_json: bytes
    description_etag: str
    schema_etag: str


_cache: dict[str, Contract] = {}
_lock = threading.Lock()


def _etag(document: bytes) -> str:
    return '"' + hashlib.sha256(document).hexdigest()[:32] + '"'


def cached(content_hash: str, build: Callable[[], tuple[dict[str, Any], dict[str, Any]]]) -> Contract:
    """The contract of the ruleset version ``content_hash``, made once from ``build()`` (its description
    and its schema): a 部门整体 ruleset's (:func:`contract`) or a project ruleset's
    (app.rulesets.project_contract), answered and validated alike."""
    found = _cache.get(content_hash)
    if found is not None:
        return found
    description, schema = build()
    # (the meta-schema check, Draft202012Validator.check_schema, takes seconds: tests/api/test_requirements.py runs it)
    description_json, schema_json = orjson.dumps(description), orjson.dumps(schema)
    made = Contract(description, schema, Draft202012Validator(schema), description_json, schema_json,
                    _etag(description_json), _etag(schema_json))
    with _lock:
        if len(_cache) >= 256:
            _cache.clear()
        return _cache.setdefault(content_hash, made)


def contract(rs: Ruleset, vocab: Vocabulary) -> Contract:
    """The description, the schema and its validator of one ruleset version (cached by content hash)."""

    def build() -> tuple[dict[str, Any], dict[str, Any]]:
        description = _describe(rs, vocab)
        return description, _schema(description, vocab)

    return cached(rs.content_hash, build)


def describe(rs: Ruleset, vocab: Vocabulary) -> dict[str, Any]:
    return contract(rs, vocab).description


def submission_schema(rs: Ruleset, vocab: Vocabulary) -> dict[str, Any]:
    return contract(rs, vocab).schema


def _escape(token: Any) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def _message(e: ValidationError) -> str:
    """The schema's own words for the failed keyword (the raw message names a long pattern)."""
    described = e.schema.get("description") if isinstance(e.schema, dict) else None
    if described:
        if e.validator == "required":
            return str(described)
        try:
            got = orjson.dumps(e.instance, default=str).decode()
        except TypeError:  # an integer beyond 64 bits
            got = repr(e.instance)
        return f"{described}; got {got if len(got) <= 60 else got[:57] + '…'}"
    message = str(e.message)
    return message if len(message) <= 300 else message[:297] + "…"


def _problems(e: ValidationError) -> Iterator[Problem]:
    base = "".join("/" + _escape(t) for t in e.absolute_path)
    instance = e.instance
    if e.validator == "required" and isinstance(instance, dict):
        for prop in e.validator_value:
            if prop not in instance and repr(prop) in e.message:
                yield Problem(f"{base}/{_escape(prop)}", _message(e))
                return
    if e.validator == "additionalProperties" and isinstance(instance, dict) and isinstance(e.schema, dict):
        known = e.schema.get("properties", {})
        for prop in instance:
            if prop not in known:
                yield Problem(f"{base}/{_escape(prop)}", f"'{str(prop)[:CODE_MAX]}' {NOT_EXPECTED}")
        return
    yield Problem(base, _message(e))


def check(rs: Ruleset, vocab: Vocabulary, document: Mapping[str, Any], *, facts: bool = True) -> list[Problem]:
    """The problems of a submission document under ``rs``, by JSON pointer (sorted, one per
    pointer). ``facts=False`` leaves the facts to the vocabulary's own check (``Vocabulary.parse``,
    which also reads thousands separators and says why a value is refused)."""
    doc = dict(document) if facts else {k: v for k, v in document.items() if k != "facts"}
    return problems_of(contract(rs, vocab).validator, doc)


def problems_of(validator: Draft202012Validator, document: Any) -> list[Problem]:
    """What ``validator`` refuses in ``document``, by JSON pointer (sorted, one per pointer)."""
    seen: dict[str, Problem] = {}
    for error in validator.iter_errors(document):
        for p in _problems(error):
            seen.setdefault(p.pointer, p)
    return [seen[k] for k in sorted(seen)]


__all__ = ["Contract", "cached", "check", "contract", "problems_of", "decimal_le", "describe", "fact_entry", "submission_schema",
           "UNITS", "DEFAULT_PLACES"]


#: the message of an answer or override at an address the ruleset does not read
NOT_EXPECTED = "is not expected here"


def fit_warnings(rulesets: list[Ruleset], vocab: Vocabulary, answers: Mapping[str, Any],
                 overrides: Mapping[str, Any], year: int) -> list[dict[str, Any]]:
    """What a submission's answers and overrides would be refused for under each of ``rulesets``
    (those covering its year), as warnings: stored without ``?ruleset=``, they would not fit. An
    address is reported as unread only when none of them reads it (a submission may serve several)."""
    doc = {"answers": answers, "overrides": overrides}
    out: list[dict[str, Any]] = []
    unread: dict[str, int] = {}
    for rs in rulesets:
        for p in check(rs, vocab, doc, facts=False):
            if p.message.endswith(NOT_EXPECTED) and p.pointer.count("/") == 2:
                unread[p.pointer] = unread.get(p.pointer, 0) + 1
                continue
            out.append({"code": "answer_does_not_fit", "ruleset": rs.ref, "pointer": p.pointer,
                        "message": p.message})
    refs = ", ".join(rs.ref for rs in rulesets) or "none"
    for pointer, count in sorted(unread.items()):
        if count == len(rulesets):
            out.append({"code": "answer_not_read", "ruleset": None, "pointer": pointer,
                        "message": f"no ruleset covering fiscal year {year} reads it ({refs})"})
    return out
