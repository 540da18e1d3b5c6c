#!/usr/bin/env python3
"""Reference implementation of the euca2ools EC2 image bundle format (Python 3 stdlib plus
the `openssl` CLI), used by test scripts to cross-check Nimbus's Swift implementation.
Format: /work/shared/docs/compute-feasibility.md, section 5 "Image bundles (euca2ools format)".

Usage:
  ec2bundle_ref.py bundle IMAGE OUTDIR --user ACCOUNT --cert USERCERT.pem --privkey USERKEY.pem
        --ec2cert CLOUDCERT.pem [--prefix P] [--arch x86_64] [--kernel ID|true] [--ramdisk ID|true]
        [--type machine|kernel|ramdisk] [--part-size 10485760]
      -> writes OUTDIR/P.part.0 .. P.part.N-1 and OUTDIR/P.manifest.xml; prints the manifest path.
  ec2bundle_ref.py unbundle MANIFEST PARTSDIR OUTFILE --cloud-key CLOUDKEY.pem [--user-cert USERCERT.pem]
      -> verifies the signature (if --user-cert), every part SHA1 and the tar SHA1, writes the image.
         Prints "signature: Verified OK" (when checked) and "digests OK"; exits 1 with a message on failure.
  ec2bundle_ref.py certs DIR
      -> DIR/{cloud,user,other}-{key,cert}.pem, self-signed RSA-2048 (for tests).
"""
import argparse, binascii, gzip, hashlib, os, secrets, shutil, subprocess, sys, tarfile, tempfile
import xml.etree.ElementTree as ET
from xml.dom import minidom

CHUNK = 1 << 20


class BundleError(Exception):
    pass


def openssl(*args, data=None, stdin=None, stdout=subprocess.PIPE):
    """Run `openssl ARGS`; raise BundleError with openssl's stderr on failure."""
    p = subprocess.run(["openssl", *args], input=data, stdin=stdin, stdout=stdout,
                       stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise BundleError("openssl %s failed: %s" % (args[0], p.stderr.decode(errors="replace").strip()))
    return p.stdout


def rsa_encrypt_hex(cert, plaintext):
    return openssl("pkeyutl", "-encrypt", "-certin", "-inkey", cert,
                   "-pkeyopt", "rsa_padding_mode:pkcs1", data=plaintext).hex()


class HashingWriter:
    """File-like object that SHA1-hashes everything written before passing it on."""
    def __init__(self, out):
        self.out, self.sha1 = out, hashlib.sha1()

    def write(self, b):
        self.sha1.update(b)
        return self.out.write(b)


# ---------------------------------------------------------------- bundle
def bundle(a):
    kernel, ramdisk = a.kernel, a.ramdisk
    itype = a.type or ("kernel" if kernel == "true" else "ramdisk" if ramdisk == "true" else "machine")
    prefix = a.prefix or os.path.basename(a.image)
    if a.part_size <= 0:
        raise BundleError("--part-size must be positive")
    os.makedirs(a.outdir, exist_ok=True)
    key_hex, iv_hex = secrets.token_bytes(16).hex(), secrets.token_bytes(16).hex()
    with tempfile.TemporaryDirectory() as tmp:
        enc_path = os.path.join(tmp, "bundle.enc")
        # 1-3: tar (one member named basename(IMAGE)) -> SHA1 of tar stream -> gzip -> AES-128-CBC.
        # openssl's stdout goes straight to a file, so writing its stdin cannot deadlock.
        with open(enc_path, "wb") as enc_out:
            proc = subprocess.Popen(["openssl", "enc", "-e", "-aes-128-cbc", "-K", key_hex, "-iv", iv_hex],
                                    stdin=subprocess.PIPE, stdout=enc_out, stderr=subprocess.PIPE)
            with gzip.GzipFile(filename="", mode="wb", fileobj=proc.stdin) as gz:
                hw = HashingWriter(gz)
                with tarfile.open(fileobj=hw, mode="w|", format=tarfile.GNU_FORMAT) as tar:
                    tar.add(a.image, arcname=os.path.basename(a.image), recursive=False)
            proc.stdin.close()
            err = proc.stderr.read()
            if proc.wait() != 0:
                raise BundleError("openssl enc failed: " + err.decode(errors="replace").strip())
        digest = hw.sha1.hexdigest()
        # 4: split into parts.
        parts, bundled_size = [], 0
        with open(enc_path, "rb") as f:
            while True:
                chunk = f.read(a.part_size)
                if not chunk and parts:
                    break
                name = "%s.part.%d" % (prefix, len(parts))
                with open(os.path.join(a.outdir, name), "wb") as pf:
                    pf.write(chunk)
                parts.append((name, hashlib.sha1(chunk).hexdigest()))
                bundled_size += len(chunk)
                if len(chunk) < a.part_size:
                    break

    # 5: manifest, built with minidom and serialized with toxml() (no whitespace), as euca2ools does.
    doc = minidom.Document()

    def el(parent, tag, text=None, **attrs):
        e = doc.createElement(tag)
        for k, v in attrs.items():
            e.setAttribute(k, v)
        if text is not None:
            e.appendChild(doc.createTextNode(str(text)))
        parent.appendChild(e)
        return e

    manifest = el(doc, "manifest")
    el(manifest, "version", "2007-10-10")
    bundler = el(manifest, "bundler")
    el(bundler, "name", "euca2ools")
    el(bundler, "version", "3.4.1")
    el(bundler, "release", "0")
    mc = el(manifest, "machine_configuration")
    el(mc, "architecture", a.arch)
    if kernel:
        el(mc, "kernel_id", kernel)
    if ramdisk:
        el(mc, "ramdisk_id", ramdisk)
    image = el(manifest, "image")
    el(image, "name", prefix)
    el(image, "user", a.user)
    el(image, "type", itype)
    el(image, "digest", digest, algorithm="SHA1")
    el(image, "size", os.path.getsize(a.image))
    el(image, "bundled_size", bundled_size)
    el(image, "ec2_encrypted_key", rsa_encrypt_hex(a.ec2cert, key_hex.encode()), algorithm="AES-128-CBC")
    el(image, "user_encrypted_key", rsa_encrypt_hex(a.cert, key_hex.encode()), algorithm="AES-128-CBC")
    el(image, "ec2_encrypted_iv", rsa_encrypt_hex(a.ec2cert, iv_hex.encode()))
    el(image, "user_encrypted_iv", rsa_encrypt_hex(a.cert, iv_hex.encode()))
    parts_el = el(image, "parts", count=str(len(parts)))
    for i, (name, sha) in enumerate(parts):
        p = el(parts_el, "part", index=str(i))
        el(p, "filename", name)
        el(p, "digest", sha, algorithm="SHA1")
    signed = (mc.toxml() + image.toxml()).encode("utf-8")
    sig = openssl("dgst", "-sha1", "-sign", a.privkey, data=signed).hex()
    el(manifest, "signature", sig)
    text = doc.toxml().encode("utf-8")  # starts with '<?xml version="1.0" ?>'
    assert signed in text  # the signed bytes appear verbatim in the document
    path = os.path.join(a.outdir, prefix + ".manifest.xml")
    with open(path, "wb") as f:
        f.write(text)
    print(path)


# ---------------------------------------------------------------- unbundle
def raw_element(text, tag):
    """Exact bytes of <tag>...</tag> as they appear in the manifest (the signature covers these)."""
    start, end = text.find(b"<%s>" % tag), text.find(b"</%s>" % tag)
    if start < 0 or end < start:
        raise BundleError("manifest has no <%s> element" % tag.decode())
    return text[start:end + len(tag) + 3]


def unbundle(a):
    with open(a.manifest, "rb") as f:
        text = f.read()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        raise BundleError("manifest is not valid XML: %s" % e)

    def val(path):
        v = root.findtext(path)
        if v is None:
            raise BundleError("manifest has no %s" % path)
        return v.strip()

    with tempfile.TemporaryDirectory() as tmp:
        if a.user_cert:
            signed = raw_element(text, b"machine_configuration") + raw_element(text, b"image")
            try:
                sig = binascii.unhexlify(val("signature"))
            except binascii.Error:
                raise BundleError("manifest signature is not hex")
            pub, sigf = os.path.join(tmp, "pub.pem"), os.path.join(tmp, "sig.bin")
            with open(pub, "wb") as f:
                f.write(openssl("x509", "-pubkey", "-noout", "-in", a.user_cert))
            with open(sigf, "wb") as f:
                f.write(sig)
            p = subprocess.run(["openssl", "dgst", "-sha1", "-verify", pub, "-signature", sigf],
                               input=signed, capture_output=True)
            if p.returncode != 0 or b"Verified OK" not in p.stdout:
                raise BundleError("manifest signature verification FAILED against %s" % a.user_cert)
            print("signature: Verified OK")

        def rsa_decrypt(tag):
            try:
                blob = binascii.unhexlify(val("image/" + tag))
            except binascii.Error:
                raise BundleError("%s is not hex" % tag)
            p = subprocess.run(["openssl", "pkeyutl", "-decrypt", "-inkey", a.cloud_key, "-pkeyopt",
                                "rsa_padding_mode:pkcs1"], input=blob, capture_output=True)
            if p.returncode != 0:
                raise BundleError("cannot decrypt %s with %s (wrong cloud key?)" % (tag, a.cloud_key))
            out = p.stdout.decode("ascii", "replace")
            if len(out) != 32 or any(c not in "0123456789abcdefABCDEF" for c in out):
                raise BundleError("decrypted %s is not 32 hex chars" % tag)
            return out

        key_hex, iv_hex = rsa_decrypt("ec2_encrypted_key"), rsa_decrypt("ec2_encrypted_iv")

        # Parts in index order, each SHA1-checked, concatenated into openssl enc -d.
        parts = sorted(root.findall("image/parts/part"), key=lambda p: int(p.get("index")))
        count = int(root.find("image/parts").get("count", len(parts)))
        if [int(p.get("index")) for p in parts] != list(range(count)):
            raise BundleError("manifest parts are not indexed 0..%d" % (count - 1))
        tar_path = os.path.join(tmp, "image.tar.gz")
        with open(tar_path, "wb") as gz_out:
            proc = subprocess.Popen(["openssl", "enc", "-d", "-aes-128-cbc", "-K", key_hex, "-iv", iv_hex],
                                    stdin=subprocess.PIPE, stdout=gz_out, stderr=subprocess.PIPE)
            try:
                for p in parts:
                    name = os.path.basename(p.findtext("filename").strip())
                    path = os.path.join(a.partsdir, name)
                    if not os.path.isfile(path):
                        raise BundleError("part %s (index %s) is missing" % (path, p.get("index")))
                    h = hashlib.sha1()
                    with open(path, "rb") as pf:
                        for chunk in iter(lambda: pf.read(CHUNK), b""):
                            h.update(chunk)
                            proc.stdin.write(chunk)
                    if h.hexdigest() != p.findtext("digest").strip().lower():
                        raise BundleError("SHA1 mismatch for part %s (index %s)" % (name, p.get("index")))
            finally:
                proc.stdin.close()
                err = proc.stderr.read()
                rc = proc.wait()
            if rc != 0:
                raise BundleError("openssl enc -d failed (wrong key?): " + err.decode(errors="replace").strip())

        # gunzip while hashing the tar stream, then check it against image/digest.
        tar_plain = os.path.join(tmp, "image.tar")
        try:
            with gzip.open(tar_path, "rb") as src, open(tar_plain, "wb") as dst:
                hw = HashingWriter(dst)
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    hw.write(chunk)
        except (OSError, EOFError) as e:
            raise BundleError("gunzip failed: %s" % e)
        if hw.sha1.hexdigest() != val("image/digest").lower():
            raise BundleError("tar stream SHA1 %s does not match image/digest" % hw.sha1.hexdigest())

        with tarfile.open(tar_plain, "r:") as tar:
            members = [m for m in tar.getmembers() if m.isfile()]
            if len(members) != 1:
                raise BundleError("expected one file in the bundle, found %d" % len(members))
            with tar.extractfile(members[0]) as src, open(a.outfile, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
        size = root.findtext("image/size")
        if size is not None and int(size) != os.path.getsize(a.outfile):
            raise BundleError("image size %d does not match image/size %s" % (os.path.getsize(a.outfile), size))
    print("digests OK")


# ---------------------------------------------------------------- certs
def certs(a):
    os.makedirs(a.dir, exist_ok=True)
    for who in ("cloud", "user", "other"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", os.path.join(a.dir, who + "-key.pem"),
                "-out", os.path.join(a.dir, who + "-cert.pem"), "-days", "30", "-subj", "/CN=x")
    print(a.dir)


def main():
    ap = argparse.ArgumentParser(description="euca2ools EC2 image bundle reference implementation")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bundle")
    for pos in ("image", "outdir"):
        b.add_argument(pos)
    for opt in ("--user", "--cert", "--privkey", "--ec2cert"):
        b.add_argument(opt, required=True)
    for opt in ("--prefix", "--kernel", "--ramdisk"):
        b.add_argument(opt)
    b.add_argument("--arch", default="x86_64")
    b.add_argument("--type", choices=("machine", "kernel", "ramdisk"))
    b.add_argument("--part-size", type=int, default=10485760)
    u = sub.add_parser("unbundle")
    for pos in ("manifest", "partsdir", "outfile"):
        u.add_argument(pos)
    u.add_argument("--cloud-key", required=True)
    u.add_argument("--user-cert")
    c = sub.add_parser("certs")
    c.add_argument("dir")
    a = ap.parse_args()
    try:
        {"bundle": bundle, "unbundle": unbundle, "certs": certs}[a.cmd](a)
    except (BundleError, OSError) as e:
        sys.exit("error: %s" % e)


if __name__ == "__main__":
    main()
