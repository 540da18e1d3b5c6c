#!/usr/bin/env python3
"""The control plane end to end with real clients against `nimbus aio --compute`: users and
projects made with `nimbus manage`, the credentials bundle sourced, images bundled, uploaded and
registered (kernel, ramdisk, a 3-part machine image), key pairs, security groups, addresses —
with awscli and boto3 from the venv — and every kind of bad bundle refused with a reason.
Bundles are cross-checked with scripts/ec2bundle_ref.py (stdlib + openssl CLI, both ways).
Usage: ec2_check.py --nimbus PATH --aws PATH --python PATH [--control-db postgres://…]"""
import argparse, json, os, random, shutil, socket, string, subprocess, sys, tempfile, time, zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from aio_harness import Failure, check  # noqa: E402

REF = os.path.join(HERE, "ec2bundle_ref.py")
MAX_IMAGE = 30 * 1024 * 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd, env=None, ok=True, what=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if ok and r.returncode != 0:
        raise Failure(f"{what or ' '.join(cmd)}: rc {r.returncode}: {r.stderr.strip()[-400:]}")
    return r


class Cloud:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.data = os.path.join(work, "data")
        self.port, self.ec2_port = free_port(), free_port()
        self.log = open(os.path.join(work, "aio.out"), "w")
        self.proc = subprocess.Popen(
            [args.nimbus, "aio", "--compute", "--port", str(self.port), "--ec2-port", str(self.ec2_port), "--data-dir", self.data,
             "--max-image-size", str(MAX_IMAGE), "--log-file", os.path.join(work, "nimbus.log"),
             *(["--control-db", args.control_db] if args.control_db else [])], stdout=self.log, stderr=self.log)
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", self.ec2_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise Failure("nimbus aio --compute did not come up")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def manage(self, *a):
        return run([self.args.nimbus, "manage", *a, "--data-dir", self.data], what=f"nimbus manage {' '.join(a)}").stdout

    def credentials(self, project, user):
        """Writes the user's zipfile, unzips it, sources novarc: the environment it makes."""
        d = os.path.join(self.work, f"creds-{project}-{user}")
        os.makedirs(d, exist_ok=True)
        z = os.path.join(d, "nimbus.zip")
        self.manage("project", "zipfile", project, user, z)
        with zipfile.ZipFile(z) as f:
            names = sorted(f.namelist())
            f.extractall(d)
        check(names == ["cacert.pem", "cert.pem", "config", "novarc", "pk.pem"], f"zipfile of {project}:{user} holds {names}")
        out = run(["bash", "-c", f". '{d}/novarc' && env -0"]).stdout
        env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
        return d, env


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--aws", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--control-db", help="PostgreSQL URL for the control plane (default: SQLite)")
    ap.add_argument("--quick", action="store_true", help="skip the engine-independent deep checks")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="nimbus-ec2-")
    ok, cloud = False, None
    try:
        cloud = Cloud(args, work)
        scenario(args, cloud, work)
        ok = True
    except Failure as e:
        print(f"FAIL {e}")
    finally:
        if cloud:
            cloud.stop()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"logs kept in {work}")
    sys.exit(0 if ok else 1)


def scenario(args, cloud, work):
    n = args.nimbus
    cloud.manage("user", "admin", "soren")
    cloud.manage("project", "create", "soren", "soren")
    cloud.manage("user", "create", "vish")
    cloud.manage("project", "create", "other", "vish")
    creds, env = cloud.credentials("soren", "soren")
    # A later zipfile issues another certificate: bundles signed with the first (all below) still register.
    cloud.manage("project", "zipfile", "soren", "soren", os.path.join(work, "second-soren.zip"))
    _, other_env = cloud.credentials("other", "vish")
    for k in ["EC2_URL", "EC2_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_EC2", "ST_AUTH", "ST_USER", "ST_KEY", "EC2_CERT",
              "EUCALYPTUS_CERT", "OS_AUTH_URL"]:
        check(env.get(k), f"novarc sets {k}")
    env.pop("AWS_PROFILE", None)

    def aws(*a, e=env, ok=True):
        return run([args.aws, "--output", "json", "ec2", *a], env=e, ok=ok, what=f"aws ec2 {' '.join(a)}")

    def py(code, e=env):
        return run([args.python, "-c", "import boto3, botocore, json, sys\nc = boto3.client('ec2')\n" + code], env=e,
                   what="boto3").stdout

    r = run([os.path.join(os.path.dirname(n), "st"), "stat"], env=env, what="st stat")
    check("AUTH_soren" in r.stdout, "st stat with nothing but the sourced novarc reaches AUTH_soren")
    r = aws("describe-regions")
    check(json.loads(r.stdout)["Regions"][0]["RegionName"] == "nimbus", "aws ec2 describe-regions with nothing but the sourced novarc")

    # --- nimbus manage against the cloud's API (as from another host), with an administrator's novarc ---
    def remote(*a, e=env, ok=True):
        return run([n, "manage", *a, "--url", env["EC2_URL"].rstrip("/") + "/services/Admin"], env=e, ok=ok,
                   what=f"nimbus manage {' '.join(a)} --url")
    remote("user", "create", "remi")
    remote("project", "create", "faraway", "remi")
    remote("project", "add-member", "faraway", "soren")
    check("remi\tadmin" in remote("project", "members", "faraway").stdout, "the remote project's manager is its admin member")
    check("faraway\tmanager remi" in remote("project", "list").stdout, "the remote project is listed")
    far = os.path.join(work, "creds-faraway-remi")
    os.makedirs(far)
    remote("project", "zipfile", "faraway", "remi", os.path.join(far, "nimbus.zip"))
    with zipfile.ZipFile(os.path.join(far, "nimbus.zip")) as f:
        check(sorted(f.namelist()) == ["cacert.pem", "cert.pem", "config", "novarc", "pk.pem"], "the remote zipfile holds the five files")
        f.extractall(far)
    check(oct(os.stat(os.path.join(far, "nimbus.zip")).st_mode & 0o777) == "0o600", "the remote zipfile is owner-only")
    out = run(["bash", "-c", f". '{far}/novarc' && env -0"]).stdout
    far_env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    far_env.pop("AWS_PROFILE", None)
    r = run([args.aws, "--output", "json", "ec2", "describe-security-groups"], env=far_env, what="aws ec2 with the remote zipfile")
    check([g["GroupName"] for g in json.loads(r.stdout)["SecurityGroups"]] == ["default"], "the remote bundle's keys work in project faraway")
    r = remote("user", "list", e=other_env, ok=False)
    check(r.returncode == 1 and "UnauthorizedOperation" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
          f"a user who is not an administrator is refused in one line: {r.stderr.strip()}")
    remote("project", "delete", "faraway")
    remote("user", "delete", "remi")
    check("remi" not in remote("user", "list").stdout, "the remote user is gone")

    # --- images: bundle, upload, register a kernel, a ramdisk and a 3-part machine image ---
    imgs = os.path.join(work, "images")
    os.makedirs(imgs)
    for name, size in [("vmlinuz", 2 * 1024 * 1024 + 17), ("initrd", 1024 * 1024 + 3), ("machine.img", 25 * 1024 * 1024)]:
        with open(os.path.join(imgs, name), "wb") as f:
            f.write(os.urandom(size))

    def bundle(name, *extra, e=env):
        out = os.path.join(work, "b-" + name)
        run([n, "image", "bundle", "-i", os.path.join(imgs, name), "-d", out, *extra], env=e)
        return os.path.join(out, name + ".manifest.xml")

    def upload(bucket, manifest, e=env):
        return run([n, "image", "upload-bundle", "-b", bucket, "-m", manifest], env=e).stdout

    kernel_manifest = bundle("vmlinuz", "--kernel", "true")
    ramdisk_manifest = bundle("initrd", "--ramdisk", "true")
    upload("mybucket", kernel_manifest)
    upload("mybucket", ramdisk_manifest)
    aki = json.loads(aws("register-image", "--image-location", "mybucket/vmlinuz.manifest.xml", "--name", "kernel").stdout)["ImageId"]
    ari = run([n, "image", "register", "mybucket/initrd.manifest.xml", "--name", "ramdisk"], env=env).stdout.split()[1]
    check(aki.startswith("aki-") and ari.startswith("ari-") and len(aki) == 12, f"registered kernel {aki} (awscli) and ramdisk {ari} (nimbus image)")
    machine_manifest = bundle("machine.img", "--kernel", aki, "--ramdisk", ari)
    parts = sorted(f for f in os.listdir(os.path.dirname(machine_manifest)) if ".part." in f)
    check(len(parts) == 3, f"a 25 MiB image bundles into 3 parts ({parts})")
    up = upload("mybucket", machine_manifest)
    again = upload("mybucket", machine_manifest)
    check("3 of 3 parts sent" in up and "0 of 3 parts sent" in again, "upload-bundle is resumable (a second run sends no part again)")
    ami = py("print(c.register_image(ImageLocation='mybucket/machine.img.manifest.xml', Name='machine', Architecture='x86_64')['ImageId'])").strip()
    check(ami.startswith("ami-"), f"boto3 registered the machine image {ami}")

    def wait(image_id, e=env):
        for _ in range(600):
            imgs = json.loads(aws("describe-images", "--image-ids", image_id, e=e).stdout)["Images"]
            if imgs and imgs[0]["State"] != "pending":
                return imgs[0]
            time.sleep(0.5)
        raise Failure(f"{image_id} stayed pending")

    for i in (aki, ari, ami):
        check(wait(i)["State"] == "available", f"{i} is available")
    images = {i["ImageId"]: i for i in json.loads(aws("describe-images", "--owners", "self").stdout)["Images"]}
    m = images[ami]
    check(m["KernelId"] == aki and m["RamdiskId"] == ari and m["ImageType"] == "machine" and m["ImageLocation"] == "mybucket/machine.img.manifest.xml",
          "describe-images shows the machine image with its kernel and ramdisk")
    check(images[aki]["ImageType"] == "kernel" and images[ari]["ImageType"] == "ramdisk", "kernel and ramdisk have their types")
    out = py(f"print(json.dumps([(i['ImageId'], i['State']) for i in c.describe_images(Filters=[{{'Name': 'image-type', 'Values': ['machine']}}])['Images']]))")
    check(json.loads(out) == [[ami, "available"]], "boto3 describe_images with an image-type filter")

    # The deep checks (bundles both ways, bad bundles, visibility) need the store only through
    # the API: --quick skips them when the same scenario already ran on the other engine.
    if not args.quick:
        # --- cross-checks with the independent openssl reference, both ways ---
        restored = os.path.join(work, "restored.img")
        r = run([sys.executable, REF, "unbundle", machine_manifest, os.path.dirname(machine_manifest), restored, "--cloud-key",
                 os.path.join(cloud.data, "control", "cloud-key.pem"), "--user-cert", env["EC2_CERT"]], what="ec2bundle_ref.py unbundle")
        check("Verified OK" in r.stdout and open(restored, "rb").read() == open(os.path.join(imgs, "machine.img"), "rb").read(),
              "a bundle made by Nimbus unbundles byte-identical with the openssl reference (signature verified)")
        ref_out = os.path.join(work, "ref-bundle")
        run([sys.executable, REF, "bundle", os.path.join(imgs, "initrd"), ref_out, "--prefix", "refdisk", "--user", "soren", "--cert", env["EC2_CERT"],
             "--privkey", env["EC2_PRIVATE_KEY"], "--ec2cert", env["EUCALYPTUS_CERT"], "--ramdisk", "true", "--part-size", "262144"])
        upload("refbucket", os.path.join(ref_out, "refdisk.manifest.xml"))
        ref_id = json.loads(aws("register-image", "--image-location", "refbucket/refdisk.manifest.xml", "--name", "refdisk").stdout)["ImageId"]
        check(wait(ref_id)["State"] == "available", f"a bundle made by the openssl reference registers in Nimbus ({ref_id})")

        # --- bad bundles: each a failed image with a reason, or the EC2 error a user expects ---
        def bad_bundle(bucket, tamper, expect, e=env, prefix_name="initrd", part_size=262144):
            d = os.path.join(work, "bad-" + bucket)
            run([sys.executable, REF, "bundle", os.path.join(imgs, prefix_name), d, "--prefix", bucket, "--user", "soren",
                 "--cert", e["EC2_CERT"], "--privkey", e["EC2_PRIVATE_KEY"], "--ec2cert", env["EUCALYPTUS_CERT"], "--part-size", str(part_size)])
            manifest = os.path.join(d, bucket + ".manifest.xml")
            skip = tamper(d, manifest) or set()
            r = run([n, "image", "upload-bundle", "-b", bucket, "-m", manifest], env=env, ok=False)
            if skip:
                for p in skip:
                    run([os.path.join(os.path.dirname(n), "st"), "delete", bucket, p], env=env)
            r = aws("register-image", "--image-location", f"{bucket}/{bucket}.manifest.xml", "--name", bucket, ok=False)
            if r.returncode != 0:
                return r.stderr.strip()
            image = wait(json.loads(r.stdout)["ImageId"])
            check(image["State"] == "failed", f"{bucket}: the image failed")
            return image.get("StateReason", {}).get("Message", "")

        def flip(d, manifest):
            p = os.path.join(d, os.path.basename(manifest).replace(".manifest.xml", ".part.1"))
            b = bytearray(open(p, "rb").read())
            b[1000] ^= 1
            open(p, "wb").write(bytes(b))

        def truncate(d, manifest):
            p = os.path.join(d, os.path.basename(manifest).replace(".manifest.xml", ".part.0"))
            b = open(p, "rb").read()
            open(p, "wb").write(b[:-100])

        def missing(d, manifest):
            return {os.path.basename(manifest).replace(".manifest.xml", ".part.2")}

        reason = bad_bundle("tampered", flip, "digest")
        check("does not match its digest" in reason, f"a tampered part: failed, '{reason}'")
        reason = bad_bundle("truncated", truncate, "digest")
        check("does not match its digest" in reason, f"a truncated part: failed, '{reason}'")
        reason = bad_bundle("missingpart", missing, "missing")
        check("missing" in reason, f"a part missing: failed, '{reason}'")
        stranger = os.path.join(work, "stranger")
        run([sys.executable, REF, "certs", stranger])
        signed_by_other = dict(env, EC2_CERT=os.path.join(stranger, "other-cert.pem"), EC2_PRIVATE_KEY=os.path.join(stranger, "other-key.pem"))
        reason = bad_bundle("othersigner", lambda d, m: None, "signature", e=signed_by_other)
        check("signature does not match" in reason, f"a manifest signed by another key: failed, '{reason}'")
        with open(os.path.join(imgs, "huge.img"), "wb") as f:
            f.write(os.urandom(MAX_IMAGE + 1024 * 1024))
        reason = bad_bundle("toobig", lambda d, m: None, "limit", prefix_name="huge.img", part_size=10485760)
        check("over this cloud's limit" in reason, f"an image over the size limit: failed, '{reason}'")
        # A bucket of another project: the caller cannot read it.
        upload("privatebucket", ramdisk_manifest, e=other_env)
        r = aws("register-image", "--image-location", "privatebucket/initrd.manifest.xml", "--name", "private", ok=False)
        check(r.returncode != 0 and "InvalidManifest" in r.stderr, f"a manifest in a bucket the caller cannot read: {r.stderr.strip()[-160:]}")
        r = aws("register-image", "--image-location", "mybucket/nothing.manifest.xml", "--name", "nothing", ok=False)
        check(r.returncode != 0 and "InvalidManifest" in r.stderr, "a manifest that does not exist: InvalidManifest")
        failed = [i for i in json.loads(aws("describe-images", "--owners", "self").stdout)["Images"] if i["State"] == "failed"]
        check(len(failed) == 5, f"five failed images and nothing half-registered ({len(failed)} failed)")

        # --- visibility across projects ---
        r = aws("describe-images", "--image-ids", ami, e=other_env, ok=False)
        check(r.returncode != 0 and "InvalidAMIID.NotFound" in r.stderr, "another project's image is not visible")
        aws("modify-image-attribute", "--image-id", ami, "--launch-permission", "Add=[{UserId=other}]")
        visible = json.loads(aws("describe-images", "--image-ids", ami, e=other_env).stdout)["Images"]
        check(len(visible) == 1 and visible[0]["ImageId"] == ami, "with a launch permission for its project, it is")
        attr = json.loads(aws("describe-image-attribute", "--image-id", ami, "--attribute", "launchPermission").stdout)
        check(attr["LaunchPermissions"] == [{"UserId": "other"}], "describe-image-attribute shows the launch permission")
        def executable(who, e=env):
            return [i["ImageId"] for i in json.loads(aws("describe-images", "--executable-users", who, e=e).stdout)["Images"]]
        check(executable("self", e=other_env) == [ami], "--executable-users self: the image shared with the project")
        check(ami not in executable("self"), "--executable-users self leaves out the owner's own images (no explicit permission)")
        check(executable("other") == [ami], "--executable-users other: what is shared with that project")
        aws("modify-image-attribute", "--image-id", ami, "--launch-permission", "Add=[{Group=all}]")
        attr = json.loads(aws("describe-image-attribute", "--image-id", ami, "--attribute", "launchPermission").stdout)
        check({"Group": "all"} in attr["LaunchPermissions"] and ami in executable("all"), "Group=all makes it public")
        aws("modify-image-attribute", "--image-id", ami, "--launch-permission", "Remove=[{Group=all},{UserId=other}]")
        check(ami not in executable("all"), "removing Group=all makes it private again")
        r = aws("describe-images", "--image-ids", ami, e=other_env, ok=False)
        check(r.returncode != 0 and "InvalidAMIID.NotFound" in r.stderr, "removing the project's permission hides it again")
        py(f"c.modify_image_attribute(ImageId='{ami}', Attribute='launchPermission', OperationType='add', UserIds=['other'])")
        check(executable("self", e=other_env) == [ami], "the legacy OperationType/UserIds form adds a permission too")
        r = aws("deregister-image", "--image-id", ami, e=other_env, ok=False)
        check(r.returncode != 0 and "AuthFailure" in r.stderr, "another project cannot deregister it")
        r = aws("describe-images", "--image-ids", "ami-00000000", ok=False)
        check(r.returncode == 255 and "InvalidAMIID.NotFound" in r.stderr, "unknown AMI: InvalidAMIID.NotFound")
        r = aws("describe-images", "--image-ids", "ami-zz", ok=False)
        check(r.returncode == 255 and "InvalidAMIID.Malformed" in r.stderr, "malformed AMI id: InvalidAMIID.Malformed")
        r = aws("describe-regions", e=dict(env, AWS_SECRET_ACCESS_KEY="x" * 40), ok=False)
        check(r.returncode != 0 and "SignatureDoesNotMatch" in r.stderr, "a bad signature: SignatureDoesNotMatch")
        r = aws("describe-regions", e=dict(env, AWS_ACCESS_KEY_ID="NIMBUNKNOWNKEY000000"), ok=False)
        check(r.returncode != 0 and "AuthFailure" in r.stderr, "an unknown key: AuthFailure")

    # --- key pairs ---
    for kind in ("rsa", "ed25519"):
        key = os.path.join(work, f"key-{kind}.pem")
        material = json.loads(aws("create-key-pair", "--key-name", f"k-{kind}", "--key-type", kind).stdout)["KeyMaterial"]
        with open(key, "w") as f:
            f.write(material)
        os.chmod(key, 0o600)
        pub = run(["ssh-keygen", "-y", "-f", key]).stdout.split()
        check(pub[0] == ("ssh-rsa" if kind == "rsa" else "ssh-ed25519"), f"the {kind} private key works with ssh-keygen -y")
    r = aws("create-key-pair", "--key-name", "k-rsa", ok=False)
    check(r.returncode != 0 and "InvalidKeyPair.Duplicate" in r.stderr, "duplicate key pair: InvalidKeyPair.Duplicate")
    mine = os.path.join(work, "mine")
    run(["ssh-keygen", "-t", "rsa", "-b", "2048", "-N", "", "-q", "-f", mine])
    imported = json.loads(aws("import-key-pair", "--key-name", "mine", "--public-key-material", f"fileb://{mine}.pub").stdout)
    der = subprocess.run(["bash", "-c", f"ssh-keygen -e -m PKCS8 -f {mine}.pub | openssl pkey -pubin -outform DER | openssl md5 -c"],
                         capture_output=True, text=True).stdout.split("= ")[-1].strip()
    check(imported["KeyFingerprint"] == der, f"imported key's fingerprint is AWS's MD5 of the DER public key ({der})")
    names = py("print(json.dumps(sorted(k['KeyName'] for k in c.describe_key_pairs()['KeyPairs'])))")
    check(json.loads(names) == ["k-ed25519", "k-rsa", "mine"], "boto3 describe_key_pairs")
    aws("delete-key-pair", "--key-name", "mine")
    r = aws("describe-key-pairs", "--key-names", "mine", ok=False)
    check(r.returncode != 0 and "InvalidKeyPair.NotFound" in r.stderr, "deleted key pair: InvalidKeyPair.NotFound")

    # --- security groups: 20 random names sorted around default ---
    rng = random.Random(int(time.time()))
    alphabet = string.ascii_letters + string.digits + "-_."
    names = set()
    while len(names) < 20:
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        if name != "default" and not name.lower().startswith("sg-"):
            names.add(name)
    names |= {"defaulT", "defaul", "default0"}
    # One boto3 process makes them all (a process per call costs a second of CPU each).
    py(f"for name in {sorted(names)!r}:\n    c.create_security_group(GroupName=name, Description='random group')")
    listed = [g["GroupName"] for g in json.loads(aws("describe-security-groups").stdout)["SecurityGroups"]]
    check(listed == sorted(names | {"default"}), f"describe-security-groups: {len(listed)} groups sorted by name around default")
    r = aws("create-security-group", "--group-name", "default", "--description", "again", ok=False)
    check(r.returncode != 0 and "InvalidGroup.Duplicate" in r.stderr, "duplicate group: InvalidGroup.Duplicate")
    aws("create-security-group", "--group-name", "web", "--description", "web servers")
    aws("authorize-security-group-ingress", "--group-name", "web", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
    py("c.authorize_security_group_ingress(GroupName='web', IpPermissions=[{'IpProtocol': 'tcp', 'FromPort': 80, 'ToPort': 80, "
       "'UserIdGroupPairs': [{'GroupName': 'default'}]}, {'IpProtocol': 'icmp', 'FromPort': -1, 'ToPort': -1, 'IpRanges': [{'CidrIp': '10.0.0.0/8'}]}])")
    r = aws("authorize-security-group-ingress", "--group-name", "web", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0", ok=False)
    check(r.returncode != 0 and "InvalidPermission.Duplicate" in r.stderr, "duplicate rule: InvalidPermission.Duplicate")
    r = aws("authorize-security-group-ingress", "--group-name", "web", "--protocol", "tcp", "--port", "99999", "--cidr", "0.0.0.0/0", ok=False)
    check(r.returncode != 0 and "InvalidParameterValue" in r.stderr, "port out of range: InvalidParameterValue")
    web = json.loads(aws("describe-security-groups", "--group-names", "web").stdout)["SecurityGroups"][0]
    perms = sorted((p["IpProtocol"], p.get("FromPort"), [r["CidrIp"] for r in p["IpRanges"]], [g["GroupName"] for g in p["UserIdGroupPairs"]])
                   for p in web["IpPermissions"])
    check(perms == [("icmp", -1, ["10.0.0.0/8"], []), ("tcp", 22, ["0.0.0.0/0"], []), ("tcp", 80, [], ["default"])],
          f"describe-security-groups shows the rules ({perms})")
    aws("revoke-security-group-ingress", "--group-name", "web", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0")
    r = aws("revoke-security-group-ingress", "--group-name", "web", "--protocol", "tcp", "--port", "22", "--cidr", "0.0.0.0/0", ok=False)
    check(r.returncode != 0 and "InvalidPermission.NotFound" in r.stderr, "revoking a missing rule: InvalidPermission.NotFound")
    r = aws("delete-security-group", "--group-name", "default", ok=False)
    check(r.returncode != 0, "the default group cannot be deleted")
    aws("delete-security-group", f"--group-name={sorted(names)[0]}")  # awscli too (names may start with '-')
    py(f"for name in {sorted(names)[1:]!r}:\n    c.delete_security_group(GroupName=name)")
    aws("delete-security-group", "--group-name", "web")
    r = aws("describe-security-groups", "--group-names", "web", ok=False)
    check(r.returncode != 0 and "InvalidGroup.NotFound" in r.stderr, "deleted group: InvalidGroup.NotFound")

    # --- addresses ---
    a1 = json.loads(aws("allocate-address").stdout)["PublicIp"]
    a2 = py("print(c.allocate_address(Domain='standard')['PublicIp'])").strip()
    listed = sorted(a["PublicIp"] for a in json.loads(aws("describe-addresses").stdout)["Addresses"])
    check(listed == sorted([a1, a2]) and a1 != a2, f"allocate-address twice, describe-addresses shows {listed}")
    check(json.loads(aws("describe-addresses", e=other_env).stdout)["Addresses"] == [], "another project sees none of them")
    aws("release-address", "--public-ip", a1)
    r = aws("release-address", "--public-ip", a1, ok=False)
    check(r.returncode != 0 and "InvalidAddress.NotFound" in r.stderr, "releasing it again: InvalidAddress.NotFound")

    # --- 50 parallel calls of each kind ---
    code = """
from concurrent.futures import ThreadPoolExecutor
from botocore.config import Config
errors = []
c.create_security_group(GroupName='busy', Description='parallel')
def one(i):
    try:
        # No retries: a call that failed once is counted, not hidden by botocore trying again.
        k = boto3.client('ec2', config=Config(retries={'mode': 'standard', 'max_attempts': 1}))
        k.describe_images(Owners=['self'])
        k.create_key_pair(KeyName=f'p{i}')
        k.authorize_security_group_ingress(GroupName='busy', IpPermissions=[{'IpProtocol': 'tcp', 'FromPort': 1000 + i, 'ToPort': 1000 + i,
                                           'IpRanges': [{'CidrIp': '0.0.0.0/0'}]}])
    except Exception as e:
        errors.append(repr(e))
with ThreadPoolExecutor(50) as pool:
    list(pool.map(one, range(50)))
rules = c.describe_security_groups(GroupNames=['busy'])['SecurityGroups'][0]['IpPermissions']
print(json.dumps({'errors': errors, 'keys': len(c.describe_key_pairs()['KeyPairs']), 'rules': len(rules)}))
"""
    out = json.loads(py(code).strip().splitlines()[-1])
    check(out["errors"] == [] and out["keys"] == 52 and out["rules"] == 50,
          f"50 parallel DescribeImages/CreateKeyPair/AuthorizeSecurityGroupIngress: {len(out['errors'])} errors {out['errors'][:2]}")
    log = open(os.path.join(work, "nimbus.log")).read()
    check("database is locked" not in log, "no 'database is locked' in the log")
    check("ec2 call failed" not in log, "no EC2 call failed inside the API (InternalError) in the log")


if __name__ == "__main__":
    main()
