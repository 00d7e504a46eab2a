#!/bin/sh
# compose.yaml's sync run: ask the mock (on loopback, so its control API answers) for the default district's
# client with the custom endpoints, then sync into $DATA with the demo's settings and write the HTML report.
set -eu
MOCK="${MOCK_ESD_ROOT:-http://127.0.0.1:8080}"
DATA="${DATA:-/data}"
SETTINGS="${SETTINGS:-/config/settings.toml}"

credentials=$(python3 - "$MOCK/_mock/tenants" <<'PY'
import json
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=30) as answer:
    tenants = json.load(answer)
(client,) = [c for t in tenants if t["tenant"] == "default" for c in t["clients"] if c["customEndpoints"]]
print(client["clientId"], client["clientSecret"])
PY
)
client_id=${credentials% *}
client_secret=${credentials#* }

exec mock-esd sync --url "$MOCK/api" --client-id "$client_id" --client-secret "$client_secret" \
    --settings "$SETTINGS" --db "$DATA/operoo.db" --report "$DATA/operoo.report.html"
