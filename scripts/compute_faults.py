#!/usr/bin/env python3
"""Compute faults on a real TCG guest (run by scripts/test-compute inside the host namespace,
novarc sourced, after `nimbus smoke` registered the test guest):

1. a second network worker for the same bridge is refused with a clear message;
2. the compute worker SIGKILLed while an instance boots: the supervisor restarts it, the launch
   is retried and the instance comes up (ssh);
3. libvirtd restarted while the instance runs: still `running`, still reachable, terminable;
4. an address freed moments ago is not handed out again (its DHCP lease may still hold).

Usage: compute_faults.py --nimbus PATH --aws PATH --data DIR --libvirtd-pid-file F --libvirtd-start CMD"""
import argparse, json, os, signal, subprocess, sys, tempfile, time

def run(cmd, check=True, timeout=120, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r

class Faults:
    def __init__(self, a):
        self.a = a
        self.key = os.path.join(tempfile.mkdtemp(prefix="nimbus-faults-"), "key.pem")
        self.passed = 0

    def aws(self, *args):
        r = run([self.a.aws, "ec2", *args, "--output", "json"])
        return json.loads(r.stdout) if r.stdout.strip() else {}

    def check(self, ok, what):
        if not ok:
            raise SystemExit(f"FAILED: {what}")
        self.passed += 1
        print(f"ok  {what}", flush=True)

    def instance(self, iid):
        return self.aws("describe-instances", "--instance-ids", iid)["Reservations"][0]["Instances"][0]

    def wait_state(self, iid, want, seconds=300):
        deadline = time.time() + seconds
        while time.time() < deadline:
            i = self.instance(iid)
            if i["State"]["Name"] == want:
                return i
            if i["State"]["Name"] in ("terminated",) and want != "terminated":
                raise SystemExit(f"FAILED: {iid} is terminated: {i.get('StateReason', {}).get('Message')}")
            time.sleep(1)
        raise SystemExit(f"FAILED: {iid} not {want} after {seconds} s")

    def ssh(self, ip, seconds=240):
        deadline = time.time() + seconds
        while time.time() < deadline:
            r = run(["ssh", "-i", self.key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                     "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR", f"root@{ip}", "uname -s"], check=False, timeout=40)
            if r.returncode == 0 and r.stdout.startswith("Linux"):
                return True
            time.sleep(1)
        return False

    def compute_pid(self):
        conf = os.path.join(self.a.data, "conf", "compute.json")
        r = run(["pgrep", "-f", f"compute worker --config {conf}"], check=False)
        pids = [int(p) for p in r.stdout.split()]
        return pids[0] if pids else None

    def main(self):
        images = self.aws("describe-images", "--filters", "Name=name,Values=nimbus-smoke-guest")["Images"]
        ami = images[0]["ImageId"]
        key = self.aws("create-key-pair", "--key-name", "faults")
        with open(self.key, "w") as f:
            f.write(key["KeyMaterial"])
        os.chmod(self.key, 0o600)
        self.aws("authorize-security-group-ingress", "--group-name", "default", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")

        # 1. one network worker a bridge
        r = run([self.a.nimbus, "compute", "network", "--config", os.path.join(self.a.data, "conf", "network.json")], check=False, timeout=60)
        self.check(r.returncode != 0 and "another network worker manages the bridge" in (r.stderr + r.stdout),
                   "a second network worker for the bridge is refused: " + (r.stderr + r.stdout).strip().splitlines()[-1])

        # 2. compute worker killed mid-boot
        before = self.compute_pid()
        iid = self.aws("run-instances", "--image-id", ami, "--key-name", "faults", "--instance-type", "m1.tiny")["Instances"][0]["InstanceId"]
        time.sleep(0.3)
        if before:
            os.kill(before, signal.SIGKILL)
        deadline = time.time() + 30
        while time.time() < deadline and self.compute_pid() in (None, before):
            time.sleep(0.2)
        self.check(before is not None and self.compute_pid() not in (None, before), f"compute worker {before} SIGKILLed while {iid} booted; restarted")
        i = self.wait_state(iid, "running")
        ip = i["PrivateIpAddress"]
        self.check(self.ssh(ip), f"{iid} came up anyway: ssh root@{ip}")

        # 3. libvirtd restarted while it runs
        with open(self.a.libvirtd_pid_file) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break
        run(["sh", "-c", self.a.libvirtd_start])
        time.sleep(2)
        self.check(self.instance(iid)["State"]["Name"] == "running" and self.ssh(ip, 60), f"libvirtd restarted: {iid} still running and reachable")
        self.aws("terminate-instances", "--instance-ids", iid)
        self.wait_state(iid, "terminated", 120)
        self.check(True, f"{iid} terminated after the libvirtd restart")

        # 4. the freed address is not reused while its lease may hold
        iid2 = self.aws("run-instances", "--image-id", ami, "--key-name", "faults", "--instance-type", "m1.tiny")["Instances"][0]["InstanceId"]
        ip2 = self.wait_state(iid2, "running")["PrivateIpAddress"]
        self.check(ip2 != ip, f"an address freed moments ago ({ip}) is not handed out again: {iid2} got {ip2}")
        self.aws("terminate-instances", "--instance-ids", iid2)
        self.wait_state(iid2, "terminated", 120)

        self.aws("revoke-security-group-ingress", "--group-name", "default", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
        self.aws("delete-key-pair", "--key-name", "faults")
        print(f"compute faults: {self.passed} checks passed")

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    for opt in ("--nimbus", "--aws", "--data", "--libvirtd-pid-file", "--libvirtd-start"):
        ap.add_argument(opt, required=True)
    Faults(ap.parse_args()).main()
