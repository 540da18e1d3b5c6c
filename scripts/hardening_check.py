#!/usr/bin/env python3
"""Hardening checks against `nimbus aio` (issue 12):
1. every daemon and client as an ordinary user: as `--user` (created when run as root), an aio
   run by that user serves the real `swift` CLI, `st` upload/download and a `nimbus backup` round
   trip to swift://;
2. SIGTERM to `nimbus aio` during a 16-client PUT load: exit status 0 within the drain bound,
   and after a restart every acknowledged PUT reads back whole.
Usage: hardening_check.py --nimbus PATH --st PATH --swift PATH [--user NAME]"""
import argparse, hashlib, os, pwd, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aio_harness import Failure, check  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(port, proc, seconds=60):
    end = time.time() + seconds
    while time.time() < end:
        if proc.poll() is not None:
            raise Failure(f"nimbus aio exited early ({proc.returncode})")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthcheck")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise Failure("nimbus aio did not come up")


def token(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/auth/v1.0", headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
    r = c.getresponse()
    r.read()
    return r.getheader("X-Auth-Token")


def user_prefix(user):
    """setpriv execs the command itself as `user` (no process in between to catch signals)."""
    if not user or pwd.getpwuid(os.geteuid()).pw_name == user:
        return []
    return ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--init-groups", "--"]


def as_user(user, cmd, **kw):
    """Runs cmd as `user` (plain when that is who we are)."""
    return subprocess.run(user_prefix(user) + cmd, capture_output=True, text=True, **kw)


def start_aio(nimbus, data, port, log, user=None):
    cmd = user_prefix(user) + [nimbus, "aio", "--port", str(port), "--data-dir", data, "--log-file", log]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(log + ".err", "w"))
    wait_up(port, proc)
    return proc


def ordinary_user(args, work):
    user = args.user or pwd.getpwuid(os.geteuid()).pw_name
    if os.geteuid() == 0:
        if subprocess.run(["id", user], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
        shutil.chown(work, user)
    check(pwd.getpwnam(user).pw_uid != 0, f"the checks run as the ordinary user {user}")
    port = free_port()
    data = os.path.join(work, "data")
    proc = start_aio(args.nimbus, data, port, os.path.join(work, "nimbus.log"), user)
    try:
        owners = {pwd.getpwuid(os.stat(f"/proc/{p}").st_uid).pw_name
                  for p in subprocess.run(["pgrep", "-f", f"{data}/conf/"], capture_output=True, text=True).stdout.split()}
        check(owners == {user}, f"every node and the proxy run as {user} ({owners})")
        auth = f"http://127.0.0.1:{port}/auth/v1.0"
        src = os.path.join(work, "src")
        os.makedirs(os.path.join(src, "sub"))
        files = {"a.txt": b"hello\n", "sub/b.bin": os.urandom(300_000), "sub/c": b""}
        for name, data_ in files.items():
            with open(os.path.join(src, name), "wb") as f:
                f.write(data_)
        subprocess.run(["chown", "-R", user, src])
        env = dict(os.environ, ST_AUTH=auth, ST_USER="test:tester", ST_KEY="testing", HOME=work)
        r = as_user(user, [args.st, "upload", "--segment-size", "100K", "stc", "."], cwd=src, env=env)
        check(r.returncode == 0, f"st upload as {user} ({r.stderr.strip()[:200]})")
        down = os.path.join(work, "down")
        os.makedirs(down)
        shutil.chown(down, user)
        r = as_user(user, [args.st, "download", "stc"], cwd=down, env=env)
        check(r.returncode == 0, f"st download as {user} ({r.stderr.strip()[:200]})")
        same = all(open(os.path.join(down, n), "rb").read() == d for n, d in files.items())
        check(same, "st downloads what it uploaded, byte for byte")
        r = as_user(user, [args.swift, "-A", auth, "-U", "test:tester", "-K", "testing", "list", "stc"], env=env)
        check(r.returncode == 0 and "sub/b.bin" in r.stdout, f"python-swiftclient lists it as {user}")
        benv = dict(env, SWIFT_AUTHURL=auth, SWIFT_USERNAME="test:tester", SWIFT_PASSWORD="testing", SWIFT_AUTHVERSION="1",
                    XDG_CACHE_HOME=os.path.join(work, "cache"))
        r = as_user(user, [args.nimbus, "backup", "full", "--no-encryption", src, "swift://bk"], env=benv)
        check(r.returncode == 0, f"nimbus backup full to swift:// as {user} ({r.stderr.strip()[:300]})")
        restored = os.path.join(work, "restored")
        r = as_user(user, [args.nimbus, "backup", "restore", "--no-encryption", "swift://bk", restored], env=benv)
        check(r.returncode == 0, f"nimbus backup restore as {user} ({r.stderr.strip()[:300]})")
        same = all(open(os.path.join(restored, n), "rb").read() == d for n, d in files.items())
        check(same, "the restore is byte-identical")
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    check(rc == 0, f"SIGTERM: the aio run by {user} exits 0 ({rc})")


def sigterm_under_load(args, work):
    port = free_port()
    data = os.path.join(work, "load")
    log = os.path.join(work, "load.log")
    proc = start_aio(args.nimbus, data, port, log)
    tok = token(port)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("PUT", "/v1/AUTH_test/load", headers={"X-Auth-Token": tok})
    c.getresponse().read()
    acked, lock, stop = {}, threading.Lock(), threading.Event()

    def writer(n):
        i = 0
        while not stop.is_set():
            name, body = f"w{n}-{i}", os.urandom(2000 + (i * 37) % 60000)
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("PUT", f"/v1/AUTH_test/load/{name}", body=body, headers={"X-Auth-Token": tok})
                r = c.getresponse()
                r.read()
                if r.status == 201:
                    with lock:
                        acked[name] = hashlib.md5(body).hexdigest()
            except OSError:
                pass
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    time.sleep(3)
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=70)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = "timeout"
    took = time.time() - t0
    stop.set()
    for t in threads:
        t.join()
    check(rc == 0, f"SIGTERM during a 16-client PUT load: exit status {rc} after {took:.1f} s (drain bound 30 s per tier)")
    check(len(acked) > 16, f"{len(acked)} PUTs were acknowledged before the stop")
    proc = start_aio(args.nimbus, data, port, log)
    try:
        tok = token(port)
        bad = []
        for name, md5 in acked.items():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", f"/v1/AUTH_test/load/{name}", headers={"X-Auth-Token": tok})
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or hashlib.md5(body).hexdigest() != md5:
                bad.append((name, r.status))
        check(not bad, f"after a restart every acknowledged PUT reads back whole ({len(acked)} objects, bad: {bad[:5]})")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--st", required=True)
    ap.add_argument("--swift", required=True)
    ap.add_argument("--user", default="nimbus-test" if os.geteuid() == 0 else None)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nimbus-hardening-")
    os.chmod(work, 0o755)
    ok = False
    try:
        ordinary_user(args, work)
        sigterm_under_load(args, work)
        ok = True
    except Failure as e:
        print(f"FAIL {e}")
    finally:
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
