"""Clients generated from the committed openapi/openapi.json, as a new integrator makes them:
openapi-python-client (no warning allowed) and openapi-typescript (types compiled with
``tsc --strict``), and the main scenario driven through the generated Python client.

The TypeScript check needs Node.js and npm (``.ci/run`` installs them); the two npm packages are
installed once into ``.cache/node`` from the npm registry."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.factories import seed
from tests.served import ROOT

DOC = ROOT / "openapi" / "openapi.json"
NODE_CACHE = ROOT / ".cache" / "node"
NPM_PACKAGES = ("openapi-typescript@7.13.0", "typescript@5.9.3")


@pytest.fixture(scope="module")
def python_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pyclient")
    bin_dir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(DOC), "--output-path",
         str(out / "jixiao_client"), "--meta", "none"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "warning" not in output.lower(), output[-5000:]
    return out


def test_openapi_python_client_generates_without_a_warning(python_client: Path) -> None:
    assert (python_client / "jixiao_client" / "api").is_dir()


def _npm_tools() -> Path:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("Node.js and npm are not installed (apt-get install nodejs npm); .ci/run installs them")
    bin_dir = NODE_CACHE / "node_modules" / ".bin"
    if not (bin_dir / "tsc").exists() or not (bin_dir / "openapi-typescript").exists():
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(NODE_CACHE),
                        *NPM_PACKAGES], check=True, timeout=600)
    return bin_dir


#: what a TypeScript integrator writes first: a request body with only the required fields, and
#: reading the answers' typed fields (tsc --strict refuses it if the document says otherwise)
USAGE_TS = """
import type { components } from "./api";
type S = components["schemas"];

const create: S["AssessmentCreate"] = {
  unit_id: "3b0bd0a4-2e9c-5d2b-8f1e-5c8a0c7f2d11", fiscal_year: 2023, ruleset: "shenzhen-yantian",
  kind: "self", evaluator: "本单位",
};
const item: S["BatchItem"] = {
  unit: { code: "YG1", name: "深圳市盐港中学", kind: "school", region: "广东省深圳市盐田区" },
  fiscal_year: 2023, ruleset: "shenzhen-yantian", kind: "self", evaluator: "本单位",
};
const unit: S["UnitCreate"] = { code: "YG1", name: "深圳市盐港中学", kind: "school", region: "广东省深圳市盐田区" };
const submission: S["SubmissionIn"] = { facts: { procurement_actual: "318.98" } };
const key: S["KeyCreate"] = { name: "platform", scopes: ["read", "assess"] };

function show(a: S["AssessmentOut"], c: S["Cohort"], b: S["BatchResult"], d: S["Comparison"]): string {
  const kind: S["AssessmentKind"] = a.kind;
  const status: S["AssessmentStatus"] = a.status;
  const first = a.indicators[0];
  const indicator: S["IndicatorStatus"] = first.status;
  const problem: S["ProblemDetail"] | null | undefined = b.items[0].problem;
  return [kind, status, indicator, a.total, a.grade ?? "", a.grade_code ?? "", a.kind_label, c.minimum ?? "",
          problem?.title ?? "", d.differing].join(" ");
}
export { create, item, unit, submission, key, show };
"""


def test_typescript_types_compile_with_strict(tmp_path: Path) -> None:
    tools = _npm_tools()
    gen = subprocess.run([str(tools / "openapi-typescript"), str(DOC), "-o", str(tmp_path / "api.d.ts")],
                         capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr[-3000:]
    assert "warn" not in (gen.stdout + gen.stderr).lower(), gen.stdout + gen.stderr
    (tmp_path / "usage.ts").write_text(USAGE_TS, encoding="utf-8")
    tsc = subprocess.run([str(tools / "tsc"), "--strict", "--noEmit", "--target", "es2020", "--moduleResolution",
                          "node", str(tmp_path / "usage.ts")], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert tsc.returncode == 0, tsc.stdout[-5000:] + tsc.stderr[-2000:]


def test_the_generated_python_client_drives_the_main_scenario(python_client: Path, client: Any) -> None:
    sys.path.insert(0, str(python_client))
    try:
        pkg = importlib.import_module("jixiao_client")
        api = importlib.import_module("jixiao_client.api")
        models = importlib.import_module("jixiao_client.models")
    finally:
        sys.path.remove(str(python_client))

    def op(tag: str, name: str) -> Any:
        return importlib.import_module(f"{api.__name__}.{tag}.{name}")

    gen = pkg.AuthenticatedClient(base_url="http://testserver", token=client.headers["Authorization"][7:])
    gen.set_httpx_client(client)
    data = seed("001")

    unit = op("units", "create_unit").sync(client=gen, body=models.UnitCreate(
        code="GEN001", name=data["unit"]["name"], kind="school", region=data["unit"]["region"]))
    assert isinstance(unit, models.UnitOut)
    put = op("submissions", "put_submission").sync_detailed(
        client=gen, unit_id=unit.id, fiscal_year=2023,
        body=models.SubmissionIn.from_dict({k: data.get(k, {}) for k in ("facts", "answers", "overrides")}))
    assert put.status_code == 201
    assessment = op("assessments", "create_assessment").sync(client=gen, body=models.AssessmentCreate(
        unit_id=unit.id, fiscal_year=2023, ruleset="shenzhen-yantian", kind=models.AssessmentKind.SELF,
        evaluator="本单位"))
    assert isinstance(assessment, models.AssessmentOut)
    assert (assessment.total, assessment.grade, assessment.status) == ("93.97", "优", models.AssessmentStatus.COMPLETE)
    breakdown = op("assessments", "get_assessment_breakdown").sync(client=gen, assessment_id=assessment.id,
                                                                  view=models.BreakdownView.FLAT)
    lost = next(i for i in breakdown.items if i.code == "2.1.1")
    assert lost.status == models.IndicatorStatus.SCORED
    assert lost.status_label == "已评分"
    assert assessment.kind_label == "自评"
    assert assessment.grade_code == models.GradeCode.EXCELLENT
    report = op("reports", "get_assessment_report_xlsx").sync(client=gen, assessment_id=assessment.id)
    assert report.payload.read(2) == b"PK"  # a zip: the workbook
    third = op("assessments", "create_assessment").sync(client=gen, body=models.AssessmentCreate(
        unit_id=unit.id, fiscal_year=2023, ruleset="shenzhen-yantian", kind=models.AssessmentKind.THIRD_PARTY,
        evaluator="事务所"))
    comparison = op("assessments", "compare_assessments").sync(client=gen, assessment_id=assessment.id,
                                                               other_id=third.id)
    assert isinstance(comparison, models.Comparison)
    batch = op("assessments", "batch_assessments").sync(client=gen, body=models.BatchRequest.from_dict({"items": [
        {"unit": {"code": "GEN002", "name": "二号", "kind": "school", "region": "广东省深圳市盐田区"},
         "fiscal_year": 2023, "facts": data["facts"], "answers": data["answers"], "overrides": data["overrides"],
         "ruleset": "shenzhen-yantian@2023", "kind": "self", "evaluator": "批量"},
        {"unit": {"code": "GEN003", "name": "三号", "kind": "school", "region": "r"}, "fiscal_year": 2023,
         "facts": {}, "ruleset": "nowhere@1", "kind": "self", "evaluator": "批量"}]}))
    assert isinstance(batch, models.BatchResult)
    assert batch.succeeded == 1
    assert isinstance(batch.items[1].problem, models.ProblemDetail)
