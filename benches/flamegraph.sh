#!/usr/bin/env bash
# Flame graph of one `portrait run` (default SF 1 from benches/whole_run.py's data folder):
#   benches/flamegraph.sh [SCALE]     -> docs/perf/flamegraph-sf<SCALE>.svg
# Needs Debian's linux-perf and `cargo install inferno`. DWARF call graphs: polars is built
# without frame pointers, so perf's default unwinding stops at the first frame.
set -euo pipefail
cd "$(dirname "$0")/.."
scale="${1:-1}"
data="/tmp/portrait-sf${scale}"
[ -d "$data/customers" ] || target/release/portrait sample --scale "$scale" --out "$data"
out="$(mktemp -d)"
perf record -F 97 --call-graph dwarf,16384 -o "$out/perf.data" \
  target/release/portrait --log-format json run --pipeline pipelines/nightly.toml \
  --input "$data" --output "$out/run" --as-of 2026-11-22 > /dev/null
perf script -i "$out/perf.data" 2>/dev/null | inferno-collapse-perf \
  | inferno-flamegraph --minwidth 3 --title "portrait run, SF ${scale} (perf, dwarf call graphs)" \
  > "docs/perf/flamegraph-sf${scale}.svg"
rm -rf "$out"
echo "wrote docs/perf/flamegraph-sf${scale}.svg"
