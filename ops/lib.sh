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
# rcli ARGS...: redis-cli as the ACL user SB_REDIS_USER when SB_REDIS_PASSWORD is set (the
# password goes through the environment, never the command line).
rcli() {
  if [ -n "${SB_REDIS_PASSWORD:-}" ]; then
    REDISCLI_AUTH=$SB_REDIS_PASSWORD redis-cli --user "${SB_REDIS_USER:-switchboard}" "$@"
  else
    redis-cli "$@"
  fi
}

# start_redis DIR PORT: Redis on 127.0.0.1:PORT with its AOF in DIR. With SB_REDIS_PASSWORD set,
# the default user is off and only the ACL user SB_REDIS_USER (switchboard) with that password
# may connect (the ACL is written to DIR/acl.conf, mode 600, not to the command line).
start_redis() {
  local dir=$1 port=$2 conf=()
  mkdir -p "$dir"
  if rcli -p "$port" ping 2>/dev/null | grep -q PONG; then ops_log "redis already up on $port"; return 0; fi
  if [ -n "${SB_REDIS_PASSWORD:-}" ] && redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
    # Our Redis from before it had a password (an older .run/) is restarted with the ACL, its AOF
    # kept; anyone else's is left alone.
    if [ "$(redis-cli -p "$port" config get dir 2>/dev/null | sed -n 2p)" != "$(cd "$dir" && pwd -P)" ]; then
      ops_log "a Redis without a password answers on port $port: stop it or choose another SB_REDIS_PORT"; return 1
    fi
    ops_log "restarting the redis on $port with its ACL user"
    redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 || break; sleep 0.05; done
  fi
  if [ -n "${SB_REDIS_PASSWORD:-}" ]; then
    (umask 077; printf 'user default off\nuser %s on >%s ~* &* +@all\n' "${SB_REDIS_USER:-switchboard}" "$SB_REDIS_PASSWORD" > "$dir/acl.conf")
    printf 'aclfile %s\n' "$dir/acl.conf" > "$dir/redis.conf"
    conf=("$dir/redis.conf")
  fi
  redis-server "${conf[@]}" --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --appendfsync everysec \
    --save '' --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 100); do rcli -p "$port" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done
  ops_log "redis did not start; see $dir/redis.log"; return 1
}

stop_redis() {
  local port=$1
  rcli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

# as_postgres CMD...: runs CMD as the postgres user (Postgres refuses to run as root).
as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# start_postgres DIR PORT: a Postgres cluster in DIR on 127.0.0.1:PORT with database and
# role "switchboard" (the owner, who migrates) and role "switchboard_app" (what the processes
# connect as: `switchboard db migrate` grants it everything but UPDATE/DELETE of the audit
# tables), trust auth on loopback unless SB_PG_OWNER_PASSWORD and SB_PG_APP_PASSWORD are set
# (then SCRAM-SHA-256 for the two roles). SB_PG_FSYNC (on), SB_PG_SHARED_BUFFERS (128MB) and
# SB_PG_MAX_WAL_SIZE (1GB) tune it.
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
      -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=${SB_PG_FSYNC:-on} \
          -c shared_buffers=${SB_PG_SHARED_BUFFERS:-128MB} -c max_wal_size=${SB_PG_MAX_WAL_SIZE:-1GB}" >/dev/null
  fi
  local psql=("$bin/psql" -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt)
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='switchboard'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE ROLE switchboard LOGIN"
  "${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='switchboard_app'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE ROLE switchboard_app LOGIN"
  "${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='switchboard'" | grep -q 1 ||
    "${psql[@]}" -c "CREATE DATABASE switchboard OWNER switchboard"
  # With both passwords given, the two roles get SCRAM-SHA-256 passwords and TCP connections
  # must present them (the superuser keeps the server's own socket, which only it can reach).
  if [ -n "${SB_PG_OWNER_PASSWORD:-}" ] && [ -n "${SB_PG_APP_PASSWORD:-}" ]; then
    printf "SET password_encryption = 'scram-sha-256';\nALTER ROLE switchboard PASSWORD :'owner';\nALTER ROLE switchboard_app PASSWORD :'app';\n" |
      "$bin/psql" -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt -v owner="$SB_PG_OWNER_PASSWORD" -v app="$SB_PG_APP_PASSWORD" >/dev/null
    local hba="$dir/pg_hba.conf"
    if ! grep -q '^# switchboard: scram' "$hba"; then
      printf '# switchboard: scram\nlocal all postgres trust\nhost all all 127.0.0.1/32 scram-sha-256\n' |
        as_postgres tee "$hba" >/dev/null
      as_postgres "$bin/pg_ctl" -D "$dir" reload >/dev/null
    fi
  fi
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
