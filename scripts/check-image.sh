#!/usr/bin/env bash
# CI check of the container image (called by scripts/test.sh): build it with
# scripts/image.sh, check its config (non-root user, entrypoint, volume) and size, then
# run the binary inside the image's own root filesystem (`podman image mount` + chroot,
# since CI machines cannot start containers): --version, validate on the bundled specs,
# and the bundled demo until /readyz answers 200. Needs root (image mount, chroot).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
export IMAGE=${IMAGE:-localhost/burnwatch:dev}
MAX_BYTES=$((60 * 1000 * 1000))
READY_LIMIT=${BURNWATCH_IMAGE_READY_LIMIT:-90}

scripts/image.sh

fail() { echo "check-image: $*" >&2; exit 1; }
cfg() { podman image inspect --format "$1" "$IMAGE"; }

user=$(cfg '{{.Config.User}}')
[ -n "$user" ] && [ "${user%%:*}" != 0 ] && [ "${user%%:*}" != root ] || fail "user is '$user', not non-root"
[ "$(cfg '{{json .Config.Entrypoint}}')" = '["burnwatch"]' ] || fail "entrypoint $(cfg '{{json .Config.Entrypoint}}')"
[ "$(cfg '{{json .Config.Cmd}}')" = '["run","--config","/etc/burnwatch/burnwatch.yaml"]' ] ||
  fail "cmd $(cfg '{{json .Config.Cmd}}')"
cfg '{{json .Config.Volumes}}' | grep -q '"/var/lib/burnwatch"' || fail "no /var/lib/burnwatch volume"
for l in source version licenses; do
  [ -n "$(cfg "{{index .Config.Labels \"org.opencontainers.image.$l\"}}")" ] || fail "label $l missing"
done
size=$(cfg '{{.Size}}')
echo "image $IMAGE: user $user, $((size / 1000000)) MB"
[ "$size" -lt "$MAX_BYTES" ] || fail "image is $size bytes, limit $MAX_BYTES"

# A writable copy of the image's root filesystem; the image dirs stay as built.
mnt=$(podman image mount "$IMAGE")
root=$(mktemp -d "${TMPDIR:-/tmp}/burnwatch-image.XXXXXX")
pid=
finish() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  podman image unmount "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$root"
  cleanup
}
trap finish EXIT
cp -a "$mnt/." "$root/"
podman image unmount "$IMAGE" >/dev/null
# As the image's user, with nothing from the host but the network.
in_image() { chroot --userspec=65532:65532 "$root" /usr/local/bin/burnwatch "$@"; }

in_image --version | grep -q '^burnwatch ' || fail "--version"
in_image validate /usr/share/burnwatch/demo/specs || fail "validate on the bundled specs"

# The demo and the default command's config run with the image dir read-only
# (root-owned, the user is 65532); only the volume is written.
chmod -R a-w "$root/usr" "$root/etc"
run_until_ready() {
  local config=$1 port log i=0
  port=$(free_port)
  log=$BURNWATCH_TEST_DIR/image-$(basename "$(dirname "$config")").log
  chroot --userspec=65532:65532 "$root" /usr/local/bin/burnwatch run \
    --config "$config" --listen "127.0.0.1:$port" >"$log" 2>&1 &
  pid=$!
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "$config: exited before /readyz answered 200"; }
    i=$((i + 1))
    [ "$i" -ge "$((READY_LIMIT * 2))" ] && { tail -20 "$log" >&2; fail "$config: /readyz not 200 after ${READY_LIMIT}s"; }
    sleep 0.5
  done
  echo "$config in the image: ready after ~$((i / 2))s"
  curl -sf "http://127.0.0.1:$port/metrics" | grep -q '^burnwatch_' || fail "$config: /metrics has no burnwatch_ series"
  kill -TERM "$pid"
  wait "$pid" || fail "$config: did not stop cleanly on SIGTERM"
  pid=
}
run_until_ready /usr/share/burnwatch/demo/burnwatch.yaml
[ -s "$root/var/lib/burnwatch/demo.sqlite" ] || fail "the demo store is not on the volume"
run_until_ready /etc/burnwatch/burnwatch.yaml
echo "check-image: ok"
