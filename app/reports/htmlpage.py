"""The 评分表 as a printable, self-contained HTML page (inline CSS, no scripts, no external assets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from html import escape
from typing import Any

from app.reports.layout import STATUS_LABELS, Cell, Sheet, build_sheet, fmt
from app.reports.layout import ReportHeader as ReportHeader

HTML_MEDIA_TYPE = "text/html; charset=utf-8"

CSS = """
@page { size: A4 landscape; margin: 10mm 8mm 12mm 8mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0 auto; padding: 6mm; max-width: 297mm; color: #111; background: #fff;
  font: 9pt/1.45 "SimSun", "宋体", "Songti SC", "Noto Serif CJK SC", "Noto Sans CJK SC", "Source Han Sans SC",
  "Microsoft YaHei", "PingFang SC", serif; }
h1 { margin: 0 0 3mm; text-align: center; font-size: 15pt; letter-spacing: .5pt;
  font-family: "SimHei", "黑体", "Heiti SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
.meta { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1mm 6mm; margin: 0 0 3mm;
  font-size: 10pt; }
.meta div { overflow-wrap: anywhere; }
.meta b { font-weight: bold; }
.summary { display: flex; gap: 6mm; align-items: stretch; margin: 0 0 4mm; break-inside: avoid; }
.score-box { flex: 0 0 48mm; border: .8pt solid #333; padding: 2mm 3mm; text-align: center;
  display: flex; flex-direction: column; justify-content: center; }
.score-box .total { font-size: 22pt; font-weight: bold; line-height: 1.1; }
.score-box .of { font-size: 9pt; color: #444; }
.score-box .grade { font-size: 13pt; font-weight: bold; margin-top: 1mm; }
.score-box .status { font-size: 8.5pt; color: #8a5a00; }
.summary table { flex: 1 1 auto; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
th, td { border: .6pt solid #222; padding: 1.2mm 1mm; vertical-align: middle;
  overflow-wrap: anywhere; word-break: break-word; }
th { background: #e6e6e6; font-weight: bold; text-align: center;
  font-family: "SimHei", "黑体", "Heiti SC", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }
thead { display: table-header-group; }
td:not([rowspan]) { break-inside: avoid; page-break-inside: avoid; }
td.name, td.number, td.score, td.total { text-align: center; }
td.number, td.score, td.total { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text, td.reason, td.note { white-space: pre-line; text-align: left; }
td.label, td.total { font-weight: bold; text-align: center; background: #f3f3f3; }
td.label { background: #fff; }
td.pending { background: #fff2cc; }
td.na { background: #ededed; color: #555; }
td.score.lost { color: #b00000; }
td.diff { background: #fce4d6; }
td.head { background: #e6e6e6; font-weight: bold; text-align: center; }
table.pre { margin-bottom: -.6pt; }
td.lost-cell { color: #b00000; }
.scores td.text, .scores td.reason { font-size: 8.5pt; }
.summary th, .summary td { padding: .8mm 1.4mm; }
.summary td.num { text-align: center; font-variant-numeric: tabular-nums; }
.summary td.bar { padding: .8mm 1.4mm; }
.bar span { display: block; height: 2.4mm; background: #7f7f7f; }
.foot { margin-top: 2mm; color: #555; font-size: 8pt; overflow-wrap: anywhere; }
@media print { body { padding: 0; max-width: none; } .foot { position: static; } }
"""


def _e(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, Decimal):
        return escape(fmt(v))
    return escape(str(v), quote=True)


def _td(cell: Cell, tag: str = "td") -> str:
    if cell.rowspan == 0 or cell.colspan == 0:
        return ""
    attrs = []
    classes = [cell.role]
    if cell.flag:
        classes.append(cell.flag)
    if tag == "td":
        attrs.append(f'class="{" ".join(classes)}"')
    if cell.rowspan > 1:
        attrs.append(f'rowspan="{cell.rowspan}"')
    if cell.colspan > 1:
        attrs.append(f'colspan="{cell.colspan}"')
    if cell.code and cell.role == "name":
        attrs.append(f'data-code="{_e(cell.code)}"')
    value = cell.value
    if value is None and cell.role in ("score",):
        text = "—"
    else:
        text = _e(value)
    return f"<{tag}{(' ' + ' '.join(attrs)) if attrs else ''}>{text}</{tag}>"


def _colgroup(sheet: Sheet) -> str:
    total = sum(c.width for c in sheet.columns)
    cols = "".join(f'<col style="width:{c.width / total * 100:.2f}%">' for c in sheet.columns)
    return f"<colgroup>{cols}</colgroup>"


def _summary(sheet: Sheet) -> str:
    total = _e(sheet.total) if sheet.total is not None else "—"
    of = f"满分 {_e(sheet.points_total)} 分" if sheet.points_total is not None else ""
    grade = escape(sheet.grade) if sheet.grade else "未评定等级"
    status = "" if sheet.status == "complete" else f'<div class="status">{escape(STATUS_LABELS.get(sheet.status, sheet.status))}：部分指标待补充</div>'
    rows = []
    for s in sheet.summary:
        pts, sc, lost, rate = s["points"], s["score"], s["lost"], s["rate"]
        width = 0.0 if rate is None else float(max(min(rate, Decimal(100)), Decimal(0)))
        lost_cls = ' class="num lost-cell"' if lost not in (None, Decimal(0)) else ' class="num"'
        if s["complete"]:
            rate_text = (_e(rate) + "%") if rate is not None else "—"
        else:
            rate_text = escape(STATUS_LABELS.get(str(s["status"]), "待补充"))
        rows.append(
            f'<tr data-code="{_e(s["code"])}"><td>{_e(s["name"])}</td><td class="num">{_e(pts)}</td>'
            f'<td class="num">{_e(sc) if sc is not None else "—"}</td><td{lost_cls}>{_e(lost) if lost is not None else "—"}</td>'
            f'<td class="num">{rate_text}</td>'
            f'<td class="bar"><span style="width:{width:.1f}%"></span></td></tr>'
        )
    return (
        '<section class="summary" aria-label="得分汇总">'
        f'<div class="score-box"><div class="total">{total}</div><div class="of">{escape(of)}</div>'
        f'<div class="grade">等级：{grade}</div>{status}</div>'
        '<table class="by-level1"><colgroup><col style="width:30%"><col style="width:10%"><col style="width:10%">'
        '<col style="width:10%"><col style="width:10%"><col style="width:30%"></colgroup>'
        "<thead><tr><th>一级指标</th><th>分值</th><th>得分</th><th>扣分</th><th>得分率</th><th>得分率图示</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _rows(rows: Sequence[Sequence[Cell]], tag: str = "td", codes: Sequence[str] | None = None) -> str:
    out = []
    for i, cells in enumerate(rows):
        attr = f' data-code="{_e(codes[i])}"' if codes is not None else ""
        out.append(f"<tr{attr}>{''.join(_td(c, tag) for c in cells)}</tr>")
    return "".join(out)


def render_sheet_html(sheet: Sheet) -> str:
    h = sheet.header
    meta = "".join(f"<div><b>{escape(label)}：</b>{escape(value)}</div>" for label, value in h.info())
    prov = h.provenance()
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="jixiao">'
        f"<title>{escape(h.unit_name)} {h.fiscal_year}年度 {escape(h.title)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<header><h1>{escape(h.title)}</h1><div class=\"meta\">{meta}</div></header>"
        f"{_summary(sheet)}"
        + (f'<table class="scores pre">{_colgroup(sheet)}<tbody>{_rows(sheet.pre)}</tbody></table>' if sheet.pre else "")
        + f'<table class="scores">{_colgroup(sheet)}'
        f"<thead>{_rows(sheet.head, 'th')}</thead>"
        f"<tbody>{_rows(sheet.body, codes=sheet.row_codes)}</tbody>"
        f'<tbody class="foot-rows">{_rows(sheet.foot)}</tbody></table>'
        + (f'<p class="foot">{escape(prov)}</p>' if prov else "")
        + "</body></html>\n"
    )


def render_html(result: Mapping[str, Any], ruleset: Any, header: ReportHeader,
                fact_labels: Mapping[str, str] | None = None) -> str:
    """The printable page: header, summary (total, grade, points lost by 一级 indicator), the 评分表."""
    return render_sheet_html(build_sheet(result, ruleset, header, fact_labels))


__all__ = ["HTML_MEDIA_TYPE", "render_html", "render_sheet_html"]
