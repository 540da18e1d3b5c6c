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
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# A Python venv with the real clients the tests drive (pip, never apt's /usr/bin/swift).
VENV="$ROOT/.venv"
ensure_venv() {
    if [ ! -x "$VENV/bin/swift" ]; then
        echo "creating $VENV with python-swiftclient" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check python-swiftclient >&2
    fi
    # swiftclient's Keystone auth (v2.0/v3) goes through keystoneclient.
    if ! "$VENV/bin/python" -c 'import keystoneclient' 2>/dev/null; then
        "$VENV/bin/pip" install -q --disable-pip-version-check python-keystoneclient >&2
    fi
}

# The real Keystone from PyPI for the client tests, in a venv of its own (its dependencies are
# many and pinned). Debian's python3, not a per-user pyenv one, so an ordinary user can run it.
KEYSTONE_VENV="$ROOT/.venv-keystone"
ensure_keystone_venv() {
    if [ ! -x "$KEYSTONE_VENV/bin/keystone-manage" ]; then
        echo "creating $KEYSTONE_VENV with keystone" >&2
        /usr/bin/python3 -m venv "$KEYSTONE_VENV"
        "$KEYSTONE_VENV/bin/pip" install -q --disable-pip-version-check "keystone==30.0.0" >&2
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

# The packages a compute host needs (libvirt and qemu for TCG guests, dnsmasq, iptables, the
# test guest's busybox and dropbear, and the probes' nc and ssh).
COMPUTE_PACKAGES=(qemu-system-x86 qemu-utils libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients dnsmasq-base
                  iptables iproute2 busybox-static dropbear-bin cpio xz-utils netcat-openbsd openssh-client)

# A compute host inside network namespaces, so nothing touches this machine's own network: a
# "host" namespace (the cloud, its bridge and firewall) and a "client" one (the outside world,
# reaching floating addresses through a veth pair), and a private libvirtd running in the host
# namespace (its own socket; qemu as root through a qemu.conf bind-mounted in a mount namespace
# of its own: libvirt's default user cannot open /dev/kvm here, which makes it probe qemu's
# capabilities again on every call). Sets CX_DIR CX_HOST CX_CLIENT CX_URI; stop_compute_env
# destroys the domains and stops libvirtd/virtlogd by PID, then deletes the namespaces.
start_compute_env() {
    ensure_packages "${COMPUTE_PACKAGES[@]}"
    [ "$(id -u)" -eq 0 ] || { echo "start_compute_env: needs root (namespaces, bridges, libvirtd)" >&2; return 1; }
    CX_DIR="$(mktemp -d /tmp/nimbus-compute.XXXXXX)"
    chmod 711 "$CX_DIR"
    CX_HOST="nmh$$"; CX_CLIENT="nmc$$"
    ip netns add "$CX_HOST"; ip netns add "$CX_CLIENT"
    ip -n "$CX_HOST" link set lo up; ip -n "$CX_CLIENT" link set lo up
    ip link add "vh$$" netns "$CX_HOST" type veth peer name "vc$$" netns "$CX_CLIENT"
    ip -n "$CX_HOST" addr add 192.0.2.1/24 dev "vh$$"; ip -n "$CX_HOST" link set "vh$$" up
    ip -n "$CX_CLIENT" addr add 192.0.2.2/24 dev "vc$$"; ip -n "$CX_CLIENT" link set "vc$$" up
    ip -n "$CX_CLIENT" route add 198.51.100.0/24 via 192.0.2.1
    mkdir -p "$CX_DIR/run"
    cat > "$CX_DIR/libvirtd.conf" <<CONF
unix_sock_dir = "$CX_DIR/run"
unix_sock_rw_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
CONF
    printf 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\nremember_owner = 0\n' > "$CX_DIR/qemu.conf"
    VIRTLOGD_PID=""
    if ! pgrep -x virtlogd >/dev/null; then
        virtlogd -d -p "$CX_DIR/virtlogd.pid"
        for _ in $(seq 50); do [ -s "$CX_DIR/virtlogd.pid" ] && break; sleep 0.1; done
        VIRTLOGD_PID="$(cat "$CX_DIR/virtlogd.pid")"
    fi
    CX_LIBVIRTD_START="ip netns exec $CX_HOST unshare -m sh -c \"mount --bind '$CX_DIR/qemu.conf' /etc/libvirt/qemu.conf && exec libvirtd -d -f '$CX_DIR/libvirtd.conf' -p '$CX_DIR/libvirtd.pid'\""
    sh -c "$CX_LIBVIRTD_START"
    CX_URI="qemu:///system?socket=$CX_DIR/run/libvirt-sock"
    for _ in $(seq 100); do virsh -c "$CX_URI" version >/dev/null 2>&1 && break; sleep 0.2; done
    if ! virsh -c "$CX_URI" version >/dev/null 2>&1; then
        echo "start_compute_env: libvirtd did not start (another libvirtd running on this machine?)" >&2
        return 1
    fi
    LIBVIRTD_PID="$(cat "$CX_DIR/libvirtd.pid")"
    echo "compute host: namespaces $CX_HOST (cloud) and $CX_CLIENT (outside), libvirtd pid $LIBVIRTD_PID" >&2
}

# Stops a process by PID: SIGTERM, then SIGKILL after $2 seconds (default 15).
stop_pid() {
    local pid="$1" wait="${2:-15}"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq $((wait * 10))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

stop_compute_env() {
    [ -n "${CX_DIR:-}" ] || return 0
    if [ -n "${CX_URI:-}" ]; then
        for d in $(virsh -c "$CX_URI" list --all --name 2>/dev/null); do
            virsh -c "$CX_URI" destroy "$d" >/dev/null 2>&1 || true
            virsh -c "$CX_URI" undefine "$d" >/dev/null 2>&1 || true
        done
    fi
    # (restarted by a fault test: the pid file has the current one)
    [ -f "$CX_DIR/libvirtd.pid" ] && LIBVIRTD_PID="$(cat "$CX_DIR/libvirtd.pid")"
    stop_pid "${LIBVIRTD_PID:-}" 20
    stop_pid "${VIRTLOGD_PID:-}" 5
    for f in "$CX_DIR"/*/network/dnsmasq.pid; do [ -f "$f" ] && stop_pid "$(cat "$f")" 5; done
    rm -f "/run/lock/nimbus-network-nbr$$.lock"
    ip netns del "${CX_HOST:-none}" 2>/dev/null || true
    ip netns del "${CX_CLIENT:-none}" 2>/dev/null || true
    rm -rf "$CX_DIR"
    CX_DIR=""
}

# `nimbus aio --compute` in the compute host's namespace (start_compute_env first), a user and
# project `smoke` made with `nimbus manage`, its novarc sourced (PATH gets the venv's awscli).
# Sets AIO_PID and DATA; stop_compute_cloud stops it by PID.
start_compute_cloud() {
    DATA="$CX_DIR/aio"
    ip netns exec "$CX_HOST" "$NIMBUS" aio --data-dir "$DATA" --port 8080 --compute --ec2-port 8773 --libvirt-uri "$CX_URI" \
        --bridge "nbr$$" --compute-prefix "n$$" --floating-range 198.51.100.0/28 --fixed-range 10.77.0.0/24 \
        --compute-memory 8192 --address-quota 10 --log-file "$CX_DIR/aio.log" > "$CX_DIR/aio.out" 2>&1 &
    AIO_PID=$!
    for _ in $(seq 300); do
        grep -q "all-in-one cluster is up" "$CX_DIR/aio.out" 2>/dev/null && break
        kill -0 "$AIO_PID" 2>/dev/null || { cat "$CX_DIR/aio.out" >&2; return 1; }
        sleep 0.2
    done
    local m=(ip netns exec "$CX_HOST" "$NIMBUS" manage)
    "${m[@]}" user admin smoke --data-dir "$DATA" >/dev/null
    "${m[@]}" project create smoke smoke --data-dir "$DATA" >/dev/null
    "${m[@]}" project zipfile smoke smoke "$CX_DIR/nimbus.zip" --data-dir "$DATA" >/dev/null
    (cd "$CX_DIR" && python3 -c 'import zipfile; zipfile.ZipFile("nimbus.zip").extractall("creds")')
    set +u
    . "$CX_DIR/creds/novarc"
    set -u
    export PATH="$VENV/bin:$PATH"
}

stop_compute_cloud() {
    stop_pid "${AIO_PID:-}" 30
    AIO_PID=""
}
