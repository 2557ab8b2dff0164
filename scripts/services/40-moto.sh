# moto in server mode (PyPI, pinned) for AWS APIs: CloudWatch (query protocol, see
# ARCHITECTURE.md), Step Functions, Batch, RDS, SNS, STS, Secrets Manager, SQS.
# Tests isolate themselves with unique names/dimensions; all share one server.
MOTO_VENV=${MOTO_VENV:-$PWD/target/venv-moto}
if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
  python3 -m venv "$MOTO_VENV"
  "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]==5.2.5'
fi
MOTO_PORT=$(free_port)
"$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$BURNWATCH_TEST_DIR/moto.log" 2>&1 &
BURNWATCH_TEST_PIDS+=($!)
export BURNWATCH_TEST_MOTO_URL="http://127.0.0.1:$MOTO_PORT"
wait_http "$BURNWATCH_TEST_MOTO_URL/moto-api/" 60
# Batch jobs must not try to reach a Docker daemon (there is none); jobs succeed at once.
curl -s -X POST "$BURNWATCH_TEST_MOTO_URL/moto-api/config" \
  -H 'Content-Type: application/json' \
  -d '{"batch": {"use_docker": false}, "stepfunctions": {"execute_state_machine": true}}' >/dev/null
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
echo "moto on $BURNWATCH_TEST_MOTO_URL"
