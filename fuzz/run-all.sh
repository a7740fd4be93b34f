#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) one after another on one core, and logs
# what each found. Needs cargo-fuzz (cargo install cargo-fuzz); on a stable toolchain the
# sanitizer flags need RUSTC_BOOTSTRAP=1.
#   fuzz/run-all.sh [SECONDS]
set -u
seconds=${1:-600}
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1 RAYON_NUM_THREADS=1
for target in read_jsonl read_csv read_html read_gzip pipeline; do
  mkdir -p "fuzz/corpus/$target"
  start=$(date +%s)
  cargo fuzz run -O "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    > "fuzz/$target.log" 2>&1
  status=$?
  echo "$target: exit $status after $(( $(date +%s) - start )) s; $(grep -E '^stat::number_of_executed_units' "fuzz/$target.log" | tail -1); artifacts: $(ls fuzz/artifacts/$target 2>/dev/null | wc -l)"
done
