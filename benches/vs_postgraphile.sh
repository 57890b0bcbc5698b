#!/usr/bin/env bash
# Tally against PostGraphile 5 on one PostgreSQL database filled by `tally seed` (default
# 1,000,000 orders, 20 campaigns × 100 members, 1,000 creators): the 100 newest orders of
# one campaign with creator, campaign and conversion, through each server's own schema.
# wrk checks every answer (200, no "errors", the 100th order present). At each
# concurrency (CONNS, default "32 1") both are warmed up, then run A, B, A, B, A, B for DUR
# each; the medians and Tally's ratio are printed.
# Then Tally alone on `campaigns(first: 20)` with members and totals, at one connection.
#
#   benches/vs_postgraphile.sh [orders]
# env: DB (database name, default tally_vs_postgraphile; REUSE=1 keeps a seeded one),
#      CONNS="32 1", DUR=10s, ROUNDS=3, TALLY_ARGS (default --rate-limit 0)
# PostGraphile 5.1.5 and Node 22 come from the npm registry into benches/peers (once).
set -euo pipefail
orders=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
peers=$root/benches/peers
db=${DB:-tally_vs_postgraphile}
# Without TLS, as PostGraphile connects by default: both pay the same for the database.
url=postgres://postgres@127.0.0.1:5432/$db?sslmode=disable
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

[ -x "$peers/node_modules/.bin/node" ] && [ -d "$peers/node_modules/postgraphile" ] ||
  npm install --prefix "$peers" --no-audit --no-fund > /dev/null
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
(cd "$root" && cargo build --release --bin tally -q)
tally=$root/target/release/tally

if [ "${REUSE:-0}" != 1 ] || ! psql -h 127.0.0.1 -U postgres -lqt | cut -d'|' -f1 | grep -qw "$db"; then
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" postgres
  DATABASE_URL=$url "$tally" seed --orders "$orders" > /dev/null
fi
# A key of its own for this run, on the seeded brand.
brand=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT min(id) FROM brands" "$db")
campaign=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT min(id) FROM campaigns WHERE brand_id = $brand" "$db")
brand_id=$(python3 -c "import base64,sys; print(base64.urlsafe_b64encode(f'Brand:{sys.argv[1]}'.encode()).decode().rstrip('='))" "$brand")
key=$(DATABASE_URL=$url "$tally" key create --brand-id "$brand_id" --name "bench $$" |
  python3 -c "import json,sys; print(json.load(sys.stdin)['apiKey'])")

# shellcheck disable=SC2086
DATABASE_URL=$url RUST_LOG=warn "$tally" serve --addr 127.0.0.1:18201 ${TALLY_ARGS---rate-limit 0} > "$work/tally.log" 2>&1 &
GRAPHILE_ENV=production "$peers/node_modules/.bin/node" "$peers/node_modules/postgraphile/dist/cli-run.js" \
  -P postgraphile/presets/amber -c "$url" -s public -n 127.0.0.1 -p 18202 > "$work/postgraphile.log" 2>&1 &
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:18201/health > /dev/null && grep -q 'Server listening' "$work/postgraphile.log" && break
  sleep 0.2
done

python3 - "$work" "$campaign" <<'PY'
import base64, json, sys
work, campaign = sys.argv[1], sys.argv[2]
cid = base64.urlsafe_b64encode(f"Campaign:{campaign}".encode()).decode().rstrip("=")
tally = ('query($c: ID!) { campaign(id: $c) { orders(first: 100) { edges { node { id externalId amount status '
         'orderedAt creator { name handle } campaign { name } conversion { id approval commission } } } } } }')
graphile = ('query($c: BigInt!) { campaignByRowId(rowId: $c) { ordersByCampaignId(first: 100, '
            'orderBy: [ORDERED_AT_DESC, ROW_ID_DESC]) { edges { node { id externalId amount status orderedAt '
            'creatorByCreatorId { name handle } campaignByCampaignId { name } conversionByOrderId { id approval '
            'commission } } } } } }')
json.dump({"query": tally, "variables": {"c": cid}}, open(f"{work}/tally.json", "w"))
json.dump({"query": graphile, "variables": {"c": campaign}}, open(f"{work}/postgraphile.json", "w"))
PY
# The 100th order of the page, which both must return.
expect=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT external_id FROM orders WHERE campaign_id = $campaign \
  ORDER BY ordered_at DESC, id DESC OFFSET 99 LIMIT 1" "$db")

run() { # system connections seconds
  local port=18201 auth=$key
  [ "$1" = postgraphile ] && port=18202 auth=-
  wrk -t"$(( $2 > 1 ? 2 : 1 ))" -c"$2" -d"$3" --latency -s "$root/benches/page.lua" \
    "http://127.0.0.1:$port/graphql" -- "$work/$1.json" "$auth" "\"$expect\"" | grep RESULT
}
echo "# $(date -u +%F), $(nproc) cores, $orders orders; wrk runs of ${DUR:-10s}, interleaved"
for conns in ${CONNS:-32 1}; do
  run tally "$conns" 5s > /dev/null; run postgraphile "$conns" 5s > /dev/null
  for round in $(seq "${ROUNDS:-3}"); do
    for system in tally postgraphile; do echo "$system c=$conns $(run "$system" "$conns" "${DUR:-10s}")"; done
  done
done | tee "$work/runs"
python3 - "$work/runs" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) c=(\d+) RESULT req/s=([\d.]+) p50=([\d.]+)ms p99=([\d.]+)ms failed=(\d+)", line)
    if m:
        runs.setdefault((m[2], m[1]), []).append(tuple(float(x) for x in m.groups()[2:]))
print(f"{'connections':<12}{'system':<14}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}")
for (conns, system), rs in sorted(runs.items(), key=lambda kv: (-int(kv[0][0]), kv[0][1] != "tally")):
    med = [statistics.median(r[i] for r in rs) for i in range(3)]
    print(f"{conns:<12}{system:<14}{med[0]:>9.0f}{med[1]:>9.2f}{med[2]:>9.2f}{int(sum(r[3] for r in rs)):>8}")
for conns in sorted({c for c, _ in runs}, key=int, reverse=True):
    t = statistics.median(r[0] for r in runs[(conns, "tally")])
    p = statistics.median(r[0] for r in runs[(conns, "postgraphile")])
    print(f"c={conns}: Tally / PostGraphile req/s = {t / p:.2f}")
PY

# Tally alone: a list of campaigns with their members and Performance totals (the issue's
# third target, at one connection), three runs, the median.
python3 - "$work/campaigns.json" <<'PY'
import json, sys
query = '{ campaigns(first: 20) { edges { node { members { creator { name } } performance { totals { sales } } } } } }'
json.dump({"query": query}, open(sys.argv[1], "w"))
PY
for round in 1 2 3; do
  wrk -t1 -c1 -d"${DUR:-10s}" --latency -s "$root/benches/page.lua" "http://127.0.0.1:18201/graphql" \
    -- "$work/campaigns.json" "$key" '"sales"' | grep RESULT
done | sed 's/.*p50=\([0-9.]*\)ms.*failed=\([0-9]*\)/\1 \2/' | sort -n |
  awk 'NR == 2 { printf "campaigns(first: 20) with members and totals, c=1: p50 %s ms (median of 3), failed %s\n", $1, $2 }'
