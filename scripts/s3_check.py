#!/usr/bin/env python3
"""The S3 API of `nimbus aio` with real clients: boto3 (each operation offered, checksums on and
off, the errors AWS clients expect), awscli `s3` and `s3api`, s3cmd, presigned URLs fetched with urllib,
and objects written through S3 read back through the Swift API (and the other way round),
byte-identical with the same ETag."""
import argparse, base64, hashlib, json, os, subprocess, sys, urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aio_harness import AIO, Failure, check, run_checks  # noqa: E402
from s3_checksums import multipart_checksum_checks  # noqa: E402
from s3_chunked import https_scenario, signed_chunked_checks  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nimbus", required=True)
    ap.add_argument("--aws", required=True)
    ap.add_argument("--ca-script", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "make-test-ca"))
    args = ap.parse_args()
    aio = AIO(args.nimbus)
    if run_checks(aio, lambda: scenario(aio, args), "s3 checks passed (HTTP)") != 0:
        return 1
    certs = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"nimbus-s3-ca-{os.getpid()}")
    subprocess.run([args.ca_script, certs], check=True)
    ca, cert, key = (os.path.join(certs, n) for n in ("ca.pem", "server.pem", "server.key"))
    tls = AIO(args.nimbus, tls=(cert, key, ca))
    try:
        return run_checks(tls, lambda: https_scenario(tls, args, ca), "s3 checks passed (HTTPS, aws-chunked)")
    finally:
        subprocess.run(["rm", "-rf", certs])


def scenario(aio, args):
    import boto3, botocore
    from botocore.config import Config
    endpoint = f"http://127.0.0.1:{aio.port}"
    cfg = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 1})
    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test:tester", aws_secret_access_key="testing",
                      region_name="us-east-1", config=cfg)

    def error(fn, *a, **k):
        try:
            fn(*a, **k)
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
        raise Failure(f"{fn.__name__} succeeded; an error was expected")

    # --- buckets ---
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="alpha")
    check("alpha" in [b["Name"] for b in s3.list_buckets()["Buckets"]], "creating your own bucket again succeeds (as AWS us-east-1)")
    alt = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test2:tester2", aws_secret_access_key="testing2",
                       region_name="us-east-1", config=cfg)
    check(error(alt.create_bucket, Bucket="alpha") == ("BucketAlreadyExists", 409), "another account cannot take the name: BucketAlreadyExists")
    check(error(s3.create_bucket, Bucket="Bad_Name") == ("InvalidBucketName", 400), "a bad bucket name: InvalidBucketName")
    check("alpha" in [b["Name"] for b in s3.list_buckets()["Buckets"]], "list-buckets shows the bucket")
    s3.head_bucket(Bucket="alpha")
    check(error(s3.head_bucket, Bucket="nothere")[1] == 404, "head-bucket of a missing bucket: 404")
    check(s3.get_bucket_location(Bucket="alpha")["LocationConstraint"] is None, "get-bucket-location: us-east-1 (empty)")

    # --- objects ---
    body = os.urandom(100_000)
    r = s3.put_object(Bucket="alpha", Key="dir/one.bin", Body=body, ContentType="application/x-test", Metadata={"color": "blue"})
    etag = r["ETag"]
    check(etag == '"%s"' % hashlib.md5(body).hexdigest(), "put-object answers the MD5 ETag")
    g = s3.get_object(Bucket="alpha", Key="dir/one.bin")
    check(g["Body"].read() == body and g["ETag"] == etag, "get-object returns the bytes and the ETag")
    check(g["ContentType"] == "application/x-test" and g["Metadata"] == {"color": "blue"}, "content type and metadata kept")
    h = s3.head_object(Bucket="alpha", Key="dir/one.bin")
    check(h["ContentLength"] == len(body), "head-object: the length")
    part = s3.get_object(Bucket="alpha", Key="dir/one.bin", Range="bytes=10-19")["Body"].read()
    check(part == body[10:20], "a range")
    check(error(s3.get_object, Bucket="alpha", Key="dir/one.bin", IfNoneMatch=etag)[1] == 304, "If-None-Match with the ETag: 304")
    check(error(s3.get_object, Bucket="alpha", Key="dir/one.bin", IfMatch='"0000"') == ("PreconditionFailed", 412), "If-Match mismatch: 412")
    check(error(s3.get_object, Bucket="alpha", Key="missing") == ("NoSuchKey", 404), "a missing key: NoSuchKey")
    check(error(s3.get_object, Bucket="nothere", Key="x") == ("NoSuchBucket", 404), "a missing bucket: NoSuchBucket")

    # Checksums: each algorithm verified and stored, returned with ChecksumMode=ENABLED.
    for algo in ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"]:
        try:
            s3.put_object(Bucket="alpha", Key=f"sum-{algo}", Body=b"checksummed", ChecksumAlgorithm=algo)
        except Exception as e:  # an older botocore without CRC64NVME/CRC32C support (needs awscrt)
            if "awscrt" in str(e) or "MissingDependency" in type(e).__name__:
                continue
            raise
        got = s3.get_object(Bucket="alpha", Key=f"sum-{algo}", ChecksumMode="ENABLED")
        check(got.get(f"Checksum{algo}") is not None, f"{algo}: stored and returned with ChecksumMode=ENABLED")
    bad = base64.b64encode(b"\0\0\0\0").decode()
    check(error(s3.put_object, Bucket="alpha", Key="badsum", Body=b"x", ChecksumCRC32=bad)[0] == "BadDigest",
          "a wrong x-amz-checksum-crc32: BadDigest")
    check(error(s3.put_object, Bucket="alpha", Key="badmd5", Body=b"x",
                ContentMD5=base64.b64encode(hashlib.md5(b"y").digest()).decode())[0] == "BadDigest", "a wrong Content-MD5: BadDigest")
    check(error(s3.put_object, Bucket="alpha", Key="badempty", Body=b"", ChecksumCRC32="AAAAAQ==")[0] == "BadDigest",
          "an empty body with a wrong checksum: BadDigest")
    check(all(error(s3.head_object, Bucket="alpha", Key=k)[1] == 404 for k in ["badsum", "badmd5", "badempty"]), "nothing stored for any")

    # --- listing ---
    for i in range(12):
        s3.put_object(Bucket="alpha", Key=f"list/k{i:02d}", Body=b"v")
    s3.put_object(Bucket="alpha", Key="list/sub/deep", Body=b"v")
    v1 = s3.list_objects(Bucket="alpha", Prefix="list/", Delimiter="/", MaxKeys=5)
    check([c["Key"] for c in v1["Contents"]] == [f"list/k{i:02d}" for i in range(5)] and v1["IsTruncated"], "list-objects v1 pages")
    keys, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket="alpha", Prefix="list/", Delimiter="/", MaxKeys=5, **kw)
        keys += [c["Key"] for c in page.get("Contents", [])] + [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    check(keys == [f"list/k{i:02d}" for i in range(12)] + ["list/sub/"], f"list-objects-v2 pages through keys and common prefixes: {keys}")
    enc = s3.list_objects_v2(Bucket="alpha", Prefix="dir/", EncodingType="url")
    check([c["Key"] for c in enc["Contents"]] == ["dir/one.bin"], "encoding-type=url")
    versions = s3.list_object_versions(Bucket="alpha", Prefix="dir/")
    check([(v["Key"], v["VersionId"]) for v in versions["Versions"]] == [("dir/one.bin", "null")], "list-object-versions: null versions")

    # --- copy ---
    c = s3.copy_object(Bucket="alpha", Key="copy.bin", CopySource={"Bucket": "alpha", "Key": "dir/one.bin"})
    check(c["CopyObjectResult"]["ETag"] == etag, "copy-object keeps the ETag")
    check(s3.head_object(Bucket="alpha", Key="copy.bin")["Metadata"] == {"color": "blue"}, "COPY directive keeps the metadata")
    s3.copy_object(Bucket="alpha", Key="copy.bin", CopySource={"Bucket": "alpha", "Key": "dir/one.bin"},
                   MetadataDirective="REPLACE", Metadata={"shape": "round"}, ContentType="text/plain")
    h = s3.head_object(Bucket="alpha", Key="copy.bin")
    check(h["Metadata"] == {"shape": "round"} and h["ContentType"] == "text/plain", "REPLACE directive replaces it")
    check(error(s3.copy_object, Bucket="alpha", Key="c2", CopySource={"Bucket": "alpha", "Key": "dir/one.bin"},
                CopySourceIfMatch='"0000"')[1] == 412, "a copy condition that fails: 412")

    signed_chunked_checks(s3, aio.port)
    acl_checks(s3, alt, endpoint, error)

    # --- presigned ---
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "alpha", "Key": "dir/one.bin"}, ExpiresIn=300)
    check(urllib.request.urlopen(url).read() == body, "a presigned GET fetched with urllib")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "alpha", "Key": "presigned-put"}, ExpiresIn=300)
    # urllib would add a form Content-Type the URL was not signed with.
    urllib.request.urlopen(urllib.request.Request(put_url, data=b"via presigned PUT", method="PUT", headers={"Content-Type": ""})).read()
    v4 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test:tester", aws_secret_access_key="testing", region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    v4_url = v4.generate_presigned_url("get_object", Params={"Bucket": "alpha", "Key": "dir/one.bin"}, ExpiresIn=300)
    check("X-Amz-Signature=" in v4_url and urllib.request.urlopen(v4_url).read() == body, "a SigV4 presigned GET")
    check(s3.get_object(Bucket="alpha", Key="presigned-put")["Body"].read() == b"via presigned PUT", "a presigned PUT")
    def flip(u, marker):
        i = u.index(marker) + len(marker)
        return u[:i] + ("1" if u[i] != "1" else "2") + u[i + 1:]
    for tampered in [flip(v4_url, "X-Amz-Signature="), flip(url, "&Signature=")]:
        try:
            urllib.request.urlopen(tampered)
            raise Failure(f"a tampered presigned URL was accepted: {tampered}")
        except urllib.error.HTTPError as e:
            check(e.code == 403 and b"SignatureDoesNotMatch" in e.read(), "a tampered presigned URL: SignatureDoesNotMatch")

    # --- Swift API interop: same bytes, same ETag, both ways ---
    req = urllib.request.Request(aio.auth, headers={"X-Auth-User": "test:tester", "X-Auth-Key": "testing"})
    resp = urllib.request.urlopen(req)
    token, storage = resp.headers["X-Auth-Token"], resp.headers["X-Storage-Url"]
    sw = urllib.request.urlopen(urllib.request.Request(f"{storage}/alpha/dir/one.bin", headers={"X-Auth-Token": token}))
    check(sw.read() == body and sw.headers["ETag"].strip('"') == etag.strip('"'), "an S3 object read through the Swift API")
    check(sw.headers["X-Object-Meta-Color"] == "blue", "S3 metadata is Swift metadata")
    swift_body = os.urandom(5000)
    urllib.request.urlopen(urllib.request.Request(f"{storage}/alpha/from-swift", data=swift_body, method="PUT",
                                                  headers={"X-Auth-Token": token, "X-Object-Meta-Origin": "swift"})).read()
    g = s3.get_object(Bucket="alpha", Key="from-swift")
    check(g["Body"].read() == swift_body and g["ETag"] == '"%s"' % hashlib.md5(swift_body).hexdigest() and g["Metadata"] == {"origin": "swift"},
          "a Swift object read through S3")

    # --- multipart ---
    s3.create_bucket(Bucket="multi")
    big = [os.urandom(5 * 1024 * 1024), os.urandom(1024 * 1024 + 7)]
    up = s3.create_multipart_upload(Bucket="multi", Key="joined.bin", ContentType="application/x-joined", Metadata={"parts": "two"})
    uid = up["UploadId"]
    etags = [s3.upload_part(Bucket="multi", Key="joined.bin", UploadId=uid, PartNumber=i + 1, Body=b)["ETag"] for i, b in enumerate(big)]
    check([p["PartNumber"] for p in s3.list_parts(Bucket="multi", Key="joined.bin", UploadId=uid)["Parts"]] == [1, 2], "list-parts shows both")
    check([u["UploadId"] for u in s3.list_multipart_uploads(Bucket="multi").get("Uploads", [])] == [uid], "list-multipart-uploads shows it")
    check("multi+segments" not in [b["Name"] for b in s3.list_buckets()["Buckets"]], "the parts' container is not a bucket")
    parts = [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]
    check(error(s3.complete_multipart_upload, Bucket="multi", Key="joined.bin", UploadId=uid,
                MultipartUpload={"Parts": list(reversed(parts))})[0] == "InvalidPartOrder", "parts out of order: InvalidPartOrder")
    check(error(s3.complete_multipart_upload, Bucket="multi", Key="joined.bin", UploadId=uid,
                MultipartUpload={"Parts": [parts[0], {"PartNumber": 2, "ETag": '"%s"' % ("0" * 32)}]})[0] == "InvalidPart",
          "a wrong part ETag: InvalidPart")
    check(error(s3.head_object, Bucket="multi", Key="joined.bin")[1] == 404, "nothing stored by the refused completions")
    done = s3.complete_multipart_upload(Bucket="multi", Key="joined.bin", UploadId=uid, MultipartUpload={"Parts": parts})
    want = '"%s-2"' % hashlib.md5(b"".join(hashlib.md5(b).digest() for b in big)).hexdigest()
    check(done["ETag"] == want, f"complete answers S3's multipart ETag {want}")
    g = s3.get_object(Bucket="multi", Key="joined.bin")
    check(g["Body"].read() == b"".join(big) and g["ETag"] == want, "the joined object reads back whole, with that ETag")
    check(g["ContentType"] == "application/x-joined" and g["Metadata"] == {"parts": "two"}, "with the upload's content type and metadata")
    check([o["ETag"] for o in s3.list_objects_v2(Bucket="multi")["Contents"]] == [want], "the listing shows that ETag too")
    check(s3.list_multipart_uploads(Bucket="multi").get("Uploads", []) == [], "no upload in progress after completion")
    small = s3.create_multipart_upload(Bucket="multi", Key="small.bin")["UploadId"]
    e1 = s3.upload_part(Bucket="multi", Key="small.bin", UploadId=small, PartNumber=1, Body=b"tiny")["ETag"]
    e2 = s3.upload_part(Bucket="multi", Key="small.bin", UploadId=small, PartNumber=2, Body=b"end")["ETag"]
    check(error(s3.complete_multipart_upload, Bucket="multi", Key="small.bin", UploadId=small,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})[0] == "EntityTooSmall",
          "a part under 5 MiB that is not the last: EntityTooSmall")
    s3.abort_multipart_upload(Bucket="multi", Key="small.bin", UploadId=small)
    check(error(s3.list_parts, Bucket="multi", Key="small.bin", UploadId=small)[0] == "NoSuchUpload", "aborted: NoSuchUpload")
    plain = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test:tester", aws_secret_access_key="testing", region_name="us-east-1",
                         config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"))
    multipart_checksum_checks(s3, plain, error)
    s3.delete_object(Bucket="multi", Key="joined.bin")
    seg = urllib.request.urlopen(urllib.request.Request(f"{storage}/multi+segments?format=json", headers={"X-Auth-Token": token}))
    check(json.loads(seg.read() or b"[]") == [], "deleting the object deleted its parts")
    s3.delete_bucket(Bucket="multi")

    # --- auth errors ---
    wrong = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test:tester", aws_secret_access_key="wrong",
                         region_name="us-east-1", config=cfg)
    check(error(wrong.list_buckets) == ("SignatureDoesNotMatch", 403), "a wrong secret: SignatureDoesNotMatch")
    nobody = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="nobody:none", aws_secret_access_key="x",
                          region_name="us-east-1", config=cfg)
    check(error(nobody.list_buckets) == ("InvalidAccessKeyId", 403), "an unknown key: InvalidAccessKeyId")

    # --- delete ---
    check(error(s3.delete_bucket, Bucket="alpha") == ("BucketNotEmpty", 409), "deleting a full bucket: BucketNotEmpty")
    all_keys = [o["Key"] for o in s3.list_objects_v2(Bucket="alpha")["Contents"]]
    d = s3.delete_objects(Bucket="alpha", Delete={"Objects": [{"Key": k} for k in all_keys] + [{"Key": "never-there"}]})
    check(sorted(x["Key"] for x in d["Deleted"]) == sorted(all_keys + ["never-there"]), "delete-objects deletes each (a missing one too)")
    check(s3.list_objects_v2(Bucket="alpha")["KeyCount"] == 0, "the bucket is empty")
    s3.put_object(Bucket="alpha", Key="last", Body=b"x")
    d = s3.delete_objects(Bucket="alpha", Delete={"Objects": [{"Key": "last"}], "Quiet": True})
    check(d.get("Deleted", []) == [] and d.get("Errors", []) == [], "quiet delete-objects answers nothing")
    s3.delete_object(Bucket="alpha", Key="never-there")
    s3.delete_bucket(Bucket="alpha")
    check(error(s3.head_bucket, Bucket="alpha")[1] == 404, "the bucket is gone")

    # --- awscli ---
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test:tester", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.path.join(aio.work, "aws-config"))
    env.pop("AWS_PROFILE", None)
    open(env["AWS_CONFIG_FILE"], "w").close()

    def aws(*a):
        r = subprocess.run([args.aws, "--endpoint-url", endpoint, *a], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise Failure(f"aws {' '.join(a)} failed ({r.returncode}): {r.stderr.strip()[-600:]}")
        return r.stdout
    src = os.path.join(aio.work, "cli")
    os.makedirs(os.path.join(src, "sub"))
    for name in ["a.txt", "sub/b.bin"]:
        with open(os.path.join(src, name), "wb") as f:
            f.write(os.urandom(3000))
    aws("s3", "mb", "s3://cli")
    aws("s3", "cp", os.path.join(src, "a.txt"), "s3://cli/a.txt")
    aws("s3", "sync", src, "s3://cli/tree")
    listing = aws("s3", "ls", "--recursive", "s3://cli")
    check(all(k in listing for k in ["a.txt", "tree/a.txt", "tree/sub/b.bin"]), "aws s3 cp/sync/ls")
    out = os.path.join(aio.work, "back.txt")
    aws("s3", "cp", "s3://cli/a.txt", out)
    check(open(out, "rb").read() == open(os.path.join(src, "a.txt"), "rb").read(), "aws s3 cp back: the same bytes")
    aws("s3api", "copy-object", "--bucket", "cli", "--key", "copied", "--copy-source", "cli/a.txt")
    presigned = aws("s3", "presign", "s3://cli/copied", "--expires-in", "60").strip()
    check(urllib.request.urlopen(presigned).read() == open(os.path.join(src, "a.txt"), "rb").read(), "aws s3 presign + urllib")
    big_file = os.path.join(aio.work, "big.bin")
    with open(big_file, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1024 * 1024))
    aws("s3", "cp", big_file, "s3://cli/big.bin")
    back = os.path.join(aio.work, "big.back")
    aws("s3", "cp", "s3://cli/big.bin", back)
    sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
    check(sha(back) == sha(big_file), "aws s3 cp of 100 MiB (multipart) and back: the same sha256")
    check(json.loads(aws("s3api", "head-object", "--bucket", "cli", "--key", "big.bin"))["ETag"].endswith('-13"'),
          "stored as a multipart object (13 parts of 8 MiB)")
    up = json.loads(aws("s3api", "create-multipart-upload", "--bucket", "cli", "--key", "aborted"))["UploadId"]
    listed = json.loads(aws("s3api", "list-multipart-uploads", "--bucket", "cli"))
    check([u["UploadId"] for u in listed.get("Uploads", [])] == [up], "aws s3api list-multipart-uploads")
    aws("s3api", "abort-multipart-upload", "--bucket", "cli", "--key", "aborted", "--upload-id", up)
    aws("s3", "rm", "--recursive", "s3://cli")
    aws("s3", "rb", "s3://cli")
    s3cmd_checks(aio, big_file)


def acl_checks(s3, alt, endpoint, error):
    """ACLs: what another account (boto3 as test2:tester2) and anonymous requests (urllib, no
    signature) may do in test:tester's buckets under canned ACLs and named grants; who owns
    what another account writes; GetBucketAcl/GetObjectAcl/PutObjectAcl."""
    def anonymous(method, path, data=None):
        try:
            r = urllib.request.urlopen(urllib.request.Request(endpoint + path, data=data, method=method))
            return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
    s3.create_bucket(Bucket="shared", ACL="public-read")
    s3.put_object(Bucket="shared", Key="open", Body=b"for everyone", ACL="public-read")
    s3.put_object(Bucket="shared", Key="closed", Body=b"mine")
    grants = s3.get_bucket_acl(Bucket="shared")["Grants"]
    check(sorted((g["Grantee"].get("URI", g["Grantee"].get("ID")), g["Permission"]) for g in grants)
          == [("AUTH_test", "FULL_CONTROL"), ("http://acs.amazonaws.com/groups/global/AllUsers", "READ")], "GetBucketAcl of a public-read bucket")
    check(anonymous("GET", "/shared/open") == (200, b"for everyone"), "anonymous GET of a public-read object")
    status, body = anonymous("GET", "/shared/closed")
    check(status == 403 and b"<Code>AccessDenied</Code>" in body, "anonymous GET of a private object: AccessDenied")
    status, body = anonymous("GET", "/shared?list-type=2")
    check(status == 200 and b"<Key>open</Key>" in body and b"<Key>closed</Key>" in body, "anonymous listing of a public-read bucket")
    status, body = anonymous("GET", "/shared/%AE%8A-")
    check(status == 400 and b"<Code>InvalidURI</Code>" in body and b"Couldn't parse the specified URI." in body,
          "a key that is not UTF-8 (%AE%8A-): InvalidURI, as AWS answers it")
    status, body = anonymous("PUT", "/shared/intruder", data=b"x")
    check(status == 403 and b"AccessDenied" in body, "anonymous PUT into a public-read bucket: AccessDenied")
    check(alt.get_object(Bucket="shared", Key="open")["Body"].read() == b"for everyone", "another account reads a public-read object")
    check(error(alt.get_object, Bucket="shared", Key="closed") == ("AccessDenied", 403), "another account cannot read a private object")
    check(error(alt.get_bucket_acl, Bucket="shared") == ("AccessDenied", 403), "another account cannot read the bucket's ACL")
    s3.put_bucket_acl(Bucket="shared", ACL="private")
    status, _ = anonymous("GET", "/shared?list-type=2")
    check(status == 403 and error(alt.list_objects_v2, Bucket="shared") == ("AccessDenied", 403), "PutBucketAcl private: no more listing by others")
    s3.put_bucket_acl(Bucket="shared", ACL="public-read-write")
    alt.put_object(Bucket="shared", Key="from-alt", Body=b"alt was here")
    check(s3.get_object(Bucket="shared", Key="from-alt")["Body"].read() == b"alt was here", "another account writes into a public-read-write bucket")
    acl = alt.get_object_acl(Bucket="shared", Key="from-alt")
    check(acl["Owner"]["ID"] == "AUTH_test2" and alt.get_object(Bucket="shared", Key="from-alt")["Body"].read() == b"alt was here",
          "what another account writes there it owns: its ACL names it, it reads it back")
    up = alt.create_multipart_upload(Bucket="shared", Key="alt-upload")["UploadId"]
    uploads = s3.list_multipart_uploads(Bucket="shared")["Uploads"]
    check([(u["UploadId"], u["Initiator"]["ID"]) for u in uploads] == [(up, "AUTH_test2")], "an upload another account started lists it as initiator")
    alt.abort_multipart_upload(Bucket="shared", Key="alt-upload", UploadId=up)
    # A copy of a multipart (SLO) object takes the ACL the copy asks for, as a plain one does.
    up = s3.create_multipart_upload(Bucket="shared", Key="multi-src")["UploadId"]
    part = s3.upload_part(Bucket="shared", Key="multi-src", UploadId=up, PartNumber=1, Body=b"one part")
    s3.complete_multipart_upload(Bucket="shared", Key="multi-src", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.copy_object(Bucket="shared", Key="multi-copy", CopySource={"Bucket": "shared", "Key": "multi-src"}, ACL="public-read")
    check(anonymous("GET", "/shared/multi-copy") == (200, b"one part") and anonymous("GET", "/shared/multi-src")[0] == 403,
          "a copy of a multipart object with ACL public-read: anonymous reads the copy, not the private source")
    # Named grants: READ to one account by id, by header; READ is not READ_ACP.
    s3.put_object(Bucket="shared", Key="granted", Body=b"for test2 only", GrantRead='id="AUTH_test2"')
    check(alt.get_object(Bucket="shared", Key="granted")["Body"].read() == b"for test2 only" and anonymous("GET", "/shared/granted")[0] == 403,
          "x-amz-grant-read by id: that account reads, anonymous requests do not")
    check(error(alt.get_object_acl, Bucket="shared", Key="granted") == ("AccessDenied", 403), "READ does not let it read the ACL")
    policy = s3.get_object_acl(Bucket="shared", Key="granted")
    s3.put_object_acl(Bucket="shared", Key="granted", AccessControlPolicy={"Owner": policy["Owner"], "Grants": [
        g for g in policy["Grants"] if g["Grantee"].get("ID") != "AUTH_test2"]})
    check(error(alt.get_object, Bucket="shared", Key="granted") == ("AccessDenied", 403), "a policy without the grant takes it back")
    check(error(s3.put_object_acl, Bucket="shared", Key="granted", GrantRead='id="nobody"') == ("InvalidArgument", 400),
          "a grant to an id that is no account: InvalidArgument")
    check(error(s3.put_object_acl, Bucket="shared", Key="granted", GrantRead='emailAddress="a@example.com"')[0] == "UnresolvableGrantByEmailAddress",
          "a grant by e-mail address: UnresolvableGrantByEmailAddress")
    s3.put_object_acl(Bucket="shared", Key="closed", ACL="authenticated-read")
    check(s3.get_object_acl(Bucket="shared", Key="closed")["Grants"][0]["Grantee"]["URI"].endswith("AuthenticatedUsers")
          and alt.get_object(Bucket="shared", Key="closed")["Body"].read() == b"mine"
          and anonymous("GET", "/shared/closed")[0] == 403, "authenticated-read: other accounts read, anonymous requests do not")
    check(error(s3.put_bucket_acl, Bucket="shared", ACL="public-ready") == ("InvalidArgument", 400), "an unknown canned ACL: InvalidArgument")
    alt.create_bucket(Bucket="alt-own")
    check(error(alt.copy_object, Bucket="alt-own", Key="taken", CopySource={"Bucket": "shared", "Key": "closed"}) == ("AccessDenied", 403),
          "a copy from another account's bucket reads it there, with the copier's rights: AccessDenied")
    alt.delete_bucket(Bucket="alt-own")
    for key in ["open", "closed", "from-alt", "granted", "multi-src", "multi-copy"]:
        s3.delete_object(Bucket="shared", Key=key)
    s3.delete_bucket(Bucket="shared")
    alt.create_bucket(Bucket="shared")
    check([b["Name"] for b in alt.list_buckets()["Buckets"]] == ["shared"], "a deleted bucket's name is free for another account")
    alt.delete_bucket(Bucket="shared")


def s3cmd_checks(aio, big_file):
    """s3cmd (Debian's) with SigV4, path-style: mb, put (a small file, and 100 MiB, which it
    sends as a multipart upload of 15 MiB parts), ls, get, del, rb."""
    config = os.path.join(aio.work, "s3cfg")
    with open(config, "w") as f:
        f.write(f"[default]\naccess_key = test:tester\nsecret_key = testing\nhost_base = 127.0.0.1:{aio.port}\n"
                f"host_bucket = 127.0.0.1:{aio.port}\nuse_https = False\nsignature_v2 = False\nbucket_location = us-east-1\n")

    def s3cmd(*a):
        r = subprocess.run(["s3cmd", "-c", config, *a], capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"s3cmd {' '.join(a)} failed ({r.returncode}): {(r.stdout + r.stderr).strip()[-600:]}")
        return r.stdout
    small = os.path.join(aio.work, "s3cmd-small.txt")
    with open(small, "wb") as f:
        f.write(os.urandom(5000))
    s3cmd("mb", "s3://s3cmd")
    s3cmd("put", small, "s3://s3cmd/small.txt")
    s3cmd("put", big_file, "s3://s3cmd/big.bin")
    listing = s3cmd("ls", "s3://s3cmd")
    check("s3://s3cmd/small.txt" in listing and "s3://s3cmd/big.bin" in listing, "s3cmd mb, put (5 KB and 100 MiB multipart), ls")
    sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
    for name, local in [("small.txt", small), ("big.bin", big_file)]:
        back = os.path.join(aio.work, "s3cmd-back-" + name)
        s3cmd("get", f"s3://s3cmd/{name}", back)
        check(sha(back) == sha(local), f"s3cmd get {name}: the same sha256")
    s3cmd("del", "s3://s3cmd/small.txt", "s3://s3cmd/big.bin")
    s3cmd("rb", "s3://s3cmd")
    check("s3://s3cmd" not in s3cmd("ls"), "s3cmd del and rb")


if __name__ == "__main__":
    sys.exit(main())
