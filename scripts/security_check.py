#!/usr/bin/env python3
"""Replays the security probe's findings (issue 11) against `nimbus aio` and checks the
answers OpenStack Swift gives (or a safe one where Swift has none). Each check names the
finding it covers. Usage: security_check.py --nimbus PATH"""
import argparse, hashlib, json, os, re, signal, socket, subprocess, sys, time, threading
import http.client
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aio_harness import AIO, Failure, check  # noqa: E402

CLIENT_TIMEOUT = 3


class Client:
    def __init__(self, port, user=None, key=None):
        self.port = port
        self.token = None
        self.url = None
        if user:
            s, h, _ = self.raw("GET", "/auth/v1.0", {"X-Auth-User": user, "X-Auth-Key": key})
            check(s == 200, f"{user} gets a token")
            self.token = h["x-auth-token"]
            self.url = h["x-storage-url"].split(str(port), 1)[1]

    def raw(self, method, path, headers=None, body=None, read=True):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read() if read else b""
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data

    def req(self, method, path, headers=None, body=None, token=True):
        h = dict(headers or {})
        if token and self.token:
            h["X-Auth-Token"] = self.token
        return self.raw(method, path, h, body)


def alive(c):
    s, _, _ = c.req("HEAD", c.url)
    return s in (200, 204)


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def put_slo(c, path, segments):
    return c.req("PUT", path + "?multipart-manifest=put", body=json.dumps(segments).encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    args = ap.parse_args()
    aio = AIO(args.nimbus, extra=["--client-timeout", str(CLIENT_TIMEOUT), "--host", "0.0.0.0"])
    ok = False
    try:
        run(aio)
        ok = True
    except Failure as e:
        print(f"FAIL {e}")
    finally:
        aio.stop(keep=not ok)
        if not ok:
            print(f"logs kept in {aio.work}")
    sys.exit(0 if ok else 1)


def run(aio):
    port = aio.port
    admin = Client(port, "test:tester", "testing")
    t3 = Client(port, "test:tester3", "testing3")
    anon = Client(port)
    base = admin.url

    # F1: listing limit.
    admin.req("PUT", f"{base}/pub", {"X-Container-Read": ".r:*,.rlistings"})
    admin.req("PUT", f"{base}/pub/a", body=b"x")
    for value, want in [("1e19", 200), ("99999999999999999999", 412), ("10001", 412), ("-1", 200), ("abc", 200), ("1", 200)]:
        s, _, _ = anon.req("GET", f"{base}/pub?limit={value}")
        check(s == want, f"F1 anonymous listing with limit={value} answers {want} (got {s})")
    s, _, _ = admin.req("GET", f"{base}?limit=1e19")
    check(s in (200, 204), f"F1 account listing with limit=1e19 answers 200 (got {s})")
    check(alive(admin), "F1 the cluster keeps serving")

    # F2: SLO sizes that overflow Int64.
    admin.req("PUT", f"{base}/slo")
    admin.req("PUT", f"{base}/slo/L0", body=b"a" * 1024)
    for level in range(1, 6):
        s, _, body = put_slo(admin, f"{base}/slo/L{level}", [{"path": f"/slo/L{level - 1}"}] * 1000)
        check(s == 201, f"F2 level {level} manifest stored ({s} {body[:200]!r})")
    s, h, _ = admin.req("HEAD", f"{base}/slo/L5")
    check(h.get("content-length") == str(1024 * 1000 ** 5), f"F2 L5 is {h.get('content-length')} bytes")
    s, _, body = put_slo(admin, f"{base}/slo/L6", [{"path": "/slo/L5"}] * 10)
    check(s == 400, f"F2 a manifest whose size overflows is refused with 400 (got {s} {body[:120]!r})")
    check(alive(admin), "F2 the cluster keeps serving")

    # F3: memory per request, ranges.
    admin.req("PUT", f"{base}/big")
    admin.req("PUT", f"{base}/big/seg", body=b"b" * 1024)
    # Ten distinct first-level manifests of 1000 segments, the top one cycling through them
    # 1000 times: a million segments, and more manifests than a request keeps cached.
    for i in range(10):
        if i == 0:
            s, _, body = put_slo(admin, f"{base}/big/m{i}", [{"path": "/big/seg"}] * 1000)
            check(s == 201, f"F3 first-level manifest stored ({s} {body[:200]!r})")
        else:
            admin.req("COPY", f"{base}/big/m0?multipart-manifest=get", {"Destination": f"big/m{i}"})
    s, _, body = put_slo(admin, f"{base}/big/top", [{"path": f"/big/m{i % 10}"} for i in range(1000)])
    check(s == 201, f"F3 a 1,000,000-segment SLO is stored ({s} {body[:200]!r})")
    pids = children(aio.proc.pid)
    time.sleep(1)
    idle = rss_kb(pids)
    socks = []
    for rng in [None, None, None, None, "bytes=0-,0-,0-"]:
        sock = socket.create_connection(("127.0.0.1", port))
        hdr = f"GET {base}/big/top HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {admin.token}\r\n"
        if rng:
            hdr += f"Range: {rng}\r\n"
        sock.sendall((hdr + "\r\n").encode())
        socks.append(sock)
    got = [s.recv(65536) for s in socks]
    check(all(g.startswith(b"HTTP/1.1 20") for g in got), "F3 the big SLO GETs start streaming")
    time.sleep(3)
    peak = rss_kb(pids)
    for s in socks:
        s.close()
    grew = (peak - idle) // 1024
    check(grew < 150, f"F3 4 GETs and a 3-range GET of a 1M-segment SLO add {grew} MB RSS (< 150; idle {idle // 1024} MB)")
    admin.req("PUT", f"{base}/big/mib", body=os.urandom(1 << 20))
    s, _, body = admin.req("GET", f"{base}/big/mib", {"Range": "bytes=" + ",".join(["0-"] * 100)})
    check(s == 416 and len(body) < 1000, f"F3 100 ranges answer 416 (got {s}, {len(body)} bytes)")
    s, _, _ = admin.req("GET", f"{base}/big/mib", {"Range": "bytes=0-100,50-150,60-160,70-170"})
    check(s == 416, f"F3 more than two overlapping ranges answer 416 (got {s})")
    s, _, _ = admin.req("GET", f"{base}/big/mib", {"Range": "bytes=" + ",".join(f"{x}-{x}" for x in range(90, 10, -10))})
    check(s == 416, f"F3 eight ranges out of order answer 416 (got {s})")
    s, _, _ = admin.req("GET", f"{base}/big/mib", {"Range": "bytes=0-1,10-11,20-21"})
    check(s == 206, f"F3 a few ascending ranges still answer 206 (got {s})")
    check(alive(admin), "F3 the cluster keeps serving")

    # F4: referrers in a write ACL.
    s, _, body = admin.req("PUT", f"{base}/w", {"X-Container-Write": ".r:*"})
    check(s == 400 and b"Referrers not allowed" in body, f"F4 X-Container-Write: .r:* answers 400 (got {s} {body[:80]!r})")
    admin.req("PUT", f"{base}/w")
    s, _, _ = admin.req("POST", f"{base}/w", {"X-Container-Write": ".r:*"})
    check(s == 400, f"F4 POST of a referrer write ACL answers 400 (got {s})")
    s, _, _ = anon.req("PUT", f"{base}/w/o", body=b"x")
    check(s == 401, f"F4 anonymous PUT is refused (got {s})")

    # F5: accounts without the reseller prefix, dot accounts.
    s, _, _ = t3.req("PUT", "/v1/test/c1")
    check(s == 403, f"F5 non-admin test:tester3 cannot create /v1/test/c1 (got {s})")
    s, _, _ = t3.req("POST", "/v1/test", {"X-Account-Meta-Temp-URL-Key": "k"})
    check(s == 403, f"F5 test:tester3 cannot set a temp-url key on /v1/test (got {s})")
    s, _, _ = admin.req("PUT", "/v1/.admin/c")
    check(s == 403, f"F5 an .admin user does not own /v1/.admin (got {s})")
    s, _, _ = admin.req("PUT", "/v1/test/c1")
    check(s == 403, f"F5 an account without the reseller prefix is nobody's (got {s})")

    # F6: timeouts and sizes.
    def closed_within(sock, seconds):
        sock.settimeout(seconds)
        start = time.time()
        try:
            while True:
                d = sock.recv(4096)
                if not d:
                    return time.time() - start
        except (socket.timeout, ConnectionResetError):
            return None if isinstance(sys.exc_info()[1], socket.timeout) else time.time() - start

    idle_sock = socket.create_connection(("127.0.0.1", port))
    half_head = socket.create_connection(("127.0.0.1", port))
    half_head.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\n")
    half_body = socket.create_connection(("127.0.0.1", port))
    half_body.sendall(f"PUT {base}/pub/slow HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {admin.token}\r\nContent-Length: 100\r\n\r\nabc".encode())
    for name, sock in [("an idle connection", idle_sock), ("a half-sent head", half_head), ("a half-sent body", half_body)]:
        took = closed_within(sock, CLIENT_TIMEOUT + 10)
        check(took is not None, f"F6 {name} is closed after the {CLIENT_TIMEOUT} s client timeout (after {took and round(took, 1)} s)")
        sock.close()
    s, _, _ = admin.req("HEAD", f"{base}/pub/slow")
    check(s == 404, f"F6 the cut upload left nothing behind (got {s})")
    for length, what in [("9223372036854775808", "Content-Length 2^63"), ("6000000000", "a Content-Length over the object size limit")]:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(f"PUT {base}/pub/huge HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {admin.token}\r\nContent-Length: {length}\r\n\r\n".encode())
        sock.settimeout(10)
        answer = sock.recv(4096)
        sock.close()
        check(answer.startswith(b"HTTP/1.1 413"), f"F6 {what} answers 413 at once ({answer[:40]!r})")

    # F8: static web behind authorization.
    admin.req("PUT", f"{base}/private", {"X-Container-Meta-Web-Error": "error.html"})
    admin.req("PUT", f"{base}/private/401error.html", body=b"SECRET-ERROR-PAGE")
    s, _, body = anon.req("GET", f"{base}/private/x")
    check(s == 401 and b"SECRET" not in body, f"F8 a private container's error page is not shown to anonymous users ({s})")
    admin.req("PUT", f"{base}/web", {"X-Container-Read": ".r:*", "X-Container-Meta-Web-Listings": "true"})
    admin.req("PUT", f"{base}/web/dir/hidden-name", body=b"x")
    s, _, body = anon.req("GET", f"{base}/web/dir/")
    check(b"hidden-name" not in body and s in (401, 403, 404), f"F8 no listing without .rlistings ({s})")
    s, _, _ = anon.req("GET", f"{base}/web/dir/hidden-name")
    check(s == 200, f"F8 the object itself is still readable ({s})")

    # F9: referrer hosts compare case-insensitively.
    admin.req("PUT", f"{base}/ref", {"X-Container-Read": ".r:*,.r:-bad.example.com"})
    admin.req("PUT", f"{base}/ref/o", body=b"x")
    s, _, _ = anon.req("GET", f"{base}/ref/o", {"Referer": "http://BAD.example.com/page"})
    check(s == 401, f"F9 BAD.example.com is denied by a -bad.example.com rule ({s})")
    s, _, _ = anon.req("GET", f"{base}/ref/o", {"Referer": "http://good.example.com/page"})
    check(s == 200, f"F9 other referrers still pass ({s})")

    # F10: XML listings stay well-formed.
    admin.req("PUT", f"{base}/xml")
    for ch in ["\x01", "\x02", "\x0b", "\x1f"]:
        name = "ctl" + ch + "name"
        s, _, _ = admin.req("PUT", f"{base}/xml/" + urllib_quote(name), body=b"x")
        check(s == 201, f"F10 object named with {ch!r} stored ({s})")
    s, _, body = admin.req("GET", f"{base}/xml?format=xml")
    try:
        root = ET.fromstring(body)
        names = [o.findtext("name") for o in root.iter("object")]
        check(len(names) == 4, "F10 the XML listing parses with a standard parser")
    except ET.ParseError as e:
        raise Failure(f"F10 XML listing is not well-formed: {e}")
    s, _, body = admin.req("GET", f"{base}/xml?format=json")
    check(sorted(x["name"] for x in json.loads(body)) == sorted("ctl" + c + "name" for c in "\x01\x02\x0b\x1f"),
          "F10 the JSON listing has the exact names")

    # F12: nodes on loopback only, partitions checked, secrets private.
    state = json.load(open(os.path.join(aio.work, "data", "aio.json")))
    mode = os.stat(os.path.join(aio.work, "data", "aio.json")).st_mode & 0o777
    check(mode == 0o600, f"F12 aio.json (hash-path secrets) is mode {oct(mode)}")
    node_port = state["nodePorts"][0]
    c = http.client.HTTPConnection("127.0.0.1", node_port, timeout=10)
    c.request("PUT", "/sdb1/99999999999/AUTH_x/c/o", body=b"x", headers={"X-Timestamp": "1700000000.00000",
                                                                         "Content-Type": "a/b"})
    r = c.getresponse()
    r.read()
    check(r.status == 400, f"F12 a partition the ring does not have is refused ({r.status})")
    check(not os.path.exists(os.path.join(aio.work, "data", "node1", "sdb1", "objects", "99999999999")),
          "F12 no stray partition directory was made")
    check_listen_addresses(port, state["nodePorts"])
    check_from_other_host(port, state["nodePorts"])

    # One crash never takes the others down.
    node = next(p for p in children(aio.proc.pid) if "node1.json" in cmdline(p))
    os.kill(node, signal.SIGKILL)
    killed_at = time.time()
    admin.req("PUT", f"{base}/after")
    statuses = [admin.req("PUT", f"{base}/after/o{i}", body=b"y" * 100)[0] for i in range(20)]
    check(statuses == [201] * 20, f"20 PUTs while node1 is down answer 201 ({statuses})")
    back = None
    while time.time() - killed_at < 15:
        new = [p for p in children(aio.proc.pid) if "node1.json" in cmdline(p)]
        if new and new[0] != node and listening(node_port):
            back = time.time() - killed_at
            break
        time.sleep(0.2)
    check(back is not None and back < 10, f"the killed node is back after {back and round(back, 1)} s")
    log = open(os.path.join(aio.work, "nimbus.log"), errors="replace").read()
    check(re.search(r"node1 was killed by signal 9", log) is not None, "the log says node1 was killed by signal 9 and restarted")
    reads = [admin.req("GET", f"{base}/after/o{i}") for i in range(20)]
    check(all(s == 200 and body == b"y" * 100 for s, _, body in reads), "every object written while the node was down reads back")

    # SIGTERM stops everything cleanly.
    kids = children(aio.proc.pid)
    aio.proc.send_signal(signal.SIGTERM)
    rc = aio.proc.wait(timeout=40)
    check(rc == 0, f"SIGTERM: nimbus aio exits 0 ({rc})")
    check(not any(os.path.exists(f"/proc/{p}") and "zombie" not in open(f"/proc/{p}/status").read().lower() for p in kids),
          "SIGTERM: every node and the proxy stopped")


def urllib_quote(s):
    from urllib.parse import quote
    return quote(s)


def listening(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def check_listen_addresses(proxy_port, node_ports):
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
    for p in node_ports:
        addrs = [line.split()[3] for line in out.splitlines() if line.split()[3].endswith(f":{p}")]
        check(addrs and all(a.startswith("127.0.0.1:") for a in addrs), f"F12 node port {p} listens on loopback only ({addrs})")
    addrs = [line.split()[3] for line in out.splitlines() if line.split()[3].endswith(f":{proxy_port}")]
    check(any(a.startswith("0.0.0.0:") or a.startswith("*:") for a in addrs), f"F12 the proxy listens on --host 0.0.0.0 ({addrs})")


def check_from_other_host(proxy_port, node_ports):
    """From a network namespace joined by a veth pair (another host, as far as TCP is
    concerned): the proxy answers, the nodes refuse."""
    if os.geteuid() != 0:
        print("skip F12 network-namespace check (needs root)")
        return
    ns = f"nimbus-sec-{os.getpid()}"
    host_if, ns_if = f"nsh{os.getpid() % 100000}", f"nsn{os.getpid() % 100000}"
    sh = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", ns)
        sh("ip", "addr", "add", "10.231.7.1/24", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", "10.231.7.2/24", "dev", ns_if)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

        def probe(p):
            code = ("import socket,sys\ntry:\n socket.create_connection(('10.231.7.1',%d),timeout=3).close(); print('open')\n"
                    "except OSError as e: print('closed', e)") % p
            return subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True, text=True).stdout
        check(probe(proxy_port).startswith("open"), "F12 the proxy answers a connection from another host")
        for p in node_ports:
            check(probe(p).startswith("closed"), f"F12 node port {p} refuses a connection from another host")
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


if __name__ == "__main__":
    main()
