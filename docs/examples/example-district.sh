#!/usr/bin/env bash
# The last steps of docs/rulesets.md ("Writing your own framework"), runnable against `make serve`:
# check the example ruleset against its own cases offline, validate and register it, then score
# the unit of its first case with it (81 良).
#
#     bash docs/examples/example-district.sh
#     JIXIAO_URL=http://host:8000 KEY=jx_… bash docs/examples/example-district.sh
#
# Registering needs an `admin` key. tests/engine/test_ruleset_guide.py runs it against a served instance.
set -euo pipefail
cd "$(dirname "$0")/../.."

URL=${JIXIAO_URL:-http://127.0.0.1:8000}
KEY=${KEY:-$(.venv/bin/jixiao keys create --tenant example-district --scopes read,submit,assess,admin)}
FILE=${FILE:-docs/examples/example-district-2024.yaml}
H="Authorization: Bearer $KEY"
JSON="Content-Type: application/json"
field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# 1. Its own cases, offline (no server, no database): exit status 1 if one fails.
.venv/bin/jixiao rulesets test "$FILE"

# 2. The API takes the file's text as {"content": "..."}.
BODY=$(python3 -c 'import json, sys; print(json.dumps({"content": open(sys.argv[1], encoding="utf-8").read()}))' "$FILE")
curl -sf -XPOST "$URL/v1/rulesets:validate" -H "$H" -H "$JSON" -d "$BODY" | python3 -c '
import json, sys
report = json.load(sys.stdin)
print("valid:", report["valid"], report["ref"] or "")
for e in report["errors"]:
    print("  ", e["pointer"], e["message"])'

# 3. Register it: 201 the first time, 200 for the same content again; 422 (with the failing
#    case's pointer) if a case fails.
curl -sf -XPOST "$URL/v1/rulesets" -H "$H" -H "$JSON" -d "$BODY" -o /dev/null -w "registered: HTTP %{http_code}\n"

# 4. Use it: a unit, its 2024 submission (the first case's facts and answers), an assessment.
CODE="EXAMPLE-$(date +%s%N)"
UNIT=$(curl -sf -XPOST "$URL/v1/units" -H "$H" -H "$JSON" \
  -d '{"code":"'"$CODE"'","name":"示例区教育局","kind":"department","region":"示例省示例市示例区"}' | field id)
curl -sf -XPUT "$URL/v1/units/$UNIT/submissions/2024" -H "$H" -H "$JSON" \
  --data-binary @docs/examples/example-district-submission.json -o /dev/null -w "submission: HTTP %{http_code}\n"
ASSESSMENT=$(curl -sf -XPOST "$URL/v1/assessments" -H "$H" -H "$JSON" -H "Idempotency-Key: example-$CODE" \
  -d '{"unit_id":"'"$UNIT"'","fiscal_year":2024,"ruleset":"example-district","kind":"self","evaluator":"本单位"}')
echo "$(echo "$ASSESSMENT" | field total) $(echo "$ASSESSMENT" | field grade)"
