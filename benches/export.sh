#!/usr/bin/env bash
# The CSV export at the aggregates issue's shape: `GET /exports/sales.csv` of the whole
# brand (1,000,000 orders seeded by `tally seed`, so in random arrival order) on both
# backends, downloaded by curl, PostgreSQL and SQLite interleaved, three runs each; rows/s
# and the server's memory (peak resident set, and its anonymous part: SQLite's file pages
# are the operating system's cache) after each. Every download must hold every row.
#
# It reads the databases benches/seed.sh makes (SHAPE, `wide` by default), and seeds them
# when they are missing.
#
#   benches/export.sh
# env: TALLY_BIN=path/to/tally (another build, for an A/B), SHAPE=wide, RUNS=3
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${TALLY_BENCH_DIR:-/tmp/tally-sqlite-vs-pg}
shape=${SHAPE:-wide}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
REUSE=1 "$root/benches/seed.sh" "$shape"
if [ -z "${TALLY_BIN:-}" ]; then (cd "$root" && cargo build --release --bin tally -q); fi
tally=${TALLY_BIN:-$root/target/release/tally}
read -r pg_key lite_key < "$data/$shape.keys"

DATABASE_URL="postgres://postgres@127.0.0.1:5432/tally_sqlite_vs_pg_$shape?sslmode=disable" RUST_LOG=warn \
  "$tally" serve --addr 127.0.0.1:18701 --rate-limit 0 > "$work/pg.log" 2>&1 &
pg_pid=$!
DATABASE_URL="sqlite://$data/$shape.db" RUST_LOG=warn "$tally" serve --addr 127.0.0.1:18702 --rate-limit 0 \
  > "$work/lite.log" 2>&1 &
lite_pid=$!
for port in 18701 18702; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
done

memory() { # pid: peak RSS and anonymous RSS, MiB
  awk '/^VmHWM:/ { h = $2 } /^RssAnon:/ { a = $2 } END { printf "%.0f %.0f", h / 1024, a / 1024 }' "/proc/$1/status"
}

echo "# $(date -u +%F), $(nproc) cores, $shape shape, $tally"
for run in $(seq "${RUNS:-3}"); do
  for backend in postgres sqlite; do
    if [ $backend = postgres ]; then port=18701 key=$pg_key pid=$pg_pid; else port=18702 key=$lite_key pid=$lite_pid; fi
    seconds=$(curl -sf -o "$work/out.csv" -w '%{time_total}' -H "Authorization: Bearer $key" \
      "http://127.0.0.1:$port/exports/sales.csv")
    rows=$(($(wc -l < "$work/out.csv") - 1))
    read -r peak anon <<< "$(memory $pid)"
    echo "$backend RESULT rows=$rows seconds=$seconds rows/s=$(python3 -c "print(round($rows / $seconds))") peak_rss_mib=$peak anon_rss_mib=$anon"
  done
done | tee "$work/runs"
python3 - "$work/runs" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) RESULT rows=(\d+) seconds=([\d.]+) rows/s=(\d+) peak_rss_mib=(\d+) anon_rss_mib=(\d+)", line)
    if m:
        runs.setdefault(m.group(1), []).append([float(x) for x in m.group(2, 3, 4, 5, 6)])
print("| backend | rows | seconds (median) | rows/s (median, runs) | peak RSS | anon RSS |")
print("|---|---|---|---|---|---|")
for backend, rs in runs.items():
    rates = ", ".join(f"{r[2]:,.0f}" for r in rs)
    print(f"| {backend} | {rs[0][0]:,.0f} | {statistics.median(r[1] for r in rs):.2f} | "
          f"{statistics.median(r[2] for r in rs):,.0f} ({rates}) | {max(r[3] for r in rs):.0f} MiB | "
          f"{max(r[4] for r in rs):.0f} MiB |")
PY
