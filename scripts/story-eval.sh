#!/usr/bin/env bash
# Story quality on the labelled sets in ../shared/eval and the demo: B-cubed F1, pairwise F1, ARI.
#   scripts/story-eval.sh [extra cluster options...]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-target/release/storyhash}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
row() { # name docs labels
  $bin cluster "$2" --out "$work/out" --quiet "${extra[@]}"
  $bin eval --truth "$3" --pred "$work/out/clusters.csv" --col story --json | python3 -c '
import json, sys
r = json.load(sys.stdin)["scores"]
print("| %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %.3f |" % (sys.argv[1], r["gold_clusters"], r["pred_clusters"], r["bcubed"]["precision"], r["bcubed"]["recall"], r["bcubed"]["f1"], r["pairwise"]["f1"], r["ari"]))' "$1"
}
extra=("$@")
echo "| set | gold | predicted | B3 P | B3 R | B3 F1 | pairwise F1 | ARI |"
echo "|---|---|---|---|---|---|---|---|"
for set in ecbplus-dev gvc-dev; do
  [ -d "../shared/eval/$set" ] && row "$set" "../shared/eval/$set/docs.jsonl" "../shared/eval/$set/labels.csv"
done
row demo data/demo/articles.jsonl data/demo/labels.csv
