#!/usr/bin/env bash
# The index at scale: builds an index of N articles in batches of B (generated corpus), then
# times adding one more batch of B, and the latency of single-article queries against it.
#   scripts/index-bench.sh [N=1000000] [B=100000] [QUERIES=200] [WORK=/tmp/storyhash-index-bench]
# Prints per batch: wall seconds, peak RSS, file size; then the query latency median and p99.
# At 1M the index, the split batches and the corpus take ~10 GB: the index and the batches are
# removed at the end (KEEP=1 keeps them), the corpus stays for the next run. A disk left full by
# such runs once failed CI (the linker had no room).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
b=${2:-100000}
queries=${3:-200}
work=${4:-/tmp/storyhash-index-bench}
bin=${BIN:-target/release/storyhash}
[ -x "$bin" ] || cargo build --release
mkdir -p "$work/parts"
if [ "${KEEP:-0}" != 1 ]; then
  trap 'rm -rf "$work/parts" "$work"/feed.db* "$work"/q*.json' EXIT
fi
if [ ! -f "$work/gen/docs.jsonl" ]; then
  "$bin" gen --n $((n + b)) --out "$work/gen"
fi
rm -f "$work"/parts/* "$work"/feed.db*
split -l "$b" -d -a 3 --additional-suffix=.jsonl "$work/gen/docs.jsonl" "$work/parts/p"
parts=("$work"/parts/p*.jsonl)
last=${parts[${#parts[@]}-1]}
echo "| batch | articles before | wall s | articles/s | peak RSS MiB | file MB |"
echo "|---|---|---|---|---|---|"
before=0
for part in "${parts[@]}"; do
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin" index add "$work/feed.db" "$part" --quiet
  read -r wall rss <"$work/time"
  size=$(stat -c %s "$work/feed.db")
  echo "| $(basename "$part") | $before | $wall | $(python3 -c "print(round($b/$wall))") | $((rss / 1024)) | $((size / 1000000)) |"
  before=$((before + b))
done
# Query latency: one process per query (open, sign, look up, print), articles from the last
# batch (stored near-duplicates and story matches exist for many of them).
head -n "$queries" "$last" | split -l 1 -d -a 4 --additional-suffix=.json - "$work/q"
: >"$work/latency"
for q in "$work"/q*.json; do
  start=$(date +%s%N)
  "$bin" index query "$work/feed.db" "$q" >/dev/null
  echo $(( ($(date +%s%N) - start) / 1000 )) >>"$work/latency"
done
rm -f "$work"/q*.json
sort -n "$work/latency" | python3 -c '
import sys
v = [int(x) / 1000 for x in sys.stdin]
print("query latency over %d queries: median %.1f ms, p99 %.1f ms" % (len(v), v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))]))'
