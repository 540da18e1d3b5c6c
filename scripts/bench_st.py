"""st against python-swiftclient's `swift`, side by side on one `nimbus aio` (issue 5):
upload and download of 2,000 files of 4 KiB and of one 1 GiB file. Prints seconds and ratios.
--st-before PATH adds an earlier st build as a third tool (issue 15: plain HTTP no slower than
before); --tls serves the aio over HTTPS with a throw-away CA that every tool is given;
--cases big|small limits the cases."""
import argparse, json, os, shutil, subprocess, sys, time

from aio_harness import AIO


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--st", required=True)
    ap.add_argument("--swift", required=True)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--big-mib", type=int, default=1024)
    ap.add_argument("--st-before")
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--ca-script", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-test-ca"))
    ap.add_argument("--cases", choices=["all", "big", "small"], default="all")
    args = ap.parse_args()
    tls = None
    if args.tls:
        certs = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nimbus-bench-ca-{os.getpid()}")
        subprocess.run([args.ca_script, certs], check=True)
        tls = (os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"), os.path.join(certs, "ca.pem"))
    aio = AIO(args.nimbus, tls=tls)
    work = aio.work
    creds = ["-A", aio.auth, "-U", "test:tester", "-K", "testing"] + (["--os-cacert", tls[2]] if tls else [])
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
        if args.st_before:
            tools["st-before"] = [args.st_before, *creds]

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

        # Each case runs twice per tool, the order reversed the second time (A B C C B A), so
        # no tool gains from its place.
        cases = [c for c in ("small upload", "small download", "big upload", "big download")
                 if args.cases == "all" or c.startswith(args.cases)]
        order = list(tools)
        for case in cases:
            times = {t: [] for t in tools}
            for n, tool in enumerate(order + order[::-1]):
                times[tool].append(run_case(tool, case, n))
            for tool in times:
                results[(tool, case)] = times[tool]
        for case in cases:
            s, t = results[("swift", case)], results[("st", case)]
            size = f"{args.files} x 4 KiB" if case.startswith("small") else f"{args.big_mib} MiB"
            line = {"case": case, "size": size, "https": bool(tls)}
            for tool in tools:
                line[f"{tool}_s"] = [round(x, 2) for x in results[(tool, case)]]
            mean = lambda xs: sum(xs) / len(xs)
            line["st_speedup_vs_swift"] = round(mean(s) / mean(t), 2)
            if args.st_before:
                line["st_vs_before"] = round(mean(results[("st-before", case)]) / mean(t), 2)
            print(json.dumps(line), flush=True)
    finally:
        aio.stop()


if __name__ == "__main__":
    sys.exit(main())
