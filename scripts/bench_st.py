"""st against python-swiftclient's `swift`, side by side on one `nimbus aio` (issue 5):
upload and download of 2,000 files of 4 KiB and of one 1 GiB file. Prints seconds and ratios."""
import argparse, json, os, shutil, subprocess, sys, time

from aio_harness import AIO


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--st", required=True)
    ap.add_argument("--swift", required=True)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--big-mib", type=int, default=1024)
    args = ap.parse_args()
    aio = AIO(args.nimbus)
    work = aio.work
    creds = ["-A", aio.auth, "-U", "test:tester", "-K", "testing"]
    try:
        small = os.path.join(work, "small")
        os.makedirs(small)
        for i in range(args.files):
            with open(os.path.join(small, f"f{i:05d}"), "wb") as f:
                f.write(os.urandom(4096))
        big = os.path.join(work, "big.bin")
        with open(big, "wb") as f:
            for _ in range(args.big_mib):
                f.write(os.urandom(1 << 20))

        def timed(cmd, cwd=work):
            t = time.time()
            r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"{' '.join(cmd[:3])} failed: {r.stderr[:300]}")
            return time.time() - t

        results = {}
        tools = {"swift": [args.swift, *creds], "st": [args.st, *creds]}

        def run_case(tool, case, n):
            out = os.path.join(work, f"out-{tool}-{n}")
            os.makedirs(out, exist_ok=True)
            base = tools[tool]
            # Flush earlier writes so one tool does not pay for the other's write-back.
            os.sync()
            time.sleep(1)
            if case == "small upload":
                return timed(base + ["upload", f"s-{tool}-{n}", "small"])
            if case == "small download":
                return timed(base + ["download", f"s-{tool}-{n}"], cwd=out)
            if case == "big upload":
                return timed(base + ["upload", f"b-{tool}-{n}", "big.bin"])
            t = timed(base + ["download", f"b-{tool}-{n}", "big.bin", "-o", os.path.join(out, "big.bin")])
            os.unlink(os.path.join(out, "big.bin"))
            return t

        # Each case runs twice per tool in the order A B B A, so neither gains from going second.
        for case in ("small upload", "small download", "big upload", "big download"):
            times = {"swift": [], "st": []}
            for n, tool in enumerate(("swift", "st", "st", "swift")):
                times[tool].append(run_case(tool, case, n))
            for tool in times:
                results[(tool, case)] = sum(times[tool]) / len(times[tool])
        for case in ("small upload", "small download", "big upload", "big download"):
            s, t = results[("swift", case)], results[("st", case)]
            size = f"{args.files} x 4 KiB" if case.startswith("small") else f"{args.big_mib} MiB"
            print(json.dumps({"case": case, "size": size, "swift_s": round(s, 2), "st_s": round(t, 2), "speedup": round(s / t, 2)}))
    finally:
        aio.stop()


if __name__ == "__main__":
    sys.exit(main())
