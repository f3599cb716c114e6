"""Reports: the official 评分表 of an assessment as XLSX, CSV and a printable page; comparisons as XLSX."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request, Response
from sqlalchemy.orm import Session

from app.api.deps import Route, SessionDep
from app.api.problems import NotFound, responses
from app.assessments import service as assessments
from app.auth.deps import READ
from app.db.models import Assessment, Project, Unit
from app.engine.project import ProjectRuleset
from app.engine.ruleset import Ruleset
from app.reports import selfeval
from app.reports.csvfile import CSV_MEDIA_TYPE, render_csv
from app.reports.htmlpage import HTML_MEDIA_TYPE, render_html
from app.reports.layout import ReportHeader, header_from_result
from app.reports.xlsx import XLSX_MEDIA_TYPE, render_comparison_xlsx, render_xlsx
from app.rulesets import service as rulesets

router = APIRouter(route_class=Route, tags=["reports"], dependencies=[READ])
IdPath = Annotated[uuid.UUID, Path(description="Assessment id")]
OtherPath = Annotated[uuid.UUID, Path(description="The other assessment")]


def _ok(media_type: str, description: str, binary: bool) -> dict[int | str, dict[str, Any]]:
    schema = {"type": "string", "format": "binary"} if binary else {"type": "string"}
    content = {media_type.split(";")[0]: {"schema": schema}}
    if binary:  # generic binary clients (and generated ones) ask for octet-stream: see _binary
        content[OCTET_STREAM] = {"schema": schema}
        description += "; the same bytes as `application/octet-stream` when the request's Accept asks for it"
    return {200: {"description": description, "content": content}}


OCTET_STREAM = "application/octet-stream"


def _binary(request: Request, media_type: str) -> str:
    """The workbook's own media type, or ``application/octet-stream`` for a caller that accepts only
    that (HTTP clients for binary downloads, clients generated from the OpenAPI document)."""
    accept = request.headers.get("accept", "")
    wanted = {part.split(";")[0].strip().lower() for part in accept.split(",") if part.strip()}
    return OCTET_STREAM if OCTET_STREAM in wanted and media_type not in wanted else media_type


def _filename_part(text: str) -> str:
    """Text safe inside a file name (no path separators, quotes or control characters)."""
    cleaned = re.sub(r'[\x00-\x1f\x7f/\\:*?"<>|]+', "_", text).strip(" ._")
    return cleaned[:80] or "report"


def _disposition(kind: str, readable: str, fallback: str) -> str:
    """``attachment``/``inline`` with an ASCII ``filename`` and the UTF-8 name in ``filename*`` (RFC 6266)."""
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(readable, safe='')}"


def _unit(session: Session, unit_id: uuid.UUID) -> Unit | None:
    return session.get(Unit, unit_id)


def _ruleset(session: Session, row: Assessment) -> Ruleset | ProjectRuleset | None:
    """The ruleset version the assessment is pinned to (for 指标说明 and 评分标准), if it still exists."""
    ref = f"{row.ruleset_name}@{row.ruleset_version}"
    quick = rulesets.registry().project(ref) if row.project_id is not None else rulesets.registry().get(ref)
    if quick is not None:
        return quick
    try:  # a registered version (of the caller's tenant)
        rs = rulesets.get(session, row.ruleset_name, row.ruleset_version)
    except NotFound:
        return None
    return rs if isinstance(rs, ProjectRuleset) == (row.project_id is not None) else None


def _fact_labels() -> dict[str, str]:
    return {key: f.name for key, f in rulesets.vocabulary().facts.items()}


def _context(session: Session, assessment_id: uuid.UUID) -> tuple[Assessment, dict[str, Any], Any, ReportHeader]:
    row = assessments.get(session, assessment_id)
    result: dict[str, Any] = row.result
    unit = _unit(session, row.unit_id)
    rs = _ruleset(session, row)
    notes = []
    if rs is None:
        notes.append(f"评分规则 {row.ruleset_name}@{row.ruleset_version} 已不可用，表中未列指标说明和评分标准")
    elif rs.content_hash != row.ruleset_hash:
        notes.append(f"评分规则 {rs.ref} 的内容在本次评价后有更新，指标说明和评分标准取自当前版本")
    project = session.get(Project, row.project_id) if row.project_id is not None else None
    extra: tuple[tuple[str, str], ...] = ()
    if project is not None:
        extra = (("项目名称", project.name), ("项目编码", project.code), ("主管部门", project.department),
                 ("实施单位", project.implementer), ("资金性质", project.fund_nature))
    header = header_from_result(
        result, unit_name=unit.name if unit else str(row.unit_id), unit_code=unit.code if unit else None,
        region=unit.region if unit else None, fiscal_year=row.fiscal_year, kind=row.kind, evaluator=row.evaluator,
        assessment_id=str(row.id), created_at=row.created_at.isoformat() if row.created_at else None,
        submission_version=row.submission_version, notes=notes,
    )
    if row.project_id is not None:
        header = replace(header, title_text=selfeval.title(row.fiscal_year), extra=extra)
    return row, result, rs, header


def _names(header: ReportHeader, row: Assessment, ext: str, what: str = "评分表") -> tuple[str, str]:
    if row.project_id is not None:  # a project's 自评表, named by the project
        project = dict(header.extra).get("项目名称", str(row.project_id))
        readable = f"{_filename_part(project)}-{row.fiscal_year}年度-项目支出绩效自评表.{ext}"
        return readable, f"assessment-{row.id}.{ext}"
    readable = f"{_filename_part(header.unit_name)}-{row.fiscal_year}年度-{header.kind_label}{what}.{ext}"
    return readable, f"assessment-{row.id}.{ext}"


def _content(row: Assessment) -> dict[str, Any]:
    """The 自评表 data a project assessment was scored with (its input snapshot)."""
    return dict(row.inputs.get("content") or {})


@router.get("/v1/assessments/{assessment_id}/report.xlsx", operation_id="getAssessmentReportXlsx",
            summary="The 评分表 as an Excel workbook", response_class=Response,
            responses={**_ok(XLSX_MEDIA_TYPE, "The workbook (sheets 评分表 and 指标明细)", binary=True),
                       **responses(404)})
def get_report_xlsx(assessment_id: IdPath, session: SessionDep, request: Request) -> Response:
    """The official score sheet as it is printed: 一级/二级/三级 indicator names and 分值 in merged cells,
    指标说明, 评分标准, 得分 and 扣分事由 per scored indicator (rulesets with numbered sub-criteria get one row
    per sub-criterion and a 细则分值 column), 加减分项, the total and the grade at the foot, warnings under
    说明. A header block names the unit, fiscal year, ruleset, kind (自评 / 第三方评价) and evaluator.
    Printing is set up for A4 landscape, fit to width, header rows repeated on every page. A second sheet
    lists every indicator of every level (code, names, 分值, 得分, status, 扣分事由) with a filter.

    An assessment of a project is its 项目支出绩效自评表 in the national layout instead (sheet 自评表): the
    project's name, code, 主管部门, 实施单位 and 资金性质; the funds block (年初预算数, 全年预算数, 全年执行数, 分值,
    执行率, 得分); 年度总体目标 (预期目标 / 实际完成情况); one row per 三级指标 under its 一级 / 二级 with 指标性质,
    年度指标值, 实际完成值, 分值, 得分, the 自评得分 the unit printed (highlighted where it differs from the
    rules), 偏差原因分析及改进措施 and 扣分事由; 总分 and 等级 at the foot."""
    row, result, rs, header = _context(session, assessment_id)
    body = (selfeval.render_selfeval_xlsx(result, rs, header, _content(row)) if selfeval.is_project(result)
            else render_xlsx(result, rs, header, _fact_labels()))
    readable, fallback = _names(header, row, "xlsx")
    return Response(body, media_type=_binary(request, XLSX_MEDIA_TYPE),
                    headers={"Content-Disposition": _disposition("attachment", readable, fallback)})


@router.get("/v1/assessments/{assessment_id}/report.csv", operation_id="getAssessmentReportCsv",
            summary="Every indicator's score as CSV", response_class=Response,
            responses={**_ok(CSV_MEDIA_TYPE, "UTF-8 CSV with a byte order mark, one row per indicator", binary=False),
                       **responses(404)})
def get_report_csv(assessment_id: IdPath, session: SessionDep) -> Response:
    """One row per indicator of every level, in tree order: 层级, 编码, the 一级/二级/三级(/四级) names,
    分值, 得分, 计算得分, 扣分, 状态 (Chinese label and code) and 扣分事由. UTF-8 with a byte order mark so that
    Excel opens the Chinese text correctly; CRLF line ends (RFC 4180). For a project's assessment, one row per
    row of its 自评表 (the execution rate, each 三级指标 with 指标性质, 年度指标值, 实际完成值 and their 度量单位, 分值,
    得分, 自评得分, 偏差原因分析, 改进措施, 扣分事由) and the 总分 row."""
    row, result, _rs, header = _context(session, assessment_id)
    body = (selfeval.render_selfeval_csv(result, _content(row)) if selfeval.is_project(result)
            else render_csv(result, _fact_labels()))
    readable, fallback = _names(header, row, "csv")
    return Response(body, media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": _disposition("attachment", readable, fallback)})


@router.get("/v1/assessments/{assessment_id}/report.html", operation_id="getAssessmentReportHtml",
            summary="The 评分表 as a printable page", response_class=Response,
            responses={**_ok(HTML_MEDIA_TYPE, "A self-contained HTML page (inline CSS, no scripts)", binary=False),
                       **responses(404)})
def get_report_html(assessment_id: IdPath, session: SessionDep) -> Response:
    """The same table as the workbook, preceded by a summary (total, grade, points lost by 一级 indicator).
    Self-contained (inline CSS, no scripts or external assets) and laid out for A4 landscape printing:
    print it from the browser or convert it to PDF. A project's assessment prints its 自评表 (see report.xlsx)."""
    row, result, rs, header = _context(session, assessment_id)
    body = (selfeval.render_selfeval_html(result, rs, header, _content(row)) if selfeval.is_project(result)
            else render_html(result, rs, header, _fact_labels()))
    readable, fallback = _names(header, row, "html")
    return Response(body, media_type=HTML_MEDIA_TYPE,
                    headers={"Content-Disposition": _disposition("inline", readable, fallback),
                             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                             "X-Content-Type-Options": "nosniff"})


@router.get("/v1/assessments/{assessment_id}/comparison/{other_id}/report.xlsx",
            operation_id="getComparisonReportXlsx", summary="Compare two assessments as an Excel workbook",
            response_class=Response,
            responses={**_ok(XLSX_MEDIA_TYPE, "The workbook (sheets 评分对比 and 差异指标)", binary=True),
                       **responses(404, 422)})
def get_comparison_xlsx(assessment_id: IdPath, other_id: OtherPath, session: SessionDep,
                        request: Request) -> Response:
    """Two assessments of one unit and year (甲 = this one, 乙 = the other; typically 自评 against 第三方评价):
    every indicator in tree order with 分值, both scores, the difference (乙 − 甲) and both 扣分事由; rows
    whose scores differ are highlighted. A second sheet lists only the differing indicators, largest
    difference first. Totals and grades at the foot."""
    cmp = assessments.compare(session, assessment_id, other_id)
    a = assessments.get(session, assessment_id)
    unit = _unit(session, a.unit_id)
    unit_name = unit.name if unit else str(a.unit_id)
    body = render_comparison_xlsx(cmp, unit_name=unit_name, unit_code=unit.code if unit else None)
    readable = f"{_filename_part(unit_name)}-{a.fiscal_year}年度-评分对比.xlsx"
    fallback = f"comparison-{assessment_id}-{other_id}.xlsx"
    return Response(body, media_type=_binary(request, XLSX_MEDIA_TYPE),
                    headers={"Content-Disposition": _disposition("attachment", readable, fallback)})
