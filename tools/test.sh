#!/usr/bin/env bash
# The test suite: builds everything (installing what it needs, the portal's npm packages too),
# starts a local Kafka broker with
# tools/kafka.sh, and runs every doctest suite through ctest against real RocksDB folders and
# that broker: tests/kafka_test.cc, and the engine and projector suites a second time on Kafka
# (engine_test_kafka, projector_test_kafka). The broker runs from a private state folder and is stopped
# (its state wiped) when the script exits, however it exits.
# To use a broker you run yourself instead, export SAZESH_TEST_KAFKA=host:port, and the
# SAZESH_KAFKA_DIR tools/kafka.sh runs it from (the broker-restart test restarts it); started
# with --acls, also SAZESH_TEST_KAFKA_SASL=$(tools/kafka.sh sasl-bootstrap) (the ACL test needs it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# Warnings are errors here: the suite is where they are ours to fix.
SAZESH_WERROR="${SAZESH_WERROR:-ON}" "$root/tools/build.sh"
if [ -z "${SAZESH_TEST_KAFKA:-}" ]; then
  SAZESH_KAFKA_DIR="$(mktemp -u /tmp/sazesh-kafka-test.XXXXXX)"
  export SAZESH_KAFKA_DIR
  trap '"$root/tools/kafka.sh" stop >/dev/null 2>&1 || true; rm -f "$SAZESH_KAFKA_DIR.lock"' EXIT
  # With ACLs: a SASL/SCRAM listener beside PLAINTEXT (still a super user's, for every other
  # test), for the test of the engine's and the agencies' principals.
  SAZESH_TEST_KAFKA="$("$root/tools/kafka.sh" start --acls)"
  SAZESH_TEST_KAFKA_SASL="$("$root/tools/kafka.sh" sasl-bootstrap)"
  export SAZESH_TEST_KAFKA SAZESH_TEST_KAFKA_SASL
fi
# The portal's packages and the browser tests' own, exactly as their lockfiles say.
for d in portal tests/portal; do
  (cd "$root/$d" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
done
cd "$root/build"
ctest --output-on-failure -j"${SAZESH_JOBS:-2}" "$@"
