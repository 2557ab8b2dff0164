# A third moto server (same venv as 40-moto.sh) for the SNS delivery tests, which read the
# published messages back from /moto-api/data.json (moto keeps them nowhere else). That
# endpoint serialises every backend of the server, and moto 5.2.5's RDS model raises on
# it ("write only property") as soon as a DB instance exists, so it must not share a
# server with the RDS tests.
MOTO_SNS_PORT=$(free_port)
"$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_SNS_PORT" >"$BURNWATCH_TEST_DIR/moto-sns.log" 2>&1 &
BURNWATCH_TEST_PIDS+=($!)
export BURNWATCH_TEST_MOTO_SNS_URL="http://127.0.0.1:$MOTO_SNS_PORT"
wait_http "$BURNWATCH_TEST_MOTO_SNS_URL/moto-api/" 60
echo "moto (SNS read-back) on $BURNWATCH_TEST_MOTO_SNS_URL"
