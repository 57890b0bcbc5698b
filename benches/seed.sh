#!/usr/bin/env bash
# Seeds one benchmark shape with `tally seed` on both backends, from the same random seed
# (so PostgreSQL and SQLite hold the same rows, numbered alike), unless REUSE=1 and it is
# already there. The shapes:
#   wide:    1,000,000 orders, 20 campaigns × 100 members, 1,000 creators (the aggregates
#            and speed issues' shape)
#   wide10m: the same with 10,000,000 orders (40 minutes for both, beside a
#            CI run: PostgreSQL 23, SQLite 17)
#   one:     1,000,000 orders, 1 campaign × 50 members, 50 creators
# It writes PostgreSQL database tally_sqlite_vs_pg_<shape>, $TALLY_BENCH_DIR/<shape>.db and
# <shape>.keys beside it (the two API keys: PostgreSQL's, then SQLite's).
#
#   benches/seed.sh SHAPE [ORDERS]
# env: TALLY_BENCH_DIR=/tmp/tally-sqlite-vs-pg, REUSE=0
set -euo pipefail
shape=$1
root=$(cd "$(dirname "$0")/.." && pwd)
data=${TALLY_BENCH_DIR:-/tmp/tally-sqlite-vs-pg}
case $shape in
  wide) orders=1000000 args="--campaigns 20 --members 100 --creators 1000" ;;
  wide10m) orders=10000000 args="--campaigns 20 --members 100 --creators 1000" ;;
  one) orders=1000000 args="--campaigns 1 --members 50 --creators 50" ;;
  *) echo "unknown shape $shape (wide, wide10m, one)" >&2; exit 1 ;;
esac
orders=${2:-$orders}
if [ "${REUSE:-0}" = 1 ] && [ -f "$data/$shape.db" ] && [ -f "$data/$shape.keys" ]; then exit 0; fi
mkdir -p "$data"
(cd "$root" && cargo build --release --bin tally -q)
tally=$root/target/release/tally
db=tally_sqlite_vs_pg_$shape
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" postgres
rm -f "$data/$shape".*
key() { python3 -c "import json,sys; print(json.load(sys.stdin)['apiKey'])"; }
# shellcheck disable=SC2086
pg_key=$(DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable" \
  "$tally" seed --orders "$orders" $args 2> /dev/null | key)
# shellcheck disable=SC2086
lite_key=$(DATABASE_URL="sqlite://$data/$shape.db?mode=rwc" "$tally" seed --orders "$orders" $args 2> /dev/null | key)
echo "$pg_key $lite_key" > "$data/$shape.keys"
