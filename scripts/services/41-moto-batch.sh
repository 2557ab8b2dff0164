# A second moto server (same venv as 40-moto.sh) with AWS Batch in its default Docker mode.
# Without a Docker daemon, jobs walk SUBMITTED → PENDING → RUNNABLE → STARTING and then
# FAILED, and moto's state manager can hold them in RUNNABLE: the only way to get failed
# jobs with a statusReason and stuck RUNNABLE jobs from moto. Kept apart from the shared
# server because the state-manager transition is global and docker-mode jobs make
# /moto-api/data.json fail. Used only by the Batch health test.
MOTO_BATCH_PORT=$(free_port)
"$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_BATCH_PORT" >"$BURNWATCH_TEST_DIR/moto-batch.log" 2>&1 &
BURNWATCH_TEST_PIDS+=($!)
export BURNWATCH_TEST_MOTO_BATCH_URL="http://127.0.0.1:$MOTO_BATCH_PORT"
wait_http "$BURNWATCH_TEST_MOTO_BATCH_URL/moto-api/" 60
echo "moto (Batch docker mode) on $BURNWATCH_TEST_MOTO_BATCH_URL"
