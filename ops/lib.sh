# Shared shell functions of the ops/ scripts. Source it; it defines functions only.
# Redis and Postgres run on loopback from Debian's packages; Postgres runs as the postgres user.

ops_log() { printf '[switchboard] %s\n' "$*" >&2; }

# Installs the Debian packages Switchboard needs, only those missing.
ensure_packages() {
  local wanted=(redis-server postgresql libhiredis-dev libpq-dev libcurl4-openssl-dev unzip "$@")
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  ops_log "installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  # Debian starts the packaged servers on their default ports; ours are our own.
  for svc in redis-server postgresql; do
    if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then $sudo systemctl stop "$svc" || true; fi
  done
}

# Prints a TCP port nobody listens on.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

# start_redis DIR PORT: a Redis with AOF (appendfsync everysec) in DIR, on 127.0.0.1:PORT.
start_redis() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then ops_log "redis already up on $port"; return 0; fi
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --appendfsync everysec \
    --save '' --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  ops_log "redis did not start; see $dir/redis.log"; return 1
}

stop_redis() {
  local port=$1
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

# as_postgres CMD...: runs CMD as the postgres user (Postgres refuses to run as root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres DIR PORT: a Postgres cluster in DIR on 127.0.0.1:PORT with database and
# role "switchboard" (the owner, who migrates) and role "switchboard_app" (what the processes
# connect as: `switchboard db migrate` grants it everything but UPDATE/DELETE of the audit
# tables), trust auth on loopback only.
start_postgres() {
  local dir=$1 port=$2 bin; bin=$(pg_bin)
  [ -n "$bin" ] || { ops_log "postgresql is not installed"; return 1; }
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_postgres "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=${SB_PG_FSYNC:-on}" >/dev/null
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt)
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='switchboard'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE ROLE switchboard LOGIN"
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='switchboard_app'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE ROLE switchboard_app LOGIN"
  "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='switchboard'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE DATABASE switchboard OWNER switchboard"
}

stop_postgres() {
  local dir=$1 bin; bin=$(pg_bin)
  [ -f "$dir/PG_VERSION" ] && as_postgres "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# Where the dev fleet's Postgres keeps its data: .run/postgres when the postgres user can reach
# it, else a folder under /var/lib/switchboard named after this checkout.
postgres_data_dir() {
  local dir="$PWD/.run/postgres"
  mkdir -p "$PWD/.run"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$PWD/.run" 2>/dev/null; then
    dir="/var/lib/switchboard/$(printf '%s' "$PWD" | md5sum | cut -c1-12)/postgres"
    mkdir -p "$(dirname "$dir")"
    chmod 755 /var/lib/switchboard "$(dirname "$dir")"
  fi
  printf '%s\n' "$dir"
}

# swift_build ARGS...: swift build with the package manager's chatter about dependencies
# filtered out; returns swift build's own status.
swift_build() {
  local status
  set +e
  swift build "$@" 2>&1 | grep -vE 'unhandled; explicitly declare|CMakeLists.txt$|^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting|Linking|Applying|Planning)'
  status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

# The demo and the benchmarks talk to the simulators on this machine over plain http: name them
# in the outbound allow-list (production leaves both unset: https only, no internal addresses).
allow_local_simulators() {
  export SB_OUTBOUND_ALLOW_HTTP=1 SB_OUTBOUND_ALLOW_HOSTS=127.0.0.1,localhost
}
