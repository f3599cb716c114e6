#!/usr/bin/env bash
# An integrator's first hour, runnable: create a unit, put seed 001's facts and answers, score it
# (93.97 优), read the breakdown and download the 评分表. Run it against `make serve`:
#
#     bash docs/quickstart.sh                      # http://127.0.0.1:8000, a new key from the shell
#     JIXIAO_URL=http://host:8000 KEY=jx_… bash docs/quickstart.sh
#
# It needs curl and python3 (for reading JSON; use jq if you have it). CI runs it against a served
# instance (tests/api/test_quickstart.py) and expects the line "93.97 优".
set -euo pipefail
cd "$(dirname "$0")/.."

URL=${JIXIAO_URL:-http://127.0.0.1:8000}
# The first admin key of a tenant is made from the shell; later keys through POST /v1/keys.
KEY=${KEY:-$(.venv/bin/jixiao keys create --tenant quickstart --scopes read,submit,assess,admin)}
H="Authorization: Bearer $KEY"
JSON="Content-Type: application/json"
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# 1. A unit (code unique within the tenant; the 预算单位 of the platform's ledger).
CODE="YGZX-$(date +%s%N)"
UNIT=$(curl -sf -XPOST "$URL/v1/units" -H "$H" -H "$JSON" \
  -d '{"code":"'"$CODE"'","name":"深圳市盐港中学","kind":"school","region":"广东省深圳市盐田区"}' | field id)
echo "unit $UNIT"

# 2. Its submission for 2023: facts (amounts in 万元 as strings, percentages as "97.67%" strings,
#    counts as strings or integers, yes/no as booleans), the evaluator's answers, overrides.
#    GET /v1/rulesets/shenzhen-yantian/2023 shows what the ruleset reads.
curl -sf -XPUT "$URL/v1/units/$UNIT/submissions/2023" -H "$H" -H "$JSON" \
  --data-binary @docs/examples/seed-001-submission.json -o /dev/null -w "submission: HTTP %{http_code}\n"

# 3. Score and store it (a retry with the same Idempotency-Key answers the same assessment).
ASSESSMENT=$(curl -sf -XPOST "$URL/v1/assessments" -H "$H" -H "$JSON" -H "Idempotency-Key: quickstart-$CODE" \
  -d '{"unit_id":"'"$UNIT"'","fiscal_year":2023,"ruleset":"shenzhen-yantian","kind":"self","evaluator":"本单位"}')
ID=$(echo "$ASSESSMENT" | field id)
echo "assessment $ID: $(echo "$ASSESSMENT" | field status)"
echo "$(echo "$ASSESSMENT" | field total) $(echo "$ASSESSMENT" | field grade)"

# 4. Where points were lost (扣分事由), one row per indicator.
curl -sf "$URL/v1/assessments/$ID/breakdown?view=flat&lost_points=true" -H "$H" | python3 -c '
import json, sys
for item in json.load(sys.stdin)["items"]:
    reasons = "；".join(d["reason"] for d in item.get("deductions") or [])
    print("  %-8s %s: %s / %s  %s" % (item["code"], item["name"], item["score"], item["points"], reasons))'

# 5. The 评分表 as the seeds print it.
curl -sf "$URL/v1/assessments/$ID/report.xlsx" -H "$H" -o "${OUT:-评分表.xlsx}"
echo "saved ${OUT:-评分表.xlsx}"
