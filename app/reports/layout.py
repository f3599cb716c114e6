"""The 评分表 as a grid of cells: the one layout the XLSX and HTML renderers share.

Pure: takes the assessment dict (``app.engine.scoring.to_dict`` output, as stored
in ``assessments.result``), the ruleset (for 指标说明 / 评分标准 texts; optional)
and a :class:`ReportHeader`; no database, no I/O.

Layout (the seeds' printed 评分表, 001 and 003):

* one body row per scored (leaf) indicator, in tree order;
* 一级 / 二级 / 三级 names and 分值 in columns, merged vertically over the rows of
  their descendants;
* rulesets deeper than three levels (yiyang-ziyang@2023: numbered sub-criteria
  "1.1.1.2" under each 三级) keep three structure levels and print each
  sub-criterion as its own row under its 三级, with its text in 评分标准（评分细则）
  and its points in an extra 细则分值 column, as seed 003 prints them;
* 指标说明 / 评分标准 come from the deepest indicator of the row that has one and
  are merged over that indicator's rows;
* 得分 and 扣分事由 per row; 加减分项, 总计得分, 评价等级 and 说明 (warnings) at the foot.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from app.engine.labels import KIND_LABELS as KIND_LABELS
from app.engine.labels import STATUS_LABELS as STATUS_LABELS

_NUMERALS = "一二三四五六七八九十"
STRUCTURE_LEVELS = 3  # 一级 / 二级 / 三级 get their own columns; deeper levels are 评分细则 rows

Node = Mapping[str, Any]


def level_name(level: int) -> str:
    """1 → 一级指标."""
    n = _NUMERALS[level - 1] if 1 <= level <= len(_NUMERALS) else str(level)
    return f"{n}级指标"


def dec(value: Any) -> Decimal | None:
    """A decimal string of the result dict ("1.97") → Decimal; None stays None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def row_flag(status: str, score: Decimal | None, available: Decimal | None) -> str | None:
    """How a scored row is marked in every export: ``pending`` (a judgment or a fact is missing),
    ``na`` (not applicable), ``lost`` (points lost) or None. One definition for the 评分表 and the
    自评表 (app.reports.selfeval)."""
    if status in ("judgment_pending", "missing_facts"):
        return "pending"
    if status == "not_applicable":
        return "na"
    if score is not None and available is not None and score < available:
        return "lost"
    return None


def fmt(value: Decimal | None, *, signed: bool = False) -> str:
    """Plain decimal text without trailing zeros ("1.5", "20"); "—" for None."""
    if value is None:
        return "—"
    d = value.normalize()
    if d == d.to_integral():
        d = d.quantize(Decimal(1))
    text = format(d, "f")
    if signed and value > 0:
        text = "+" + text
    return text


def display_width(text: str) -> float:
    """Width of a line in Excel column units (a CJK character is about two '0's)."""
    w = 0.0
    for ch in text:
        w += 1.85 if unicodedata.east_asian_width(ch) in ("W", "F") else 1.05
    return w


# --------------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class ReportHeader:
    """Who and what the 评分表 is about (printed above the table)."""

    unit_name: str
    fiscal_year: int
    kind: str  # self | third_party
    evaluator: str
    ruleset_ref: str
    ruleset_title: str
    unit_code: str | None = None
    region: str | None = None
    assessment_id: str | None = None
    created_at: str | None = None  # ISO timestamp of the assessment
    submission_version: int | None = None
    content_hash: str | None = None  # of the ruleset version the assessment is pinned to
    notes: tuple[str, ...] = ()
    #: the printed title when it is not the ruleset's (a project's 自评表: app.reports.selfeval)
    title_text: str | None = None
    #: label/value pairs printed after the unit's (a project's name, code, 主管部门, 实施单位, 资金性质)
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @property
    def title(self) -> str:
        if self.title_text:
            return self.title_text
        t = self.ruleset_title.strip() or self.ruleset_ref
        return t if "评分表" in t else f"{t}评分表"

    def info(self) -> list[tuple[str, str]]:
        """Label/value pairs of the header block, in print order."""
        unit = self.unit_name or "—"
        out = [
            ("被评价单位", unit),
            ("单位代码", self.unit_code or "—"),
            ("评价年度", f"{self.fiscal_year}年度"),
            ("评价类型", self.kind_label),
            ("评价人", self.evaluator or "—"),
            ("评分规则", f"{self.ruleset_title}（{self.ruleset_ref}）"),
            *self.extra,
        ]
        return out

    def provenance(self) -> str:
        parts = []
        if self.assessment_id:
            parts.append(f"评价编号：{self.assessment_id}")
        if self.created_at:
            parts.append(f"评价时间：{self.created_at[:19].replace('T', ' ')}")
        if self.submission_version is not None:
            parts.append(f"数据版本：第{self.submission_version}版")
        if self.content_hash:
            parts.append(f"评分规则 {self.ruleset_ref} 内容哈希：{self.content_hash[:19]}…")
        return "；".join(parts)


def header_from_result(result: Mapping[str, Any], *, unit_name: str, fiscal_year: int, kind: str,
                       evaluator: str | None, unit_code: str | None = None, region: str | None = None,
                       assessment_id: str | None = None, created_at: str | None = None,
                       submission_version: int | None = None, notes: Sequence[str] = ()) -> ReportHeader:
    rs = result.get("ruleset") or {}
    return ReportHeader(
        unit_name=unit_name, fiscal_year=fiscal_year, kind=kind, evaluator=evaluator or "",
        ruleset_ref=str(rs.get("ref", "")), ruleset_title=str(rs.get("title", "")),
        unit_code=unit_code, region=region, assessment_id=assessment_id, created_at=created_at,
        submission_version=submission_version, content_hash=rs.get("content_hash"), notes=tuple(notes),
    )


# --------------------------------------------------------------------------- tree helpers


def walk(nodes: Sequence[Node], chain: tuple[Node, ...] = ()) -> Iterator[tuple[Node, tuple[Node, ...]]]:
    """Depth-first: (node, chain from the 一级 down to the node)."""
    for n in nodes:
        here = (*chain, n)
        yield n, here
        yield from walk(n.get("children") or [], here)


def depth_of(nodes: Sequence[Node]) -> int:
    return max((int(n["level"]) for n, _ in walk(nodes)), default=1)


def _texts(ruleset: Any, code: str) -> tuple[str | None, str | None]:
    """(description, criteria) of an indicator, from the ruleset when there is one."""
    if ruleset is None:
        return None, None
    ind = getattr(ruleset, "by_code", {}).get(code)
    if ind is None:
        return None, None
    d = (ind.description or "").strip() or None
    c = (ind.criteria or "").strip() or None
    return d, c


def reasons_text(node: Node, fact_labels: Mapping[str, str] | None = None) -> str:
    """扣分事由 of a scored indicator: the deductions' reasons, then what explains the status."""
    lines: list[str] = []
    reasons = [str(d.get("reason", "")).strip() for d in node.get("deductions") or []]
    reasons = [r for r in reasons if r]
    if reasons:
        lines.append("；".join(reasons))
    status = node.get("status")
    ov = node.get("override")
    if ov:
        reason = str(ov.get("reason") or "").strip()
        if reason and reason not in reasons:
            lines.append(f"评价人认定：{reason}")
        computed = node.get("computed_score")
        if computed is None:
            lines.append(f"（无法按规则计算，采用评价人认定得分{ov.get('score')}）")
        elif computed != ov.get("score"):
            lines.append(f"（按规则计算得分{computed}，采用评价人认定得分{ov.get('score')}）")
    if status == "not_applicable":
        lines.append(node.get("note") or "本项不适用")
    elif node.get("note"):
        lines.append(str(node["note"]))
    if status == "missing_facts" or (status != "overridden" and node.get("missing_facts")):
        facts = node.get("missing_facts") or []
        if facts:
            labels = [f"{fact_labels[f]}（{f}）" if fact_labels and f in fact_labels else f for f in facts]
            lines.append("缺少数据：" + "、".join(labels))
    if status == "judgment_pending":
        missing = node.get("missing_answers") or []
        lines.append("待评价人判定" + (("：" + "、".join(missing)) if missing else ""))
    return "\n".join(lines)


# --------------------------------------------------------------------------- grid


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    title: str  # the lowest header line ("名称", "分值", "指标说明")
    group: str | None  # two-line group ("一级指标") or None for a column headed by its title alone
    width: float  # Excel width units; the HTML uses them as proportions
    numeric: bool = False


@dataclass(slots=True)
class Cell:
    value: str | Decimal | None = None
    rowspan: int = 1  # 0: covered by the cell above
    colspan: int = 1  # 0: covered by the cell to the left
    role: str = "text"  # name | number | text | score | reason | label | total | note | head | title
    flag: str | None = None  # pending | na | lost | overridden | diff
    code: str | None = None  # indicator code the cell belongs to


@dataclass(slots=True)
class Sheet:
    header: ReportHeader
    columns: list[Column]
    head: list[list[Cell]]  # the table's header rows (repeated on every printed page)
    body: list[list[Cell]]  # one row per scored indicator
    foot: list[list[Cell]]  # 加减分项, totals, grade, notes
    row_codes: list[str]  # code of each body row's indicator
    summary: list[dict[str, Any]]  # per 一级: code, name, points, score, lost, rate
    total: Decimal | None
    grade: str | None
    status: str
    points_total: Decimal | None
    warnings: list[str]
    depth: int
    structure_levels: int
    detail_column: bool
    all_codes: list[str] = field(default_factory=list)
    #: rows printed between the header block and the table's header (a 自评表's funds and goals blocks)
    pre: list[list[Cell]] = field(default_factory=list)


def _columns(levels: int, detail: bool) -> list[Column]:
    name_width = {1: 10.0, 2: 12.0, 3: 16.0}
    cols: list[Column] = []
    for lv in range(1, levels + 1):
        cols.append(Column(f"name{lv}", "名称", level_name(lv), name_width.get(lv, 14.0)))
        cols.append(Column(f"points{lv}", "分值", level_name(lv), 6.0, numeric=True))
    cols.append(Column("description", "指标说明", None, 34.0 if not detail else 30.0))
    cols.append(Column("criteria", "评分标准（评分细则）" if detail else "评分标准", None, 50.0 if not detail else 44.0))
    if detail:
        cols.append(Column("detail_points", "细则分值", None, 6.5, numeric=True))
    cols.append(Column("score", "得分", None, 7.0, numeric=True))
    cols.append(Column("reasons", "扣分事由", None, 30.0))
    return cols


def head_rows(columns: Sequence[Column]) -> list[list[Cell]]:
    """Three header rows: 评价指标 / 一级指标 … / 名称 分值, other columns merged over the three."""
    n = len(columns)
    rows = [[Cell(None, rowspan=0, role="head") for _ in range(n)] for _ in range(3)]
    grouped = [i for i, c in enumerate(columns) if c.group is not None]
    if grouped:
        first, last = grouped[0], grouped[-1]
        rows[0][first] = Cell("评价指标", colspan=last - first + 1, role="head")
        for i in range(first + 1, last + 1):
            rows[0][i] = Cell(None, colspan=0, role="head")
    i = 0
    while i < n:
        c = columns[i]
        if c.group is None:
            rows[0][i] = Cell(c.title, rowspan=3, role="head")
            i += 1
            continue
        j = i
        while j + 1 < n and columns[j + 1].group == c.group:
            j += 1
        rows[1][i] = Cell(c.group, colspan=j - i + 1, role="head")
        for k in range(i + 1, j + 1):
            rows[1][k] = Cell(None, colspan=0, role="head")
        for k in range(i, j + 1):
            rows[2][k] = Cell(columns[k].title, role="head")
        i = j + 1
    return rows


def _merge_runs(body: list[list[Cell]], col: int, keys: list[str | None]) -> None:
    """Merge vertically consecutive rows of column ``col`` whose key is the same (not None)."""
    i = 0
    n = len(keys)
    while i < n:
        j = i
        while keys[i] is not None and j + 1 < n and keys[j + 1] == keys[i]:
            j += 1
        if j > i:
            body[i][col].rowspan = j - i + 1
            for k in range(i + 1, j + 1):
                body[k][col] = Cell(None, rowspan=0, role=body[i][col].role)
        i = j + 1


def build_sheet(result: Mapping[str, Any], ruleset: Any, header: ReportHeader,
                fact_labels: Mapping[str, str] | None = None) -> Sheet:
    """Lay the assessment out as the 评分表 grid."""
    tops: list[Node] = list(result.get("indicators") or [])
    depth = depth_of(tops)
    levels = min(depth, STRUCTURE_LEVELS)
    detail = depth > levels
    columns = _columns(levels, detail)
    idx = {c.key: i for i, c in enumerate(columns)}
    texts: dict[str, tuple[str | None, str | None]] = {}
    leaves: list[tuple[Node, tuple[Node, ...]]] = []
    all_codes: list[str] = []
    for node, chain in walk(tops):
        all_codes.append(str(node["code"]))
        texts[str(node["code"])] = _texts(ruleset, str(node["code"]))
        if not node.get("children"):
            leaves.append((node, chain))

    body: list[list[Cell]] = []
    level_keys: dict[int, list[str | None]] = {lv: [] for lv in range(1, levels + 1)}
    desc_keys: list[str | None] = []
    crit_keys: list[str | None] = []
    for leaf, chain in leaves:
        code = str(leaf["code"])
        row = [Cell() for _ in columns]
        for lv in range(1, levels + 1):
            anc = chain[lv - 1] if len(chain) >= lv else None
            if anc is None:
                level_keys[lv].append(None)
                row[idx[f"name{lv}"]] = Cell("", role="name")
                row[idx[f"points{lv}"]] = Cell("", role="number")
                continue
            ncode = str(anc["code"])
            level_keys[lv].append(ncode)
            row[idx[f"name{lv}"]] = Cell(str(anc["name"]), role="name", code=ncode)
            row[idx[f"points{lv}"]] = Cell(dec(anc.get("points_available", anc.get("points"))), role="number", code=ncode)
        # 指标说明: deepest indicator of the chain that has one, merged over that indicator's rows.
        d_owner = next((n for n in reversed(chain) if texts[str(n["code"])][0]), None)
        desc_keys.append(None if d_owner is None else str(d_owner["code"]))
        row[idx["description"]] = Cell(None if d_owner is None else texts[str(d_owner["code"])][0], role="text")
        # 评分标准: the leaf's own criteria; a sub-criterion without one prints its name.
        c_owner = next((n for n in reversed(chain) if texts[str(n["code"])][1]), None)
        if int(leaf["level"]) > levels and (c_owner is None or c_owner is not leaf):
            crit_text: str | None = texts[code][1] or "／".join(str(n["name"]) for n in chain[levels:])
            crit_keys.append(None)
        else:
            crit_text = None if c_owner is None else texts[str(c_owner["code"])][1]
            crit_keys.append(None if c_owner is None else str(c_owner["code"]))
        row[idx["criteria"]] = Cell(crit_text, role="text")
        available = dec(leaf.get("points_available", leaf.get("points")))
        if detail:
            row[idx["detail_points"]] = Cell(available, role="number", code=code)
        score = dec(leaf.get("score"))
        flag = row_flag(str(leaf.get("status")), score, available)
        row[idx["score"]] = Cell(score, role="score", flag=flag, code=code)
        row[idx["reasons"]] = Cell(reasons_text(leaf, fact_labels), role="reason", flag=flag, code=code)
        body.append(row)

    for lv in range(1, levels + 1):
        _merge_runs(body, idx[f"name{lv}"], level_keys[lv])
        _merge_runs(body, idx[f"points{lv}"], level_keys[lv])
    _merge_runs(body, idx["description"], desc_keys)
    _merge_runs(body, idx["criteria"], crit_keys)

    foot = _foot(result, ruleset, header, columns, idx, levels)
    summary = []
    for t in tops:
        pts = dec(t.get("points_available", t.get("points")))
        sc = dec(t.get("score"))
        complete = t.get("status") == "scored"
        # An incomplete 一级 indicator's score is only the sum of what has been scored so far.
        lost = None if pts is None or sc is None or not complete else pts - sc
        rate = None if not pts or sc is None or not complete else (sc / pts * 100).quantize(Decimal("0.01"))
        summary.append({"code": str(t["code"]), "name": str(t["name"]), "points": pts, "score": sc,
                        "lost": lost, "rate": rate, "status": t.get("status"), "complete": complete})
    return Sheet(
        header=header, columns=columns, head=head_rows(columns), body=body, foot=foot,
        row_codes=[str(leaf["code"]) for leaf, _ in leaves], summary=summary,
        total=dec(result.get("total")), grade=result.get("grade"), status=str(result.get("status", "")),
        points_total=dec(result.get("points_total")), warnings=warning_lines(result), depth=depth,
        structure_levels=levels, detail_column=detail, all_codes=all_codes,
    )


def warning_lines(result: Mapping[str, Any]) -> list[str]:
    """The assessment's warnings as printable lines (ignored answers collapsed into one)."""
    out: list[str] = []
    ignored = 0
    for w in result.get("warnings") or []:
        if w.get("code") == "answer_ignored":
            ignored += 1
            continue
        out.append(str(w.get("message", "")))
    if ignored:
        out.append(f"提交数据中有{ignored}条答复不属于本评分规则的指标，未使用")
    return out


def grade_bands(ruleset: Any) -> str:
    grades = list(getattr(ruleset, "grades", None) or [])
    if not grades:
        return ""
    parts = []
    upper: Decimal | None = None
    for i, g in enumerate(grades):
        last = i == len(grades) - 1 and g.min <= 0
        if upper is None:
            parts.append(f"{g.grade}≥{fmt(g.min)}")
        elif last:
            parts.append(f"{g.grade}<{fmt(upper)}")
        else:
            parts.append(f"{fmt(g.min)}≤{g.grade}<{fmt(upper)}")
        upper = g.min
    return "等级标准：" + "，".join(parts)


def _foot(result: Mapping[str, Any], ruleset: Any, header: ReportHeader, columns: list[Column],
          idx: dict[str, int], levels: int) -> list[list[Cell]]:
    n = len(columns)
    s = idx["score"]
    r = idx["reasons"]
    n_level = 2 * levels
    rows: list[list[Cell]] = []

    def row(label: str, label_span: int, *, role: str = "label") -> list[Cell]:
        cells = [Cell(None, colspan=0) for _ in range(n)]
        cells[0] = Cell(label, colspan=label_span, role=role)
        for i in range(label_span, n):
            cells[i] = Cell(None)
        return cells

    adjustments = list(result.get("adjustments") or [])
    adj_defs = {a.code: a for a in getattr(ruleset, "adjustments", None) or []}
    for a in adjustments:
        kind = a.get("kind")
        label = ("加分项：" if kind == "bonus" else "减分项：") + str(a.get("name", ""))
        cells = row(label, max(n_level - 1, 1))
        d = adj_defs.get(a.get("code"))
        if d is not None:
            sign = "+" if kind == "bonus" else "−"
            cells[n_level - 1] = Cell(f"{sign}{fmt(d.max)}", role="number")
            cells[idx["description"]] = Cell((d.description or "").strip()
                                             or f"每项{'加' if kind == 'bonus' else '扣'}{fmt(d.per)}分，最多{fmt(d.max)}分",
                                             role="text")
            cells[idx["criteria"]] = Cell((d.criteria or "").strip() or None, role="text")
        cells[s] = Cell(dec(a.get("points")), role="score")
        reasons = [str(x) for x in a.get("reasons") or []]
        count = a.get("count") or 0
        cells[r] = Cell("；".join(reasons) if reasons else ("无" if not count else f"{count}项"), role="reason")
        rows.append(cells)
    if adjustments:
        cells = row("指标得分合计", s, role="total")
        cells[s] = Cell(dec(result.get("base_total")), role="total")
        rows.append(cells)
        cells = row("加减分合计", s, role="total")
        cells[s] = Cell(dec(result.get("adjustments_total")), role="total")
        rows.append(cells)
    cells = row("总计得分", s, role="total")
    cells[s] = Cell(dec(result.get("total")), role="total")
    pts = dec(result.get("points_total"))
    cells[r] = Cell(f"满分{fmt(pts)}分" if pts is not None else None, role="reason")
    rows.append(cells)
    cells = row("评价等级", s, role="total")
    grade = result.get("grade")
    cells[s] = Cell(grade or "—", role="total")
    if grade is None and result.get("status") == "incomplete":
        cells[r] = Cell("评价不完整，不评定等级", role="reason")
    else:
        cells[r] = Cell(grade_bands(ruleset) or None, role="reason")
    rows.append(cells)
    notes = [*header.notes, *warning_lines(result)]
    if notes:
        text = "\n".join(f"{i}. {t}" for i, t in enumerate(notes, 1)) if len(notes) > 1 else notes[0]
        cells = row("说明", n_level, role="label")
        cells[n_level] = Cell(text, colspan=n - n_level, role="note")
        for i in range(n_level + 1, n):
            cells[i] = Cell(None, colspan=0)
        rows.append(cells)
    return rows


# --------------------------------------------------------------------------- flat rows (CSV, detail sheet)


def flat_rows(result: Mapping[str, Any], fact_labels: Mapping[str, str] | None = None
              ) -> tuple[list[str], list[list[str]]]:
    """One row per indicator of every level: 层级, 编码, names by level, 分值, 得分, 扣分, 状态, 扣分事由."""
    tops: list[Node] = list(result.get("indicators") or [])
    depth = max(depth_of(tops), 1)
    headers = ["层级", "编码", *[level_name(lv) for lv in range(1, depth + 1)],
               "分值", "得分", "计算得分", "扣分", "状态", "状态代码", "扣分事由"]
    rows: list[list[str]] = []
    for node, chain in walk(tops):
        names = [str(n["name"]) for n in chain] + [""] * (depth - len(chain))
        status = str(node.get("status", ""))
        score = node.get("score")
        rows.append([
            str(node["level"]), str(node["code"]), *names,
            str(node.get("points_available", node.get("points", ""))),
            "" if score is None else str(score),
            "" if node.get("computed_score") is None else str(node["computed_score"]),
            "" if node.get("points_lost") is None else str(node["points_lost"]),
            STATUS_LABELS.get(status, status), status,
            reasons_text(node, fact_labels) if not node.get("children") else "",
        ])
    return headers, rows
