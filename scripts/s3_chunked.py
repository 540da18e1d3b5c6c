"""aws-chunked uploads for the S3 checks: an independent Python signer of
STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER] bodies (botocore signs the request head; the chunk
chain is computed here, as AWS's "Transferring Payload in Multiple Chunks" describes it), and
the HTTPS pass where boto3 and awscli send aws-chunked bodies with checksum trailers on their own."""
import base64, hashlib, hmac, http.client, os, subprocess, urllib.parse, zlib

from aio_harness import Failure, check

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signed_chunked_put(port, bucket, key, data, chunk=65536, crc=None, tamper=None):
    """PUTs `data` aws-chunked with per-chunk signatures (and a signed CRC-32 trailer when `crc`
    is given: the value to send, base64). `tamper(body) -> body` changes the encoding after
    signing. Returns (status, response body)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if crc else "")

    class StreamingAuth(S3SigV4Auth):
        def payload(self, request):
            return mode

    url = f"http://127.0.0.1:{port}/{bucket}/{urllib.parse.quote(key)}"
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}
    if crc:
        headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    request = AWSRequest(method="PUT", url=url, headers=headers)
    StreamingAuth(Credentials("test:tester", "testing"), "s3", "us-east-1").add_auth(request)
    amz_date = request.headers["X-Amz-Date"]
    seed = request.headers["Authorization"].split("Signature=")[1]
    scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
    key_bytes = b"AWS4testing"
    for part in [amz_date[:8], "us-east-1", "s3", "aws4_request"]:
        key_bytes = _hmac(key_bytes, part)
    previous = seed
    body = b""
    pieces = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for piece in pieces:
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY_SHA256, hashlib.sha256(piece).hexdigest()])
        previous = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
        body += b"%x;chunk-signature=%s\r\n" % (len(piece), previous.encode()) + piece + (b"\r\n" if piece else b"")
    if crc:
        trailer = f"x-amz-checksum-crc32:{crc}\n"
        to_sign = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous, hashlib.sha256(trailer.encode()).hexdigest()])
        signature = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
        body += f"x-amz-checksum-crc32:{crc}\r\nx-amz-trailer-signature:{signature}\r\n".encode()
    body += b"\r\n"
    if tamper:
        body = tamper(body)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = dict(request.headers.items())
    sent["Content-Length"] = str(len(body))
    conn.request("PUT", urllib.parse.urlsplit(url).path, body=body, headers=sent)
    r = conn.getresponse()
    out = (r.status, r.read())
    conn.close()
    return out


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def signed_chunked_checks(s3, port):
    """Signed aws-chunked PUTs from the independent signer: stored as the decoded bytes; a changed
    byte, a forged trailer or a wrong checksum refused with AWS's code and nothing stored."""
    s3.create_bucket(Bucket="chunked")
    data = os.urandom(200_000)
    status, _ = signed_chunked_put(port, "chunked", "plain", data)
    got = s3.get_object(Bucket="chunked", Key="plain")
    check(status == 200 and got["Body"].read() == data and got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"',
          "a signed aws-chunked PUT (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, 64 KiB chunks) stores the decoded bytes")
    status, _ = signed_chunked_put(port, "chunked", "trailer", data, crc=crc32_b64(data))
    got = s3.get_object(Bucket="chunked", Key="trailer", ChecksumMode="ENABLED")
    check(status == 200 and got["Body"].read() == data and got.get("ChecksumCRC32") == crc32_b64(data),
          "a signed aws-chunked PUT with a signed CRC-32 trailer: stored, its checksum kept (sent to the object servers as a footer)")

    def refused(key, expect_status, code, **kw):
        status, body = signed_chunked_put(port, "chunked", key, data, **kw)
        try:
            s3.head_object(Bucket="chunked", Key=key)
            stored = True
        except Exception:
            stored = False
        check(status == expect_status and f"<Code>{code}</Code>".encode() in body and not stored,
              f"aws-chunked {key}: {code}, nothing stored")
    flip = lambda b: b[:150_000] + bytes([b[150_000] ^ 1]) + b[150_001:]
    refused("changed-byte", 403, "SignatureDoesNotMatch", tamper=flip)
    refused("forged-trailer", 403, "SignatureDoesNotMatch", crc=crc32_b64(data),
            tamper=lambda b: b.replace(crc32_b64(data).encode(), b"AAAAAA=="))
    refused("wrong-checksum", 400, "BadDigest", crc="AAAAAA==")
    refused("cut", 400, "IncompleteBody", tamper=lambda b: b[:-100])
    for o in s3.list_objects_v2(Bucket="chunked").get("Contents", []):
        s3.delete_object(Bucket="chunked", Key=o["Key"])
    s3.delete_bucket(Bucket="chunked")


def https_scenario(aio, args, ca):
    """Over HTTPS, current boto3 and awscli upload aws-chunked bodies with CRC trailers
    (STREAMING-UNSIGNED-PAYLOAD-TRAILER) by default."""
    import boto3
    from botocore.config import Config
    endpoint = f"https://127.0.0.1:{aio.port}"
    cfg = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 1})
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test:tester", aws_secret_access_key="testing",
                      region_name="us-east-1", config=cfg, verify=ca)
    modes = []
    s3.meta.events.register("before-send.s3.*", lambda request, **kw: modes.append(request.headers.get("x-amz-content-sha256", b"")))
    s3.create_bucket(Bucket="tls")
    data = os.urandom(300_000)
    r = s3.put_object(Bucket="tls", Key="small", Body=data)
    mode = modes[-1].decode() if isinstance(modes[-1], bytes) else modes[-1]
    check(mode == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" and r["ETag"] == f'"{hashlib.md5(data).hexdigest()}"',
          f"boto3 over HTTPS: PutObject sent aws-chunked ({mode}), the ETag is the MD5 of the decoded bytes")
    got = s3.get_object(Bucket="tls", Key="small", ChecksumMode="ENABLED")
    check(got["Body"].read() == data and got.get("ChecksumCRC32") == crc32_b64(data),
          "boto3 over HTTPS: GetObject returns the same bytes and the trailer's CRC-32 (boto3 validates it)")
    big = os.path.join(aio.work, "big-tls.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(20 * 1024 * 1024))
    s3.upload_file(big, "tls", "big")
    back = os.path.join(aio.work, "big-tls.back")
    s3.download_file("tls", "big", back)
    sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
    head = s3.head_object(Bucket="tls", Key="big", ChecksumMode="ENABLED")
    check(sha(back) == sha(big) and head["ETag"].endswith('-3"'),
          f"boto3 over HTTPS: a 20 MiB upload_file (3 aws-chunked parts) and back, the same sha256 (checksum {head.get('ChecksumCRC32')}, {head.get('ChecksumType')})")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test:tester", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.path.join(aio.work, "aws-config"), AWS_CA_BUNDLE=ca)
    env.pop("AWS_PROFILE", None)
    open(env["AWS_CONFIG_FILE"], "w").close()
    r = subprocess.run([args.aws, "--endpoint-url", endpoint, "s3", "cp", big, "s3://tls/cli-big"], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise Failure(f"aws s3 cp over HTTPS failed: {r.stderr.strip()[-600:]}")
    r = subprocess.run([args.aws, "--endpoint-url", endpoint, "s3", "cp", "s3://tls/cli-big", back], capture_output=True, text=True, env=env)
    check(r.returncode == 0 and sha(back) == sha(big), "awscli over HTTPS: s3 cp of 20 MiB up (aws-chunked parts) and down, the same sha256")
    for key in ["small", "big", "cli-big"]:
        s3.delete_object(Bucket="tls", Key=key)
    s3.delete_bucket(Bucket="tls")
