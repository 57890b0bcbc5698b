#!/usr/bin/env bash
# Why no write transaction sends a NOTIFY: PostgreSQL takes one database-wide lock at the
# commit of every transaction that notified, so such commits queue one behind another
# and no longer share their log flushes. pgbench, on a scratch database, commits a small
# transaction (one insert into an outbox-like table) at 1, 8 and 64 concurrent clients,
# with and without `SELECT pg_notify('tally_events', '')` inside (as every write
# transaction of the first version did), interleaved, three runs of DUR each; the medians
# printed as a table. synchronous_commit stays on.
#
#   benches/notify_commits.sh
# env: DUR=5, CLIENTS="1 8 64"
set -euo pipefail
work=$(mktemp -d)
db=tally_notify_commits
trap 'rm -rf "$work"; psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" postgres' EXIT
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" postgres
psql -h 127.0.0.1 -U postgres -qc "CREATE TABLE events (seq bigserial PRIMARY KEY, brand_id bigint NOT NULL, \
  payload text NOT NULL, created_at bigint NOT NULL)" "$db"
cat > "$work/plain.sql" <<'SQL'
BEGIN;
INSERT INTO events (brand_id, payload, created_at) VALUES (1, '{"kind":"order.status_changed"}', 0);
COMMIT;
SQL
cat > "$work/notify.sql" <<'SQL'
BEGIN;
INSERT INTO events (brand_id, payload, created_at) VALUES (1, '{"kind":"order.status_changed"}', 0);
SELECT pg_notify('tally_events', '');
COMMIT;
SQL
echo "# $(date -u +%F), $(nproc) cores, $(psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version' postgres), \
synchronous_commit=$(psql -h 127.0.0.1 -U postgres -Atc 'SHOW synchronous_commit' postgres); pgbench runs of ${DUR:-5} s"
for clients in ${CLIENTS:-1 8 64}; do
  for round in 1 2 3; do
    for variant in plain notify; do
      tps=$(pgbench -h 127.0.0.1 -U postgres -n -M prepared -c "$clients" -j 2 -T "${DUR:-5}" -f "$work/$variant.sql" "$db" \
        2> /dev/null | awk '/^tps/ { print $3 }')
      echo "$variant c=$clients tps=$tps"
    done
  done
done | tee "$work/runs"
python3 - "$work/runs" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) c=(\d+) tps=([\d.]+)", line)
    if m:
        runs.setdefault((int(m.group(2)), m.group(1)), []).append(float(m.group(3)))
print("| clients | commits/s, no NOTIFY (runs) | commits/s, NOTIFY in the transaction (runs) | ratio |")
print("|---|---|---|---|")
for c in sorted({k[0] for k in runs}):
    plain, notify = runs[(c, "plain")], runs[(c, "notify")]
    fmt = lambda rs: f"{statistics.median(rs):,.0f} ({', '.join(f'{r:,.0f}' for r in rs)})"
    print(f"| {c} | {fmt(plain)} | {fmt(notify)} | {statistics.median(plain) / statistics.median(notify):.2f}x |")
PY
