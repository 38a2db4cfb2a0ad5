#!/usr/bin/env bash
# The reference broker: Apache Kafka in KRaft mode, one node, loopback only. One instance per
# port: several can run side by side (say the test suite on 19092 and the chaos drills on 29092).
#
#   bash scripts/kafka.sh fetch        # jars from Maven Central into .cache/kafka/lib (once, shared)
#   bash scripts/kafka.sh start        # fetch if needed, fresh storage, start, wait until it answers;
#                                      # prints the bootstrap address on stdout
#   bash scripts/kafka.sh stop         # stop it and wait until it is gone
#   bash scripts/kafka.sh status       # exit 0 when running (or paused), 3 when not
#   bash scripts/kafka.sh logs [-f]    # the broker log (LINES=n, default 100)
#   bash scripts/kafka.sh restart      # a broker restart: stop, start again on the same log
#                                      # (data, topics, offsets and transactions survive)
#   bash scripts/kafka.sh pause        # SIGSTOP the broker: a stall (clients see time-outs)
#   bash scripts/kafka.sh resume       # SIGCONT it
#   bash scripts/kafka.sh info         # the instance's addresses and files, as KEY=VALUE lines
#
# Which instance: KAFKA_PORT (default 19092). Its state lives in .cache/kafka/<KAFKA_PORT>/
# (data/, server.properties, kafka.pid, kafka.log, and tls/ in the secured mode); the jars stay
# shared in .cache/kafka/lib/. `start` always begins with empty storage; `restart` keeps it.
#
# Secured mode: KAFKA_SECURITY=1 at `start` adds, beside the PLAINTEXT listener on KAFKA_PORT
# (kept for tooling and for inter-broker traffic):
#   SASL_PLAINTEXT with SCRAM-SHA-512 on KAFKA_SASL_PORT (KAFKA_PORT + 2),
#   SASL_SSL       with SCRAM-SHA-512 on KAFKA_SASL_SSL_PORT (KAFKA_PORT + 3),
#   SSL (server certificate only)      on KAFKA_SSL_PORT (KAFKA_PORT + 4).
# The SCRAM user is created when the storage is formatted (`kafka-storage format --add-scram`):
# KAFKA_SCRAM_USER (newsclf) / KAFKA_SCRAM_PASSWORD (random when unset; written, mode 600, to
# .cache/kafka/<port>/scram.env). The TLS material is made with Java's keytool: a self-signed CA,
# a broker certificate for 127.0.0.1 / localhost signed by it, and the CA as PEM for clients
# (.cache/kafka/<port>/tls/ca.pem). `info` prints all of it, e.g.
#   KAFKA_SECURITY=1 KAFKA_PORT=29192 KAFKA_SCRAM_PASSWORD=s3cret bash scripts/kafka.sh start
#   eval "$(KAFKA_PORT=29192 bash scripts/kafka.sh info)"   # KAFKA_SASL_BOOTSTRAP=..., KAFKA_CA_PEM=...
#   NEWSCLF_BOOTSTRAP_SERVERS=$KAFKA_SASL_BOOTSTRAP NEWSCLF_SECURITY_PROTOCOL=SASL_PLAINTEXT \
#     NEWSCLF_SASL_MECHANISM=SCRAM-SHA-512 NEWSCLF_SASL_USERNAME=newsclf \
#     NEWSCLF_SASL_PASSWORD=s3cret python -m consumer
# `restart` keeps the mode the instance was started with.
#
# Settings (environment): KAFKA_PORT (19092), KAFKA_CONTROLLER_PORT (KAFKA_PORT + 1),
# KAFKA_HEAP_OPTS (-Xms256m -Xmx768m), KAFKA_START_TIMEOUT seconds (60), PYTHON (.venv/bin/python),
# KAFKA_SECURITY (0), KAFKA_SASL_PORT, KAFKA_SASL_SSL_PORT, KAFKA_SSL_PORT, KAFKA_SCRAM_USER,
# KAFKA_SCRAM_PASSWORD, KAFKA_EXTRA_PROPERTIES (lines appended to server.properties at start).
# Needs Java 17+ (keytool for the secured mode) and Maven; the readiness probe uses kafka-python
# from the project's venv.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_SASL_PORT="${KAFKA_SASL_PORT:-$((KAFKA_PORT + 2))}"
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 3))}"
KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-$((KAFKA_PORT + 4))}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-60}"
KAFKA_SECURITY="${KAFKA_SECURITY:-0}"
KAFKA_SCRAM_USER="${KAFKA_SCRAM_USER:-newsclf}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"

[[ "$KAFKA_PORT" =~ ^[0-9]+$ ]] || { echo "kafka.sh: KAFKA_PORT must be a number" >&2; exit 2; }

POM="$ROOT/scripts/kafka/pom.xml"
TEMPLATE="$ROOT/scripts/kafka/server.properties"
SECURE_TEMPLATE="$ROOT/scripts/kafka/secure.properties"
LOG4J_CONFIG="$ROOT/scripts/kafka/log4j2.properties"
CACHE_DIR="$ROOT/.cache/kafka"
LIB_DIR="$CACHE_DIR/lib"
HOME_DIR="$CACHE_DIR/$KAFKA_PORT"
DATA_DIR="$HOME_DIR/data"
CONFIG="$HOME_DIR/server.properties"
PID_FILE="$HOME_DIR/kafka.pid"
LOG_FILE="$HOME_DIR/kafka.log"
TLS_DIR="$HOME_DIR/tls"
SCRAM_ENV="$HOME_DIR/scram.env"
BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
# Before per-port state, one instance kept its files directly in .cache/kafka/. A broker that an
# older copy of this script started is still found (status/stop) when it serves KAFKA_PORT.
LEGACY_CONFIG="$CACHE_DIR/server.properties"
LEGACY_PID_FILE="$CACHE_DIR/kafka.pid"

die() {
    echo "kafka.sh: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"
}

rel() {
    echo "${1#"$ROOT"/}"
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
    mkdir -p "$CACHE_DIR"
    echo "kafka.sh: fetching Apache Kafka from Maven Central into $(rel "$LIB_DIR") ..." >&2
    rm -rf "$LIB_DIR"
    mkdir -p "$LIB_DIR"
    if ! mvn -B -q -ntp -f "$POM" dependency:copy-dependencies >"$CACHE_DIR/fetch.log" 2>&1; then
        tail -n 20 "$CACHE_DIR/fetch.log" >&2
        rm -rf "$LIB_DIR"
        die "Maven could not fetch the Kafka jars (full output: $(rel "$CACHE_DIR")/fetch.log)"
    fi
    compgen -G "$LIB_DIR/kafka_2.13-*.jar" >/dev/null || die "no kafka_2.13 jar in $LIB_DIR after fetch"
    touch "$stamp"
    local jars=("$LIB_DIR"/*.jar)
    echo "kafka.sh: fetched ${#jars[@]} jars" >&2
}

# pid_if_broker PID_FILE CONFIG: the PID in PID_FILE when that process is alive and is a broker
# started with CONFIG (so a stale PID file whose number was reused is never taken for the broker).
pid_if_broker() {
    local pid_file="$1" config="$2" pid state
    [[ -f "$pid_file" ]] || return 0
    pid="$(cat "$pid_file" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    [[ -r "/proc/$pid/cmdline" ]] || return 0
    state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
    [[ "$state" != "Z" && -n "$state" ]] || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $config"; then
        echo "$pid"
    fi
}

# The PID of this port's running (or paused) broker, or nothing.
running_pid() {
    local pid
    pid="$(pid_if_broker "$PID_FILE" "$CONFIG")"
    if [[ -z "$pid" && -f "$LEGACY_CONFIG" ]] &&
        grep -q "^listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT," "$LEGACY_CONFIG"; then
        pid="$(pid_if_broker "$LEGACY_PID_FILE" "$LEGACY_CONFIG")"
    fi
    echo "$pid"
}

# The PID file of the broker running_pid found (the legacy one or ours).
pid_file_of() {
    if [[ -n "$(pid_if_broker "$PID_FILE" "$CONFIG")" ]]; then
        echo "$PID_FILE"
    else
        echo "$LEGACY_PID_FILE"
    fi
}

is_stopped() { # SIGSTOP'ed: state T
    [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)" == "T" ]]
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

random_secret() {
    "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(18))'
}

java_opts() {
    local heap_opts
    read -r -a heap_opts <<<"$KAFKA_HEAP_OPTS"
    JAVA_OPTS=(
        "${heap_opts[@]}"
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
        "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
    )
}

is_secured() { # the instance's config (rendered at start) has the SASL listener
    [[ -f "$CONFIG" ]] && grep -q '^sasl.enabled.mechanisms=' "$CONFIG"
}

# A CA, a broker key pair signed by it (SAN 127.0.0.1 and localhost), the broker's PKCS12 key
# store and trust store, and the CA as PEM for Python clients. All with keytool, all fresh.
make_tls() {
    need keytool "install Java 17 (keytool ships with it)"
    local pass="$1"
    rm -rf "$TLS_DIR"
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    local kt=(keytool -noprompt -storetype PKCS12)
    (
        cd "$TLS_DIR"
        "${kt[@]}" -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity 30 \
            -dname "CN=newsclf test CA" -ext bc:c -keystore ca.p12 -storepass "$pass" -keypass "$pass"
        "${kt[@]}" -exportcert -rfc -alias ca -keystore ca.p12 -storepass "$pass" -file ca.pem
        "${kt[@]}" -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 30 \
            -dname "CN=127.0.0.1" -ext "san=ip:127.0.0.1,dns:localhost" \
            -keystore broker.p12 -storepass "$pass" -keypass "$pass"
        "${kt[@]}" -certreq -alias broker -keystore broker.p12 -storepass "$pass" -file broker.csr
        "${kt[@]}" -gencert -alias ca -keystore ca.p12 -storepass "$pass" -infile broker.csr \
            -outfile broker.pem -rfc -validity 30 -ext "san=ip:127.0.0.1,dns:localhost" \
            -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth
        "${kt[@]}" -importcert -alias ca -file ca.pem -keystore broker.p12 -storepass "$pass"
        "${kt[@]}" -importcert -alias broker -file broker.pem -keystore broker.p12 -storepass "$pass"
        "${kt[@]}" -importcert -alias ca -file ca.pem -keystore truststore.p12 -storepass "$pass"
        rm -f broker.csr
    ) >"$HOME_DIR/keytool.log" 2>&1 || {
        cat "$HOME_DIR/keytool.log" >&2
        die "keytool could not make the TLS material (log: $(rel "$HOME_DIR")/keytool.log)"
    }
}

render_config() {
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
        -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
        -e "s|@DATA_DIR@|$DATA_DIR|g" "$TEMPLATE" >"$CONFIG"
    if [[ "$KAFKA_SECURITY" == 1 ]]; then
        # Java properties: a key given again later wins, so the secured block overrides listeners.
        sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
            -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
            -e "s|@SASL_PORT@|$KAFKA_SASL_PORT|g" \
            -e "s|@SASL_SSL_PORT@|$KAFKA_SASL_SSL_PORT|g" \
            -e "s|@SSL_PORT@|$KAFKA_SSL_PORT|g" \
            -e "s|@TLS_DIR@|$TLS_DIR|g" \
            -e "s|@STORE_PASSWORD@|$TLS_STORE_PASSWORD|g" "$SECURE_TEMPLATE" >>"$CONFIG"
        chmod 600 "$CONFIG"
    fi
    if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
        printf '\n# KAFKA_EXTRA_PROPERTIES\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >>"$CONFIG"
    fi
}

# Starts the broker process on the rendered config and existing storage; waits until it answers.
launch() {
    local started_at="$1"
    java_opts
    # setsid: the broker leaves the caller's process group, so a Ctrl+C meant for a test run
    # does not kill it before the EXIT trap of scripts/test.sh stops it in order.
    setsid java "${JAVA_OPTS[@]}" -cp "$LIB_DIR/*" kafka.Kafka "$CONFIG" \
        >>"$LOG_FILE" 2>&1 </dev/null &
    echo $! >"$PID_FILE"

    if ! probe "$KAFKA_START_TIMEOUT" "$(cat "$PID_FILE")" 2>"$HOME_DIR/probe.err"; then
        tail -n 30 "$LOG_FILE" >&2
        cat "$HOME_DIR/probe.err" >&2
        cmd_stop >/dev/null 2>&1 || true
        die "Kafka did not come up on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s (log: $(rel "$LOG_FILE"))"
    fi
    local mode=""
    is_secured && mode=", secured: SASL_PLAINTEXT $KAFKA_SASL_PORT, SASL_SSL $KAFKA_SASL_SSL_PORT, SSL $KAFKA_SSL_PORT"
    echo "kafka.sh: Apache Kafka ready on $BOOTSTRAP$mode in $("$PYTHON" -c "import time; print(f'{time.time() - $started_at:.1f}')") s (pid $(cat "$PID_FILE"), log $(rel "$LOG_FILE"))" >&2
}

check_ports() {
    local ports=("$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT")
    if is_secured; then
        ports+=("$KAFKA_SASL_PORT" "$KAFKA_SASL_SSL_PORT" "$KAFKA_SSL_PORT")
    fi
    for port in "${ports[@]}"; do
        if port_in_use "$port"; then
            die "127.0.0.1:$port is already in use by another process; set KAFKA_PORT (and the other ports)"
        fi
    done
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
    mkdir -p "$HOME_DIR"

    local started_at scram_args=()
    started_at="$(date +%s.%N)"
    rm -rf "$DATA_DIR" "$TLS_DIR" "$SCRAM_ENV"
    mkdir -p "$DATA_DIR"
    if [[ "$KAFKA_SECURITY" == 1 ]]; then
        local password="${KAFKA_SCRAM_PASSWORD:-}"
        [[ -n "$password" ]] || password="$(random_secret)"
        [[ "$KAFKA_SCRAM_USER$password" != *[,=\]\[]* ]] ||
            die "KAFKA_SCRAM_USER and KAFKA_SCRAM_PASSWORD must not contain , = [ or ]"
        (
            umask 077
            printf 'KAFKA_SCRAM_USER=%q\nKAFKA_SCRAM_PASSWORD=%q\n' "$KAFKA_SCRAM_USER" "$password" >"$SCRAM_ENV"
        )
        TLS_STORE_PASSWORD="$(random_secret)"
        make_tls "$TLS_STORE_PASSWORD"
        scram_args=(--add-scram "SCRAM-SHA-512=[name=$KAFKA_SCRAM_USER,password=$password]")
    fi
    render_config
    check_ports

    java_opts
    if ! java "${JAVA_OPTS[@]}" -cp "$LIB_DIR/*" kafka.tools.StorageTool format \
        -t "$(new_cluster_id)" -c "$CONFIG" "${scram_args[@]}" >"$LOG_FILE" 2>&1; then
        tail -n 20 "$LOG_FILE" >&2
        die "formatting the storage failed (log: $(rel "$LOG_FILE"))"
    fi
    launch "$started_at"
    echo "$BOOTSTRAP"
}

# A broker restart: stop the process, start it again on the same config and storage.
cmd_restart() {
    [[ -f "$CONFIG" && -f "$DATA_DIR/meta.properties" ]] ||
        die "no instance on port $KAFKA_PORT to restart (start one first)"
    local pid
    pid="$(running_pid)"
    [[ -z "$pid" ]] || [[ "$(pid_file_of)" == "$PID_FILE" ]] ||
        die "the broker on port $KAFKA_PORT was started by an older kafka.sh; stop and start it"
    if [[ -n "$pid" ]] && is_stopped "$pid"; then
        kill -CONT "$pid" 2>/dev/null || true # a paused broker cannot shut down
    fi
    cmd_stop
    local started_at
    started_at="$(date +%s.%N)"
    check_ports
    echo "--- kafka.sh restart $(date -u +%FT%TZ) ---" >>"$LOG_FILE"
    launch "$started_at"
    echo "$BOOTSTRAP"
}

cmd_stop() {
    local pid pid_file
    pid="$(running_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        echo "kafka.sh: not running" >&2
        return 0
    fi
    pid_file="$(pid_file_of)"
    if is_stopped "$pid"; then
        kill -CONT "$pid" 2>/dev/null || true # SIGTERM waits on a stopped process
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
    rm -f "$pid_file"
    echo "kafka.sh: stopped (pid $pid)" >&2
}

cmd_pause() {
    local pid
    pid="$(running_pid)"
    [[ -n "$pid" ]] || die "not running on port $KAFKA_PORT"
    kill -STOP "$pid"
    echo "kafka.sh: paused (pid $pid, SIGSTOP); 'resume' continues it" >&2
}

cmd_resume() {
    local pid
    pid="$(running_pid)"
    [[ -n "$pid" ]] || die "not running on port $KAFKA_PORT"
    kill -CONT "$pid"
    echo "kafka.sh: resumed (pid $pid, SIGCONT)" >&2
}

cmd_status() {
    local pid
    pid="$(running_pid)"
    if [[ -n "$pid" ]]; then
        if is_stopped "$pid"; then
            echo "running (paused: SIGSTOP): pid $pid, bootstrap $BOOTSTRAP"
        else
            echo "running: pid $pid, bootstrap $BOOTSTRAP"
        fi
        return 0
    fi
    echo "not running"
    return 3
}

cmd_info() {
    echo "KAFKA_BOOTSTRAP=$BOOTSTRAP"
    echo "KAFKA_HOME=$HOME_DIR"
    echo "KAFKA_LOG=$LOG_FILE"
    echo "KAFKA_PID=$(running_pid)"
    if is_secured; then
        echo "KAFKA_SASL_BOOTSTRAP=127.0.0.1:$KAFKA_SASL_PORT"
        echo "KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:$KAFKA_SASL_SSL_PORT"
        echo "KAFKA_SSL_BOOTSTRAP=127.0.0.1:$KAFKA_SSL_PORT"
        echo "KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
        echo "KAFKA_CA_PEM=$TLS_DIR/ca.pem"
        [[ -f "$SCRAM_ENV" ]] && cat "$SCRAM_ENV"
    fi
    return 0
}

cmd_logs() {
    local log="$LOG_FILE"
    [[ -f "$log" || ! -f "$CACHE_DIR/kafka.log" || "$KAFKA_PORT" != 19092 ]] || log="$CACHE_DIR/kafka.log"
    [[ -f "$log" ]] || die "no log yet ($(rel "$LOG_FILE"))"
    if [[ "${1:-}" == "-f" ]]; then
        exec tail -n 50 -f "$log"
    fi
    tail -n "${LINES:-100}" "$log"
}

usage() {
    echo "usage: bash scripts/kafka.sh fetch|start|stop|status|logs [-f]|restart|pause|resume|info" >&2
    echo "       (KAFKA_PORT picks the instance; KAFKA_SECURITY=1 start adds SASL/TLS listeners)" >&2
    exit 2
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    logs) cmd_logs "${2:-}" ;;
    restart) cmd_restart ;;
    pause) cmd_pause ;;
    resume) cmd_resume ;;
    info) cmd_info ;;
    *) usage ;;
esac
