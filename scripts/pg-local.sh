#!/usr/bin/env bash
# A real PostgreSQL server (Debian's packages, no Docker) for the PostgreSQL run store and its tests.
# PostgreSQL refuses to run as root: invoked as root, the script runs initdb/pg_ctl as the Debian
# `postgres` user (or, without one, a system user `llmo-pg` it creates) in a data dir that user owns;
# invoked as a normal user, it runs them as that user.
#
#   bash scripts/pg-local.sh start    # install (root + apt-get, first time), initdb (first time), start, create role/db llmo
#   bash scripts/pg-local.sh status   # exit 0 when the server is up and accepts connections
#   bash scripts/pg-local.sh env      # prints LLMO_PG_URL=postgres://llmo:llmo@127.0.0.1:PORT/llmo
#   bash scripts/pg-local.sh stop     # pg_ctl stop -m fast (immediate after PG_STOP_TIMEOUT seconds)
#
# Environment:
#   PG_HOME            state dir (default: <repo>/.pg): data/, log/postgres.log, run/ (the unix socket), port
#   PG_PORT            TCP port on 127.0.0.1 (default 55432; when unset and busy, the next free port is used)
#   PG_VERSION         the major version under /usr/lib/postgresql (default: the newest installed)
#   PG_BIN             the directory of initdb/pg_ctl (overrides PG_VERSION; otherwise Debian's layout, then PATH)
#   PG_USER            the OS user to run the server as when invoked as root (default postgres, else llmo-pg)
#   PG_START_TIMEOUT   seconds to wait for the server to accept connections (default 60)
#   PG_STOP_TIMEOUT    seconds for a fast shutdown before an immediate one (default 60)
#
# The server listens on 127.0.0.1 only, with fsync and synchronous_commit on (the store's durability is
# tested against it). Role `llmo` (password `llmo`, superuser: it is the cluster's bootstrap user) and
# database `llmo`. start prints LLMO_PG_URL=postgres://llmo:llmo@127.0.0.1:PORT/llmo as its last line on
# stdout; progress goes to stderr. start is idempotent: a running server is reused as it is.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_HOME="${PG_HOME:-$REPO/.pg}"
HOST=127.0.0.1
DEFAULT_PORT=55432
START_TIMEOUT="${PG_START_TIMEOUT:-60}"
STOP_TIMEOUT="${PG_STOP_TIMEOUT:-60}"
DB_USER=llmo
DB_PASSWORD=llmo
DB_NAME=llmo

DATA="$PG_HOME/data"
LOGS="$PG_HOME/log"
SOCK="$PG_HOME/run"
PORT_FILE="$PG_HOME/port"

log() { printf 'pg-local: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- binaries -----------------------------------------------------------------------------------------
find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return 0; fi
  local v="${PG_VERSION:-}"
  if [[ -z "$v" && -d /usr/lib/postgresql ]]; then
    v="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sed 's#/usr/lib/postgresql/\([^/]*\)/bin/initdb#\1#' | sort -V | tail -n1)"
  fi
  if [[ -n "$v" && -x "/usr/lib/postgresql/$v/bin/initdb" ]]; then echo "/usr/lib/postgresql/$v/bin"; return 0; fi
  local i
  if i="$(command -v initdb)"; then dirname "$i"; return 0; fi
  return 1
}

install_postgres() {
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null || return 1
  log "PostgreSQL is not installed: installing Debian's postgresql package..."
  # Debian's postinst would create and start a `main` cluster on 5432; this script runs its own.
  if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
  fi
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q --no-install-recommends postgresql >/dev/null 2>&1; }; } \
    || die "apt-get install postgresql failed"
}

BIN=""
need_bin() {
  [[ -z "$BIN" ]] || return 0
  if ! BIN="$(find_bin)"; then
    [[ "${1:-}" == install ]] || die "PostgreSQL not found (bash scripts/pg-local.sh start installs it as root with apt-get; or set PG_BIN)"
    install_postgres || die "PostgreSQL not found (install Debian's postgresql package, or set PG_BIN)"
    BIN="$(find_bin)" || die "PostgreSQL still not found after installing it"
  fi
  [[ -x "$BIN/pg_ctl" ]] || die "no pg_ctl in $BIN"
}

# --- the OS user ----------------------------------------------------------------------------------------
# shellcheck source=lib/run-as.sh
source "$REPO/scripts/lib/run-as.sh"
RUN_USER="$(service_user "${PG_USER:-}")"

ensure_user() {
  [[ "$(id -u)" == 0 ]] || return 0
  id "$RUN_USER" >/dev/null 2>&1 && return 0
  log "creating system user $RUN_USER (PostgreSQL refuses to run as root)"
  if command -v useradd >/dev/null; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$RUN_USER"
  elif command -v adduser >/dev/null; then
    adduser --system --group --no-create-home "$RUN_USER" >/dev/null
  else
    die "cannot create user $RUN_USER (no useradd/adduser); set PG_USER to an existing non-root user"
  fi
}

# as CMD...: runs a command as the server's user, in PG_HOME (root's cwd may be unreadable to it).
as() { run_as "$RUN_USER" "$PG_HOME" "$@"; }

prepare_home() {
  mkdir -p "$PG_HOME"
  if [[ "$(id -u)" == 0 ]]; then
    chown "$RUN_USER:" "$PG_HOME"
    as test -w "$PG_HOME" \
      || die "$RUN_USER cannot write $PG_HOME (a parent directory is not searchable by it?); set PG_HOME elsewhere"
  fi
  as mkdir -p "$LOGS" "$SOCK"
  as chmod 700 "$SOCK"
}

# --- process state --------------------------------------------------------------------------------------
is_running() {
  [[ -f "$DATA/postmaster.pid" ]] || return 1
  as "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

current_port() {
  if [[ -f "$PORT_FILE" ]]; then cat "$PORT_FILE"; else echo "${PG_PORT:-$DEFAULT_PORT}"; fi
}

url() { echo "LLMO_PG_URL=postgres://$DB_USER:$DB_PASSWORD@$HOST:$1/$DB_NAME"; }

port_busy() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

choose_port() {
  local port
  if [[ -n "${PG_PORT:-}" ]]; then
    port_busy "$PG_PORT" && die "port $HOST:$PG_PORT (PG_PORT) is in use"
    echo "$PG_PORT"
    return
  fi
  port=$DEFAULT_PORT
  while port_busy "$port"; do
    port=$((port + 1))
    ((port < DEFAULT_PORT + 100)) || die "no free port in $DEFAULT_PORT-$((DEFAULT_PORT + 99)); set PG_PORT"
  done
  echo "$port"
}

lock() {
  mkdir -p "$PG_HOME"
  if command -v flock >/dev/null; then
    exec 9>"$PG_HOME/.lock"
    flock -w 300 9 || die "timed out waiting for the lock on $PG_HOME"
  fi
}

# --- commands -------------------------------------------------------------------------------------------
init_cluster() {
  [[ -f "$DATA/PG_VERSION" ]] && return 0
  log "initdb $DATA (as $RUN_USER)..."
  as rm -rf "$DATA"
  local pw="$PG_HOME/.pwfile"
  as sh -c "umask 077; printf '%s\n' '$DB_PASSWORD' >'$pw'"
  if ! as "$BIN/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$LOGS/initdb.log" 2>&1 \
    && ! as "$BIN/initdb" -D "$DATA" -U "$DB_USER" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C >"$LOGS/initdb.log" 2>&1; then
    as rm -f "$pw"
    cat "$LOGS/initdb.log" >&2
    die "initdb failed (log: $LOGS/initdb.log)"
  fi
  as rm -f "$pw"
  # Settings the script owns live in llmo.conf (rewritten on every start: the port may change).
  as sh -c "printf \"\\n# scripts/pg-local.sh\\ninclude_if_exists = 'llmo.conf'\\n\" >>'$DATA/postgresql.conf'"
}

write_conf() {
  local port="$1"
  as sh -c "cat >'$DATA/llmo.conf'" <<EOF
# generated by scripts/pg-local.sh on every start: loopback only, durable commits
listen_addresses = '$HOST'
port = $port
unix_socket_directories = '$SOCK'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 200
shared_buffers = 64MB
logging_collector = off
log_min_messages = warning
EOF
}

cmd_start() {
  lock
  need_bin install
  ensure_user
  prepare_home
  if is_running; then
    log "already running ($(as "$BIN/pg_ctl" -D "$DATA" status | head -n1))"
    url "$(current_port)"
    return 0
  fi
  local t0=$SECONDS port
  init_cluster
  port="$(choose_port)"
  write_conf "$port"
  echo "$port" >"$PORT_FILE"
  log "starting PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on $HOST:$port as $RUN_USER (data $DATA)..."
  if ! as "$BIN/pg_ctl" -D "$DATA" -l "$LOGS/postgres.log" -w -t "$START_TIMEOUT" start >/dev/null 2>&1 9>&-; then
    tail -n 30 "$LOGS/postgres.log" >&2 2>/dev/null || true
    die "the server did not start (log: $LOGS/postgres.log)"
  fi
  if [[ "$(as "$BIN/psql" -h "$SOCK" -p "$port" -U "$DB_USER" -d postgres -tAc "select 1 from pg_database where datname = '$DB_NAME'")" != 1 ]]; then
    as "$BIN/createdb" -h "$SOCK" -p "$port" -U "$DB_USER" "$DB_NAME" || die "createdb $DB_NAME failed"
    log "created database $DB_NAME"
  fi
  log "up in $((SECONDS - t0))s"
  url "$port"
}

cmd_stop() {
  lock
  need_bin
  if ! is_running; then
    log "not running"
    return 0
  fi
  log "stopping..."
  if ! as "$BIN/pg_ctl" -D "$DATA" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1; then
    log "no fast shutdown within ${STOP_TIMEOUT}s: immediate"
    as "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null 2>&1 || die "pg_ctl stop failed"
  fi
  log "stopped"
}

cmd_status() {
  need_bin
  if ! is_running; then
    echo "pg-local: not running"
    return 1
  fi
  local port
  port="$(current_port)"
  if as "$BIN/pg_isready" -q -h "$HOST" -p "$port"; then
    echo "pg-local: running on $HOST:$port, $(url "$port")"
    return 0
  fi
  echo "pg-local: the server process is alive but $HOST:$port does not accept connections"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) url "$(current_port)" ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
