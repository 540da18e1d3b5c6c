"""Fault tests of issue 4 on a multi-process cluster on loopback: 4 storage nodes x 1 device,
3 replicas, one proxy, each a separate `nimbus` process, with short background intervals.

Each scenario prints `ok ...` lines and the time the cluster took to converge; any failure
exits non-zero. Usage: fault_tests.py --nimbus PATH [scenario ...]
"""
import argparse, hashlib, http.client, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

from aio_harness import Failure, check

REPLICAS = 3


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def volume_files(device):
    """The files a device keeps in object volumes (nimbus node `objectVolumes`), replayed from
    the records as the node does at start-up: {(partition, hash, name): (volume path, offset,
    length)}. Volume: "NVV1", 8 bytes of salt, CRC-32 of those; then records: "NVR1", kind,
    partition u32, hash length u8, name length u16, body length u64, CRC-32 seeded with the
    salt's CRC (LE), hash, name, body. A record that does not check is skipped up to the next one
    that does (damage); nothing sound after it ends the volume."""
    import struct, zlib
    files = {}
    vdir = os.path.join(device, "volumes")
    if not os.path.isdir(vdir):
        return files
    for v in sorted((n for n in os.listdir(vdir) if n.startswith("v")), key=lambda n: int(n[1:])):
        path = os.path.join(vdir, v)
        data = open(path, "rb").read()
        if len(data) < 16 or data[:4] != b"NVV1":
            continue
        seed = zlib.crc32(data[4:12])  # the volume's salt seeds its records' CRCs

        def sound(at):
            if at + 24 > len(data) or data[at:at + 4] != b"NVR1":
                return None
            kind, part, hl, nl, bl, crc = struct.unpack_from("<BIBHQI", data, at + 4)
            total = 24 + hl + nl + bl
            if at + total > len(data) or zlib.crc32(data[at + 24:at + total], zlib.crc32(data[at:at + 20], seed)) != crc:
                return None
            return kind, part, hl, nl, bl, total
        at = 16
        while at + 24 <= len(data):
            found = sound(at)
            if found is None:
                nxt = data.find(b"NVR1", at + 1)
                while nxt != -1 and sound(nxt) is None:
                    nxt = data.find(b"NVR1", nxt + 1)
                if nxt == -1:
                    break
                at = nxt
                continue
            kind, part, hl, nl, bl, total = found
            h = data[at + 24:at + 24 + hl].decode()
            name = data[at + 24 + hl:at + 24 + hl + nl].decode()
            if kind == 1:
                files[(part, h, name)] = (path, at + 24 + hl + nl, bl)
            else:
                files.pop((part, h, name), None)
            at += total
    return files


class Cluster:
    def __init__(self, nimbus, nodes=4, volumes=False):
        self.nimbus = nimbus
        self.volumes = volumes
        self.root = tempfile.mkdtemp(prefix="nimbus-faults-")
        self.rings = os.path.join(self.root, "rings")
        os.makedirs(self.rings)
        self.ports = free_ports(nodes + 2)
        self.proxy_port = self.ports[-1]
        self.procs = {}
        self.hash = {"prefix": "faultp", "suffix": "faults"}
        for kind in ("account", "container", "object"):
            b = os.path.join(self.rings, f"{kind}.builder.json")
            self.run("ring", "create", b, "--part-power", "8", "--replicas", str(REPLICAS), "--min-part-hours", "0",
                     "--hash-prefix", self.hash["prefix"], "--hash-suffix", self.hash["suffix"])
            for i in range(nodes):
                self.run("ring", "add", b, "--zone", str(i + 1), "--ip", "127.0.0.1", "--port", str(self.ports[i]),
                         "--device", f"d{i}", "--weight", "100")
            self.run("ring", "rebalance", b)
        for i in range(nodes + 1):
            self.write_node_config(i)
        with open(os.path.join(self.root, "proxy.json"), "w") as f:
            json.dump({"host": "127.0.0.1", "port": self.proxy_port, "ringDirectory": self.rings, "ringCheckInterval": 1,
                       "containerCacheTTL": 10,
                       "users": [{"account": "test", "user": "tester", "key": "testing", "groups": [".admin"]}]}, f)

    def write_node_config(self, i):
        os.makedirs(self.device(i), exist_ok=True)
        with open(os.path.join(self.root, f"node{i}.json"), "w") as f:
            json.dump({"devicesRoot": os.path.join(self.root, f"node{i}"), "devices": [f"d{i}"], "host": "127.0.0.1",
                       "port": self.ports[i], "hashPath": self.hash, "ringDirectory": self.rings,
                       "replicationInterval": 1, "dbReplicationInterval": 1, "updaterInterval": 1, "auditorInterval": 2,
                       "auditorBytesPerSecond": 100 * 1024 * 1024, "auditorFilesPerSecond": 2000, "expirerInterval": 5,
                       "ringCheckInterval": 1, "containerReportInterval": 0.5, "objectVolumes": self.volumes}, f)

    def device(self, i):
        return os.path.join(self.root, f"node{i}", f"d{i}")

    def run(self, *args):
        r = subprocess.run([self.nimbus, *args], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"nimbus {' '.join(args)}: {r.stderr.strip()[:300]}")

    def start(self, name, *args, port):
        log = open(os.path.join(self.root, f"{name}.log"), "a")
        self.procs[name] = subprocess.Popen([self.nimbus, *args, "--log-file", os.path.join(self.root, f"{name}.server.log")],
                                            stdout=log, stderr=log)
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthcheck")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise Failure(f"{name} did not come up")

    def start_node(self, i):
        self.start(f"node{i}", "node", "--config", os.path.join(self.root, f"node{i}.json"), port=self.ports[i])

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs.pop(name)
        p.send_signal(sig)
        p.wait(timeout=10)

    def start_all(self, nodes=4):
        for i in range(nodes):
            self.start_node(i)
        self.start("proxy", "proxy", "--config", os.path.join(self.root, "proxy.json"), port=self.proxy_port)
        c = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=10)
        c.request("GET", "/auth/v1.0", headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
        r = c.getresponse()
        r.read()
        self.token = r.getheader("X-Auth-Token")
        self.account = "AUTH_test"

    def stop(self):
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        shutil.rmtree(self.root, ignore_errors=True)

    def request(self, method, path, body=None, headers=None, timeout=30):
        h = {"X-Auth-Token": self.token}
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.proxy_port, timeout=timeout)
        try:
            c.request(method, f"/v1/{self.account}{path}", body=body, headers=h)
            r = c.getresponse()
            try:
                return r.status, r.read()
            except http.client.IncompleteRead:
                return "cut", b""  # the server dropped the connection mid-body
        finally:
            c.close()

    # What is on disk, by object name: the node indexes holding a .data file.
    def object_hash(self, container, name):
        ring = json.load(open(os.path.join(self.rings, "object.ring.json")))
        key = f"{ring['hashPathPrefix']}/{self.account}/{container}/{name}{ring['hashPathSuffix']}"
        return hashlib.md5(key.encode()).hexdigest()

    def holders(self, container, names, nodes):
        hashes = {self.object_hash(container, n): n for n in names}
        found = {n: set() for n in names}
        for i in range(nodes):
            root = os.path.join(self.device(i), "objects")
            for dirpath, _dirs, files in os.walk(root):
                h = os.path.basename(dirpath)
                if h in hashes and any(f.endswith(".data") for f in files):
                    found[hashes[h]].add(i)
            for (_part, h, name) in volume_files(self.device(i)):
                if h in hashes and name.endswith(".data"):
                    found[hashes[h]].add(i)
        return found

    def data_images(self, node, h):
        """Where the .data files of hash `h` on `node` are: [(path, offset, length)]."""
        out = []
        for dirpath, _d, files in os.walk(os.path.join(self.device(node), "objects")):
            if os.path.basename(dirpath) == h:
                out += [(os.path.join(dirpath, f), 0, os.path.getsize(os.path.join(dirpath, f))) for f in files if f.endswith(".data")]
        out += [place for (_p, hh, name), place in volume_files(self.device(node)).items() if hh == h and name.endswith(".data")]
        return out

    def primaries(self, container, name):
        """Node indexes of an object's primaries in the current ring (via the port)."""
        import base64, struct
        ring = json.load(open(os.path.join(self.rings, "object.ring.json")))
        digest = hashlib.md5(f"{ring['hashPathPrefix']}/{self.account}/{container}/{name}{ring['hashPathSuffix']}".encode()).digest()
        part = struct.unpack(">I", digest[:4])[0] >> (32 - ring["partPower"])
        nodes = set()
        for row in ring["assignments"]:
            raw = base64.b64decode(row)
            dev_id = struct.unpack("<H", raw[2 * part:2 * part + 2])[0]
            dev = ring["devices"][dev_id]
            nodes.add(self.ports.index(dev["port"]))
        return nodes


def wait_until(what, predicate, limit):
    start = time.time()
    while True:
        if predicate():
            took = time.time() - start
            print(f"ok   {what} (converged in {took:.1f} s)")
            return took
        if time.time() - start > limit:
            raise Failure(f"{what}: not converged after {limit} s")
        time.sleep(0.5)


class Writers:
    """Clients PUTting objects continuously; counts failures."""

    def __init__(self, cluster, container, clients=8):
        self.cluster, self.container = cluster, container
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.stored, self.failures = {}, []
        self.threads = [threading.Thread(target=self.loop, args=(i,)) for i in range(clients)]

    def loop(self, i):
        n = 0
        while not self.stop_flag.is_set():
            name = f"w{i}-{n}"
            body = os.urandom(512 + n % 2048)
            try:
                status, _ = self.cluster.request("PUT", f"/{self.container}/{name}", body=body)
            except Exception as e:  # connection refused etc.
                status = repr(e)
            with self.lock:
                if status == 201:
                    self.stored[name] = hashlib.md5(body).hexdigest()
                else:
                    self.failures.append((name, status))
            n += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()


def scenario_node_down(c):
    c.request("PUT", "/down")
    with Writers(c, "down") as w:
        time.sleep(3)
        c.kill("node1")
        down_at = time.time()
        time.sleep(20)
        c.start_node(1)
        print(f"     node1 was down {time.time() - down_at:.1f} s")
        time.sleep(2)
    check(not w.failures, f"zero failed client requests during the outage ({len(w.stored)} PUTs, failures: {w.failures[:3]})")
    names = list(w.stored)

    def placed():
        h = c.holders("down", names, 4)
        return all(h[n] == c.primaries("down", n) for n in names)
    wait_until(f"all {len(names)} objects on exactly their 3 primaries, no handoff copies left", placed, 120)
    bad = [n for n in names[:200] if c.request("GET", f"/down/{n}")[0] != 200]
    check(not bad, f"GET of the objects succeeds {bad[:3]}")


def scenario_disk_wiped(c):
    c.request("PUT", "/wipe")
    names = {}
    for i in range(150):
        body = os.urandom(1000 + i)
        check_status = c.request("PUT", f"/wipe/o{i}", body=body)[0]
        if check_status != 201:
            raise Failure(f"setup PUT failed {check_status}")
        names[f"o{i}"] = hashlib.md5(body).hexdigest()
    if c.volumes:
        # A node keeps its volumes open: the disk is replaced while it is down.
        c.kill("node2")
    shutil.rmtree(os.path.join(c.device(2), "objects"), ignore_errors=True)
    shutil.rmtree(os.path.join(c.device(2), "containers"), ignore_errors=True)
    shutil.rmtree(os.path.join(c.device(2), "volumes"), ignore_errors=True)
    if c.volumes:
        c.start_node(2)
    failures = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            for n, digest in list(names.items()):
                status, body = c.request("GET", f"/wipe/{n}")
                if status != 200 or hashlib.md5(body).hexdigest() != digest:
                    failures.append((n, status))
    t = threading.Thread(target=reader)
    t.start()
    try:
        def restored():
            h = c.holders("wipe", list(names), 4)
            return all(len(h[n]) == REPLICAS for n in names) and container_listing_complete(c, "wipe", set(names), node=2)
        wait_until("wiped device has every object and the container listing back", restored, 120)
    finally:
        stop.set()
        t.join()
    check(not failures, f"every GET succeeded while the device was rebuilt {failures[:3]}")


def container_listing_complete(c, container, names, node):
    """The container replica on `node` (if it holds one) lists every name."""
    ring = json.load(open(os.path.join(c.rings, "container.ring.json")))
    import base64, struct
    digest = hashlib.md5(f"{ring['hashPathPrefix']}/{c.account}/{container}{ring['hashPathSuffix']}".encode()).digest()
    part = struct.unpack(">I", digest[:4])[0] >> (32 - ring["partPower"])
    for row in ring["assignments"]:
        dev = ring["devices"][struct.unpack("<H", base64.b64decode(row)[2 * part:2 * part + 2])[0]]
        if dev["port"] != c.ports[node]:
            continue
        conn = http.client.HTTPConnection("127.0.0.1", dev["port"], timeout=10)
        try:
            conn.request("GET", f"/{dev['device']}/{part}/{c.account}/{container}?limit=10000")
            r = conn.getresponse()
            listed = set(r.read().decode().split("\n")) - {""}
        except OSError:
            return False
        return r.status == 200 and names <= listed
    return True


def flip_byte(c, container, name):
    """Flips one byte of the object's .data on its first holder; answers (node, hash dir name)."""
    node = sorted(c.holders(container, [name], 4)[name])[0]
    h = c.object_hash(container, name)
    for path, offset, _length in c.data_images(node, h):
        with open(path, "r+b") as f:
            f.seek(offset + 1000)
            b = f.read(1)
            f.seek(offset + 1000)
            f.write(bytes([b[0] ^ 0xFF]))
        return node, h
    raise Failure("no .data file to corrupt")


def quarantined_count(c, node):
    q = os.path.join(c.device(node), "quarantined", "objects")
    return len(os.listdir(q)) if os.path.isdir(q) else 0


def scenario_bit_rot(c):
    c.request("PUT", "/rot")
    bodies = {n: os.urandom(200_000) for n in ("audited", "read")}
    for n, b in bodies.items():
        c.request("PUT", f"/rot/{n}", body=b)
    holders = {n: c.holders("rot", [n], 4)[n] for n in bodies}
    # The auditor finds the first rotten copy on its own (nobody reads it meanwhile).
    node, h = flip_byte(c, "rot", "audited")
    before = quarantined_count(c, node)
    wait_until("the auditor quarantines the rotten copy and replication restores a correct one",
               lambda: quarantined_count(c, node) > before and c.holders("rot", ["audited"], 4)["audited"] == holders["audited"]
               and good_copy(c, node, h, bodies["audited"]), 60)
    check(c.request("GET", "/rot/audited") == (200, bodies["audited"]), "GET returns the correct bytes")
    # The second is read while rotten: the object server checks the MD5 as it streams.
    node, h = flip_byte(c, "rot", "read")
    served = [c.request("GET", "/rot/read") for _ in range(30)]
    check(all(s == "cut" or b == bodies["read"] for s, b in served), "no GET returned the corrupt bytes (the connection is cut instead)")
    wait_until("the copy caught on read is restored", lambda: good_copy(c, node, h, bodies["read"]), 60)
    check(c.request("GET", "/rot/read") == (200, bodies["read"]), "GET returns the correct bytes")


def good_copy(c, node, h, body):
    for path, offset, _length in c.data_images(node, h):
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read(len(body)) == body
    return False


def scenario_container_update_lost(c):
    c.request("PUT", "/late")
    c.request("PUT", "/late/warm", body=b"x")  # the proxy now has the container cached
    moved = []
    for i in range(4):
        d = os.path.join(c.device(i), "containers")
        if os.path.isdir(d):
            os.rename(d, d + ".away")
            moved.append(d)
    names = [f"o{i}" for i in range(100)]
    results = []
    lock = threading.Lock()

    def put(chunk):
        for n in chunk:
            s, _ = c.request("PUT", f"/late/{n}", body=n.encode())
            with lock:
                results.append(s)
    threads = [threading.Thread(target=put, args=(names[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for d in moved:
        # The DB replicator may have rebuilt a container DB here meanwhile (it heals a device
        # whose databases went missing): that copy goes, the moved-away one comes back.
        shutil.rmtree(d, ignore_errors=True)
        os.rename(d + ".away", d)
    check(all(s == 201 for s in results), f"100 PUTs succeeded while the container server could not record them ({set(results)})")

    def complete():
        s, body = c.request("GET", "/late?limit=1000")
        return s == 200 and set(names) <= set(body.decode().split("\n"))
    wait_until("the listing is complete (async pendings drained)", complete, 60)


def scenario_rebalance(c):
    c.request("PUT", "/moving")
    names = {}
    for i in range(200):
        body = os.urandom(800 + i)
        c.request("PUT", f"/moving/o{i}", body=body)
        names[f"o{i}"] = hashlib.md5(body).hexdigest()
    c.write_node_config(4)
    c.start_node(4)
    for kind in ("account", "container", "object"):
        b = os.path.join(c.rings, f"{kind}.builder.json")
        c.run("ring", "add", b, "--zone", "5", "--ip", "127.0.0.1", "--port", str(c.ports[4]), "--device", "d4", "--weight", "100")
        c.run("ring", "rebalance", b)
    failures = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            for n, digest in list(names.items()):
                s, body = c.request("GET", f"/moving/{n}")
                if s != 200 or hashlib.md5(body).hexdigest() != digest:
                    failures.append((n, s))
    t = threading.Thread(target=reader)
    t.start()
    try:
        def placed():
            h = c.holders("moving", list(names), 5)
            return all(h[n] == c.primaries("moving", n) for n in names)
        wait_until("every object is on its new primaries (and nowhere else) after adding a fifth device", placed, 180)
    finally:
        stop.set()
        t.join()
    moved = sum(1 for n in names if 4 in c.primaries("moving", n))
    print(f"     {moved} of {len(names)} objects have a replica on the new device")
    check(not failures, f"every read succeeded during the move {failures[:3]}")


def scenario_one_container(c):
    c.request("PUT", "/busy")
    stored, errors = set(), []
    lock = threading.Lock()
    stop = time.time() + 30

    def loop(i):
        n = 0
        while time.time() < stop:
            name = f"t{i}-{n}"
            s, body = c.request("PUT", f"/busy/{name}", body=b"x" * 100)
            with lock:
                if s == 201:
                    stored.add(name)
                else:
                    errors.append((name, s, body[:100]))
            n += 1
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, f"{len(stored)} PUTs from 64 clients into one container, no errors {errors[:2]}")
    locked = 0
    for f in os.listdir(c.root):
        if f.endswith(".server.log"):
            with open(os.path.join(c.root, f), errors="replace") as fh:
                locked += fh.read().count("database is locked")
    check(locked == 0, "no 'database is locked' in any server log")

    def listed():
        names, marker = set(), ""
        while True:
            s, body = c.request("GET", f"/busy?limit=10000&marker={marker}")
            page = [x for x in body.decode().split("\n") if x]
            names.update(page)
            if len(page) < 10000:
                break
            marker = page[-1]
        return stored <= names
    wait_until(f"the listing shows all {len(stored)} objects", listed, 60)


def scenario_killed_after_ack(c):
    """An acknowledged PUT survives kill -9 of every process right after its 201: a 24 MiB
    object (its writeback started while it arrived, fsynced before the 201) and small ones,
    each read back whole after the restart, and listed once the updaters ran."""
    status, _ = c.request("PUT", "/acked")
    if status not in (201, 202):
        raise Failure(f"container PUT: {status}")
    bodies = {"big": os.urandom(24 << 20)}
    bodies.update({f"small-{i}": os.urandom(4096) for i in range(12)})
    for name, body in bodies.items():
        status, _ = c.request("PUT", f"/acked/{name}", body=body, timeout=120)
        if status != 201:
            raise Failure(f"PUT {name}: {status}")
        if name in ("big", "small-0", "small-11"):
            for proc in list(c.procs):
                c.kill(proc)  # SIGKILL, the instant the 201 arrived
            c.start_all()
    for name, body in bodies.items():
        status, got = c.request("GET", f"/acked/{name}", timeout=120)
        if status != 200 or got != body:
            raise Failure(f"GET {name} after kill -9: {status}, {len(got)} of {len(body)} bytes, equal: {got == body}")

    def listed():
        status, data = c.request("GET", "/acked?format=json")
        return status == 200 and {o["name"] for o in json.loads(data)} == set(bodies)
    wait_until("the listing shows every acknowledged object", listed, 60)


SCENARIOS = {
    "killed-after-ack": scenario_killed_after_ack,
    "node-down": scenario_node_down,
    "disk-wiped": scenario_disk_wiped,
    "bit-rot": scenario_bit_rot,
    "container-update-lost": scenario_container_update_lost,
    "rebalance": scenario_rebalance,
    "one-container": scenario_one_container,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--object-volumes", action="store_true", help="the nodes pack small objects into volumes")
    ap.add_argument("scenarios", nargs="*")
    args = ap.parse_args()
    chosen = args.scenarios or list(SCENARIOS)
    for name in chosen:
        print(f"== {name}")
        c = Cluster(args.nimbus, volumes=args.object_volumes)
        try:
            c.start_all()
            SCENARIOS[name](c)
        except Failure as e:
            print(f"FAIL {name}: {e}", file=sys.stderr)
            print(f"     logs kept in {c.root}", file=sys.stderr)
            for p in list(c.procs.values()):
                p.kill()
            return 1
        c.stop()
    print("fault tests passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
