#!/usr/bin/env python3
"""The table of scripts/bench-side-by-side: objbench.py's JSON lines of each system (tagged
"system" and "round": swift, nimbus, and with VOLUMES=1 nimbus-volumes), medians over the rounds
per phase, and each Nimbus / Swift."""
import json, statistics, sys

PHASES = [("cont_put", "container PUT", "ops_per_s", "/s"), ("cont_delete", "container DELETE", "ops_per_s", "/s"),
          ("small_put", "{small} PUT", "ops_per_s", "/s"), ("small_get", "{small} GET", "ops_per_s", "/s"),
          ("small_head", "{small} HEAD", "ops_per_s", "/s"), ("small_delete", "{small} DELETE", "ops_per_s", "/s"),
          ("large_put", "{large} PUT", "MiB_per_s", " MiB/s"), ("large_get", "{large} GET", "MiB_per_s", " MiB/s"),
          ("list", "listing {listed:,} objects", "objects_per_s", " obj/s")]


def size(n):
    for unit, m in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= m and n % m == 0:
            return f"{n // m} {unit}"
    return f"{n} B"


def main():
    runs = {}
    errors = 0
    for line in open(sys.argv[1]):
        d = json.loads(line)
        if d.get("phase") == "summary":
            errors += d.get("errors", 0)
        runs.setdefault((d["system"], d.get("phase")), []).append(d)
    config = (runs.get(("swift", "config")) or runs.get(("nimbus", "config")) or [{}])[0]
    names = {"small": size(config.get("size", 4096)), "large": size(config.get("large_size", 256 << 20)),
             "listed": config.get("list_objects", 10000)}
    volumes = any(system == "nimbus-volumes" for system, _ in runs)
    if volumes:
        print("| phase | OpenStack Swift | Nimbus | Nimbus / Swift | Nimbus, volumes | volumes / Swift | rounds (Swift; Nimbus; volumes) |")
        print("|---|---|---|---|---|---|---|")
    else:
        print("| phase | OpenStack Swift | Nimbus | Nimbus / Swift | rounds (Swift; Nimbus) |")
        print("|---|---|---|---|---|")
    for phase, label, key, unit in PHASES:
        sw = [r[key] for r in runs.get(("swift", phase), []) if r.get(key)]
        nb = [r[key] for r in runs.get(("nimbus", phase), []) if r.get(key)]
        vo = [r[key] for r in runs.get(("nimbus-volumes", phase), []) if r.get(key)]
        if not sw or not nb:
            continue
        a, b = statistics.median(sw), statistics.median(nb)
        fmt = lambda v: f"{v:,.0f}{unit}" if v >= 100 else f"{v:,.1f}{unit}"
        rounds = lambda vs: ", ".join(f"{v:,.0f}" for v in vs)
        if volumes and vo:
            c = statistics.median(vo)
            print(f"| {label.format(**names)} | {fmt(a)} | {fmt(b)} | **{b / a:.2f}** | {fmt(c)} | **{c / a:.2f}** | {rounds(sw)}; {rounds(nb)}; {rounds(vo)} |")
        else:
            print(f"| {label.format(**names)} | {fmt(a)} | {fmt(b)} | **{b / a:.2f}** | {rounds(sw)}; {rounds(nb)} |")
    print(f"\nrequest errors over all runs: {errors}")


if __name__ == "__main__":
    main()
