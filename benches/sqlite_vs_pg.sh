#!/usr/bin/env bash
# The nested page on SQLite against the same page on PostgreSQL, on two data shapes that
# `tally seed` makes with the same random seed (so both backends hold the same rows):
#   wide: 20 campaigns × 100 members, 1,000 creators (the issue's shape, vs_postgraphile's)
#   one:  1 campaign × 50 members, 50 creators (the export benchmark's shape)
# The 100 newest orders of the first campaign with creator, campaign and conversion (and
# the conversion's earned commission, which reads the order), every answer checked by
# wrk. Per shape, both servers run A, B, A, B, A, B at one connection, then at 32; the
# medians and SQLite's ratio to PostgreSQL are printed.
#
#   benches/sqlite_vs_pg.sh [orders=1000000]
# env: REUSE=1 keeps databases seeded by an earlier run; DUR=8s; SHAPES="wide one"
set -euo pipefail
orders=${1:-1000000}
root=$(cd "$(dirname "$0")/.." && pwd)
data=${TALLY_BENCH_DIR:-/tmp/tally-sqlite-vs-pg}
mkdir -p "$data"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
command -v wrk > /dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
(cd "$root" && cargo build --release --bin tally -q)
tally=$root/target/release/tally

echo "# $(date -u +%F), $(nproc) cores, $orders orders; wrk runs of ${DUR:-8s}, interleaved"
for shape in ${SHAPES:-wide one}; do
  db=tally_sqlite_vs_pg_$shape
  pg="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
  lite="sqlite://$data/$shape.db"
  REUSE=${REUSE:-0} "$root/benches/seed.sh" "$shape" "$orders"
  read -r pg_key lite_key < "$data/$shape.keys"
  DATABASE_URL=$pg RUST_LOG=warn "$tally" serve --addr 127.0.0.1:18501 --rate-limit 0 > "$work/pg.log" 2>&1 &
  pg_pid=$!
  DATABASE_URL=$lite RUST_LOG=warn "$tally" serve --addr 127.0.0.1:18502 --rate-limit 0 > "$work/lite.log" 2>&1 &
  lite_pid=$!
  for port in 18501 18502; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
  done
  # Both seeds number rows alike: campaign 1's page is the same on both.
  python3 - "$work/page.json" <<'PY'
import json, sys
query = ('query($c: ID!) { campaign(id: $c) { orders(first: 100) { edges { node { id externalId amount status '
         'orderedAt creator { name handle } campaign { name } conversion { id approval commission earnedCommission } } } } } }')
json.dump({"query": query, "variables": {"c": "Q2FtcGFpZ246MQ"}}, open(sys.argv[1], "w"))
PY
  expect=$(psql -h 127.0.0.1 -U postgres -Atc "SELECT external_id FROM orders WHERE campaign_id = 1 \
    ORDER BY ordered_at DESC, id DESC OFFSET 99 LIMIT 1" "$db")
  run() { # port key connections seconds
    wrk -t"$(( $3 > 1 ? 2 : 1 ))" -c"$3" -d"$4" -s "$root/benches/page.lua" "http://127.0.0.1:$1/graphql" \
      -- "$work/page.json" "$2" "\"$expect\"" | grep RESULT
  }
  for conns in 1 32; do
    run 18501 "$pg_key" "$conns" 3s > /dev/null; run 18502 "$lite_key" "$conns" 3s > /dev/null
    for round in 1 2 3; do
      echo "postgres $shape c=$conns $(run 18501 "$pg_key" "$conns" "${DUR:-8s}")"
      echo "sqlite $shape c=$conns $(run 18502 "$lite_key" "$conns" "${DUR:-8s}")"
    done
  done | tee -a "$work/runs"
  kill "$pg_pid" "$lite_pid"
  wait "$pg_pid" "$lite_pid" 2> /dev/null || true
done
python3 - "$work/runs" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) (\S+) c=(\d+) RESULT req/s=([\d.]+) p50=([\d.]+)ms p99=([\d.]+)ms failed=(\d+)", line)
    if m:
        system, shape, c = m.group(1), m.group(2), int(m.group(3))
        runs.setdefault((shape, c, system), []).append(tuple(float(x) for x in m.group(4, 5, 6, 7)))
print("| shape | connections | PostgreSQL req/s (p50, p99) | SQLite req/s (p50, p99) | SQLite p50 / PostgreSQL p50 | failed |")
print("|---|---|---|---|---|---|")
for shape, c in sorted({(k[0], k[1]) for k in runs}):
    med = {s: [statistics.median(col) for col in zip(*runs[(shape, c, s)])] for s in ("postgres", "sqlite")}
    pg, lite = med["postgres"], med["sqlite"]
    print(f"| {shape} | {c} | {pg[0]:.0f} ({pg[1]:.2f}, {pg[2]:.1f} ms) | {lite[0]:.0f} ({lite[1]:.2f}, {lite[2]:.1f} ms) "
          f"| {lite[1] / pg[1]:.2f}x | {int(pg[3] + lite[3])} |")
PY
