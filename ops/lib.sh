# Shared shell functions of the ops/ scripts. Source it; it defines functions only.
# Redis and Postgres run on loopback from Debian's packages; Postgres runs as the postgres user.

ops_log() { printf '[switchboard] %s\n' "$*" >&2; }

# Installs the Debian packages Switchboard needs, only those missing.
ensure_packages() {
  local wanted=(redis-server postgresql libhiredis-dev libpq-dev libcurl4-openssl-dev unzip openssl ca-certificates "$@")
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
# (then SCRAM-SHA-256 for the two roles, over TLS only when TLS is on). SB_TLS_CERT_FILE and
# SB_TLS_KEY_FILE turn TLS on. SB_PG_FSYNC (on), SB_PG_SHARED_BUFFERS (128MB) and
# SB_PG_MAX_WAL_SIZE (1GB) tune it.
start_postgres() {
  local dir=$1 port=$2 bin tls=""; bin=$(pg_bin)
  [ -n "$bin" ] || { ops_log "postgresql is not installed"; return 1; }
  if [ -n "${SB_TLS_CERT_FILE:-}" ] && [ -n "${SB_TLS_KEY_FILE:-}" ]; then tls=1; fi
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
  # With SB_TLS_CERT_FILE / SB_TLS_KEY_FILE, the server speaks TLS (1.2 or newer) with that
  # certificate; clients verify it with sslmode=verify-full and sslrootcert=<the CA>.
  if [ -n "$tls" ]; then
    # The key must belong to the server's user and be readable by it alone.
    install -m 600 "$SB_TLS_KEY_FILE" "$dir/server.key"; install -m 644 "$SB_TLS_CERT_FILE" "$dir/server.crt"
    if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$dir/server.key" "$dir/server.crt"; fi
    printf "ALTER SYSTEM SET ssl_cert_file = '%s';\nALTER SYSTEM SET ssl_key_file = '%s';\nALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1.2';\nALTER SYSTEM SET ssl = on;\nSELECT pg_reload_conf();\n" \
      "$dir/server.crt" "$dir/server.key" | "${psql[@]}" >/dev/null
  fi
  # With both passwords given, the two roles get SCRAM-SHA-256 passwords and TCP connections
  # must present them (the superuser keeps the server's own socket, which only it can reach).
  if [ -n "${SB_PG_OWNER_PASSWORD:-}" ] && [ -n "${SB_PG_APP_PASSWORD:-}" ]; then
    printf "SET password_encryption = 'scram-sha-256';\nALTER ROLE switchboard PASSWORD :'owner';\nALTER ROLE switchboard_app PASSWORD :'app';\n" |
      "$bin/psql" -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt -v owner="$SB_PG_OWNER_PASSWORD" -v app="$SB_PG_APP_PASSWORD" >/dev/null
    # With TLS on (above), TCP connections must use it: plain TCP is rejected.
    local hba="$dir/pg_hba.conf" marker='# switchboard: scram' line='host all all 127.0.0.1/32 scram-sha-256'
    if [ -n "$tls" ]; then
      marker='# switchboard: scram over tls'
      line='hostssl all all 127.0.0.1/32 scram-sha-256\nhostnossl all all 127.0.0.1/32 reject'
    fi
    if ! grep -qx "$marker" "$hba"; then
      printf '%s\nlocal all postgres trust\n'"$line"'\n' "$marker" | as_postgres tee "$hba" >/dev/null
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

# make_local_tls DIR: a local certificate authority (DIR/ca.pem, its key DIR/ca.key) and a
# server certificate it signed for 127.0.0.1, ::1 and localhost (DIR/server.pem, DIR/server.key),
# made once and again only when the server certificate has under 30 days left. Keys are mode 600.
# Every server of the default run presents server.pem; every client trusts ca.pem.
make_local_tls() {
  local dir=$1
  mkdir -p "$dir"
  if [ -f "$dir/server.pem" ] && openssl x509 -in "$dir/server.pem" -noout -checkend $((30 * 86400)) >/dev/null 2>&1; then return 0; fi
  ( umask 077
    if ! { [ -f "$dir/ca.pem" ] && openssl x509 -in "$dir/ca.pem" -noout -checkend $((60 * 86400)) >/dev/null 2>&1; }; then
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj "/CN=Switchboard local CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
    fi
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
      -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n' > "$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 397 \
      -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
    rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
  )
  chmod 644 "$dir/ca.pem" "$dir/server.pem"
  ops_log "made a local CA and a server certificate in $dir"
}

# use_local_tls DIR: every process of the run serves HTTPS with DIR's certificate and trusts
# DIR's CA for its outbound calls (libcurl, and Postgres with sslmode=verify-full).
use_local_tls() {
  export SB_TLS_CERT_FILE=$1/server.pem SB_TLS_KEY_FILE=$1/server.key SB_TLS_CA_FILE=$1/ca.pem
}
