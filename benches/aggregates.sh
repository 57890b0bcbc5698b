#!/usr/bin/env bash
# The aggregates the aggregates issue sets bars for, on both backends: the dashboard, a
# campaign's Performance table (all time, and a one-month range that starts and ends
# mid-day), a creator's totalCommission and the unfiltered orders totalCount. Each at one
# connection (p50) and at 8 (req/s), PostgreSQL and SQLite interleaved, three runs of DUR
# each; medians printed as a table. Every answer is checked (200, no "errors").
#
# It reads the databases benches/seed.sh makes, and seeds them when they are missing: the
# `wide` shape (1,000,000 orders, 20 campaigns × 100 members, 1,000 creators, the same rows
# on both backends), or with SHAPE=wide10m the same with 10,000,000 orders.
#
#   benches/aggregates.sh
# env: DUR=5s, QUERIES="dashboard performance performance_month total_commission total_count",
#      SHAPE=wide
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${TALLY_BENCH_DIR:-/tmp/tally-sqlite-vs-pg}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
shape=${SHAPE:-wide}
REUSE=1 "$root/benches/seed.sh" "$shape"
(cd "$root" && cargo build --release --bin tally -q)
tally=$root/target/release/tally
read -r pg_key lite_key < "$data/$shape.keys"

DATABASE_URL="postgres://postgres@127.0.0.1:5432/tally_sqlite_vs_pg_$shape?sslmode=disable" RUST_LOG=warn \
  "$tally" serve --addr 127.0.0.1:18601 --rate-limit 0 > "$work/pg.log" 2>&1 &
DATABASE_URL="sqlite://$data/$shape.db" RUST_LOG=warn "$tally" serve --addr 127.0.0.1:18602 --rate-limit 0 \
  > "$work/lite.log" 2>&1 &
for port in 18601 18602; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
done

# Both seeds number rows alike: campaign 1 and creator 1 are the same on both.
python3 - "$work" <<'PY'
import json, sys
month = '{from: "2026-06-10T09:30:00Z", to: "2026-07-10T09:30:00Z"}'
queries = {
    "dashboard": "{ dashboard { totalSales orders commission byCampaign { campaign { name } sales orders } } }",
    "performance": 'query($c: ID!) { campaign(id: $c) { performance { totals { sales orders commission } '
                   'rows { creator { name } sales orders commission } } } }',
    "performance_month": 'query($c: ID!) { campaign(id: $c) { performance(range: %s) { totals { sales orders '
                         'commission } rows { creator { name } sales orders commission } } } }' % month,
    "total_commission": 'query($k: ID!) { node(id: $k) { ... on Creator { totalCommission } } }',
    "total_count": "{ orders(first: 1) { totalCount } }",
}
for name, query in queries.items():
    variables = {k: v for k, v in {"c": "Q2FtcGFpZ246MQ", "k": "Q3JlYXRvcjox"}.items() if f"${k}:" in query}
    json.dump({"query": query, "variables": variables}, open(f"{sys.argv[1]}/{name}.json", "w"))
PY

run() { # port key query connections seconds
  wrk -t"$(( $4 > 1 ? 2 : 1 ))" -c"$4" -d"$5" -s "$root/benches/page.lua" "http://127.0.0.1:$1/graphql" \
    -- "$work/$3.json" "$2" | grep RESULT
}
echo "# $(date -u +%F), $(nproc) cores, $shape shape; wrk runs of ${DUR:-5s}, interleaved"
for query in ${QUERIES:-dashboard performance performance_month total_commission total_count}; do
  for conns in 1 8; do
    run 18601 "$pg_key" "$query" "$conns" 2s > /dev/null; run 18602 "$lite_key" "$query" "$conns" 2s > /dev/null
    for round in 1 2 3; do
      echo "postgres $query c=$conns $(run 18601 "$pg_key" "$query" "$conns" "${DUR:-5s}")"
      echo "sqlite $query c=$conns $(run 18602 "$lite_key" "$query" "$conns" "${DUR:-5s}")"
    done
  done
done | tee "$work/runs"
python3 - "$work/runs" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) (\S+) c=(\d+) RESULT req/s=([\d.]+) p50=([\d.]+)ms p99=([\d.]+)ms failed=(\d+)", line)
    if m:
        runs.setdefault((m.group(2), int(m.group(3)), m.group(1)), []).append(
            tuple(float(x) for x in m.group(4, 5, 6, 7)))
queries = list(dict.fromkeys(k[0] for k in runs))
print("| query | PostgreSQL p50 at 1 | PostgreSQL req/s at 8 | SQLite p50 at 1 | SQLite req/s at 8 | failed |")
print("|---|---|---|---|---|---|")
for q in queries:
    med = {(c, s): [statistics.median(col) for col in zip(*runs[(q, c, s)])]
           for c in (1, 8) for s in ("postgres", "sqlite")}
    failed = int(sum(v[3] for v in med.values()))
    print(f"| {q} | {med[(1, 'postgres')][1]:.2f} ms | {med[(8, 'postgres')][0]:.0f} | "
          f"{med[(1, 'sqlite')][1]:.2f} ms | {med[(8, 'sqlite')][0]:.0f} | {failed} |")
PY
