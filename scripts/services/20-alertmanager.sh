# Alertmanager (Debian package `prometheus-alertmanager`, 0.25) for the notification tests.
# One shared instance for tests that only post and read alerts; tests that stop and restart
# Alertmanager start their own with BURNWATCH_TEST_ALERTMANAGER_BIN (see tests/it/support.rs).
apt_install prometheus-alertmanager
export BURNWATCH_TEST_ALERTMANAGER_BIN=${BURNWATCH_TEST_ALERTMANAGER_BIN:-$(command -v prometheus-alertmanager || echo /usr/bin/prometheus-alertmanager)}
AM_DIR="$BURNWATCH_TEST_DIR/alertmanager"
mkdir -p "$AM_DIR/data"
# A null receiver: alerts are stored and served by the API, nothing is sent anywhere.
cat >"$AM_DIR/alertmanager.yml" <<'YAML'
route:
  receiver: "null"
receivers:
  - name: "null"
YAML
AM_PORT=$(free_port)
"$BURNWATCH_TEST_ALERTMANAGER_BIN" \
  --config.file="$AM_DIR/alertmanager.yml" \
  --storage.path="$AM_DIR/data" \
  --web.listen-address="127.0.0.1:$AM_PORT" \
  --cluster.listen-address= \
  --log.level=warn >"$AM_DIR/alertmanager.log" 2>&1 &
BURNWATCH_TEST_PIDS+=($!)
export BURNWATCH_TEST_ALERTMANAGER_URL="http://127.0.0.1:$AM_PORT"
wait_http "$BURNWATCH_TEST_ALERTMANAGER_URL/api/v2/status" 30
echo "alertmanager on $BURNWATCH_TEST_ALERTMANAGER_URL"
