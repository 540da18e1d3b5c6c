#!/usr/bin/env python3
"""duplicity 0.8.22 vs Nimbus, side by side on one data set (issue 6's benchmark).

Both back up the same tree with --no-encryption to file:// targets: a full backup, an
incremental after ../shared/bench/gen_backup_dataset.py's ~1 % mutation, and a restore of the
latest state. Each step runs under /usr/bin/time -v (wall time, peak RSS); the tools alternate
step by step so both see the same tree and the same machine state. Restores are compared with
the source after the timing."""
import argparse, os, re, shutil, subprocess, sys, tempfile


def timed(cmd, env=None):
    r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return seconds, rss / 1024


def same_tree(a, b):
    r = subprocess.run(["diff", "-r", "--no-dereference", a, b], capture_output=True, text=True)
    return r.returncode == 0, r.stdout[:500]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--dataset", required=True, help="gen_backup_dataset.py")
    ap.add_argument("--work", default=None)
    ap.add_argument("--keep-source", action="store_true", help="reuse WORK/src if it exists (it is mutated again)")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="nimbus-bench-backup-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "src")
    if not (args.keep_source and os.path.isdir(src)):
        shutil.rmtree(src, ignore_errors=True)
        subprocess.run([sys.executable, args.dataset, "gen", src], check=True)
    for d in ("dup-target", "nim-target", "dup-cache", "nim-cache", "dup-restore", "nim-restore"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    env = dict(os.environ, PASSPHRASE="")
    dup = ["duplicity", "--no-encryption", "--archive-dir", f"{work}/dup-cache"]
    nim = [args.nimbus, "backup"]
    nim_opts = ["--no-encryption", "--archive-dir", f"{work}/nim-cache"]
    subprocess.run(["sync"])
    steps = [
        ("full", dup + ["full", src, f"file://{work}/dup-target"], nim + ["full", src, f"file://{work}/nim-target"] + nim_opts),
        ("incremental", dup + ["incremental", src, f"file://{work}/dup-target"],
         nim + ["incremental", src, f"file://{work}/nim-target"] + nim_opts),
        ("restore", dup + ["restore", f"file://{work}/dup-target", f"{work}/dup-restore"],
         nim + ["restore", "--no-encryption", f"file://{work}/nim-target", f"{work}/nim-restore"]),
    ]
    results = []
    for name, dcmd, ncmd in steps:
        if name == "incremental":
            subprocess.run([sys.executable, args.dataset, "mutate", src, "7"], check=True)
        subprocess.run(["sync"])
        d = timed(dcmd, env)
        subprocess.run(["sync"])
        n = timed(ncmd, env)
        results.append((name, d, n))
        print(f"{name:12s} duplicity {d[0]:7.2f} s {d[1]:7.1f} MiB   nimbus {n[0]:7.2f} s {n[1]:7.1f} MiB   "
              f"speed-up {d[0] / n[0]:5.2f}x  memory {n[1] / d[1]:4.2f}x", flush=True)
    for label, restored in (("duplicity", "dup-restore"), ("nimbus", "nim-restore")):
        ok, out = same_tree(src, os.path.join(work, restored))
        print(f"{label} restore {'matches the source' if ok else 'DIFFERS: ' + out}")
    size = lambda d: sum(os.path.getsize(os.path.join(p, f)) for p, _, fs in os.walk(d) for f in fs)
    print(f"target size: duplicity {size(work + '/dup-target') / 2**20:.1f} MiB, nimbus {size(work + '/nim-target') / 2**20:.1f} MiB")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
