# OpenStack Swift all-in-one (SAIO) under a temp dir, for side-by-side runs against Nimbus:
# one proxy and one account, container and object server (2 workers each), 4 devices as plain
# directories, 3 replicas, memcached, tempauth (test:tester/testing, test2:tester2/testing2,
# test:tester2/testing2) and s3api in the pipeline. Sourced after lib.sh:
#   saio_start DIR BIN     # BIN: the directory of swift-*-server (Debian's /usr/bin or a venv's bin)
#   saio_stop DIR          # stops what saio_start started, by PID; puts /etc/swift back as it was
# After saio_start, SAIO_PORT is the proxy's port. Every port comes from free_port.
#
# Swift before 2.33 reads /etc/swift/swift.conf whatever swift_dir says (2.30.1's
# validate_configuration): saio_start writes one there when needed and saio_stop removes it,
# or restores the one that was there.

saio_start() {
    local dir="$1" bin="$2"
    mkdir -p "$dir/etc" "$dir/run" "$dir/log"
    for d in d1 d2 d3 d4; do mkdir -p "$dir/devs/$d"; done
    local user
    user="$(id -un)"
    SAIO_PORT="$(free_port)"
    local mc_port obj_port cont_port acct_port
    mc_port="$(free_port)"
    obj_port="$(free_port)"
    cont_port="$(free_port)"
    acct_port="$(free_port)"
    cat > "$dir/etc/swift.conf" <<CONF
[swift-hash]
swift_hash_path_suffix = nimbus-side-by-side
swift_hash_path_prefix = saio
[storage-policy:0]
name = gold
default = yes
CONF
    saio_etc_swift "$dir"
    local ring kind port
    for kind in object container account; do
        case "$kind" in object) port=$obj_port ;; container) port=$cont_port ;; account) port=$acct_port ;; esac
        ring="$dir/etc/$kind.builder"
        "$bin/swift-ring-builder" "$ring" create 10 3 1 >/dev/null
        for d in 1 2 3 4; do
            "$bin/swift-ring-builder" "$ring" add "r1z$d-127.0.0.1:$port/d$d" 1 >/dev/null
        done
        "$bin/swift-ring-builder" "$ring" rebalance >/dev/null || true
        cat > "$dir/etc/$kind-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 2
user = $user
swift_dir = $dir/etc
devices = $dir/devs
mount_check = false
log_level = WARNING
[pipeline:main]
pipeline = $kind-server
[app:$kind-server]
use = egg:swift#$kind
CONF
    done
    cat > "$dir/etc/proxy-server.conf" <<CONF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $SAIO_PORT
workers = 2
user = $user
swift_dir = $dir/etc
log_level = WARNING
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc_port
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:s3api]
use = egg:swift#s3api
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin
user_test_tester2 = testing2 .admin
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
[filter:symlink]
use = egg:swift#symlink
CONF
    local mc_user=()
    [ "$(id -u)" -eq 0 ] && mc_user=(-u "$user")
    memcached -l 127.0.0.1 -p "$mc_port" -U 0 "${mc_user[@]}" > "$dir/log/memcached.log" 2>&1 &
    echo $! > "$dir/run/memcached.pid"
    for kind in account container object proxy; do
        "$bin/swift-$kind-server" "$dir/etc/$kind-server.conf" --verbose > "$dir/log/$kind.log" 2>&1 &
        echo $! > "$dir/run/$kind.pid"
    done
    for port in "$acct_port" "$cont_port" "$obj_port"; do
        saio_wait_port "$port" || { echo "saio: nothing listens on $port; logs in $dir/log" >&2; return 1; }
    done
    if ! wait_http "http://127.0.0.1:$SAIO_PORT/healthcheck"; then
        echo "saio: the proxy did not answer; its log:" >&2
        tail -20 "$dir/log/proxy.log" >&2
        return 1
    fi
}

saio_wait_port() {
    python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}

# /etc/swift/swift.conf for Swift versions that read only that one (kept aside if present).
saio_etc_swift() {
    local dir="$1" sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ -e /etc/swift/swift.conf ]; then
        $sudo cp -p /etc/swift/swift.conf "$dir/run/etc-swift.conf.saved"
    elif [ ! -d /etc/swift ]; then
        touch "$dir/run/etc-swift.created"
        $sudo mkdir -p /etc/swift
    fi
    $sudo cp "$dir/etc/swift.conf" /etc/swift/swift.conf
    $sudo chmod 644 /etc/swift/swift.conf
}

saio_stop() {
    local dir="$1" sudo="" pid
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    for f in "$dir"/run/*.pid; do
        [ -f "$f" ] || continue
        pid="$(cat "$f")"
        kill "$pid" 2>/dev/null || true
    done
    for f in "$dir"/run/*.pid; do
        [ -f "$f" ] || continue
        pid="$(cat "$f")"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    if [ -f "$dir/run/etc-swift.conf.saved" ]; then
        $sudo cp -p "$dir/run/etc-swift.conf.saved" /etc/swift/swift.conf
    elif [ -f "$dir/run/etc-swift.created" ]; then
        $sudo rm -rf /etc/swift
    elif [ -f "$dir/etc/swift.conf" ]; then
        $sudo rm -f /etc/swift/swift.conf
    fi
}
