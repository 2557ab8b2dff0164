# promtool (Debian package `prometheus`): `promtool check rules|metrics` and `promtool test rules`.
apt_install prometheus
export BURNWATCH_TEST_PROMTOOL=${BURNWATCH_TEST_PROMTOOL:-$(command -v promtool)}
"$BURNWATCH_TEST_PROMTOOL" --version | head -1
