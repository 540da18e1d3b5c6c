#!/usr/bin/env python3
"""The EC2 API with real clients: `nimbus manage` makes a user, a project and its keys;
`nimbus compute api` serves; awscli and boto3 (from the venv) call it with those keys.
Usage: ec2_check.py --nimbus PATH --aws PATH --python PATH"""
import argparse, os, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aio_harness import Failure, check  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--aws", required=True)
    ap.add_argument("--python", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nimbus-ec2-")
    data = os.path.join(work, "data")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    ok, proc = False, None
    try:
        def manage(*a):
            r = subprocess.run([args.nimbus, "manage", *a, "--data-dir", data], capture_output=True, text=True)
            if r.returncode != 0:
                raise Failure(f"nimbus manage {' '.join(a)}: {r.stderr.strip()}")
            return r.stdout
        manage("user", "admin", "soren")
        manage("project", "create", "soren", "soren")
        keys = dict(line.replace("export ", "").split("=", 1) for line in manage("user", "exports", "soren", "soren").split("\n") if line)
        proc = subprocess.Popen([args.nimbus, "compute", "api", "--port", str(port), "--data-dir", data,
                                 "--log-file", os.path.join(work, "ec2.log")])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=keys["AWS_ACCESS_KEY_ID"], AWS_SECRET_ACCESS_KEY=keys["AWS_SECRET_ACCESS_KEY"],
                   AWS_DEFAULT_REGION="nimbus", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        url = f"http://127.0.0.1:{port}"

        def aws(*a, env=env):
            return subprocess.run([args.aws, "--endpoint-url", url, "--output", "text", "ec2", *a], capture_output=True, text=True, env=env)
        r = aws("describe-regions")
        check(r.returncode == 0 and "nimbus" in r.stdout, f"aws ec2 describe-regions ({r.stdout.strip()} {r.stderr.strip()[:200]})")
        r = aws("describe-availability-zones")
        check(r.returncode == 0 and "nimbus-1a" in r.stdout and "available" in r.stdout, "aws ec2 describe-availability-zones")
        r = aws("describe-regions", env=dict(env, AWS_SECRET_ACCESS_KEY="wrong" * 8))
        check(r.returncode != 0 and "SignatureDoesNotMatch" in r.stderr, f"a wrong secret: {r.stderr.strip()[:160]}")
        r = aws("describe-regions", env=dict(env, AWS_ACCESS_KEY_ID="NIMBUNKNOWNKEY000000"))
        check(r.returncode != 0 and "AuthFailure" in r.stderr, f"an unknown key: {r.stderr.strip()[:160]}")
        code = ("import boto3, botocore, sys\n"
                f"c = boto3.client('ec2', endpoint_url='{url}')\n"
                "print([r['RegionName'] for r in c.describe_regions()['Regions']])\n"
                "try:\n c.describe_availability_zones(ZoneNames=['mars'])\n"
                "except botocore.exceptions.ClientError as e:\n print(e.response['Error']['Code'], e.response['ResponseMetadata']['HTTPStatusCode'])\n")
        r = subprocess.run([args.python, "-c", code], capture_output=True, text=True, env=env)
        check(r.returncode == 0 and "['nimbus']" in r.stdout and "InvalidParameterValue 400" in r.stdout,
              f"boto3 describe_regions and a client error ({r.stdout.strip()} {r.stderr.strip()[-200:]})")
        ok = True
    except Failure as e:
        print(f"FAIL {e}")
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
