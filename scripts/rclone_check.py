#!/usr/bin/env python3
"""rclone (Debian package) against `nimbus aio` as a `swift` remote: copy a 500-file tree up,
`rclone check` finds 0 differences, `rclone sync` after local changes, then `rclone delete`."""
import argparse, os, random, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aio_harness import AIO, Failure, check, run_checks  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    args = ap.parse_args()
    aio = AIO(args.nimbus)
    env = dict(os.environ,
               RCLONE_CONFIG_NIMBUS_TYPE="swift", RCLONE_CONFIG_NIMBUS_AUTH=aio.auth,
               RCLONE_CONFIG_NIMBUS_USER="test:tester", RCLONE_CONFIG_NIMBUS_KEY="testing",
               RCLONE_CONFIG_NIMBUS_AUTH_VERSION="1", RCLONE_CONFIG=os.path.join(aio.work, "rclone.conf"))

    open(env["RCLONE_CONFIG"], "w").close()  # an empty config file: the remote comes from the environment

    def rclone(*a):
        """Runs rclone; returns (stdout, stdout + stderr), since `check` reports on stderr."""
        r = subprocess.run(["rclone", *a], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise Failure(f"rclone {' '.join(a)} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
        return r.stdout, r.stdout + r.stderr

    def count_remote():
        return len([l for l in rclone("lsf", "-R", "--files-only", "nimbus:backup")[0].splitlines() if l])

    def scenario():
        tree = os.path.join(aio.work, "tree")
        rnd = random.Random(7)
        for i in range(500):
            d = os.path.join(tree, f"dir{i % 7}", f"sub {i % 3}", "ünï" if i % 5 == 0 else "")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"file-{i}.bin"), "wb") as f:
                f.write(os.urandom(rnd.randint(0, 40000)))
        rclone("copy", tree, "nimbus:backup")
        check(count_remote() == 500, "rclone copy stored 500 files")
        out = rclone("check", tree, "nimbus:backup")[1]
        check("0 differences found" in out, "rclone check reports 0 differences")

        # Local changes: one modified, one new, one removed; sync mirrors them.
        changed = os.path.join(tree, "dir1", "sub 1", "file-1.bin")
        with open(changed, "wb") as f:
            f.write(b"changed contents")
        with open(os.path.join(tree, "dir2", "new file.txt"), "w") as f:
            f.write("new")
        os.unlink(os.path.join(tree, "dir3", "sub 0", "file-3.bin"))
        rclone("sync", tree, "nimbus:backup")
        out = rclone("check", tree, "nimbus:backup")[1]
        check("0 differences found" in out, "after local changes rclone sync leaves 0 differences")
        check(count_remote() == 500, "sync added the new file and removed the deleted one")

        rclone("delete", "nimbus:backup")
        check(count_remote() == 0, "rclone delete leaves no objects")

    return run_checks(aio, scenario, "rclone checks passed")


if __name__ == "__main__":
    sys.exit(main())
