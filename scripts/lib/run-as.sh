# Sourced by the service scripts (pg-local.sh, pgbouncer-local.sh): PostgreSQL and PgBouncer refuse to
# run as root, so invoked as root they run as a system user; invoked as a normal user, as that user.

# service_user [OVERRIDE]: the OS user a service runs as: the caller when not root; as root the
# override when given, else Debian's `postgres` user, else `llmo-pg` (pg-local.sh creates it).
service_user() {
  if [[ "$(id -u)" != 0 ]]; then id -un; return 0; fi
  if [[ -n "${1:-}" ]]; then echo "$1"; return 0; fi
  if id postgres >/dev/null 2>&1; then echo postgres; else echo llmo-pg; fi
}

# run_as USER DIR CMD...: runs CMD in DIR, as USER when invoked as root (root's cwd may be unreadable to it).
run_as() {
  local user="$1" dir="$2"
  shift 2
  if [[ "$(id -u)" == 0 ]]; then
    if command -v runuser >/dev/null; then
      (cd "$dir" && runuser -u "$user" -- "$@")
    else
      (cd "$dir" && setpriv --reuid="$user" --regid="$user" --init-groups -- "$@")
    fi
  else
    (cd "$dir" && "$@")
  fi
}
