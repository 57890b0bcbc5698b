#!/usr/bin/env bash
# A/B of two `tally` binaries on the nested page (the 100 newest orders of a campaign with
# creator, campaign and conversion), each on its own PostgreSQL database filled through
# its own API with the same data: 1 campaign, 100 members, N orders (default 20000) by the
# signed webhook. wrk -t2 -c32, 10 s per run, A B A B A B after a warm-up of each; prints
# each run and the median of each binary. Then both download the brand's sales CSV five
# times per round, A B A B A B, and the median rows/s is printed.
#
#   benches/ab_page.sh OLD_TALLY NEW_TALLY [orders]
# Each binary is started with OLD_ARGS / NEW_ARGS (default for both: --rate-limit 0, as one
# key at 32 connections is a load test; set OLD_ARGS= for a binary older than that flag).
set -euo pipefail
old=$1 new=$2 orders=${3:-20000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

start() { # name binary port extra-args...
  local name=$1 bin=$2 port=$3; shift 3
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS tally_ab_$name" -c "CREATE DATABASE tally_ab_$name" postgres
  local url=postgres://postgres@127.0.0.1:5432/tally_ab_$name
  DATABASE_URL=$url "$bin" brand create --name "AB $name" --store-url https://shop.example.com > "$work/$name.json"
  DATABASE_URL=$url RUST_LOG=warn "$bin" serve --addr 127.0.0.1:$port "$@" > "$work/$name.log" 2>&1 &
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
  python3 - "$work/$name.json" "$port" "$orders" "$work/$name.body" <<'PY'
import hashlib, hmac, json, sys, urllib.request, concurrent.futures
brand = json.load(open(sys.argv[1])); port, orders, out = sys.argv[2], int(sys.argv[3]), sys.argv[4]
base = f"http://127.0.0.1:{port}"
def gql(q, v=None):
    r = urllib.request.Request(base + "/graphql", json.dumps({"query": q, "variables": v or {}}).encode(),
        {"Authorization": "Bearer " + brand["apiKey"], "Content-Type": "application/json"})
    d = json.load(urllib.request.urlopen(r)); assert "errors" not in d, d; return d["data"]
campaign = gql('mutation { createCampaign(input: {name: "Spring", defaultCommissionRate: "10"}) { id } }')["createCampaign"]["id"]
for i in range(100):
    c = gql('mutation($n: String!) { createCreator(input: {name: $n, handle: "@c"}) { id } }', {"n": f"Creator {i}"})["createCreator"]["id"]
    gql('mutation($i: AddCreatorToCampaignInput!) { addCreatorToCampaign(input: $i) { id } }',
        {"i": {"campaignId": campaign, "creatorId": c, "couponCode": f"C{i}"}})
def send(n):
    body = json.dumps({"externalId": str(n), "amount": f"{10 + n % 90}.50", "currency": "USD", "status": "PAID",
        "occurredAt": f"2026-0{1 + n % 9}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z", "couponCode": f"C{n % 100}"}).encode()
    sig = hmac.new(brand["webhookSecret"].encode(), body, hashlib.sha256).hexdigest()
    r = urllib.request.Request(f"{base}/webhooks/{brand['brandId']}/orders", body,
        {"Content-Type": "application/json", "X-Tally-Signature": "sha256=" + sig})
    urllib.request.urlopen(r).read()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(send, range(orders)))
query = ('query($c: ID!) { campaign(id: $c) { orders(first: 100) { edges { node { id externalId amount status orderedAt '
         'creator { name handle } campaign { name } conversion { id approval commission earnedCommission } } } } } }')
json.dump({"query": query, "variables": {"c": campaign}}, open(out, "w"))
PY
  psql -h 127.0.0.1 -U postgres -qc "ANALYZE" "tally_ab_$name"
}

# shellcheck disable=SC2086
start old "$old" 18101 ${OLD_ARGS---rate-limit 0}
# shellcheck disable=SC2086
start new "$new" 18102 ${NEW_ARGS---rate-limit 0}
key() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['apiKey'])" "$work/$1.json"; }
run() { # name port seconds
  wrk -t2 -c32 -d"$3" --latency -s "$here/page.lua" "http://127.0.0.1:$2/graphql" -- "$work/$1.body" "$(key "$1")" | grep RESULT
}
run old 18101 5s > /dev/null; run new 18102 5s > /dev/null
for round in 1 2 3; do
  echo "old $round $(run old 18101 10s)"; echo "new $round $(run new 18102 10s)"
done | tee "$work/runs"
for name in old new; do
  grep "^$name " "$work/runs" | sed 's/.*req\/s=\([0-9.]*\) p50=\([0-9.]*\)ms p99=\([0-9.]*\)ms.*/\1 \2 \3/' | sort -n |
    awk -v n="$name" 'NR == 2 { printf "%s median of 3: %s req/s, p50 %s ms, p99 %s ms\n", n, $1, $2, $3 }'
done
export_rate() { # port name: rows/s over five downloads of the brand's sales CSV
  local total
  total=$(for _ in 1 2 3 4 5; do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $(key "$2")" "http://127.0.0.1:$1/exports/sales.csv"
  done | awk '{ t += $1 } END { print t }')
  awk -v t="$total" -v n="$orders" 'BEGIN { printf "%.0f", 5 * n / t }'
}
for round in 1 2 3; do
  echo "old $round export $(export_rate 18101 old) rows/s"; echo "new $round export $(export_rate 18102 new) rows/s"
done | tee "$work/exports"
for name in old new; do
  grep "^$name " "$work/exports" | awk '{ print $4 }' | sort -n |
    awk -v n="$name" 'NR == 2 { printf "%s export median of 3: %s rows/s\n", n, $1 }'
done
