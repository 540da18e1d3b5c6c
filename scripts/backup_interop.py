"""Interop of `nimbus backup` with the real duplicity 0.8.22 (Debian package), issue 6:
(a) our full + 2 incrementals of a varied tree restore exactly with duplicity at every time,
    and duplicity's collection-status and verify --compare-data accept the chain;
(b) duplicity's chains restore exactly with ours: file:// and through duplicity's swift backend
    into `nimbus aio` (python-swiftclient from the venv);
(c) duplicity appends an incremental to our chain and we append one to duplicity's; both restore.
Usage: backup_interop.py --nimbus PATH --gen-tree PATH [--site-packages DIR]"""
import argparse, os, shutil, subprocess, sys, tempfile, time

from aio_harness import AIO, Failure, check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--gen-tree", required=True)
    ap.add_argument("--site-packages", default="")
    ap.add_argument("--duplicity3", help="a duplicity 3.x executable (pip) for the 3.x checks")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nimbus-backup-interop-")
    ok = False
    aio = None

    def run(cmd, env=None, cwd=work):
        started = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
        if time.time() - started > 5:
            print(f"     ({time.time() - started:.0f} s: {' '.join(cmd[:3])})")
        if r.returncode != 0:
            raise Failure(f"{' '.join(cmd[:4])} … failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-600:]}")
        return r.stdout

    def tree(stage, path):
        if stage == 0:
            run(["python3", args.gen_tree, "build", "a", "0", path])
        else:
            run(["python3", args.gen_tree, "apply", "a", str(stage), path])

    def listing(path):
        return run(["python3", args.gen_tree, "list", path])

    def dup(*a, env=None):
        return run(["duplicity", *a], env=env)

    def nimbus(*a, env=None):
        return run([args.nimbus, "backup", *a], env=env)

    def three_stage_chain(tool, src, target, cache):
        """A full and two incrementals of the generated tree's stages 0-2, made by `tool`
        (nimbus or dup); answers each stage's listing and set time."""
        expected, times = [], []
        for stage in range(3):
            tree(stage, os.path.join(work, src))
            expected.append(listing(os.path.join(work, src)))
            tool("full" if stage == 0 else "incremental", "--no-encryption", "--volsize", "1", "--archive-dir", f"{work}/{cache}",
                 src, f"file://{work}/{target}")
            times.append(sorted(n for n in os.listdir(f"{work}/{target}") if n.endswith(".manifest"))[-1].split(".")[-2])
            time.sleep(1.1)
        return expected, times

    try:
        # (a) Nimbus writes, duplicity reads.
        src = "srcN"
        url = f"file://{work}/targetN"
        expected, times = three_stage_chain(nimbus, src, "targetN", "ncache")
        status = dup("collection-status", "--no-encryption", "--archive-dir", f"{work}/dcache", url)
        check("Number of contained backup sets: 3" in status and "No orphaned or incomplete backup sets found." in status,
              "duplicity collection-status sees our 3-set chain")
        for stage, t in enumerate(times):
            out = f"{work}/dupRestore{stage}"
            dup("restore", "--no-encryption", "--archive-dir", f"{work}/dcache", "--time", t, url, out)
            check(listing(out) == expected[stage], f"duplicity restores our chain at stage {stage} exactly")
        r = subprocess.run(["duplicity", "verify", "--compare-data", "--no-encryption", "--archive-dir", f"{work}/dcache", url,
                            os.path.join(work, src)], capture_output=True, text=True)
        check(r.returncode == 0 and "0 differences found" in r.stdout, "duplicity verify --compare-data finds 0 differences")

        # (c1) duplicity appends an incremental to our chain; both tools restore it.
        with open(os.path.join(work, src, "added-by-duplicity.txt"), "w") as f:
            f.write("duplicity was here\n")
        time.sleep(1.1)
        dup("incremental", "--no-encryption", "--volsize", "1", "--archive-dir", f"{work}/dcache", src, url)
        want = listing(os.path.join(work, src))
        nimbus("restore", url, f"{work}/ourRestoreC1")
        check(listing(f"{work}/ourRestoreC1") == want, "we restore our chain extended by a duplicity incremental")
        dup("restore", "--no-encryption", "--archive-dir", f"{work}/dcache", url, f"{work}/dupRestoreC1")
        check(listing(f"{work}/dupRestoreC1") == want, "duplicity restores it too")

        # (a') the same with symmetric gpg (PASSPHRASE), both directions.
        genv = dict(os.environ, PASSPHRASE="sekrit")
        tree(0, os.path.join(work, "srcG"))
        nimbus("full", "--volsize", "1", "--archive-dir", f"{work}/gcache", "srcG", f"file://{work}/targetG", env=genv)
        time.sleep(1.1)
        tree(1, os.path.join(work, "srcG"))
        nimbus("incremental", "--volsize", "1", "--archive-dir", f"{work}/gcache", "srcG", f"file://{work}/targetG", env=genv)
        check(all(n.endswith(".gpg") for n in os.listdir(f"{work}/targetG")), "an encrypted chain holds only .gpg files")
        run(["duplicity", "restore", "--archive-dir", f"{work}/gdcache", f"file://{work}/targetG", f"{work}/dupRestoreG"], env=genv)
        check(listing(f"{work}/dupRestoreG") == listing(os.path.join(work, "srcG")), "duplicity restores our gpg-encrypted chain exactly")
        nimbus("restore", f"file://{work}/targetG", "ourRestoreG", env=genv)
        check(listing(f"{work}/ourRestoreG") == listing(os.path.join(work, "srcG")), "we restore it too (relative destination)")
        r = subprocess.run([args.nimbus, "backup", "restore", f"file://{work}/targetG", f"{work}/wrongG"], capture_output=True, text=True,
                           env=dict(os.environ, PASSPHRASE="wrong"))
        check(r.returncode != 0 and "wrong passphrase" in r.stderr, "a wrong passphrase is a clear error")

        # (a'') public-key gpg (--encrypt-key), both directions, one keyring in GNUPGHOME.
        kenv = dict(os.environ, GNUPGHOME=f"{work}/gnupg", PASSPHRASE="")  # the secret key has no passphrase
        os.makedirs(kenv["GNUPGHOME"], mode=0o700)
        run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "backup@nimbus.test", "default", "default", "never"], env=kenv)
        tree(0, os.path.join(work, "srcK"))
        nimbus("full", "--encrypt-key", "backup@nimbus.test", "--archive-dir", f"{work}/kcache", "srcK", f"file://{work}/targetK",
               env=kenv)
        run(["duplicity", "restore", "--archive-dir", f"{work}/kdcache", f"file://{work}/targetK", f"{work}/dupRestoreK"], env=kenv)
        check(listing(f"{work}/dupRestoreK") == listing(os.path.join(work, "srcK")), "duplicity restores our --encrypt-key backup exactly")
        time.sleep(1.1)
        tree(1, os.path.join(work, "srcK"))
        dup("incremental", "--encrypt-key", "backup@nimbus.test", "--archive-dir", f"{work}/kdcache", "srcK", f"file://{work}/targetK",
            env=kenv)
        nimbus("restore", f"file://{work}/targetK", f"{work}/ourRestoreK", env=kenv)
        check(listing(f"{work}/ourRestoreK") == listing(os.path.join(work, "srcK")),
              "we restore it after duplicity appended a key-encrypted incremental")

        # (b) duplicity writes (file://), we read at every time.
        src = "srcD"
        url = f"file://{work}/targetD"
        expected, times = three_stage_chain(dup, src, "targetD", "dcache2")
        for stage, t in enumerate(times):
            nimbus("restore", "--time", t, url, f"{work}/ourRestoreD{stage}")
            check(listing(f"{work}/ourRestoreD{stage}") == expected[stage], f"we restore duplicity's chain at stage {stage} exactly")

        # (c2) we append an incremental to duplicity's chain; both restore it.
        with open(os.path.join(work, src, "added-by-nimbus.txt"), "w") as f:
            f.write("nimbus was here\n")
        os.unlink(os.path.join(work, src, "small.txt"))
        nimbus("incremental", "--no-encryption", "--volsize", "1", "--archive-dir", f"{work}/ncache2", src, url)
        want = listing(os.path.join(work, src))
        dup("restore", "--no-encryption", "--archive-dir", f"{work}/dcache2", url, f"{work}/dupRestoreC2")
        check(listing(f"{work}/dupRestoreC2") == want, "duplicity restores its chain extended by our incremental")
        nimbus("restore", url, f"{work}/ourRestoreC2")
        check(listing(f"{work}/ourRestoreC2") == want, "we restore it too")

        # (b') duplicity's swift backend into nimbus aio, restored by us through swift://.
        aio = AIO(args.nimbus)
        # duplicity's size query goes through swiftclient's SwiftService, which reads the ST_*
        # variables for v1 auth (without them it retries for minutes and carries on).
        env = dict(os.environ, SWIFT_AUTHURL=aio.auth, SWIFT_USERNAME="test:tester", SWIFT_PASSWORD="testing", SWIFT_AUTHVERSION="1",
                   ST_AUTH=aio.auth, ST_USER="test:tester", ST_KEY="testing")
        if args.site_packages:
            env["PYTHONPATH"] = args.site_packages
        tree(0, os.path.join(work, "srcS"))
        dup("full", "--no-encryption", "--volsize", "1", "--archive-dir", f"{work}/dcache3", "srcS", "swift://dupbackups", env=env)
        nimbus("restore", "swift://dupbackups", f"{work}/ourRestoreS", env=env)
        check(listing(f"{work}/ourRestoreS") == listing(os.path.join(work, "srcS")),
              "we restore a chain duplicity wrote into nimbus aio with its swift backend")
        nimbus("incremental", "--no-encryption", "--archive-dir", f"{work}/ncache3", "srcS", "swift://dupbackups", env=env)
        dup("restore", "--no-encryption", "--archive-dir", f"{work}/dcache3", "swift://dupbackups", f"{work}/dupRestoreS", env=env)
        check(listing(f"{work}/dupRestoreS") == listing(os.path.join(work, "srcS")),
              "duplicity restores, from nimbus aio, the chain we extended through swift://")
        # Resume: kill -9 after 2 of ~5 volumes; the rerun stores only the rest; duplicity restores.
        os.makedirs(os.path.join(work, "srcR"))
        for i in range(5):
            with open(os.path.join(work, "srcR", f"r{i}.bin"), "wb") as f:
                f.write(os.urandom(1_000_000))
        rdir = f"{work}/targetR"
        cmd = [args.nimbus, "backup", "full", "--no-encryption", "--volsize", "1", "--archive-dir", f"{work}/rcache", "srcR", f"file://{rdir}"]
        # The process SIGKILLs itself right after storing volume 2 (a crash at a known point).
        p = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=dict(os.environ, NIMBUS_BACKUP_CRASH_AFTER_VOLUME="2"))
        p.wait(timeout=120)
        check(p.returncode == -9, f"the backup died by SIGKILL (status {p.returncode})")
        first = {n: os.stat(os.path.join(rdir, n)).st_ino for n in os.listdir(rdir) if ".difftar" in n}
        check(len(first) == 2 and not any(n.endswith(".manifest") for n in os.listdir(rdir)),
              f"killed with {len(first)} volumes stored and no manifest")
        run(cmd)
        after = {n: os.stat(os.path.join(rdir, n)).st_ino for n in os.listdir(rdir) if ".difftar" in n}
        kept = [n for n in first if after.get(n) == first[n]]
        check(len(kept) == len(first) and len(after) > len(first),
              f"the rerun kept {len(kept)} stored volumes and added {len(after) - len(first)} ({len(after)} in all)")
        dup("restore", "--no-encryption", "--archive-dir", f"{work}/rdcache", f"file://{rdir}", f"{work}/dupRestoreR")
        check(listing(f"{work}/dupRestoreR") == listing(os.path.join(work, "srcR")), "duplicity restores the resumed backup exactly")

        # Migration: full to file://, copied (interrupted, resumed) to swift://, cache handed over,
        # then an incremental straight to swift:// sends only the incremental's files.
        tree(0, os.path.join(work, "srcM"))
        local = f"file://{work}/targetM"
        nimbus("full", "--no-encryption", "--volsize", "1", "--archive-dir", f"{work}/mcache", "srcM", local)
        first = run([args.nimbus, "backup", "copy", local, "swift://moved/host"], env=env)
        check("0 already there" in first, "copy sends the whole backup to the object store")
        # An interrupted copy: the manifest and one volume never arrived.
        names = sorted(os.listdir(f"{work}/targetM"))
        for n in [x for x in names if x.endswith(".manifest") or x.endswith(".vol2.difftar.gz")]:
            run([args.nimbus, "st", "-A", aio.auth, "-U", "test:tester", "-K", "testing", "delete", "moved", f"host/{n}"])
        again = run([args.nimbus, "backup", "copy", local, "swift://moved/host"], env=env)
        check("2 files copied" in again, f"the rerun copies only the 2 missing files ({again.strip().splitlines()[-1]})")
        mig = run([args.nimbus, "backup", "migrate-cache", "--archive-dir", f"{work}/mcache", local, "swift://moved/host"], env=env)
        check("copied" in mig.splitlines()[-1], "migrate-cache checks the target and copies the cache to md5(new URL)")
        time.sleep(1.1)
        tree(1, os.path.join(work, "srcM"))
        before = set(os.listdir(f"{work}/targetM"))
        log_before = sum(1 for line in open(os.path.join(aio.work, "nimbus.log"), errors="replace") if '"PUT /v1/AUTH_test/moved/host/' in line)
        nimbus("incremental", "--no-encryption", "--volsize", "1", "--archive-dir", f"{work}/mcache", "srcM", "swift://moved/host", env=env)
        puts = [line for line in open(os.path.join(aio.work, "nimbus.log"), errors="replace") if '"PUT /v1/AUTH_test/moved/host/' in line][log_before:]
        check(all("duplicity-inc." in p or "duplicity-new-signatures." in p for p in puts) and len(puts) == 3,
              f"the incremental to swift:// uploads only its own {len(puts)} files")
        check(set(os.listdir(f"{work}/targetM")) == before, "the old file:// target is untouched")
        nimbus("restore", "swift://moved/host", f"{work}/restoreM", env=env)
        check(listing(f"{work}/restoreM") == listing(os.path.join(work, "srcM")), "restore from swift:// is exact")

        # (d) duplicity 3.x (pip): its chain restores with us; our incremental on it restores with 3.x.
        if args.duplicity3:
            tree(0, os.path.join(work, "src3"))
            run([args.duplicity3, "full", "--no-encryption", "--archive-dir", f"{work}/d3cache", "src3", f"file://{work}/target3"])
            time.sleep(1.1)
            tree(1, os.path.join(work, "src3"))
            run([args.duplicity3, "incremental", "--no-encryption", "--archive-dir", f"{work}/d3cache", "src3", f"file://{work}/target3"])
            nimbus("restore", "--no-encryption", f"file://{work}/target3", f"{work}/ourRestore3")
            check(listing(f"{work}/ourRestore3") == listing(os.path.join(work, "src3")), "we restore a duplicity 3.x chain exactly")
            time.sleep(1.1)
            tree(2, os.path.join(work, "src3"))
            nimbus("incremental", "--no-encryption", "--archive-dir", f"{work}/n3cache", "src3", f"file://{work}/target3")
            run([args.duplicity3, "restore", "--no-encryption", "--archive-dir", f"{work}/d3cache", f"file://{work}/target3",
                 f"{work}/dup3Restore"])
            check(listing(f"{work}/dup3Restore") == listing(os.path.join(work, "src3")),
                  "duplicity 3.x restores its chain extended by our incremental")

        # An unreadable source file (root reads everything: run as nobody): a warning naming it,
        # "Errors 1", exit status 2, and everything else backed up and restorable.
        if os.geteuid() == 0 and shutil.which("setpriv"):
            udir = tempfile.mkdtemp(prefix="nimbus-unreadable-")
            os.chmod(udir, 0o777)
            for name, mode in (("ok.txt", 0o644), ("locked.txt", 0o000)):
                with open(os.path.join(udir, name), "w") as f:
                    f.write(name)
                os.chmod(os.path.join(udir, name), mode)
            os.chown(udir, 65534, 65534)
            r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", args.nimbus, "backup", "full",
                                "--no-encryption", "--archive-dir", f"{udir}/cache", udir, f"file://{udir}/t"],
                               capture_output=True, text=True, cwd=udir, env=dict(os.environ, HOME=udir))
            check(r.returncode == 2 and "locked.txt" in r.stderr and "Errors 1" in r.stdout,
                  f"an unreadable file is warned about, counted and gives exit status 2 ({r.returncode})")
            nimbus("restore", f"file://{udir}/t", f"{work}/restoreU")
            check(open(f"{work}/restoreU/ok.txt").read() == "ok.txt" and not os.path.exists(f"{work}/restoreU/locked.txt"),
                  "the readable files are in the backup")
            shutil.rmtree(udir, ignore_errors=True)

        print("backup interop checks passed")
        ok = True
        return 0
    except Failure as e:
        print(f"FAIL {e}", file=sys.stderr)
        print(f"     files kept in {work}", file=sys.stderr)
        return 1
    finally:
        if aio:
            aio.stop(keep=not ok)
        if ok:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
