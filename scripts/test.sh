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
export BURNWATCH_TEST_DIR=${BURNWATCH_TEST_DIR:-$PWD/target/test-services}
mkdir -p "$BURNWATCH_TEST_DIR"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

BURNWATCH_TEST_PIDS=()
cleanup() {
  for pid in "${BURNWATCH_TEST_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if declare -F stop_services_hook >/dev/null; then stop_services_hook || true; fi
}
trap cleanup EXIT

# apt-get update once per run, only when something must be installed.
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "${BURNWATCH_APT_UPDATED:-}" ]; then
    apt-get update -qq
    export BURNWATCH_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Wait until a URL answers (HTTP 2xx/3xx/4xx), up to $2 seconds.
wait_http() {
  local url=$1 limit=${2:-30} i=0
  until curl -s -o /dev/null "$url"; do
    i=$((i + 1))
    [ "$i" -ge "$((limit * 5))" ] && { echo "timed out waiting for $url" >&2; return 1; }
    sleep 0.2
  done
}

for svc in scripts/services/*.sh; do
  [ -e "$svc" ] || continue
  echo "== service: $svc"
  # shellcheck source=/dev/null
  source "$svc"
done

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --locked --all-targets

echo "== burnwatch validate slo-specs/"
cargo run --quiet --locked -- validate slo-specs/

echo "== burnwatch generate prometheus slo-specs/ | promtool check rules"
cargo run --quiet --locked -- generate prometheus --skip-unmapped slo-specs/ -o target/slo-rules.yml
"$BURNWATCH_TEST_PROMTOOL" check rules target/slo-rules.yml
