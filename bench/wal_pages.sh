#!/usr/bin/env bash
# Where the bytes of a commit go: runs the gateway with 64 clients posting
# for SECONDS (default 20), pauses it, and counts the frames of its
# write-ahead log by the table or index each page belongs to (SQLite's
# dbstat), with the frames per commit. A commit writes every page it touched
# whole, so a B-tree whose keys scatter (random ids) costs a page per row.
# Not a test and not in CI.
#   bench/wal_pages.sh [SECONDS]
# BUILD_DIR (default build-bench) is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${1:-20}
build=${BUILD_DIR:-build-bench}
command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps.sh installs it)"; exit 2; }
bench_build "$build" -- ilp-gateway epuskesmas-json

work=$(mktemp -d)
gw_pid=""
trap '[[ -n $gw_pid ]] && kill -CONT "$gw_pid" 2>/dev/null && kill "$gw_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=${PORT:-18454}
bench_start_gateway "$work" "$build" "$port" '"threads": 128, "max_connections_per_peer": 0' '"batch_max": 256'
BENCH_TOKEN=$(bench_token "$port" bench-clinic "$(bench_add_clinic "$work" "$build" bench-clinic)")
[[ -n $BENCH_TOKEN ]] || { echo "no token" >&2; exit 1; }
export BENCH_TOKEN
wrk -t2 -c64 -d"${seconds}s" -s bench/ingest_acked.lua "https://127.0.0.1:$port" 2>/dev/null |
  awk '/^ACKED/ {printf "%s acknowledged posts/s, %s posts\n", $2, $3}'

# The log as it stands (frames since it was last rewound) and the database
# with it, copied while the gateway is paused.
kill -STOP "$gw_pid"
mkdir "$work/copy"
cp "$work/data/gateway.db-wal" "$work/log"
cp "$work/data/gateway.db" "$work/data/gateway.db-wal" "$work/copy/"
kill -CONT "$gw_pid"

# One line per valid frame: its page number and 1 if it ends a commit. A
# frame belongs to the log's current generation when its salts match the
# header's (https://www.sqlite.org/fileformat2.html#walformat).
perl -e '
  open(my $f, "<", $ARGV[0]) or die; binmode $f;
  read($f, my $h, 32) == 32 or exit;
  my (undef, undef, $page_size, undef, $s1, $s2) = unpack("N6", $h);
  while (read($f, my $fh, 24) == 24) {
    my ($page, $size_after, $a, $b) = unpack("N4", $fh);
    last if $a != $s1 || $b != $s2;
    print $page, ",", ($size_after ? 1 : 0), "\n";
    seek($f, $page_size, 1);
  }' "$work/log" > "$work/frames.csv"

sqlite3 "$work/copy/gateway.db" <<SQL
.mode list
CREATE TEMP TABLE frame (page INTEGER, ends_commit INTEGER);
.import --csv $work/frames.csv frame
CREATE TEMP TABLE owner AS SELECT pageno AS page, name FROM dbstat;
CREATE INDEX temp.owner_page ON owner (page);
SELECT printf('%d frames of %d bytes in %d commits: %d frames per commit',
  count(*), (SELECT page_size FROM pragma_page_size), sum(ends_commit), count(*) / max(sum(ends_commit), 1))
  FROM frame;
.mode column
.headers on
SELECT coalesce(o.name, CASE WHEN f.page = 1 THEN '(file header)' ELSE '(freed since)' END) AS "table or index",
       count(*) AS frames,
       printf('%.1f%%', 100.0 * count(*) / (SELECT count(*) FROM frame)) AS share,
       printf('%.1f', 1.0 * count(*) / (SELECT max(sum(ends_commit), 1) FROM frame)) AS "per commit",
       count(DISTINCT f.page) AS "distinct pages"
  FROM frame f LEFT JOIN owner o ON o.page = f.page
  GROUP BY 1 ORDER BY 2 DESC;
SQL
