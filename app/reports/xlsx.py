"""The 评分表 and the comparison of two assessments as Excel workbooks (openpyxl). Pure: bytes out."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from app.reports.layout import (
    KIND_LABELS,
    STATUS_LABELS,
    Cell,
    ReportHeader,
    Sheet,
    build_sheet,
    display_width,
    flat_rows,
    fmt,
    level_name,
)

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

BODY_FONT = "宋体"
HEAD_FONT = "黑体"
FONT_SIZE = 10
LINE_HEIGHT = 13.5  # points per wrapped line at 10 pt (CJK fonts run taller than Latin ones)
PAD = 5.0
TALL_SPAN = 240.0  # points: taller merged name cells are aligned to the top

_thin = Side(style="thin", color="000000")
BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
F_BODY = Font(name=BODY_FONT, size=FONT_SIZE)
F_BOLD = Font(name=BODY_FONT, size=FONT_SIZE, bold=True)
F_HEAD = Font(name=HEAD_FONT, size=FONT_SIZE, bold=True)
F_TITLE = Font(name=HEAD_FONT, size=16, bold=True)
F_INFO = Font(name=BODY_FONT, size=11)
F_SMALL = Font(name=BODY_FONT, size=9, color="595959")
F_LOST = Font(name=BODY_FONT, size=FONT_SIZE, color="C00000")
FILL_HEAD = PatternFill("solid", fgColor="D9D9D9")
FILL_PENDING = PatternFill("solid", fgColor="FFF2CC")
FILL_NA = PatternFill("solid", fgColor="EDEDED")
FILL_TOTAL = PatternFill("solid", fgColor="F2F2F2")
FILL_DIFF = PatternFill("solid", fgColor="FCE4D6")
FILL_LEVEL1 = PatternFill("solid", fgColor="EDEDED")
A_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
A_CENTER_TOP = Alignment(horizontal="center", vertical="top", wrap_text=True)
A_TEXT = Alignment(horizontal="left", vertical="center", wrap_text=True)
A_TOP_TEXT = Alignment(horizontal="left", vertical="top", wrap_text=True)


def _num(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _value(v: str | Decimal | None) -> Any:
    if isinstance(v, Decimal):
        return _num(v)
    if v is None or v == "":
        return None
    return v


def _put(cell: Any, value: Any) -> None:
    """Set a value; text starting with "=" stays text (openpyxl would store it as a formula)."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"


def _lines(text: Any, width: float) -> int:
    if text is None:
        return 1
    usable = max(width - 1.5, 2.0)
    n = 0
    for para in str(text).split("\n"):
        n += max(1, math.ceil(display_width(para) / usable))
    return n


def _page_setup(ws: Worksheet, title_rows: str | None, footer_left: str = "") -> None:
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = 0.5
    ws.page_margins.bottom = 0.6
    ws.page_margins.header = 0.2
    ws.page_margins.footer = 0.25
    if title_rows:
        ws.print_title_rows = title_rows
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddFooter.center.size = 9
    if footer_left:
        ws.oddFooter.left.text = footer_left.replace("&", "&&")
        ws.oddFooter.left.size = 9


class _GridWriter:
    """Writes rows of layout cells, merging spans, and sizes rows to fit their wrapped text."""

    def __init__(self, ws: Worksheet, widths: Sequence[float]) -> None:
        self.ws = ws
        self.widths = list(widths)
        self.needs: list[tuple[int, int, float]] = []  # (first row, last row, height needed)
        self.tall: list[tuple[int, int, int]] = []  # name/分值 cells: (row, column, rows spanned)

    def span_width(self, col: int, colspan: int) -> float:
        return sum(self.widths[col:col + colspan])

    def write(self, r: int, cells: Sequence[Cell], style: Any) -> None:
        ws = self.ws
        for c, cell in enumerate(cells):
            xc = ws.cell(row=r, column=c + 1)
            xc.border = BORDER
            if cell.rowspan == 0 or cell.colspan == 0:
                continue
            font, align, fill = style(cell)
            _put(xc, _value(cell.value))
            xc.font = font
            xc.alignment = align
            if fill is not None:
                for rr in range(r, r + cell.rowspan):
                    for cc in range(c, c + cell.colspan):
                        ws.cell(row=rr, column=cc + 1).fill = fill
            if cell.role in ("name", "number"):
                self.tall.append((r, c + 1, cell.rowspan))
            if cell.rowspan > 1 or cell.colspan > 1:
                ws.merge_cells(start_row=r, start_column=c + 1, end_row=r + cell.rowspan - 1,
                               end_column=c + cell.colspan)
            text = fmt(cell.value) if isinstance(cell.value, Decimal) else cell.value
            lines = _lines(text, self.span_width(c, cell.colspan))
            size = font.sz or FONT_SIZE
            self.needs.append((r, r + cell.rowspan - 1, lines * LINE_HEIGHT * size / FONT_SIZE + PAD))

    def size_rows(self, minimum: float = 18.0) -> None:
        heights: dict[int, float] = {}
        for first, last, need in self.needs:
            for rr in range(first, last + 1):
                heights.setdefault(rr, minimum)
            if first == last:
                heights[first] = max(heights[first], need)
        for first, last, need in sorted((n for n in self.needs if n[0] != n[1]), key=lambda n: n[1] - n[0]):
            have = sum(heights[rr] for rr in range(first, last + 1))
            if have < need:
                extra = (need - have) / (last - first + 1)
                for rr in range(first, last + 1):
                    heights[rr] += extra
        for rr, h in heights.items():
            self.ws.row_dimensions[rr].height = round(min(h, 409.0), 1)
        # A name merged over many rows is likely to cross a page break: print it at the top of its
        # rows (centred it could fall on the break, or on the next page, away from its first row).
        # Done per column, so that a column's names are aligned alike.
        top_columns = {c for r, c, span in self.tall
                       if sum(heights.get(rr, 0.0) for rr in range(r, r + span)) > TALL_SPAN}
        for r, c, _span in self.tall:
            if c in top_columns:
                self.ws.cell(row=r, column=c).alignment = A_CENTER_TOP


def _style(cell: Cell) -> tuple[Font, Alignment, PatternFill | None]:
    role, flag = cell.role, cell.flag
    if role == "head":
        return F_HEAD, A_CENTER, FILL_HEAD
    if role in ("total", "label"):
        return F_BOLD, A_CENTER, FILL_TOTAL if role == "total" else None
    if role == "note":
        return F_BODY, A_TEXT, None
    fill = FILL_PENDING if flag == "pending" else FILL_NA if flag == "na" else FILL_DIFF if flag == "diff" else None
    if role in ("name", "number"):
        return F_BODY, A_CENTER, None
    if role == "score":
        return (F_LOST if flag == "lost" else F_BODY), A_CENTER, fill
    return F_BODY, A_TEXT, fill


def _write_header_block(ws: Worksheet, header: ReportHeader, n: int, split: int) -> int:
    """Title and unit/year/kind/evaluator/ruleset lines; returns the next free row."""
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    t = ws.cell(row=1, column=1)
    _put(t, header.title)
    t.font = F_TITLE
    t.alignment = A_CENTER
    ws.row_dimensions[1].height = 32
    info = header.info()
    r = 2
    for i in range(0, len(info), 2):
        pair = info[i:i + 2]
        spans = [(1, split), (split + 1, n)]
        for (label, value), (c0, c1) in zip(pair, spans, strict=False):
            ws.merge_cells(start_row=r, start_column=c0, end_row=r, end_column=c1)
            cell = ws.cell(row=r, column=c0, value=f"{label}：{value}")
            cell.font = F_INFO
            cell.alignment = Alignment(horizontal="left", vertical="center", wrap_text=True)
        ws.row_dimensions[r].height = 20
        r += 1
    return r + 1  # one blank row before the table


def _sheet_widths(sheet: Sheet) -> list[float]:
    return [c.width for c in sheet.columns]


def write_scoresheet(ws: Worksheet, sheet: Sheet) -> None:
    n = len(sheet.columns)
    widths = _sheet_widths(sheet)
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    split = next((i for i, c in enumerate(sheet.columns) if c.key == "description"), n // 2 - 1) + 1
    r = _write_header_block(ws, sheet.header, n, split)
    writer = _GridWriter(ws, widths)
    for cells in sheet.pre:
        writer.write(r, cells, _style)
        r += 1
    head_first = r
    for cells in sheet.head:
        writer.write(r, cells, _style)
        r += 1
    head_last = r - 1
    for cells in sheet.body:
        writer.write(r, cells, _style)
        r += 1
    for cells in sheet.foot:
        writer.write(r, cells, _style)
        r += 1
    writer.size_rows()
    for rr in range(head_first, head_last + 1):
        ws.row_dimensions[rr].height = max(ws.row_dimensions[rr].height or 0, 20)
    prov = sheet.header.provenance()
    if prov:
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=n)
        c = ws.cell(row=r, column=1, value=prov)
        c.font = F_SMALL
        c.alignment = Alignment(horizontal="left", vertical="center", wrap_text=True)
        ws.row_dimensions[r].height = 16
    else:
        r -= 1
    ws.freeze_panes = f"A{head_last + 1}"
    ws.print_area = f"A1:{get_column_letter(n)}{r}"
    _page_setup(ws, f"{head_first}:{head_last}", f"{sheet.header.unit_name} {sheet.header.fiscal_year}年度")


def write_detail(ws: Worksheet, headers: list[str], rows: list[list[str]], header: ReportHeader) -> None:
    """The flat 指标明细 sheet: one row per indicator of every level, filterable."""
    widths = {"层级": 6, "编码": 10, "分值": 7, "得分": 7, "计算得分": 9, "扣分": 7, "状态": 12,
              "状态代码": 15, "扣分事由": 60}
    numeric = {"层级", "分值", "得分", "计算得分", "扣分"}
    for i, h in enumerate(headers, 1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(h, 22)
        c = ws.cell(row=1, column=i, value=h)
        c.font, c.alignment, c.fill, c.border = F_HEAD, A_CENTER, FILL_HEAD, BORDER
    ws.row_dimensions[1].height = 20
    for r, row in enumerate(rows, 2):
        level = int(row[0]) if row[0].isdigit() else 0
        need = 1
        for i, (h, v) in enumerate(zip(headers, row, strict=True), 1):
            value: Any = v
            if h in numeric and v:
                value = _num(Decimal(v))
            elif v == "":
                value = None
            c = ws.cell(row=r, column=i)
            _put(c, value)
            c.border = BORDER
            c.font = F_BOLD if level == 1 else F_BODY
            c.alignment = A_CENTER if h in numeric or h == "编码" else A_TEXT
            if level == 1:
                c.fill = FILL_LEVEL1
            if h == "编码":
                c.number_format = "@"
            need = max(need, _lines(v, widths.get(h, 22)))
        ws.row_dimensions[r].height = round(need * LINE_HEIGHT + PAD, 1)
    last = get_column_letter(len(headers))
    ws.auto_filter.ref = f"A1:{last}{len(rows) + 1}"
    ws.freeze_panes = "C2"
    ws.print_area = f"A1:{last}{len(rows) + 1}"
    _page_setup(ws, "1:1", f"{header.unit_name} {header.fiscal_year}年度 指标明细")


def _workbook_properties(wb: Workbook, title: str, subject: str) -> None:
    wb.properties.title = title
    wb.properties.subject = subject
    wb.properties.creator = "jixiao"
    wb.properties.language = "zh-CN"


def _bytes(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def render_xlsx(result: Mapping[str, Any], ruleset: Any, header: ReportHeader,
                fact_labels: Mapping[str, str] | None = None) -> bytes:
    """The 评分表 workbook: sheet 评分表 (the printed form) and sheet 指标明细 (one row per indicator)."""
    sheet = build_sheet(result, ruleset, header, fact_labels)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "评分表"
    write_scoresheet(ws, sheet)
    headers, rows = flat_rows(result, fact_labels)
    write_detail(wb.create_sheet("指标明细"), headers, rows, header)
    _workbook_properties(wb, header.title, f"{header.unit_name} {header.fiscal_year}年度 {header.kind_label}")
    return _bytes(wb)


# --------------------------------------------------------------------------- comparison


def code_key(code: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting dotted codes in tree order ("1.2" < "1.10" < "2")."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in str(code).split("."))


def _side_label(side: Mapping[str, Any], letter: str) -> str:
    kind = KIND_LABELS.get(str(side.get("kind")), str(side.get("kind", "")))
    evaluator = side.get("evaluator") or ""
    return f"{letter}：{kind}" + (f"（{evaluator}）" if evaluator else "")


def _differs(d: Mapping[str, Any]) -> bool:
    if d.get("difference") is None:
        return d.get("score_a") != d.get("score_b")
    return Decimal(str(d["difference"])) != 0


def _reason(deductions: Sequence[Mapping[str, Any]] | None, status: str | None) -> str:
    reasons = [str(x.get("reason", "")).strip() for x in deductions or []]
    text = "；".join(r for r in reasons if r)
    if status and status not in ("scored", "overridden"):
        label = STATUS_LABELS.get(status, status)
        text = f"{label}；{text}" if text else label
    if status is None:
        text = "（无此指标）"
    return text


def render_comparison_xlsx(comparison: Mapping[str, Any], *, unit_name: str, unit_code: str | None = None) -> bytes:
    """Two assessments of one unit and year side by side; differing indicators highlighted.

    ``comparison`` is ``app.assessments.service.compare`` output (``a``, ``b``, ``indicators`` with
    ``score_a``, ``score_b``, ``difference`` = b − a, …).
    """
    a, b = comparison["a"], comparison["b"]
    la, lb = _side_label(a, "甲"), _side_label(b, "乙")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "评分对比"
    items = sorted(comparison.get("indicators") or [], key=lambda d: code_key(str(d["code"])))
    _write_comparison(ws, comparison, items, la, lb, unit_name, unit_code, title_suffix="评分对比表")
    differing = [d for d in comparison.get("indicators") or [] if _differs(d)]
    ws2 = wb.create_sheet("差异指标")
    _write_comparison(ws2, comparison, differing, la, lb, unit_name, unit_code, title_suffix="差异指标（按差异大小排序）")
    year = a.get("fiscal_year")
    _workbook_properties(wb, f"{unit_name} {year}年度 评分对比表", f"{la} / {lb}")
    return _bytes(wb)


SIGNED = '+General;"−"General;0'  # differences: +1.5 / −0.5 / 0
COMPARISON_COLUMNS = [("编码", 9.0), ("指标名称", 36.0), ("分值", 6.5), ("甲得分", 8.0), ("乙得分", 8.0),
                      ("差异\n（乙−甲）", 9.0), ("甲扣分事由", 42.0), ("乙扣分事由", 42.0)]


def _write_comparison(ws: Worksheet, cmp: Mapping[str, Any], items: Sequence[Mapping[str, Any]], la: str, lb: str,
                      unit_name: str, unit_code: str | None, *, title_suffix: str) -> None:
    a, b = cmp["a"], cmp["b"]
    n = len(COMPARISON_COLUMNS)
    widths = [w for _, w in COMPARISON_COLUMNS]
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    year = a.get("fiscal_year")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    t = ws.cell(row=1, column=1)
    _put(t, f"{unit_name} {year}年度部门整体支出绩效评价 {title_suffix}")
    t.font, t.alignment = F_TITLE, A_CENTER
    ws.row_dimensions[1].height = 32

    def side_line(side: Mapping[str, Any], label: str) -> str:
        rs = side.get("ruleset") or {}
        grade = side.get("grade") or "未评定"
        return (f"{label}　评分规则：{rs.get('title', '')}（{rs.get('ref', '')}）　总分：{side.get('total')}　"
                f"等级：{grade}　评价编号：{side.get('id', '')}")

    lines = [f"被评价单位：{unit_name}" + (f"（{unit_code}）" if unit_code else "") + f"　评价年度：{year}年度",
             side_line(a, la), side_line(b, lb),
             f"总分差异（乙−甲）：{cmp.get('total_difference')}　得分不同的指标：{cmp.get('differing')}项"
             + ("" if cmp.get("same_ruleset", True) else "　注意：两次评价所用评分规则不同，指标按编码对照")]
    r = 2
    for line in lines:
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=n)
        c = ws.cell(row=r, column=1, value=line)
        c.font, c.alignment = F_INFO, Alignment(horizontal="left", vertical="center", wrap_text=True)
        ws.row_dimensions[r].height = 20
        r += 1
    r += 1
    head_row = r
    for i, (title, _) in enumerate(COMPARISON_COLUMNS, 1):
        c = ws.cell(row=r, column=i, value=title)
        c.font, c.alignment, c.fill, c.border = F_HEAD, A_CENTER, FILL_HEAD, BORDER
    ws.row_dimensions[r].height = 2 * LINE_HEIGHT + PAD
    r += 1
    first_body = r
    for d in items:
        level = int(d.get("level") or 1)
        differs = _differs(d)
        values: list[Any] = [
            str(d["code"]), str(d.get("name", "")), d.get("points"), d.get("score_a"), d.get("score_b"),
            d.get("difference"),
            _reason(d.get("deductions_a"), d.get("status_a")), _reason(d.get("deductions_b"), d.get("status_b")),
        ]
        need = 1
        for i, v in enumerate(values, 1):
            if i in (3, 4, 5, 6) and v is not None:
                dv = Decimal(str(v))
                v = _num(dv)
            c = ws.cell(row=r, column=i)
            _put(c, v if v not in ("", None) else ("—" if i in (4, 5, 6) else None))
            c.border = BORDER
            c.font = F_BOLD if level == 1 or (i == 6 and differs) else F_BODY
            if i == 2:
                c.alignment = Alignment(horizontal="left", vertical="center", wrap_text=True, indent=level - 1)
            elif i in (7, 8):
                c.alignment = A_TEXT
            else:
                c.alignment = A_CENTER
            if i == 1:
                c.number_format = "@"
            if i == 6 and isinstance(v, int | float):
                c.number_format = SIGNED
                if v < 0:
                    c.font = Font(name=BODY_FONT, size=FONT_SIZE, bold=True, color="C00000")
                elif v > 0:
                    c.font = Font(name=BODY_FONT, size=FONT_SIZE, bold=True, color="2E7D32")
            if differs:
                c.fill = FILL_DIFF
            elif level == 1:
                c.fill = FILL_LEVEL1
            need = max(need, _lines(values[i - 1] if i != 2 else "　" * (level - 1) + str(values[1]), widths[i - 1]))
        ws.row_dimensions[r].height = round(need * LINE_HEIGHT + PAD, 1)
        r += 1
    last_body = r - 1
    if not items:
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=n)
        c = ws.cell(row=r, column=1, value="两次评价各指标得分相同")
        c.font, c.alignment, c.border = F_BODY, A_CENTER, BORDER
        r += 1
    for label, va, vb, diff in (("总计得分", a.get("total"), b.get("total"), cmp.get("total_difference")),
                                ("评价等级", a.get("grade") or "—", b.get("grade") or "—", None)):
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=3)
        cells = [ws.cell(row=r, column=i) for i in range(1, n + 1)]
        cells[0].value = label
        for i, v in ((3, va), (4, vb), (5, diff)):
            if v is not None:
                try:
                    cells[i].value = _num(Decimal(str(v)))
                except ArithmeticError:
                    cells[i].value = v
        if diff is not None:
            cells[5].number_format = SIGNED
        for c in cells:
            c.border, c.font, c.alignment, c.fill = BORDER, F_BOLD, A_CENTER, FILL_TOTAL
        ws.row_dimensions[r].height = 20
        r += 1
    legend = ws.cell(row=r + 1, column=1, value="底色标出两次评价得分不同的指标；差异为乙得分减甲得分。")
    ws.merge_cells(start_row=r + 1, start_column=1, end_row=r + 1, end_column=n)
    legend.font = F_SMALL
    if items:
        ws.auto_filter.ref = f"A{head_row}:{get_column_letter(n)}{last_body}"
    ws.freeze_panes = f"C{first_body}"
    ws.print_area = f"A1:{get_column_letter(n)}{r + 1}"
    _page_setup(ws, f"{head_row}:{head_row}", f"{unit_name} {year}年度 评分对比")


__all__ = ["XLSX_MEDIA_TYPE", "render_comparison_xlsx", "render_xlsx", "level_name", "code_key"]
