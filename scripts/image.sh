#!/usr/bin/env bash
# Build burnwatch's container image from the repository and tag it $IMAGE
# (default localhost/burnwatch:dev). Builds the binary with the `image` cargo profile,
# stages it with its shared libraries (ldd), the CA bundle, passwd/group for uid 65532,
# the runbooks and the demo into target/oci/rootfs, then `podman build` (or `docker
# build`) the Containerfile FROM scratch. Installs podman/buildah from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
IMAGE=${IMAGE:-localhost/burnwatch:dev}
CTX=target/oci
ROOT=$CTX/rootfs

# docker only where its daemon answers (CI machines have the client but no daemon).
if ! command -v podman >/dev/null && command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  ENGINE=docker
else
  apt_install podman buildah ca-certificates
  ENGINE=podman
fi

echo "== cargo build --profile image"
cargo build --quiet --locked --profile image --bin burnwatch
BIN=target/image/burnwatch
[ -x "$BIN" ] || { echo "missing $BIN" >&2; exit 1; }

rm -rf "$ROOT" "$CTX/volume"
mkdir -p "$CTX/volume/burnwatch"
mkdir -p "$ROOT"/{usr/local/bin,etc/ssl/certs,etc/burnwatch,var/lib,tmp} \
  "$ROOT"/usr/share/burnwatch/{runbooks,demo/specs}
install -m 0755 "$BIN" "$ROOT/usr/local/bin/burnwatch"
# Every shared library the binary loads, at the path the dynamic loader looks for it.
ldd "$BIN" | awk '/=> \//{print $3} /^[[:space:]]*\/[^ ]*ld-linux/{print $1}' | sort -u |
  while read -r lib; do
    mkdir -p "$ROOT$(dirname "$lib")"
    cp -L "$lib" "$ROOT$lib"
  done
# /lib64 -> the loader, as on the build host (Debian: /lib64/ld-linux-x86-64.so.2).
cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nburnwatch:x:65532:65532:burnwatch:/var/lib/burnwatch:/sbin/nologin\n' \
  >"$ROOT/etc/passwd"
printf 'root:x:0:\nburnwatch:x:65532:\n' >"$ROOT/etc/group"
cp runbooks/*.md "$ROOT/usr/share/burnwatch/runbooks/"
cp slo-specs/*.yaml "$ROOT/usr/share/burnwatch/demo/specs/"
cp examples/demo/incident.jsonl "$ROOT/usr/share/burnwatch/demo/"
# The demo config, with the image's layout: specs next to it, the store on the volume
# (the image's own files are read-only at run time).
sed -e 's#^  - \.\./\.\./slo-specs$#  - specs#' \
  -e 's#^  path: \.\./\.\./data/burnwatch\.sqlite$#  path: /var/lib/burnwatch/demo.sqlite#' \
  examples/demo/burnwatch.yaml >"$ROOT/usr/share/burnwatch/demo/burnwatch.yaml"
grep -q '^  - specs$' "$ROOT/usr/share/burnwatch/demo/burnwatch.yaml" &&
  grep -q '^  path: /var/lib/burnwatch/demo.sqlite$' "$ROOT/usr/share/burnwatch/demo/burnwatch.yaml" ||
  { echo "examples/demo/burnwatch.yaml changed: update the image's demo rewrite" >&2; exit 1; }
# Default config (the path the Kubernetes manifests mount over): the demo's.
cp "$ROOT/usr/share/burnwatch/demo/burnwatch.yaml" "$ROOT/etc/burnwatch/burnwatch.yaml"
sed -i 's#^  - specs$#  - /usr/share/burnwatch/demo/specs#' "$ROOT/etc/burnwatch/burnwatch.yaml"
sed -i 's#^    file: incident\.jsonl$#    file: /usr/share/burnwatch/demo/incident.jsonl#' "$ROOT/etc/burnwatch/burnwatch.yaml"
chmod 1777 "$ROOT/tmp"

VERSION=$("$BIN" --version | awk '{print $2}')
echo "== $ENGINE build -t $IMAGE (version $VERSION)"
"$ENGINE" build --quiet -f Containerfile --build-arg VERSION="$VERSION" -t "$IMAGE" "$CTX" >/dev/null
echo "built $IMAGE"
