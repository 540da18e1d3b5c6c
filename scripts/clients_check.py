"""`st` and `nimbus backup` as a new user meets them (issue 15), against `nimbus aio` over HTTPS
with a throw-away CA: python-swiftclient's object names, clear one-line errors, HTTPS both
ways, backups over HTTPS, the passphrase check, restores that meet a bad volume, the scheduler,
and (with --keystone-venv) Keystone v3 auth against the real Keystone from PyPI.
Usage: clients_check.py --nimbus PATH --st PATH --swift PATH [--keystone-venv DIR --keystone-up SCRIPT]"""
import argparse, glob, json, os, re, shutil, signal, subprocess, sys, time

from aio_harness import AIO, Failure, check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--st", required=True)
    ap.add_argument("--swift", required=True)
    ap.add_argument("--ca-script", required=True)
    ap.add_argument("--keystone-venv")
    ap.add_argument("--keystone-up")
    args = ap.parse_args()

    certs = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nimbus-ca-{os.getpid()}")
    subprocess.run([args.ca_script, certs], check=True)
    ca, cert, key = (os.path.join(certs, n) for n in ("ca.pem", "server.pem", "server.key"))
    aio = AIO(args.nimbus, tls=(cert, key, ca), extra=_keystone_extra(args))
    work = aio.work
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ST_", "OS_", "SWIFT_"))}
    env = dict(base_env, ST_AUTH=aio.auth, ST_USER="test:tester", ST_KEY="testing", OS_CACERT=ca)
    creds = ["-A", aio.auth, "-U", "test:tester", "-K", "testing", "--os-cacert", ca]
    cleanups = []
    ok = False
    try:
        def run(cmd, cwd=work, e=None, timeout=300):
            return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=e or env, timeout=timeout)

        def st(*a, cwd=work, e=None, ok=True):
            r = run([args.st, *a], cwd=cwd, e=e)
            if ok and r.returncode != 0:
                raise Failure(f"st {' '.join(a)} failed: {r.stderr.strip()[:400]}")
            return r

        def swift(*a, cwd=work):
            r = run([args.swift, *creds, *a], cwd=cwd)
            if r.returncode != 0:
                raise Failure(f"swift {' '.join(a)} failed: {r.stderr.strip()[:400]}")
            return r

        def nimbus(*a, cwd=work, e=None):
            return run([args.nimbus, *a], cwd=cwd, e=e)

        def one_line(r, prefix):
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            return len(lines) == 1 and lines[0].startswith(prefix) and "Usage" not in r.stderr and "NSCocoaErrorDomain" not in r.stderr

        # --- HTTPS: the CA decides --------------------------------------------------------
        r = st("stat", e=dict(env, OS_CACERT=""), ok=False)
        check(r.returncode == 1 and one_line(r, "st: ") and "not trusted" in r.stderr and "--os-cacert" in r.stderr,
              f"st over HTTPS without the CA: refused in one line ({r.stderr.strip()[:160]})")
        check("Account: AUTH_test" in st("stat").stdout, "st over HTTPS with --os-cacert (OS_CACERT)")
        check("Account: AUTH_test" in st("--insecure", "stat", e=dict(env, OS_CACERT="")).stdout, "st --insecure over HTTPS")
        check("Account: AUTH_test" in swift("stat").stdout, "python-swiftclient over the same HTTPS endpoint")

        # --- Object names exactly as `swift upload` makes them ----------------------------
        names = os.path.join(work, "names")
        tree = os.path.join(names, "tree")
        for d in ("sub/deep", "empty", "onlydirs/inner"):
            os.makedirs(os.path.join(tree, d), exist_ok=True)
        os.makedirs(os.path.join(names, "other"), exist_ok=True)
        for rel, data in (("a.txt", "a"), ("sub/b", "b"), ("sub/deep/c é", "c"), ("../other/o", "o")):
            with open(os.path.join(tree, rel), "w") as f:
                f.write(data)
        os.symlink("a.txt", os.path.join(tree, "link-to-file"))
        os.symlink("../other", os.path.join(tree, "link-to-dir"))
        cases = [(["tree"], names), (["tree/"], names), (["./tree"], names), ([tree], names), (["tree/a.txt"], names),
                 (["tree/empty"], names), (["."], tree), (["tree", "--object-name", "pre"], names),
                 (["tree/a.txt", "--object-name", "renamed"], names)]
        for case, cwd in cases:
            swift("upload", "by-swift", *case, cwd=cwd)
            r = st("upload", "by-st", *case, cwd=cwd)
        py = swift("list", "by-swift").stdout.split()
        ours = st("list", "by-st").stdout.split()
        check(py == ours and "a.txt" in ours and "./a.txt" not in ours,
              f"st upload names {len(ours)} objects exactly as swift upload does (. , ./, /abs, --object-name, markers, links)")
        check("a.txt" in r.stdout or "renamed" in r.stdout, "st upload prints the names it stored")

        # Problem 1: a duplicity backup uploaded with `st upload laptop .` is found by collection-status.
        bsrc = os.path.join(work, "bsrc")
        os.makedirs(os.path.join(bsrc, "d"))
        for i in range(20):
            with open(os.path.join(bsrc, "d" if i % 2 else "", f"f{i}"), "wb") as f:
                f.write(os.urandom(3000 + i * 500))
        local = os.path.join(work, "local-backup")
        r = nimbus("backup", "--no-encryption", bsrc, f"file://{local}")
        check(r.returncode == 0, "a local backup to upload")
        st("upload", "laptop", ".", cwd=local)
        benv = dict(env, SWIFT_AUTHURL=aio.auth, SWIFT_USERNAME="test:tester", SWIFT_PASSWORD="testing")
        r = nimbus("backup", "collection-status", "--ssl-cacert-file", ca, "swift://laptop", e=benv)
        check(r.returncode == 0 and "Found primary backup chain" in r.stdout,
              "`cd backups && st upload laptop .` then collection-status swift://laptop finds the chain")

        # --- download never writes outside -D -----------------------------------------------
        with open(os.path.join(work, "evil"), "w") as f:
            f.write("x")
        swift("upload", "trap", "evil", "--object-name", "fine")
        # As sent, not normalised (clients fold ../ in URLs before sending; a hostile writer does not).
        _raw_put(aio, ca, "/trap/../escaped", b"gotcha")
        check("../escaped" in st("list", "trap").stdout.split(), "an object named ../escaped exists")
        out = os.path.join(work, "out")
        r = st("download", "trap", "-D", out, ok=False)
        check(r.returncode == 1 and "outside" in r.stderr and not os.path.exists(os.path.join(work, "escaped"))
              and os.path.exists(os.path.join(out, "fine")), "st download refuses ../escaped, fetches the rest")

        # --- Errors: one line, bounded, the right exit codes --------------------------------
        dead = f"https://127.0.0.1:{_free_port()}/auth/v1.0"
        t0 = time.monotonic()
        r = st("-A", dead, "-v", "stat", ok=False)
        took = time.monotonic() - t0
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 1 and lines[-1].startswith("st: ") and "connection refused" in lines[-1] and "check -A" in lines[-1]
              and "after 6 attempts" in lines[-1] and sum("retry" in l for l in lines) == 5 and took < 20,
              f"a dead auth URL: retries shown with -v, then one line in {took:.1f} s ({lines[-1][:120]})")
        t0 = time.monotonic()
        r = st("-A", aio.auth.replace("v1.0", "v2.0"), "stat", ok=False)
        check(r.returncode == 1 and one_line(r, "st: ") and "404" in r.stderr and "--auth-version" in r.stderr and time.monotonic() - t0 < 3,
              "/auth/v2.0 against tempauth: one request, one line naming --auth-version")
        r = st("stat", "--bogus", ok=False)
        check(r.returncode == 2 and r.stderr.startswith("st: "), "st usage error exits 2 with st: prefix")
        r = nimbus("backup", "--no-encryption", bsrc, "file:///proc/nimbus-no-such-dir/x")
        check(r.returncode == 1 and one_line(r, "nimbus: "), f"unwritable file:// target: one nimbus: line, exit 1 ({r.stderr.strip()[:120]})")
        r = nimbus("backup", "restore", "--help")
        check("Store volumes unencrypted" not in r.stdout and "--archive-dir" in r.stdout and "--ignore-errors" in r.stdout,
              "restore --help: --no-encryption described for reading, --archive-dir and --ignore-errors offered")
        r = nimbus("backup", "colection-status", "file:///tmp/x")
        check(r.returncode == 1 and "did you mean" in r.stderr and "collection-status" in r.stderr, "a mistyped verb is named, not backed up")

        # --- Backups over HTTPS, passphrase safety -----------------------------------------
        target = "swift://backups/laptop"
        cache = os.path.join(work, "cache")
        common = ["--ssl-cacert-file", ca, "--archive-dir", cache, "--name", "laptop"]
        penv = dict(benv, PASSPHRASE="right horse")
        r = nimbus("backup", "full", *common, bsrc, target, e=penv)
        check(r.returncode == 0, f"full backup over HTTPS ({r.stderr.strip()[:200]})")
        with open(os.path.join(bsrc, "f0"), "ab") as f:
            f.write(b"changed")
        before = swift("list", "backups").stdout
        r = nimbus("backup", "incremental", *common, bsrc, target, e=dict(benv, PASSPHRASE="wrong"))
        check(r.returncode != 0 and one_line(r, "nimbus: ") and "passphrase" in r.stderr.lower() and swift("list", "backups").stdout == before,
              f"an incremental with the wrong PASSPHRASE is refused and writes nothing ({r.stderr.strip()[:140]})")
        r = nimbus("backup", "incremental", *common, bsrc, target, e=penv)
        check(r.returncode == 0, "incremental over HTTPS with the right passphrase")
        r = nimbus("backup", "restore", *common, target, os.path.join(work, "r-nopass"), e=benv)
        check(r.returncode == 1 and "set PASSPHRASE" in r.stderr, "restore without PASSPHRASE says to set it")
        dest = os.path.join(work, "restored")
        r = nimbus("backup", "restore", *common, target, dest, e=penv)
        check(r.returncode == 0 and _digests(dest) == _digests(bsrc), "restore over HTTPS (with --archive-dir and --name) is identical")

        # A bad volume: the restore names what is incomplete; --ignore-errors restores the rest.
        vsrc = os.path.join(work, "vsrc")
        os.makedirs(vsrc)
        for i in range(6):
            with open(os.path.join(vsrc, f"big{i}"), "wb") as f:
                f.write(os.urandom(700 * 1024))
        vol = os.path.join(work, "vol-backup")
        nimbus("backup", "full", "--no-encryption", "--no-compression", "--volsize", "1", vsrc, f"file://{vol}")
        vols = sorted(glob.glob(os.path.join(vol, "*.vol2.difftar*")))
        check(len(vols) == 1, "a backup of several volumes")
        with open(vols[0], "r+b") as f:
            f.seek(2000)
            f.write(os.urandom(4096))
        r = nimbus("backup", "restore", "--no-encryption", f"file://{vol}", os.path.join(work, "rv1"))
        check(r.returncode != 0 and "--ignore-errors" in r.stderr and "big" in r.stderr, "a restore that meets a bad volume names the files and --ignore-errors")
        rv2 = os.path.join(work, "rv2")
        r = nimbus("backup", "restore", "--no-encryption", "--ignore-errors", f"file://{vol}", rv2)
        good = {k: v for k, v in _digests(rv2).items()}
        want = _digests(vsrc)
        check(r.returncode == 2 and good and all(want[k] == v for k, v in good.items()) and len(good) < len(want),
              f"--ignore-errors restores the other files intact ({len(good)} of {len(want)}) and exits 2")

        # The archive cache follows $HOME.
        home = os.path.join(work, "home")
        r = nimbus("backup", "--no-encryption", bsrc, f"file://{os.path.join(work, 'home-backup')}", e=dict(env, HOME=home))
        check(r.returncode == 0 and os.path.isdir(os.path.join(home, ".cache", "nimbus-backup")), "the archive cache honours $HOME")

        # --- The scheduler continues a chain started by hand with a relative path ------------
        sched = os.path.join(work, "schedule.json")
        rel_target = f"file://{os.path.join(work, 'sched-backup')}"
        r = nimbus("backup", "--no-encryption", "bsrc", rel_target)
        r = nimbus("backup", "schedule", "add", "--schedule", sched, "--no-encryption", "--every", "1D", "laptop", "bsrc", rel_target)
        check(r.returncode == 0, "schedule add")
        r = nimbus("backup", "schedule", "now", "--schedule", sched, "laptop")
        check(r.returncode == 0, f"schedule now continues the hand-made chain ({r.stderr.strip()[:200]})")
        r = nimbus("backup", "schedule", "status", "--schedule", sched)
        check(r.returncode == 0 and "laptop" in r.stdout, "schedule status: ok, exit 0")
        r = nimbus("backup", "schedule", "add", "--schedule", sched, "--every", "1D", "broken", "bsrc", rel_target + "-enc",
                   e={k: v for k, v in env.items() if k != "PASSPHRASE"})
        r = nimbus("backup", "schedule", "run", "--schedule", sched, e={k: v for k, v in env.items() if k != "PASSPHRASE"})
        check(r.returncode == 1 and "PASSPHRASE" in r.stderr, "a failing job makes schedule run exit 1 and names PASSPHRASE")
        r = nimbus("backup", "schedule", "status", "--schedule", sched)
        check(r.returncode == 1, "schedule status exits 1 while a job fails")

        # --- Ctrl-C in an upload says how to resume -----------------------------------------
        bigdir = os.path.join(work, "big")
        os.makedirs(bigdir)
        with open(os.path.join(bigdir, "big.bin"), "wb") as f:
            f.write(os.urandom(64 << 20))
        p = subprocess.Popen([args.st, "upload", "-S", "1M", "--segment-threads", "1", "slow", "big"], cwd=work, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        _out, err = p.communicate(timeout=30)
        check(p.returncode == 130 and "rerun the same command" in err, "Ctrl-C in st upload: exit 130, says how to resume")

        if args.keystone_venv:
            _keystone_checks(args, aio, ca, env, base_env, run, st, nimbus, work, bsrc, cleanups)
        ok = True
    finally:
        for cleanup in cleanups:
            cleanup()
        aio.stop(keep=not ok)
        shutil.rmtree(certs, ignore_errors=True)
        if not ok:
            print(f"(kept {work} for a look)", file=sys.stderr)


def _keystone_extra(args):
    if not args.keystone_venv:
        return ()
    port = _free_port()
    _keystone_extra.port = port
    return ("--keystone-url", f"http://127.0.0.1:{port}/v3")


def _keystone_checks(args, aio, ca, env, base_env, run, st, nimbus, work, bsrc, cleanups):
    """Starts the real Keystone, registers this cluster as its object store, and uses it."""
    port = _keystone_extra.port
    state = os.path.join(work, "keystone")
    storage_prefix = aio.auth.rsplit("/auth/", 1)[0]
    pidfile = os.path.join(state, "keystone.pid")

    def stop():
        try:
            os.kill(int(open(pidfile).read()), signal.SIGTERM)
        except (OSError, ValueError):
            pass

    cleanups.append(stop)
    r = subprocess.run([args.keystone_up, args.keystone_venv, state, str(port), storage_prefix], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise Failure(f"keystone did not start: {r.stderr.strip()[-600:]}")
    values = dict(re.findall(r"^([A-Z_]+)=(\S+)$", r.stdout, re.M))
    kenv = dict(base_env, OS_AUTH_URL=f"http://127.0.0.1:{port}/v3", OS_USERNAME="demo", OS_PASSWORD="demopw", OS_PROJECT_NAME="demo",
                OS_USER_DOMAIN_NAME="Default", OS_PROJECT_DOMAIN_NAME="Default", OS_REGION_NAME="RegionOne", OS_CACERT=ca,
                OS_IDENTITY_API_VERSION="3")
    account = "AUTH_" + values["PROJECT_ID"]
    r = st("stat", e=kenv)
    check(f"Account: {account}" in r.stdout, f"st with Keystone v3 password auth reaches {account} through the catalog")
    with open(os.path.join(work, "k.txt"), "w") as f:
        f.write("keystone")
    st("upload", "kc", "k.txt", e=kenv)
    r = run([args.swift, "--os-cacert", ca, "--auth-version", "3", "list", "kc"], e=kenv)
    check(r.returncode == 0 and r.stdout.split() == ["k.txt"],
          f"python-swiftclient with the same Keystone sees what st uploaded ({r.stderr.strip()[-200:]})")
    r = run([args.swift, "--debug", "--os-cacert", ca, "--auth-version", "3", "stat"], e=kenv)
    check(f"/v1/{account}" in r.stderr + r.stdout, "swift --debug: the same storage URL from the same catalog")
    aenv = {k: v for k, v in kenv.items() if k not in ("OS_USERNAME", "OS_PASSWORD", "OS_PROJECT_NAME", "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME")}
    aenv.update(OS_AUTH_TYPE="v3applicationcredential", OS_APPLICATION_CREDENTIAL_ID=values["APP_CRED_ID"],
                OS_APPLICATION_CREDENTIAL_SECRET=values["APP_CRED_SECRET"])
    r = st("list", "kc", e=aenv)
    check(r.stdout.split() == ["k.txt"], "st with a Keystone application credential")
    r = st("stat", e=dict(kenv, OS_PASSWORD="nope"), ok=False)
    check(r.returncode == 1 and "refused (HTTP 401)" in r.stderr, "a wrong Keystone password: one line, 401")
    r = st("stat", e=dict(kenv, OS_REGION_NAME="Elsewhere"), ok=False)
    check(r.returncode == 1 and "region Elsewhere" in r.stderr and "RegionOne" in r.stderr, "an unknown region names the ones there are")
    benv = dict(kenv, SWIFT_AUTHURL=kenv["OS_AUTH_URL"], SWIFT_AUTHVERSION="3", SWIFT_USERNAME="demo", SWIFT_PASSWORD="demopw",
                SWIFT_PROJECT_NAME="demo", SWIFT_USER_DOMAIN_NAME="Default", SWIFT_PROJECT_DOMAIN_NAME="Default", PASSPHRASE="k")
    r = nimbus("backup", "--ssl-cacert-file", ca, bsrc, "swift://kbackup", e=benv)
    dest = os.path.join(work, "k-restored")
    r2 = nimbus("backup", "restore", "--ssl-cacert-file", ca, "swift://kbackup", dest, e=benv)
    check(r.returncode == 0 and r2.returncode == 0 and _digests(dest) == _digests(bsrc), "nimbus backup swift:// through Keystone v3 (SWIFT_AUTHVERSION=3)")


def _raw_put(aio, ca, path, body):
    import http.client, ssl
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("127.0.0.1", aio.port, context=ctx)
    c.request("GET", "/auth/v1.0", headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
    r = c.getresponse()
    r.read()
    token, url = r.getheader("X-Auth-Token"), r.getheader("X-Storage-Url")
    c.request("PUT", url.split(str(aio.port), 1)[1] + path, body=body, headers={"X-Auth-Token": token})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        raise Failure(f"raw PUT {path}: {r.status}")


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _digests(root):
    import hashlib
    out = {}
    for d, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


if __name__ == "__main__":
    try:
        main()
    except Failure as e:
        print(f"FAIL {e}", file=sys.stderr)
        sys.exit(1)
    print("clients checks passed")
