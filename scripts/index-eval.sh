#!/usr/bin/env bash
# Incremental (index) versus batch clustering on the labelled sets and the demo.
#   scripts/index-eval.sh [batches] [order]     order: input (default) or date
# Each set is split into `batches` consecutive parts (in input order, or sorted by date as a feed
# would arrive), added to a fresh index one part at a time, exported, and compared with
# `cluster --no-boilerplate` on the whole set (the index does not strip boilerplate):
#   dup ARI vs batch   agreement of dup groups (1.000 = identical partitions)
#   story ARI vs batch agreement of stories
#   B3 F1 / ARI vs gold story quality of each against the labels
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release/storyhash}
parts=${1:-10}
order=${2:-input}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
score() { # truth pred col -> "b3f1 ari"
  $bin eval --truth "$1" --pred "$2" --col "$3" --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["scores"]
print("%.3f %.3f" % (r["bcubed"]["f1"], r["ari"]))'
}
row() { # name docs labels
  local name=$1 docs=$2 labels=$3
  rm -rf "$work/parts" "$work/batch" "$work/all" "$work/feed.db"*
  mkdir -p "$work/parts"
  python3 - "$docs" "$work/parts" "$parts" "$order" <<'PY'
import json, sys
docs, out, parts, order = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lines = [l for l in open(docs, encoding="utf-8") if l.strip()]
if order == "date":
    def key(line):
        try:
            return str(json.loads(line).get("date") or "")
        except Exception:
            return ""
    lines.sort(key=key)
size = -(-len(lines) // parts)
for i in range(parts):
    with open(f"{out}/part{i:03d}.jsonl", "w", encoding="utf-8") as f:
        f.writelines(lines[i * size:(i + 1) * size])
PY
  for part in "$work"/parts/part*.jsonl; do
    $bin index add "$work/feed.db" "$part" --quiet
  done
  $bin index export "$work/feed.db" --out "$work/all" 2>/dev/null
  $bin cluster "$docs" --out "$work/batch" --quiet --no-boilerplate
  read -r _ dup_ari <<<"$(score "$work/batch/clusters.csv" "$work/all/clusters.csv" dup)"
  read -r _ story_ari <<<"$(score "$work/batch/clusters.csv" "$work/all/clusters.csv" story)"
  read -r batch_f1 batch_ari <<<"$(score "$labels" "$work/batch/clusters.csv" story)"
  read -r index_f1 index_ari <<<"$(score "$labels" "$work/all/clusters.csv" story)"
  echo "| $name | $parts ($order) | $dup_ari | $story_ari | $batch_f1 / $batch_ari | $index_f1 / $index_ari |"
}
echo "| set | batches | dup ARI vs batch | story ARI vs batch | batch B3 F1 / ARI vs gold | index B3 F1 / ARI vs gold |"
echo "|---|---|---|---|---|---|"
for set in ecbplus-dev gvc-dev; do
  [ -d "../shared/eval/$set" ] && row "$set" "../shared/eval/$set/docs.jsonl" "../shared/eval/$set/labels.csv"
done
row demo data/demo/articles.jsonl data/demo/labels.csv
