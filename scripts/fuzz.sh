#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of every input parser: the spec loader (all formats),
# the daemon config, recorded-data lines, Prometheus API and CloudWatch GetMetricData
# responses (fuzz/fuzz_targets/). Builds the targets with the flags cargo-fuzz uses (without
# AddressSanitizer, which needs nightly; the code is safe Rust, so a crash is a panic, an
# overflow, a failed assertion, a leak of time or memory), then runs each for
# FUZZ_SECONDS (default 20) from its committed corpus, fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh                    # every target, 20 s each (what CI runs)
#   FUZZ_SECONDS=600 scripts/fuzz.sh spec_loader
#
# A crash leaves fuzz/artifacts/<target>/crash-*; make it a regression test beside the code
# it broke (as src/source/prometheus.rs's sample-timestamp test) before fixing it.
# New corpus entries libFuzzer finds go to target/fuzz-corpus/<target>/ (not committed
# unless you copy them into fuzz/corpus/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(spec_loader daemon_config recorded_lines prometheus_response cloudwatch_response)
fi

# Instrumentation as `cargo fuzz build -s none`, but only for burnwatch and the targets
# (scripts/fuzz-rustc), in the dev profile and the main target/ directory: the test build's
# dependencies are reused, so this takes about a minute after `cargo test`, not ten.
export RUSTC_WRAPPER=$PWD/scripts/fuzz-rustc
echo "== building fuzz targets (${targets[*]})"
start=$(date +%s)
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
CARGO_TARGET_DIR=$PWD/target cargo build --locked --manifest-path fuzz/Cargo.toml "${bins[@]}"
echo "   built in $(( $(date +%s) - start )) s"
bin_dir=$PWD/target/debug

failed=0
for t in "${targets[@]}"; do
  corpus=fuzz/corpus/$t
  work=target/fuzz-corpus/$t
  mkdir -p "$work" "fuzz/artifacts/$t"
  echo "== fuzz $t for ${seconds}s (corpus: $(ls "$corpus" | wc -l) inputs)"
  if ! "$bin_dir/$t" "$work" "$corpus" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 2>"target/fuzz-$t.log"; then
    echo "!! $t failed; the last lines of target/fuzz-$t.log:"
    tail -40 "target/fuzz-$t.log"
    failed=1
  else
    grep -E '^stat::number_of_executed_units|^stat::new_units_added' "target/fuzz-$t.log" | tr '\n' ' '
    echo
  fi
done
exit $failed
