# Shared by scripts/test.sh and scripts/dev-services.sh: helpers for scripts/services/*.sh
# and the loop that sources them. Sourced, not executed.
export BURNWATCH_TEST_DIR=${BURNWATCH_TEST_DIR:-$PWD/target/test-services}
mkdir -p "$BURNWATCH_TEST_DIR"
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

BURNWATCH_TEST_PIDS=()
cleanup() {
  for pid in "${BURNWATCH_TEST_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if declare -F stop_services_hook >/dev/null; then stop_services_hook || true; fi
}
trap cleanup EXIT
trap 'exit 143' INT TERM

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

start_services() {
  for svc in scripts/services/*.sh; do
    [ -e "$svc" ] || continue
    echo "== service: $svc"
    # shellcheck source=/dev/null
    source "$svc"
  done
  env | grep -E '^(BURNWATCH_TEST_|AWS_)' | sed 's/^/export /' >"$BURNWATCH_TEST_DIR/env"
}
