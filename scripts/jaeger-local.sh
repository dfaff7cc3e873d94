#!/usr/bin/env bash
# A real Jaeger (v2: an OpenTelemetry Collector distribution with Jaeger's storage and query service) without
# Docker, for the tracing integration tests. The binary is built from the Go module proxy
# (github.com/jaegertracing/jaeger/cmd/jaeger at a tagged release) and cached; it runs with in-memory storage,
# the OTLP receivers (gRPC and HTTP) and the query service (UI and HTTP API), all on 127.0.0.1.
#
#   bash scripts/jaeger-local.sh build    # build the binary (first time only; ~7 min cold on 2 cores), print its path
#   bash scripts/jaeger-local.sh start    # build (first time), write the config, start, wait until the query API answers
#   bash scripts/jaeger-local.sh status   # exit 0 when Jaeger is up and its query API answers
#   bash scripts/jaeger-local.sh env      # prints LLMO_JAEGER_OTLP=…, LLMO_JAEGER_OTLP_GRPC=…, LLMO_JAEGER_QUERY=…
#   bash scripts/jaeger-local.sh stop     # SIGTERM, wait (SIGKILL after JAEGER_STOP_TIMEOUT seconds)
#
# Environment:
#   JAEGER_HOME             state dir (default: <repo>/.jaeger): config.yaml, jaeger.pid, ports, logs/jaeger.log
#   LLMO_JAEGER_HOME        binary cache (default: $HOME/.cache/llmo): jaeger-<version>/jaeger, built when missing
#   JAEGER_VERSION          module version of github.com/jaegertracing/jaeger (default v1.75.0, release v2.12.0)
#   JAEGER_BIN              use this jaeger binary instead of building one
#   JAEGER_OTLP_GRPC_PORT   OTLP/gRPC receiver port on 127.0.0.1 (default 4317)
#   JAEGER_OTLP_HTTP_PORT   OTLP/HTTP receiver port (default 4318)
#   JAEGER_QUERY_PORT       query service HTTP port: UI and /api (default 16686)
#   JAEGER_QUERY_GRPC_PORT  query service gRPC port (default 16685)
#                           When none of the four is set and a default is busy, all four move up by 10000
#                           (14317, 14318, 26686, 26685; then +20000, …): `env` prints the ports in use.
#   JAEGER_MAX_TRACES       traces kept in memory (default 100000; the oldest are dropped)
#   JAEGER_START_TIMEOUT    seconds to wait for the query API (default 60)
#   JAEGER_STOP_TIMEOUT     seconds to wait after SIGTERM before SIGKILL (default 30)
#   JAEGER_BUILD_TIMEOUT    seconds the whole build may take (default 1800)
#
# start and env print, as their last three lines on stdout (progress goes to stderr):
#   LLMO_JAEGER_OTLP=http://127.0.0.1:4318        OTLP/HTTP base URL (exporters append /v1/traces)
#   LLMO_JAEGER_OTLP_GRPC=http://127.0.0.1:4317   OTLP/gRPC endpoint
#   LLMO_JAEGER_QUERY=http://127.0.0.1:16686      query service: the UI, /api/traces, /api/v3/traces
# start is idempotent: a running Jaeger is reused as it is. No root needed: it runs as the calling user.
# The data is in memory: a restart starts empty. A binary built from the module proxy has no UI assets
# (the release's UI is a separate npm build): the query API answers, the UI page is a placeholder; the
# jaegertracing/jaeger image of docker-compose.yml has the full UI.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAEGER_HOME="${JAEGER_HOME:-$REPO/.jaeger}"
JAEGER_VERSION="${JAEGER_VERSION:-v1.75.0}"
CACHE="${LLMO_JAEGER_HOME:-${HOME:-/tmp}/.cache/llmo}/jaeger-$JAEGER_VERSION"
MODULE=github.com/jaegertracing/jaeger
HOST=127.0.0.1
START_TIMEOUT="${JAEGER_START_TIMEOUT:-60}"
STOP_TIMEOUT="${JAEGER_STOP_TIMEOUT:-30}"
BUILD_TIMEOUT="${JAEGER_BUILD_TIMEOUT:-1800}"
MAX_TRACES="${JAEGER_MAX_TRACES:-100000}"
DEFAULT_PORTS=(4317 4318 16686 16685) # OTLP gRPC, OTLP HTTP, query HTTP, query gRPC
PORT_VARS=(JAEGER_OTLP_GRPC_PORT JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT)

LOGS="$JAEGER_HOME/logs"
CONF="$JAEGER_HOME/config.yaml"
PID_FILE="$JAEGER_HOME/jaeger.pid"
PORTS_FILE="$JAEGER_HOME/ports"

log() { printf 'jaeger-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ "$JAEGER_VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "JAEGER_VERSION must be a tag like v1.75.0, not $JAEGER_VERSION"
[[ "$MAX_TRACES" =~ ^[1-9][0-9]*$ ]] || die "JAEGER_MAX_TRACES must be a positive integer, not $MAX_TRACES"
[[ "$BUILD_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || die "JAEGER_BUILD_TIMEOUT must be a positive number of seconds, not $BUILD_TIMEOUT"

# --- binary -------------------------------------------------------------------------------------------
# `go install $MODULE/cmd/jaeger@$JAEGER_VERSION` is refused (the module's go.mod has replace directives), so
# the command is built as a tool dependency of a scratch module: go get -tool resolves the release's own
# dependency versions through the module proxy; go build then links it.
check_go() {
  command -v go >/dev/null || die "go not found (Go 1.24+ builds Jaeger once from the module proxy; or set JAEGER_BIN)"
  local v
  v="$(go env GOVERSION 2>/dev/null | sed -n 's/^go\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
  read -r major minor <<<"$v"
  [[ -n "${major:-}" ]] && ((major > 1 || minor >= 24)) || die "Go 1.24+ is needed (go get -tool), found: $(go version)"
}

build_lock() {
  mkdir -p "$CACHE"
  if command -v flock >/dev/null; then
    exec 8>"$CACHE/.lock"
    flock -w "$BUILD_TIMEOUT" 8 || die "timed out waiting for another build of Jaeger (lock $CACHE/.lock)"
  fi
}

# Prints the path of the binary, building it first when the cache has none.
ensure_binary() {
  if [[ -n "${JAEGER_BIN:-}" ]]; then
    [[ -x "$JAEGER_BIN" ]] || die "JAEGER_BIN=$JAEGER_BIN is not an executable file"
    echo "$JAEGER_BIN"
    return 0
  fi
  local bin="$CACHE/jaeger"
  if [[ -x "$bin" ]]; then echo "$bin"; return 0; fi
  build_lock
  if [[ -x "$bin" ]]; then echo "$bin"; return 0; fi # built by whoever held the lock
  check_go
  local work="$CACHE/build" t0=$SECONDS
  rm -rf "$work"
  mkdir -p "$work"
  log "building $MODULE/cmd/jaeger@$JAEGER_VERSION from the Go module proxy (first run only; ~7 min cold on 2 cores)..."
  log "build log: $work/build.log"
  # The release's cmd/jaeger reports the v2 release number; module tag v1.N.0 is release v2.(N-63).0.
  local release minor
  minor="$(echo "$JAEGER_VERSION" | sed -n 's/^v1\.\([0-9]*\)\.\([0-9]*\)$/\1/p')"
  release="$JAEGER_VERSION"
  if [[ -n "$minor" ]] && ((minor >= 63)); then release="v2.$((minor - 63)).$(echo "$JAEGER_VERSION" | cut -d. -f3)"; fi
  # Each step must succeed (&&: errexit does not apply inside an `if` condition). -mod=readonly: the build
  # links exactly what go get recorded, never a version it would resolve by itself.
  # JAEGER_BUILD_TIMEOUT bounds the whole build: each step gets what is left of it.
  local deadline=$((SECONDS + BUILD_TIMEOUT))
  left() { local n=$((deadline - SECONDS)); echo $((n > 1 ? n : 1)); }
  if ! (
    cd "$work" \
      && export CGO_ENABLED=0 GOWORK=off GOFLAGS= \
      && timeout "$(left)" go mod init jaeger-local-build \
      && timeout "$(left)" go get -tool "$MODULE/cmd/jaeger@$JAEGER_VERSION" \
      && [[ "$(go list -m -f '{{.Version}}' "$MODULE")" == "$JAEGER_VERSION" ]] \
      && timeout "$(left)" go build -mod=readonly -trimpath -buildvcs=false \
        -ldflags "-s -w -X $MODULE/internal/version.latestVersion=$release -X $MODULE/internal/version.date=$(date -u +%FT%TZ)" \
        -o "$work/jaeger" "$MODULE/cmd/jaeger"
  ) >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    ((SECONDS < deadline)) || die "building Jaeger took longer than JAEGER_BUILD_TIMEOUT=${BUILD_TIMEOUT}s (log: $work/build.log)"
    die "building Jaeger failed (log: $work/build.log)"
  fi
  "$work/jaeger" version >/dev/null 2>&1 || die "the built binary does not run (log: $work/build.log)"
  mv "$work/jaeger" "$bin.tmp"
  mv "$bin.tmp" "$bin"
  mv "$work/build.log" "$CACHE/build.log"
  rm -rf "$work"
  log "built in $((SECONDS - t0))s -> $bin"
  echo "$bin"
}

# --- process state ------------------------------------------------------------------------------------
# The pid in jaeger.pid counts only while it is still a jaeger running our config.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--config file:$CONF" || return 1
  fi
  echo "$pid"
}

# The ports in use (running) or that start would try first: "grpc http query query-grpc".
current_ports() {
  if [[ -f "$PORTS_FILE" ]] && running_pid >/dev/null; then cat "$PORTS_FILE"; return; fi
  local i out=()
  for i in 0 1 2 3; do out+=("${!PORT_VARS[i]:-${DEFAULT_PORTS[i]}}"); done
  echo "${out[*]}"
}

print_env() {
  local grpc http query qgrpc
  read -r grpc http query qgrpc <<<"$1"
  echo "LLMO_JAEGER_OTLP=http://$HOST:$http"
  echo "LLMO_JAEGER_OTLP_GRPC=http://$HOST:$grpc"
  echo "LLMO_JAEGER_QUERY=http://$HOST:$query"
}

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

choose_ports() {
  local i set=0 ports=()
  for i in 0 1 2 3; do
    if [[ -n "${!PORT_VARS[i]:-}" ]]; then
      set=1
      [[ "${!PORT_VARS[i]}" =~ ^[0-9]+$ ]] || die "${PORT_VARS[i]} must be a port number, not ${!PORT_VARS[i]}"
    fi
  done
  if ((set)); then
    for i in 0 1 2 3; do
      ports+=("${!PORT_VARS[i]:-${DEFAULT_PORTS[i]}}")
      if port_busy "${ports[i]}"; then
        [[ -n "${!PORT_VARS[i]:-}" ]] || die "port $HOST:${ports[i]}, the default of ${PORT_VARS[i]}, is in use: set ${PORT_VARS[i]} too"
        die "port $HOST:${ports[i]} (${PORT_VARS[i]}) is in use"
      fi
    done
    [[ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" == 4 ]] || die "the four Jaeger ports must differ: ${ports[*]}"
    echo "${ports[*]}"
    return
  fi
  local offset
  for offset in 0 10000 20000 30000 40000; do
    ports=()
    for i in 0 1 2 3; do ports+=($((DEFAULT_PORTS[i] + offset))); done
    local free=1
    for i in 0 1 2 3; do if port_busy "${ports[i]}"; then free=0; break; fi; done
    if ((free)); then echo "${ports[*]}"; return; fi
  done
  die "the default ports and their +10000..+40000 shifts are all busy; set ${PORT_VARS[*]}"
}

# Readiness: the query service's HTTP API lists the services (an empty list on a fresh start).
probe() {
  local url="http://$HOST:$1/api/services"
  if command -v curl >/dev/null; then
    curl -fsS --max-time 3 "$url" 2>/dev/null | grep -q '"data"'
  else
    (exec 3<>"/dev/tcp/$HOST/$1" && printf 'GET /api/services HTTP/1.0\r\nHost: %s\r\n\r\n' "$HOST" >&3 && head -n1 <&3 | grep -q ' 200') 2>/dev/null
  fi
}

lock() {
  mkdir -p "$JAEGER_HOME"
  if command -v flock >/dev/null; then
    exec 9>"$JAEGER_HOME/.lock"
    flock -w "$BUILD_TIMEOUT" 9 || die "timed out waiting for the lock on $JAEGER_HOME"
  fi
}

# --- config -------------------------------------------------------------------------------------------
write_config() {
  local grpc http query qgrpc
  read -r grpc http query qgrpc <<<"$1"
  cat >"$CONF" <<EOF
# generated by scripts/jaeger-local.sh on every start: in-memory storage, OTLP in, query service out,
# everything on $HOST; no self-tracing, no internal metrics endpoint, no other receivers.
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger-local
    metrics:
      level: none
    logs:
      level: info

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: $MAX_TRACES
  jaeger_query:
    storage:
      traces: memstore
    enable_tracing: false
    http:
      endpoint: $HOST:$query
    grpc:
      endpoint: $HOST:$qgrpc

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: $HOST:$grpc
      http:
        endpoint: $HOST:$http

processors:
  batch:
    timeout: 100ms

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
EOF
}

# --- commands -----------------------------------------------------------------------------------------
cmd_build() {
  ensure_binary
}

cmd_start() {
  lock
  local pid
  if pid="$(running_pid)"; then
    log "already running (pid $pid)"
    print_env "$(cat "$PORTS_FILE")"
    return 0
  fi
  rm -f "$PID_FILE" "$PORTS_FILE"
  local t0=$SECONDS bin ports
  bin="$(ensure_binary)"
  mkdir -p "$LOGS"
  ports="$(choose_ports)"
  write_config "$ports"
  "$bin" validate --config "file:$CONF" >"$LOGS/validate.log" 2>&1 \
    || { cat "$LOGS/validate.log" >&2; die "Jaeger rejected $CONF (log: $LOGS/validate.log)"; }
  local grpc http query qgrpc
  read -r grpc http query qgrpc <<<"$ports"
  log "starting Jaeger $JAEGER_VERSION: OTLP gRPC $HOST:$grpc, OTLP HTTP $HOST:$http, query $HOST:$query (gRPC $qgrpc)..."
  echo "--- $(date -u +%FT%TZ) start" >>"$LOGS/jaeger.log"
  nohup "$bin" --config "file:$CONF" </dev/null >>"$LOGS/jaeger.log" 2>&1 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$PID_FILE"
  echo "$ports" >"$PORTS_FILE"

  local deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE" "$PORTS_FILE"
      tail -n 30 "$LOGS/jaeger.log" >&2 2>/dev/null || true
      die "Jaeger exited during start (log: $LOGS/jaeger.log)"
    fi
    if probe "$query"; then break; fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$LOGS/jaeger.log" >&2 2>/dev/null || true
      cmd_stop_locked || true
      die "the query API did not answer within ${START_TIMEOUT}s (log: $LOGS/jaeger.log)"
    fi
    sleep 0.2
  done
  log "up in $((SECONDS - t0))s (pid $pid; UI http://$HOST:$query)"
  print_env "$ports"
}

cmd_stop_locked() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE" "$PORTS_FILE"
    log "not running"
    return 0
  fi
  log "stopping pid $pid..."
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE" "$PORTS_FILE"
  log "stopped"
}

cmd_stop() { lock; cmd_stop_locked; }

cmd_status() {
  local pid ports
  if ! pid="$(running_pid)"; then
    echo "jaeger-local: not running"
    return 1
  fi
  ports="$(cat "$PORTS_FILE")"
  local query
  query="$(echo "$ports" | cut -d' ' -f3)"
  if probe "$query"; then
    echo "jaeger-local: running (pid $pid) $(print_env "$ports" | tr '\n' ' ')"
    return 0
  fi
  echo "jaeger-local: process $pid is alive but its query API on $HOST:$query does not answer"
  return 1
}

case "${1:-}" in
  build) cmd_build ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_env "$(current_ports)" ;;
  *)
    echo "usage: $0 build|start|stop|status|env" >&2
    exit 2
    ;;
esac
