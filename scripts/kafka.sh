#!/usr/bin/env bash
# The reference broker: Apache Kafka in KRaft mode, one node, loopback only.
#
#   bash scripts/kafka.sh fetch    # jars from Maven Central into .cache/kafka/lib (once)
#   bash scripts/kafka.sh start    # fetch if needed, fresh storage, start, wait until it answers
#   bash scripts/kafka.sh stop     # stop it and wait until it is gone
#   bash scripts/kafka.sh status   # exit 0 when running, 3 when not
#   bash scripts/kafka.sh logs [-f]
#
# Settings (environment): KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (KAFKA_PORT + 1),
# KAFKA_HEAP_OPTS (-Xms256m -Xmx768m), KAFKA_START_TIMEOUT seconds (60), PYTHON (.venv/bin/python).
# Needs Java 17+ and Maven; the readiness probe uses kafka-python from the project's venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

POM="$ROOT/scripts/kafka/pom.xml"
TEMPLATE="$ROOT/scripts/kafka/server.properties"
LOG4J_CONFIG="$ROOT/scripts/kafka/log4j2.properties"
HOME_DIR="$ROOT/.cache/kafka"
LIB_DIR="$HOME_DIR/lib"
DATA_DIR="$HOME_DIR/data"
CONFIG="$HOME_DIR/server.properties"
PID_FILE="$HOME_DIR/kafka.pid"
LOG_FILE="$HOME_DIR/kafka.log"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"

die() {
    echo "kafka.sh: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"
}

# A stamp named after the pom's hash: editing the pom (say, a new Kafka version) re-fetches.
stamp_file() {
    echo "$LIB_DIR/.fetched-$(sha1sum "$POM" | cut -c1-12)"
}

cmd_fetch() {
    local stamp
    stamp="$(stamp_file)"
    if [[ -f "$stamp" ]]; then
        return 0
    fi
    need mvn "install Maven, e.g. apt-get install maven"
    need java "install Java 17, e.g. apt-get install openjdk-17-jre-headless"
    echo "kafka.sh: fetching Apache Kafka from Maven Central into ${LIB_DIR#"$ROOT"/} ..." >&2
    rm -rf "$LIB_DIR"
    mkdir -p "$LIB_DIR"
    if ! mvn -B -q -ntp -f "$POM" dependency:copy-dependencies >"$HOME_DIR/fetch.log" 2>&1; then
        tail -n 20 "$HOME_DIR/fetch.log" >&2
        rm -rf "$LIB_DIR"
        die "Maven could not fetch the Kafka jars (full output: ${HOME_DIR#"$ROOT"/}/fetch.log)"
    fi
    compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null || die "no kafka_2.13 jar in $LIB_DIR after fetch"
    touch "$stamp"
    local jars=("$LIB_DIR"/*.jar)
    echo "kafka.sh: fetched ${#jars[@]} jars" >&2
}

# The PID of our running broker, or nothing. Checks the command line too, so a stale PID file
# whose number was reused by another process is never taken for the broker.
running_pid() {
    [[ -f "$PID_FILE" ]] || return 0
    local pid state
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    [[ -r "/proc/$pid/cmdline" ]] || return 0
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" && -n "$state" ]] || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONFIG"; then
        echo "$pid"
    fi
}

port_in_use() {
    "$PYTHON" - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(0.5)
sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
PY
}

# Waits until kafka-python can bootstrap and the cluster lists a broker (KRaft answers before
# the broker has registered itself; until then metadata has no brokers). Gives up at once when
# the broker process ($2) is gone.
probe() {
    "$PYTHON" - "$BOOTSTRAP" "$1" "$2" <<'PY'
import logging, os, sys, time
logging.disable(logging.CRITICAL)
from kafka import KafkaAdminClient

bootstrap, deadline, pid = sys.argv[1], time.monotonic() + float(sys.argv[2]), int(sys.argv[3])
last = "no answer"
while time.monotonic() < deadline:
    if not os.path.exists(f"/proc/{pid}"):
        sys.stderr.write("the broker process exited\n")
        sys.exit(1)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, bootstrap_timeout_ms=2000, request_timeout_ms=3000
        )
        try:
            if admin.describe_cluster()["brokers"]:
                sys.exit(0)
            last = "no broker registered yet"
        finally:
            admin.close()
    except Exception as exc:  # any failure means: not yet
        last = f"{type(exc).__name__}: {exc}"
    time.sleep(0.5)
sys.stderr.write(f"last probe error: {last}\n")
sys.exit(1)
PY
}

new_cluster_id() {
    # A Kafka Uuid: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    "$PYTHON" -c '
import base64, os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break'
}

cmd_start() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        echo "kafka.sh: already running (pid $pid)" >&2
        echo "$BOOTSTRAP"
        return 0
    fi
    [[ -x "$PYTHON" ]] || die "$PYTHON not found: run 'make install' first (or set PYTHON)"
    need java "install Java 17"
    cmd_fetch
    for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if port_in_use "$port"; then
            die "127.0.0.1:$port is already in use by another process; set KAFKA_PORT (and KAFKA_CONTROLLER_PORT)"
        fi
    done

    rm -rf "$DATA_DIR"
    mkdir -p "$DATA_DIR"
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
        -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$DATA_DIR|g" "$TEMPLATE" >"$CONFIG"

    local heap_opts java_opts
    read -r -a heap_opts <<<"$KAFKA_HEAP_OPTS"
    java_opts=(
        "${heap_opts[@]}"
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
    )
    local started_at
    started_at="$(date +%s.%N)"
    if ! java "${java_opts[@]}" -cp "$LIB_DIR/*" kafka.tools.StorageTool format \
        -t "$(new_cluster_id)" -c "$CONFIG" >"$LOG_FILE" 2>&1; then
        tail -n 20 "$LOG_FILE" >&2
        die "formatting the storage failed (log: ${LOG_FILE#"$ROOT"/})"
    fi

    # setsid: the broker leaves the caller's process group, so a Ctrl+C meant for a test run
    # does not kill it before the EXIT trap of scripts/test.sh stops it in order.
    setsid java "${java_opts[@]}" -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG" \
        >>"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"

    if ! probe "$KAFKA_START_TIMEOUT" "$(cat "$PID_FILE")" 2>"$HOME_DIR/probe.err"; then
        tail -n 30 "$LOG_FILE" >&2
        cat "$HOME_DIR/probe.err" >&2
        cmd_stop >/dev/null 2>&1 || true
        die "Kafka did not come up on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s (log: ${LOG_FILE#"$ROOT"/})"
    fi
    echo "kafka.sh: Apache Kafka ready on $BOOTSTRAP in $("$PYTHON" -c "import time; print(f'{time.time() - $started_at:.1f}')") s (pid $(cat "$PID_FILE"), log ${LOG_FILE#"$ROOT"/})" >&2
    echo "$BOOTSTRAP"
}

cmd_stop() {
    local pid
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        echo "kafka.sh: not running" >&2
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    # A controlled shutdown of a single KRaft node takes a few seconds.
    for _ in $(seq 1 300); do
        [[ -n "$(running_pid)" ]] || break
        sleep 0.1
    done
    if [[ -n "$(running_pid)" ]]; then
        echo "kafka.sh: no exit 30 s after SIGTERM, sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            [[ -n "$(running_pid)" ]] || break
            sleep 0.1
        done
    fi
    [[ -z "$(running_pid)" ]] || die "could not stop pid $pid"
    rm -f "$PID_FILE"
    echo "kafka.sh: stopped (pid $pid)" >&2
}

cmd_status() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        echo "running: pid $pid, bootstrap $BOOTSTRAP"
        return 0
    fi
    echo "not running"
    return 3
}

cmd_logs() {
    [[ -f "$LOG_FILE" ]] || die "no log yet (${LOG_FILE#"$ROOT"/})"
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 50 -f "$LOG_FILE"
    fi
    tail -n "${LINES:-100}" "$LOG_FILE"
}

usage() {
    echo "usage: bash scripts/kafka.sh fetch|start|stop|status|logs [-f]" >&2
    exit 2
}

mkdir -p "$HOME_DIR"
case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) cmd_logs "${2:-}" ;;
    *) usage ;;
esac
