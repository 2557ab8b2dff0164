#!/usr/bin/env bash
# Start the test services and keep them running, for running single tests by hand:
#   scripts/dev-services.sh &   then   source target/test-services/env && cargo test NAME
# Stop with Ctrl-C (or kill the job); servers stop with it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
start_services
echo "services up; env in $BURNWATCH_TEST_DIR/env"
wait
