# Prometheus server binary (Debian package `prometheus`, installed by 10-promtool.sh): the
# Prometheus source tests build a TSDB with `promtool tsdb create-blocks-from openmetrics`
# and start their own server on it, so no shared server is started here.
apt_install prometheus
export BURNWATCH_TEST_PROMETHEUS=${BURNWATCH_TEST_PROMETHEUS:-$(command -v prometheus)}
"$BURNWATCH_TEST_PROMETHEUS" --version 2>&1 | head -1
