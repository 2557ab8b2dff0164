#!/usr/bin/env bash
# The README's test command. Installs and starts what the tests need (on 127.0.0.1),
# then runs format, lint and the whole test suite. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked --all-targets

echo "== burnwatch validate slo-specs/"
cargo run --quiet --locked -- validate slo-specs/
