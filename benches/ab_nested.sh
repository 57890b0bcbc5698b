#!/usr/bin/env bash
# A/B of two `tally` binaries on the nested page of a database filled by `tally seed`
# (see vs_postgraphile.sh): both served at once, then A, B, A, B, A, B with wrk, every
# answer checked. How each step in BENCHMARKS.md ("Faster than PostGraphile") was measured.
#
#   benches/ab_nested.sh A_TALLY B_TALLY [connections=32] [seconds=8s]
# env: DB (a seeded database, default tally_vs_postgraphile)
set -euo pipefail
a=$1 b=$2 conns=${3:-32} dur=${4:-8s}
root=$(cd "$(dirname "$0")/.." && pwd)
db=${DB:-tally_vs_postgraphile}
export DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
brand=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT min(id) FROM brands" "$db")
campaign=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT min(id) FROM campaigns WHERE brand_id = $brand" "$db")
brand_id=$(python3 -c "import base64,sys; print(base64.urlsafe_b64encode(f'Brand:{sys.argv[1]}'.encode()).decode().rstrip('='))" "$brand")
key=$("$b" key create --brand-id "$brand_id" --name "ab $$" | python3 -c "import json,sys; print(json.load(sys.stdin)['apiKey'])")
python3 - "$work/page.json" "$campaign" <<'PY'
import base64, json, sys
cid = base64.urlsafe_b64encode(f"Campaign:{sys.argv[2]}".encode()).decode().rstrip("=")
query = ('query($c: ID!) { campaign(id: $c) { orders(first: 100) { edges { node { id externalId amount status '
         'orderedAt creator { name handle } campaign { name } conversion { id approval commission earnedCommission } } } } } }')
json.dump({"query": query, "variables": {"c": cid}}, open(sys.argv[1], "w"))
PY
RUST_LOG=warn "$a" serve --addr 127.0.0.1:18301 --rate-limit 0 > "$work/a.log" 2>&1 &
RUST_LOG=warn "$b" serve --addr 127.0.0.1:18302 --rate-limit 0 > "$work/b.log" 2>&1 &
for port in 18301 18302; do
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
done
threads=$(( conns > 1 ? 2 : 1 ))
run() { wrk -t"$threads" -c"$conns" -d"$2" -s "$root/benches/page.lua" "http://127.0.0.1:$1/graphql" -- "$work/page.json" "$key" | grep RESULT; }
run 18301 3s > /dev/null; run 18302 3s > /dev/null
for round in 1 2 3; do echo "A $(run 18301 "$dur")"; echo "B $(run 18302 "$dur")"; done | tee "$work/runs"
for side in A B; do
  grep "^$side " "$work/runs" | sed 's/.*req\/s=\([0-9.]*\) p50=\([0-9.]*\)ms p99=\([0-9.]*\)ms.*/\1 \2 \3/' | sort -n |
    awk -v s="$side" 'NR == 2 { printf "%s median of 3: %s req/s, p50 %s ms, p99 %s ms\n", s, $1, $2, $3 }'
done
