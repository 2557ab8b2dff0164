# The Prometheus server binary (Debian package `prometheus`, installed by 10-promtool.sh):
# tests start their own instance to scrape burnwatch's /metrics.
apt_install prometheus
export BURNWATCH_TEST_PROMETHEUS_BIN=${BURNWATCH_TEST_PROMETHEUS_BIN:-$(command -v prometheus)}
"$BURNWATCH_TEST_PROMETHEUS_BIN" --version | head -1
