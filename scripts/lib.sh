# Shared helpers for Nimbus scripts. Source it: . "$(dirname "$0")/lib.sh"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The toolchain's `swift`, never Debian python3-swiftclient's /usr/bin/swift.
swift_tool() {
    local swiftc
    swiftc="$(command -v swiftc || true)"
    [ -n "$swiftc" ] || { [ -x /opt/swift/usr/bin/swiftc ] && swiftc=/opt/swift/usr/bin/swiftc; }
    [ -n "$swiftc" ] || { echo "swiftc not found: install the Swift toolchain" >&2; exit 1; }
    echo "$(dirname "$swiftc")/swift"
}
SWIFT="$(swift_tool)"

# Installs the Debian packages the build and the tests need, if any is missing.
ensure_packages() {
    local wanted=(libssl-dev libsqlite3-dev librsync-dev libvirt-dev zlib1g-dev libbz2-dev libdeflate-dev python3-venv "$@")
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing Debian packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

# A Python venv with the real clients the tests drive (pip, never apt's /usr/bin/swift).
VENV="$ROOT/.venv"
ensure_venv() {
    if [ ! -x "$VENV/bin/swift" ]; then
        echo "creating $VENV with python-swiftclient" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check python-swiftclient >&2
    fi
}

# A TCP port nobody listens on.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until an HTTP endpoint answers.
wait_http() {
    local url="$1" tries=100
    until curl -sf -o /dev/null "$url"; do
        tries=$((tries - 1))
        [ $tries -gt 0 ] || { echo "timed out waiting for $url" >&2; return 1; }
        sleep 0.1
    done
}

# A private PostgreSQL (Debian's package) for the control-plane store's tests: a temp data
# directory, a free port on 127.0.0.1, trust auth for the superuser `nimbus`; run as the
# `postgres` user when we are root (PostgreSQL refuses root). Exports NIMBUS_TEST_POSTGRES
# (postgres://nimbus@127.0.0.1:PORT/postgres); stop_postgres stops it by its PID.
start_postgres() {
    ensure_packages postgresql
    local bindir port
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    PG_DIR="$(mktemp -d /tmp/nimbus-pg.XXXXXX)"
    port="$(free_port)"
    PG_AS=()
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$PG_DIR"
        PG_AS=(runuser -u postgres --)
    fi
    "${PG_AS[@]}" "$bindir/initdb" -D "$PG_DIR/data" -U nimbus -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    "${PG_AS[@]}" "$bindir/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
        -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off" start >/dev/null
    PG_PID="$(head -1 "$PG_DIR/data/postmaster.pid")"
    export NIMBUS_TEST_POSTGRES="postgres://nimbus@127.0.0.1:$port/postgres"
    echo "PostgreSQL $(basename "$(dirname "$bindir")") on 127.0.0.1:$port (pid $PG_PID)" >&2
}

stop_postgres() {
    [ -n "${PG_PID:-}" ] || return 0
    kill -INT "$PG_PID" 2>/dev/null || true   # fast shutdown
    for _ in $(seq 100); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    rm -rf "$PG_DIR"
    PG_PID=""
}

# Creates a fresh database on the test PostgreSQL; prints its URL.
new_postgres_database() {
    local name="nimbus_$(date +%s)_$RANDOM"
    local base="${NIMBUS_TEST_POSTGRES%/*}"
    "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql" -q "$NIMBUS_TEST_POSTGRES" -c "CREATE DATABASE $name" >/dev/null
    echo "$base/$name"
}
