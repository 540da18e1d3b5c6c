#!/usr/bin/env python3
"""Acceptance check of the object store with the real `swift` CLI (python-swiftclient).

Starts `nimbus aio` on a free port in a temp dir, then: stat; post a container with
metadata; upload a tree of 200 files (nested dirs, spaces, non-ASCII names, a 0-byte file,
a 50 MiB file); list with --prefix and --delimiter; download --all and compare sha256s;
stat an object (ETag = MD5); delete everything; account stat shows 0 containers.
"""
import argparse, hashlib, os, random, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aio_harness import AIO, Failure, check  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--swift", required=True)
    args = ap.parse_args()

    aio = AIO(args.nimbus)
    work, auth = aio.work, aio.auth
    ok = False
    try:
        def swift(*a, ok=True):
            cmd = [args.swift, "-A", auth, "-U", "test:tester", "-K", "testing", *a]
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
            if ok and r.returncode != 0:
                raise Failure(f"swift {' '.join(a)} failed ({r.returncode}): {r.stderr.strip()[:500]}")
            return r.stdout

        def stat_fields(out):
            fields = {}
            for line in out.splitlines():
                if ":" in line:
                    k, v = line.split(":", 1)
                    fields[k.strip()] = v.strip()
            return fields

        out = stat_fields(swift("stat"))
        check(out.get("Account") == "AUTH_test", "stat shows the account")

        swift("post", "-m", "Color:Blue", "-m", "Owner:nimbus test", "photos")
        out = stat_fields(swift("stat", "photos"))
        check(out.get("Meta Color") == "Blue" and out.get("Meta Owner") == "nimbus test", "post sets container metadata")

        # A tree of 200 files.
        tree = os.path.join(work, "tree")
        rnd = random.Random(42)
        files = []
        dirs = ["a", "a/b", "a/b/c", "with space", "ünïcödé", "日本語/テスト", "x/y z/ü"]
        for d in dirs:
            os.makedirs(os.path.join(tree, d), exist_ok=True)
        os.makedirs(os.path.join(tree, "top"), exist_ok=True)
        files.append(("empty.txt", b""))
        big = os.urandom(1024 * 1024) * 50
        files.append(("a/big.bin", big))
        while len(files) < 200:
            d = rnd.choice(dirs + ["top"])
            name = rnd.choice(["file", "doc ument", "naïve", "résumé", "数据", "spaced name", "x"]) + f"-{len(files)}.dat"
            files.append((f"{d}/{name}", os.urandom(rnd.randint(1, 20000))))
        for rel, data in files:
            with open(os.path.join(tree, rel), "wb") as f:
                f.write(data)
        expected = {f"tree/{rel}": hashlib.sha256(data).hexdigest() for rel, data in files}

        swift("upload", "photos", "tree")
        listing = swift("list", "photos").splitlines()
        check(sorted(listing) == sorted(expected), f"list shows all {len(expected)} uploaded objects")

        pre = swift("list", "photos", "--prefix", "tree/a/b/").splitlines()
        check(sorted(pre) == sorted(n for n in expected if n.startswith("tree/a/b/")), "list --prefix")

        delim = swift("list", "photos", "--prefix", "tree/", "--delimiter", "/").splitlines()
        want = set()
        for n in expected:
            rest = n[len("tree/"):]
            want.add("tree/" + rest.split("/")[0] + "/" if "/" in rest else n)
        check(sorted(delim) == sorted(want), "list --delimiter groups subdirs")

        dl = os.path.join(work, "download")
        os.makedirs(dl)
        r = subprocess.run([args.swift, "-A", auth, "-U", "test:tester", "-K", "testing", "download", "--all"],
                           capture_output=True, text=True, cwd=dl)
        if r.returncode != 0:
            raise Failure(f"download --all failed: {r.stderr[:500]}")
        mismatches = []
        for name, digest in expected.items():
            path = os.path.join(dl, "photos", name)
            if not os.path.exists(path):
                mismatches.append(f"missing {name}")
                continue
            with open(path, "rb") as f:
                if hashlib.sha256(f.read()).hexdigest() != digest:
                    mismatches.append(f"content differs: {name}")
        check(not mismatches, f"download --all: every file's sha256 matches {mismatches[:5]}")

        out = stat_fields(swift("stat", "photos", "tree/a/big.bin"))
        check(out.get("ETag") == hashlib.md5(big).hexdigest(), "object ETag is the MD5 of its bytes")
        check(out.get("Content Length") == str(len(big)), "object length")

        # Large objects: `swift upload --segment-size` makes an SLO (segments in photos_segments).
        seg_src = os.path.join(work, "segmented.bin")
        seg_bytes = os.urandom(5 * 1024 * 1024 + 123)
        with open(seg_src, "wb") as f:
            f.write(seg_bytes)
        r = subprocess.run([args.swift, "-A", auth, "-U", "test:tester", "-K", "testing", "upload", "--segment-size", "1048576",
                            "--object-name", "large.bin", "photos", seg_src], capture_output=True, text=True)
        check(r.returncode == 0, f"upload --segment-size succeeds {r.stderr[:300]}")
        out = stat_fields(swift("stat", "photos", "large.bin"))
        check(out.get("Manifest") is not None or out.get("Content Length") == str(len(seg_bytes)), "segmented object is a manifest")
        check(out.get("Content Length") == str(len(seg_bytes)), "segmented object shows the whole length")
        segs = swift("list", "photos_segments").split()
        check(len(segs) == 6, f"six segments stored ({len(segs)})")
        got = os.path.join(work, "large.out")
        r = subprocess.run([args.swift, "-A", auth, "-U", "test:tester", "-K", "testing", "download", "photos", "large.bin",
                            "-o", got], capture_output=True, text=True)
        with open(got, "rb") as f:
            check(f.read() == seg_bytes, "segmented object downloads byte-identical")
        swift("delete", "photos", "large.bin")
        check(swift("list", "photos_segments").split() == [], "deleting the manifest deletes its segments")

        swift("delete", "--all")
        time.sleep(0.2)
        out = stat_fields(swift("stat"))
        check(out.get("Containers") == "0", "after delete --all the account has 0 containers")
        print("swiftclient checks passed")
        ok = True
        return 0
    except Failure as e:
        print(f"FAIL {e}", file=sys.stderr)
        print(f"(logs kept in {work})", file=sys.stderr)
        return 1
    finally:
        aio.stop(keep=not ok)


if __name__ == "__main__":
    sys.exit(main())
