#!/usr/bin/env python3
"""rclone (Debian package) against `nimbus aio` as a `swift` remote and as an `s3` remote
(provider Other, the S3 API): copy a 500-file tree up, `rclone check` finds 0 differences,
`rclone sync` after local changes, then `rclone delete`. What the s3 remote wrote, the swift
remote reads with the same MD5s."""
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
               RCLONE_CONFIG_NIMBUS_AUTH_VERSION="1", RCLONE_CONFIG=os.path.join(aio.work, "rclone.conf"),
               RCLONE_CONFIG_NIMBUSS3_TYPE="s3", RCLONE_CONFIG_NIMBUSS3_PROVIDER="Other",
               RCLONE_CONFIG_NIMBUSS3_ENDPOINT=f"http://127.0.0.1:{aio.port}", RCLONE_CONFIG_NIMBUSS3_ACCESS_KEY_ID="test:tester",
               RCLONE_CONFIG_NIMBUSS3_SECRET_ACCESS_KEY="testing", RCLONE_CONFIG_NIMBUSS3_FORCE_PATH_STYLE="true",
               RCLONE_CONFIG_NIMBUSS3_REGION="us-east-1")

    # rclone's S3 client cannot take a custom CA bundle (the endpoint is plain HTTP anyway).
    env.pop("AWS_CA_BUNDLE", None)
    open(env["RCLONE_CONFIG"], "w").close()  # an empty config file: the remote comes from the environment

    def rclone(*a):
        """Runs rclone; returns (stdout, stdout + stderr), since `check` reports on stderr."""
        r = subprocess.run(["rclone", *a], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise Failure(f"rclone {' '.join(a)} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
        return r.stdout, r.stdout + r.stderr

    def count_remote(remote):
        return len([l for l in rclone("lsf", "-R", "--files-only", remote)[0].splitlines() if l])

    def tree_round(tree, remote, kind):
        rclone("copy", tree, remote)
        check(count_remote(remote) == 500, f"rclone copy stored 500 files ({kind})")
        out = rclone("check", tree, remote)[1]
        check("0 differences found" in out, f"rclone check reports 0 differences ({kind})")

        # Local changes: one modified, one new, one removed; sync mirrors them.
        changed = os.path.join(tree, "dir1", "sub 1", "file-1.bin")
        with open(changed, "wb") as f:
            f.write(b"changed contents")
        with open(os.path.join(tree, "dir2", "new file.txt"), "w") as f:
            f.write("new")
        os.unlink(os.path.join(tree, "dir3", "sub 0", "file-3.bin"))
        rclone("sync", tree, remote)
        out = rclone("check", tree, remote)[1]
        check("0 differences found" in out, f"after local changes rclone sync leaves 0 differences ({kind})")
        check(count_remote(remote) == 500, f"sync added the new file and removed the deleted one ({kind})")

    def make_tree(name):
        tree = os.path.join(aio.work, name)
        rnd = random.Random(7)
        for i in range(500):
            d = os.path.join(tree, f"dir{i % 7}", f"sub {i % 3}", "ünï" if i % 5 == 0 else "")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"file-{i}.bin"), "wb") as f:
                f.write(os.urandom(rnd.randint(0, 40000)))
        return tree

    def scenario():
        tree_round(make_tree("tree"), "nimbus:backup", "swift remote")
        rclone("delete", "nimbus:backup")
        check(count_remote("nimbus:backup") == 0, "rclone delete leaves no objects")

        tree = make_tree("tree-s3")
        rclone("mkdir", "nimbuss3:s3backup")
        tree_round(tree, "nimbuss3:s3backup", "s3 remote")
        out = rclone("check", "nimbuss3:s3backup", "nimbus:s3backup")[1]
        check("0 differences found" in out, "what the s3 remote wrote, the swift remote reads with the same sizes and MD5s")
        rclone("delete", "nimbuss3:s3backup")
        check(count_remote("nimbuss3:s3backup") == 0, "rclone delete through S3 leaves no objects")
        rclone("rmdir", "nimbuss3:s3backup")

    return run_checks(aio, scenario, "rclone checks passed")


if __name__ == "__main__":
    sys.exit(main())
