#!/usr/bin/env bash
# Measures near-duplicate quality for combinations of --threshold, --shingle and boilerplate
# handling, on a generated corpus (known duplicates) and on the demo corpus, and prints a
# Markdown table (pairwise precision / recall / F1 on dup groups). Used to choose the defaults.
#   scripts/threshold-table.sh [N] [SEED]
set -euo pipefail
n=${1:-20000}
seed=${2:-7}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=target/release/storyhash
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$bin gen --n "$n" --seed "$seed" --out "$work/gen" 2>/dev/null
score() { # corpus labels extra-args... -> "P R F1"
  local docs=$1 labels=$2; shift 2
  $bin cluster "$docs" --out "$work/out" --quiet "$@"
  $bin eval --truth "$labels" --pred "$work/out/clusters.csv" --col dup --json |
    python3 -c 'import json,sys; p=json.load(sys.stdin)["scores"]["pairwise"]; print("%.3f %.3f %.3f" % (p["precision"], p["recall"], p["f1"]))'
}
echo "| shingle | boilerplate | threshold | generated P | R | F1 | demo P | R | F1 |"
echo "|---|---|---|---|---|---|---|---|---|"
for shingle in 3 4 5; do
  for boiler in on off; do
    flag=(); [ "$boiler" = off ] && flag=(--no-boilerplate)
    for t in 0.5 0.6 0.7 0.8 0.9; do
      g=$(score "$work/gen/docs.jsonl" "$work/gen/labels.csv" --shingle "$shingle" --threshold "$t" "${flag[@]}")
      d=$(score data/demo/articles.jsonl data/demo/labels.csv --shingle "$shingle" --threshold "$t" "${flag[@]}")
      echo "| $shingle | $boiler | $t | ${g// / | } | ${d// / | } |"
    done
  done
done
