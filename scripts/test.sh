#!/usr/bin/env bash
# The README's test command. Installs and starts what the tests need (all on 127.0.0.1),
# then runs format, lint and the whole test suite. Safe to run repeatedly.
#
# Each file in scripts/services/ is sourced in name order: it installs one component if
# missing, starts it when it is a server, and exports BURNWATCH_TEST_* variables that the
# integration tests read. Servers are stopped when this script exits.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
source scripts/lib.sh
start_services

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked --all-targets --no-fail-fast

echo "== burnwatch validate slo-specs/"
cargo run --quiet --locked -- validate slo-specs/

echo "== burnwatch generate prometheus slo-specs/ | promtool check rules"
cargo run --quiet --locked -- generate prometheus --skip-unmapped slo-specs/ -o target/slo-rules.yml
"$BURNWATCH_TEST_PROMTOOL" check rules target/slo-rules.yml

echo "== deployment files (scripts/check-deploy.sh)"
scripts/check-deploy.sh

echo "== fuzzing, 20 s per target (scripts/fuzz.sh)"
FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh

echo "== container image (scripts/check-image.sh)"
scripts/check-image.sh
