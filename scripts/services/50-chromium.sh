# Headless Chromium and chromedriver (Debian packages `chromium`, `chromium-driver`) for the
# web view's end-to-end test (tests/it/web_e2e.rs), which drives the browser over the W3C
# WebDriver protocol. chromedriver accepts local connections only (its default); the test
# starts the browser (headless, phone-sized) through it.
apt_install chromium chromium-driver
CHROMEDRIVER_BIN=$(command -v chromedriver || echo /usr/bin/chromedriver)
CHROMEDRIVER_PORT=$(free_port)
"$CHROMEDRIVER_BIN" --port="$CHROMEDRIVER_PORT" --log-level=WARNING \
  >"$BURNWATCH_TEST_DIR/chromedriver.log" 2>&1 &
BURNWATCH_TEST_PIDS+=($!)
export BURNWATCH_TEST_CHROMEDRIVER="http://127.0.0.1:$CHROMEDRIVER_PORT"
wait_http "$BURNWATCH_TEST_CHROMEDRIVER/status" 30
echo "chromedriver $("$CHROMEDRIVER_BIN" --version | awk '{print $2}') on $BURNWATCH_TEST_CHROMEDRIVER ($(chromium --version 2>/dev/null))"
