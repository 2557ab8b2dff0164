# Prometheus server binary (Debian package `prometheus`, installed by 10-promtool.sh). Tests
# start their own servers on it: the Prometheus source tests on a TSDB built with
# `promtool tsdb create-blocks-from openmetrics`, the /metrics tests to scrape burnwatch.
apt_install prometheus
export BURNWATCH_TEST_PROMETHEUS=${BURNWATCH_TEST_PROMETHEUS:-$(command -v prometheus)}
"$BURNWATCH_TEST_PROMETHEUS" --version 2>&1 | head -1
