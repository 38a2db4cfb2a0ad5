#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it (from the repo root, .venv installed):
#   pass 1: Apache Kafka (scripts/kafka.sh: fetched from Maven Central, started, stopped on exit)
#           and the whole suite against it;
#   pass 2: the Kafka tests (-m kafka) again, against the embedded Tansu broker;
#   pass 3: the serving image built and run (under CI=true, or NEWSCLF_IMAGE_TEST=1).
# A summary line per pass; non-zero exit when any pass failed or ran no test.
#
#   PYTEST_ARGS="-x -k brokers" bash scripts/test.sh    # extra pytest arguments, both passes
#   KAFKA_PORT=29092 bash scripts/test.sh               # another port for the Kafka broker
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

PY="${PYTHON:-$ROOT/.venv/bin/python}"
export KAFKA_PORT="${KAFKA_PORT:-19092}"
RESULTS="$ROOT/.cache/test-results"
read -r -a EXTRA <<<"${PYTEST_ARGS:-}"

if [[ ! -x "$PY" ]]; then
    echo "test.sh: $PY not found: run 'make install' first" >&2
    exit 2
fi
mkdir -p "$RESULTS"
rm -f "$RESULTS"/*.xml

STOP_KAFKA=0
cleanup() {
    if [[ "$STOP_KAFKA" == 1 ]]; then
        bash scripts/kafka.sh stop || echo "test.sh: could not stop Apache Kafka" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SUMMARY=()
FAILED=0

# run_pass NAME JUNIT_FILE -- COMMAND...: runs it, records a summary line.
run_pass() {
    local name="$1" junit="$2"
    shift 3
    local started rc verdict
    started=$(date +%s)
    echo "=== $name ==="
    "$@" --junitxml="$junit"
    rc=$?
    case "$rc" in
        0) verdict="passed" ;;
        5) verdict="FAILED: no tests ran (pytest exit 5)" ;;
        *) verdict="FAILED (pytest exit $rc)" ;;
    esac
    [[ "$rc" == 0 ]] || FAILED=1
    SUMMARY+=("$name: $verdict in $(($(date +%s) - started)) s")
}

# ---- pass 1: Apache Kafka, whole suite
KAFKA_OK=1
if bash scripts/kafka.sh status >/dev/null 2>&1; then
    echo "test.sh: reusing the Apache Kafka broker already running on 127.0.0.1:$KAFKA_PORT"
elif bash scripts/kafka.sh fetch && bash scripts/kafka.sh start >/dev/null; then
    STOP_KAFKA=1
else
    KAFKA_OK=0
fi
if [[ "$KAFKA_OK" == 1 ]]; then
    run_pass "pass 1 (Apache Kafka, whole suite)" "$RESULTS/kafka.xml" -- \
        env NEWSCLF_TEST_BOOTSTRAP="127.0.0.1:$KAFKA_PORT" NEWSCLF_TEST_BROKER_KIND=kafka \
        "$PY" -m pytest "${EXTRA[@]}"
else
    FAILED=1
    SUMMARY+=("pass 1 (Apache Kafka, whole suite): FAILED: the broker did not start (bash scripts/kafka.sh logs)")
fi
cleanup
STOP_KAFKA=0

# ---- pass 2: embedded Tansu broker, Kafka tests only
run_pass "pass 2 (embedded Tansu, -m kafka)" "$RESULTS/tansu.xml" -- \
    env -u NEWSCLF_TEST_BOOTSTRAP NEWSCLF_TEST_BROKER_KIND=tansu \
    "$PY" -m pytest -m kafka "${EXTRA[@]}"

# ---- pass 3: the serving image, built and run (CI, or NEWSCLF_IMAGE_TEST=1): buildah on a
# Debian base, read-only and non-root against the embedded broker (scripts/image/image-test.sh)
if [[ "${CI:-}" == "true" || "${NEWSCLF_IMAGE_TEST:-}" == "1" ]]; then
    echo "=== pass 3 (serving image) ==="
    started=$(date +%s)
    if bash scripts/image/tools.sh system && bash scripts/image/image-test.sh; then
        SUMMARY+=("pass 3 (serving image): passed in $(($(date +%s) - started)) s")
    else
        FAILED=1
        SUMMARY+=("pass 3 (serving image): FAILED in $(($(date +%s) - started)) s")
    fi
else
    SUMMARY+=("pass 3 (serving image): skipped (runs under CI=true; NEWSCLF_IMAGE_TEST=1 or make image-test here)")
fi

echo
echo "=== summary ==="
printf '%s\n' "${SUMMARY[@]}"
# One closing line over both passes, from the JUnit reports.
"$PY" - "$RESULTS" <<'PY'
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

passed = failed = skipped = 0
for report in sorted(Path(sys.argv[1]).glob("*.xml")):
    for suite in ET.parse(report).getroot().iter("testsuite"):
        tests, skips = int(suite.get("tests", 0)), int(suite.get("skipped", 0))
        fails = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        passed += tests - fails - skips
        failed += fails
        skipped += skips
print(f"total: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit "$FAILED"
