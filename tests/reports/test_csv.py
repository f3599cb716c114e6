"""GET /v1/assessments/{id}/report.csv: one row per indicator, UTF-8 with BOM."""

from __future__ import annotations

import csv
import io

from tests.api.factories import assess, create_unit, put_submission, seed
from tests.reports.conftest import walk


def _rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_csv_001_one_row_per_indicator(client, assessed):
    body, _unit, _data = assessed("001")
    r = client.get(f"/v1/assessments/{body['id']}/report.csv")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;")
    assert f'filename="assessment-{body["id"]}.csv"' in cd
    assert "filename*=UTF-8''" in cd
    assert b"\r\n" in r.content  # RFC 4180 line ends
    rows = _rows(r.content)
    header, data = rows[0], rows[1:]
    assert header == ["层级", "编码", "一级指标", "二级指标", "三级指标", "分值", "得分", "计算得分", "扣分", "状态",
                      "状态代码", "扣分事由"]
    nodes = list(walk(body["indicators"]))
    assert len(data) == len(nodes) == 35
    col = {h: i for i, h in enumerate(header)}
    for row, node in zip(data, nodes, strict=True):
        assert row[col["编码"]] == node["code"]
        assert row[col["层级"]] == str(node["level"])
        assert row[col[f"{'一二三'[node['level'] - 1]}级指标"]] == node["name"]
        assert row[col["分值"]] == node["points_available"]
        assert row[col["得分"]] == node["score"]
        assert row[col["状态代码"]] == node["status"]
    by_code = {row[col["编码"]]: row for row in data}
    assert by_code["2.1"][col["一级指标"]] == "部门管理"
    assert by_code["2.1"][col["三级指标"]] == ""
    assert by_code["2.4.2"][col["扣分"]] == "1"
    assert "编外人员控制率23.58%" in by_code["2.4.2"][col["扣分事由"]]
    assert by_code["3.4.2"][col["状态"]] == "评价人调整"
    assert by_code["1"][col["扣分事由"]] == ""  # only scored indicators carry reasons


def test_csv_003_has_a_column_per_level(client, assessed):
    body, _unit, _data = assessed("003", kind="third_party")
    rows = _rows(client.get(f"/v1/assessments/{body['id']}/report.csv").content)
    assert rows[0][2:6] == ["一级指标", "二级指标", "三级指标", "四级指标"]
    assert len(rows) - 1 == len(list(walk(body["indicators"]))) == 68
    sub = next(r for r in rows if r[1] == "1.1.1.2")
    assert sub[2:6] == ["投入", "设定目标", "绩效目标合理性", "是否符合国家法律法规、国民经济和社会发展总体规划"]


def test_csv_neutralises_formulas(client):
    unit = create_unit(client)
    data = seed("001")
    data["answers"]["3.3.1"]["reason"] = "=1+2 扣分"
    put_submission(client, unit["id"], 2023, data)
    body = assess(client, unit["id"], 2023, "shenzhen-yantian@2023").json()
    rows = _rows(client.get(f"/v1/assessments/{body['id']}/report.csv").content)
    row = next(r for r in rows if r[1] == "3.3.1")
    assert row[-1] == "'=1+2 扣分"
