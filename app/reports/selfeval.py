"""A project's 项目支出绩效自评表 as the platforms print it (财预〔2020〕10号, 附件): the layout the XLSX and
HTML renderers share (as a :class:`~app.reports.layout.Sheet`), and the CSV.

Pure: takes a project assessment's stored breakdown (``app.engine.project.ProjectAssessment.to_dict``:
the 部门整体 breakdown's shape plus ``funds``, ``goals``, ``rescaled``, ``claims`` and each 三级 row's own
columns under ``row``) and a :class:`ReportHeader` naming the project; no database, no I/O.

Layout, top to bottom:

* the header block: the unit, year, kind, evaluator and ruleset, then 项目名称, 项目编码, 主管部门, 实施单位
  and 资金性质;
* the funds block (项目资金（万元）: 年初预算数, 全年预算数, 全年执行数, 分值, 执行率, 得分, 自评得分) and
  年度总体目标 (预期目标 / 实际完成情况);
* the indicator grid, one row per 三级 row in tree order (一级 → 二级, merged vertically, each with its
  points): 三级指标, 指标性质, 年度指标值 and 实际完成值 with their 度量单位, 分值, 得分, the 自评得分 the unit
  printed (highlighted where it differs from the rules' score), 偏差原因分析及改进措施 and 扣分事由;
* 总分 (with the 自评 total beside it, and the 按百分制折算 formula when rows were left out), 等级 and 说明.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from app.reports.csvfile import BOM, _safe
from app.reports.layout import (
    Cell,
    Column,
    Node,
    ReportHeader,
    Sheet,
    _merge_runs,
    dec,
    fmt,
    grade_bands,
    reasons_text,
    row_flag,
    walk,
    warning_lines,
)

TITLE = "项目支出绩效自评表"

COLUMNS = [
    Column("level1", "一级指标", None, 9.0),
    Column("level2", "二级指标", None, 11.0),
    Column("name", "三级指标", None, 18.0),
    Column("nature", "指标性质", None, 6.0),
    Column("target", "年度指标值", None, 12.0),
    Column("actual", "实际完成值", None, 12.0),
    Column("points", "分值", None, 6.0, numeric=True),
    # wide enough for the funds block's 执行率 above them ("100.00%")
    Column("score", "得分", None, 8.5, numeric=True),
    Column("claimed", "自评得分", None, 8.5, numeric=True),
    Column("deviation", "偏差原因分析及改进措施", None, 29.0),
    Column("reasons", "扣分事由", None, 26.0),
]
_IDX = {c.key: i for i, c in enumerate(COLUMNS)}
N = len(COLUMNS)


def is_project(result: Mapping[str, Any]) -> bool:
    return result.get("framework") == "project"


def title(fiscal_year: int) -> str:
    return f"{TITLE}（{fiscal_year}年度）"


def _execution(result: Mapping[str, Any]) -> Node | None:
    return next((t for t in result.get("indicators") or [] if t.get("rule") == "execution_rate"), None)


def rows_of(result: Mapping[str, Any]) -> list[tuple[Node, tuple[Node, ...]]]:
    """The 三级 rows (the leaves carrying the 自评表's own columns), in tree order, with their chains."""
    return [(n, chain) for n, chain in walk(result.get("indicators") or []) if n.get("row") is not None]


def _with_unit(value: Any, unit: Any) -> str | None:
    if value is None:
        return None
    return f"{value}{unit or ''}"


def target_text(row: Mapping[str, Any]) -> str:
    """年度指标值 as printed: the sign of its 指标性质, the value and its 度量单位 (≥2000人次), or the wording."""
    if row.get("target_text") and row.get("target") is None:
        return str(row["target_text"])
    value = _with_unit(row.get("target"), row.get("unit"))
    if value is None:
        return str(row.get("target_text") or "—")
    sign = row.get("nature_label") if row.get("nature") in ("gte", "lte", "eq") else ""
    return f"{sign}{value}"


def actual_text(row: Mapping[str, Any]) -> str:
    value = _with_unit(row.get("actual"), row.get("actual_unit"))
    if value is None:
        return str(row.get("actual_text") or "—")
    return value if not row.get("actual_text") else f"{value}（{row['actual_text']}）"


def deviation_text(row: Mapping[str, Any]) -> str:
    parts = []
    if row.get("deviation_reason"):
        parts.append(f"偏差原因：{row['deviation_reason']}")
    if row.get("improvement"):
        parts.append(f"改进措施：{row['improvement']}")
    return "\n".join(parts)


def _reasons(node: Node) -> str:
    text = reasons_text(node)
    row = node.get("row") or {}
    if row.get("claim_differs"):
        text = "\n".join(t for t in (text, f"自评得分{row.get('claimed')}分与按规则计算的{node.get('computed_score')}分不符") if t)
    return text


def _label_row(label: str, span: int, rest: Sequence[tuple[Any, int, str]], *, role: str = "label") -> list[Cell]:
    """A row of the funds / goals / foot blocks: a label over ``span`` columns, then (value, colspan, role)."""
    cells = [Cell(label, colspan=span, role=role)] + [Cell(None, colspan=0) for _ in range(span - 1)]
    for value, colspan, r in rest:
        cells.append(Cell(value, colspan=colspan, role=r))
        cells.extend(Cell(None, colspan=0) for _ in range(colspan - 1))
    assert len(cells) == N, (label, len(cells))
    return cells


def _pre(result: Mapping[str, Any], content: Mapping[str, Any]) -> list[list[Cell]]:
    funds = result.get("funds") or {}
    claims = result.get("claims") or {}
    ex = _execution(result)
    # the execution score the unit printed is in its submission; the breakdown lists it only when it differs
    claimed_ex = content.get("claimed_execution")
    differs = ex is not None and any(c.get("code") == ex.get("code") for c in claims.get("rows") or [])
    ex_flag = "diff" if differs else None
    heads = [("年初预算数", 1), ("全年预算数", 2), ("全年执行数", 1), ("分值", 1), ("执行率", 1), ("得分", 1),
             ("自评得分", 1), ("扣分事由", 1)]
    label = [Cell("项目资金（万元）", rowspan=2, colspan=2, role="label"), Cell(None, colspan=0)]
    top = list(label)
    for text, span in heads:
        top.append(Cell(text, colspan=span, role="head"))
        top.extend(Cell(None, colspan=0) for _ in range(span - 1))
    values = [("initial_budget", 1), ("full_year_budget", 2), ("executed", 1), ("points", 1)]
    bottom = [Cell(None, rowspan=0), Cell(None, rowspan=0, colspan=0)]
    for key, span in values:
        bottom.append(Cell(dec(funds.get(key)), colspan=span, role="number"))
        bottom.extend(Cell(None, colspan=0) for _ in range(span - 1))
    score = dec(funds.get("score"))
    points = dec(funds.get("points"))
    flag = "pending" if score is None else ("lost" if points is not None and score < points else None)
    bottom.append(Cell(funds.get("execution_rate") or "—", role="number"))
    bottom.append(Cell(score, role="score", flag=flag))
    bottom.append(Cell(dec(claimed_ex), role="score", flag=ex_flag))
    bottom.append(Cell(_reasons(ex) if ex is not None else None, role="reason", flag=flag))
    goals = result.get("goals") or {}
    return [
        top, bottom,
        [Cell("年度总体目标", rowspan=2, colspan=2, role="label"), Cell(None, colspan=0),
         Cell("预期目标", colspan=4, role="head"), *[Cell(None, colspan=0) for _ in range(3)],
         Cell("实际完成情况", colspan=5, role="head"), *[Cell(None, colspan=0) for _ in range(4)]],
        [Cell(None, rowspan=0), Cell(None, rowspan=0, colspan=0),
         Cell(goals.get("expected") or "—", colspan=4, role="text"), *[Cell(None, colspan=0) for _ in range(3)],
         Cell(goals.get("actual") or "—", colspan=5, role="text"), *[Cell(None, colspan=0) for _ in range(4)]],
    ]


def _points_label(node: Node) -> str:
    return f"{node['name']}\n（{fmt(dec(node.get('points_available', node.get('points'))))}分）"


def build_selfeval_sheet(result: Mapping[str, Any], ruleset: Any, header: ReportHeader,
                         content: Mapping[str, Any] | None = None) -> Sheet:
    """Lay a project assessment out as the 自评表 (see the module's docstring); ``content`` is the 自评表 data
    it was scored with (the assessment's input snapshot), for what the unit printed."""
    body: list[list[Cell]] = []
    keys1: list[str | None] = []
    keys2: list[str | None] = []
    codes: list[str] = []
    for node, chain in rows_of(result):
        row = node["row"]
        code = str(node["code"])
        l1, l2 = chain[0], chain[1] if len(chain) > 2 else chain[0]
        keys1.append(str(l1["code"]))
        keys2.append(str(l2["code"]))
        codes.append(code)
        status = str(node.get("status"))
        available = dec(node.get("points_available"))
        score = dec(node.get("score"))
        flag = row_flag(status, score, available)
        cells = [Cell() for _ in COLUMNS]
        cells[_IDX["level1"]] = Cell(_points_label(l1), role="name", code=str(l1["code"]))
        cells[_IDX["level2"]] = Cell(_points_label(l2), role="name", code=str(l2["code"]))
        cells[_IDX["name"]] = Cell(str(node["name"]), role="text", code=code)
        cells[_IDX["nature"]] = Cell(row.get("nature_label"), role="number")
        cells[_IDX["target"]] = Cell(target_text(row), role="number")
        cells[_IDX["actual"]] = Cell(actual_text(row), role="number", flag=flag if flag == "pending" else None)
        cells[_IDX["points"]] = Cell(dec(node.get("points")) if status == "not_applicable" else available, role="number")
        cells[_IDX["score"]] = Cell("不适用" if status == "not_applicable" else score, role="score", flag=flag, code=code)
        cells[_IDX["claimed"]] = Cell(dec(row.get("claimed")), role="score",
                                      flag="diff" if row.get("claim_differs") else None)
        cells[_IDX["deviation"]] = Cell(deviation_text(row) or None, role="text")
        cells[_IDX["reasons"]] = Cell(_reasons(node) or None, role="reason", flag=flag)
        body.append(cells)
    _merge_runs(body, _IDX["level1"], keys1)
    _merge_runs(body, _IDX["level2"], keys2)

    claims = result.get("claims") or {}
    claimed_total = (claims.get("total") or {}).get("claimed")
    total_note = []
    rescaled = result.get("rescaled")
    if rescaled:
        total_note.append(f"不适用指标{rescaled['points_excluded']}分不计入，按百分制折算：{rescaled['formula']}")
    if (claims.get("total") or {}).get("differs"):
        total_note.append(f"自评总分{claimed_total}分与按规则计算的{result.get('total')}分不符")
    grade = result.get("grade")
    notes = [*header.notes, *warning_lines(result)]
    foot = [
        _label_row("总分", 6, [(dec(result.get("points_total")), 1, "total"), (dec(result.get("total")), 1, "total"),
                                (dec(claimed_total), 1, "total"), ("\n".join(total_note) or None, 2, "reason")],
                   role="total"),
        _label_row("评价等级", 6, [(None, 1, "total"), (grade or "—", 1, "total"), (None, 1, "total"),
                                   ("评价不完整，不评定等级" if grade is None and result.get("status") == "incomplete"
                                    else grade_bands(ruleset) or None, 2, "reason")], role="total"),
    ]
    if claimed_total is not None and (claims.get("total") or {}).get("differs"):
        foot[0][_IDX["claimed"]].flag = "diff"
    if notes:
        text = "\n".join(f"{i}. {t}" for i, t in enumerate(notes, 1)) if len(notes) > 1 else notes[0]
        foot.append(_label_row("说明", 2, [(text, N - 2, "note")]))
    head = [[Cell(c.title, role="head") for c in COLUMNS]]
    summary = []
    for t in result.get("indicators") or []:
        pts, sc = dec(t.get("points_available", t.get("points"))), dec(t.get("score"))
        complete = t.get("status") in ("scored", "overridden")
        lost = None if pts is None or sc is None or not complete else pts - sc
        rate = None if not pts or sc is None or not complete else (sc / pts * 100).quantize(Decimal("0.01"))
        summary.append({"code": str(t["code"]), "name": str(t["name"]), "points": pts, "score": sc, "lost": lost,
                        "rate": rate, "status": t.get("status"), "complete": complete})
    return Sheet(header=header, columns=list(COLUMNS), head=head, body=body, foot=foot, row_codes=codes,
                 summary=summary, total=dec(result.get("total")), grade=grade, status=str(result.get("status", "")),
                 points_total=dec(result.get("points_total")), warnings=warning_lines(result), depth=3,
                 structure_levels=3, detail_column=False, all_codes=codes, pre=_pre(result, content or {}))


CSV_HEADERS = ["一级指标", "二级指标", "三级指标", "编码", "指标性质", "年度指标值", "度量单位", "实际完成值",
               "实际完成值度量单位", "分值", "得分", "计算得分", "自评得分", "自评与计算不符", "状态", "偏差原因分析",
               "改进措施", "扣分事由"]


def csv_rows(result: Mapping[str, Any], content: Mapping[str, Any] | None = None) -> list[list[str]]:
    """The 自评表 as rows: the execution rate, each 三级 row, then 总分 (CSV_HEADERS' columns)."""
    from app.engine.labels import INDICATOR_STATUS_LABELS

    def s(v: Any) -> str:
        return "" if v is None else str(v)

    out: list[list[str]] = []
    ex = _execution(result)
    funds = result.get("funds") or {}
    claims = result.get("claims") or {}
    if ex is not None:
        claim = next((c for c in claims.get("rows") or [] if c.get("code") == ex.get("code")), None)
        out.append([s(ex["name"]), "", "", s(ex["code"]), "", "100%", "", s(funds.get("execution_rate")), "",
                    s(ex.get("points_available")), s(ex.get("score")), s(ex.get("computed_score")),
                    s((content or {}).get("claimed_execution")), "是" if claim else "", INDICATOR_STATUS_LABELS.get(ex["status"], ""),
                    "", "", reasons_text(ex)])
    for node, chain in rows_of(result):
        row = node["row"]
        out.append([
            s(chain[0]["name"]), s(chain[1]["name"]) if len(chain) > 2 else "", s(node["name"]), s(node["code"]),
            s(row.get("nature_label")), s(row.get("target") if row.get("target") is not None else row.get("target_text")),
            s(row.get("unit")), s(row.get("actual") if row.get("actual") is not None else row.get("actual_text")),
            s(row.get("actual_unit")), s(node.get("points_available")), s(node.get("score")),
            s(node.get("computed_score")), s(row.get("claimed")), "是" if row.get("claim_differs") else "",
            INDICATOR_STATUS_LABELS.get(node["status"], s(node["status"])), s(row.get("deviation_reason")),
            s(row.get("improvement")), reasons_text(node)])
    total = claims.get("total") or {}
    out.append(["总分", "", "", "", "", "", "", "", "", s(result.get("points_total")), s(result.get("total")), "",
                s(total.get("claimed")), "是" if total.get("differs") else "", s(result.get("grade")), "", "", ""])
    return out


def render_selfeval_csv(result: Mapping[str, Any], content: Mapping[str, Any] | None = None) -> bytes:
    """RFC 4180 CSV (CRLF), UTF-8 with a BOM: the header row, then :func:`csv_rows`."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    writer.writerows([_safe(v) for v in r] for r in csv_rows(result, content))
    return (BOM + buf.getvalue()).encode("utf-8")


def render_selfeval_xlsx(result: Mapping[str, Any], ruleset: Any, header: ReportHeader,
                         content: Mapping[str, Any] | None = None) -> bytes:
    """The workbook: sheet 自评表 (the printed form) and sheet 指标明细 (one row per indicator, filterable)."""
    from openpyxl import Workbook

    from app.reports.layout import flat_rows
    from app.reports.xlsx import _bytes, _workbook_properties, write_detail, write_scoresheet

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "自评表"
    write_scoresheet(ws, build_selfeval_sheet(result, ruleset, header, content))
    headers, rows = flat_rows(result)
    write_detail(wb.create_sheet("指标明细"), headers, rows, header)
    _workbook_properties(wb, header.title, f"{header.unit_name} {header.fiscal_year}年度 {header.kind_label}")
    return _bytes(wb)


def render_selfeval_html(result: Mapping[str, Any], ruleset: Any, header: ReportHeader,
                         content: Mapping[str, Any] | None = None) -> str:
    """The printable page: header, summary by 一级, the funds and goals blocks and the indicator grid."""
    from app.reports.htmlpage import render_sheet_html

    return render_sheet_html(build_selfeval_sheet(result, ruleset, header, content))


__all__ = ["CSV_HEADERS", "TITLE", "build_selfeval_sheet", "render_selfeval_html", "render_selfeval_xlsx", "csv_rows", "is_project", "render_selfeval_csv", "title"]
