"""Multipart checksums with boto3: COMPOSITE (the algorithm over the parts' checksums, "-N") and
FULL_OBJECT (the whole object's CRC, combined from the parts'), each checked against a value
computed here, on ListParts, CompleteMultipartUpload, HeadObject, GetObject of a part and
GetObjectAttributes; the refusals AWS gives, with nothing stored."""
import base64, hashlib, os, zlib

from aio_harness import check


def b64(raw):
    return base64.b64encode(raw).decode()


def multipart_checksum_checks(s3, plain, error):
    """`s3` computes request checksums when supported (boto3's default); `plain` only when
    required, so an UploadPart without a checksum leaves it to the server."""
    bucket = "sums"
    s3.create_bucket(Bucket=bucket)
    data = [os.urandom(5 * 1024 * 1024), os.urandom(300_001)]
    sha = [hashlib.sha256(d).digest() for d in data]

    # COMPOSITE SHA-256: part 1 declares its checksum, part 2 none (the server computes it).
    up = s3.create_multipart_upload(Bucket=bucket, Key="composite", ChecksumAlgorithm="SHA256")
    check(up.get("ChecksumAlgorithm") == "SHA256" and up.get("ChecksumType") == "COMPOSITE",
          "create-multipart-upload with SHA256: COMPOSITE by default")
    uid = up["UploadId"]
    r1 = s3.upload_part(Bucket=bucket, Key="composite", UploadId=uid, PartNumber=1, Body=data[0], ChecksumSHA256=b64(sha[0]))
    r2 = plain.upload_part(Bucket=bucket, Key="composite", UploadId=uid, PartNumber=2, Body=data[1])
    check(r1.get("ChecksumSHA256") == b64(sha[0]) and r2.get("ChecksumSHA256") == b64(sha[1]),
          "upload-part answers the part's SHA-256, declared or computed by the server")
    check(error(s3.upload_part, Bucket=bucket, Key="composite", UploadId=uid, PartNumber=3, Body=b"x", ChecksumAlgorithm="CRC32")
          == ("InvalidRequest", 400), "a part with another algorithm than the upload's: InvalidRequest")
    listed = s3.list_parts(Bucket=bucket, Key="composite", UploadId=uid)
    check([p.get("ChecksumSHA256") for p in listed["Parts"]] == [b64(sha[0]), b64(sha[1])], "list-parts shows each part's SHA-256")
    parts = [{"PartNumber": 1, "ETag": r1["ETag"], "ChecksumSHA256": b64(sha[0])}, {"PartNumber": 2, "ETag": r2["ETag"]}]
    want = b64(hashlib.sha256(b"".join(sha)).digest()) + "-2"
    wrong = b64(hashlib.sha256(b"wrong").digest()) + "-2"
    check(error(s3.complete_multipart_upload, Bucket=bucket, Key="composite", UploadId=uid, ChecksumSHA256=wrong,
                MultipartUpload={"Parts": parts}) == ("BadDigest", 400), "complete with a wrong composite SHA-256: BadDigest")
    bad_part = [parts[0], dict(parts[1], ChecksumSHA256=b64(sha[0]))]
    check(error(s3.complete_multipart_upload, Bucket=bucket, Key="composite", UploadId=uid, MultipartUpload={"Parts": bad_part})
          == ("InvalidPart", 400), "complete listing a part with another part's checksum: InvalidPart")
    check(error(s3.head_object, Bucket=bucket, Key="composite")[1] == 404, "nothing stored by the refused completions")
    done = s3.complete_multipart_upload(Bucket=bucket, Key="composite", UploadId=uid, ChecksumSHA256=want, MultipartUpload={"Parts": parts})
    check(done.get("ChecksumSHA256") == want and done.get("ChecksumType") == "COMPOSITE",
          f"complete answers the SHA-256 of the parts' SHA-256s, {want}")
    head = s3.head_object(Bucket=bucket, Key="composite", ChecksumMode="ENABLED")
    check(head.get("ChecksumSHA256") == want and head.get("ChecksumType") == "COMPOSITE", "head-object returns it")
    check("ChecksumSHA256" not in s3.head_object(Bucket=bucket, Key="composite"), "only with ChecksumMode=ENABLED")
    part2 = s3.get_object(Bucket=bucket, Key="composite", PartNumber=2, ChecksumMode="ENABLED")
    check(part2["Body"].read() == data[1] and part2.get("ChecksumSHA256") == b64(sha[1]), "get-object of part 2: its bytes and its SHA-256")
    attrs = s3.get_object_attributes(Bucket=bucket, Key="composite", ObjectAttributes=["ETag", "Checksum", "ObjectParts", "ObjectSize"])
    check(attrs["Checksum"].get("ChecksumSHA256") == want and attrs["ObjectSize"] == sum(map(len, data))
          and [(p["PartNumber"], p["Size"], p.get("ChecksumSHA256")) for p in attrs["ObjectParts"]["Parts"]]
          == [(1, len(data[0]), b64(sha[0])), (2, len(data[1]), b64(sha[1]))],
          "get-object-attributes: the checksum, the size and each part's size and checksum")

    # FULL_OBJECT CRC-32: the whole object's CRC, though only the parts' went up.
    check(error(s3.create_multipart_upload, Bucket=bucket, Key="x", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT")
          == ("InvalidRequest", 400), "FULL_OBJECT with SHA256: InvalidRequest")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")["UploadId"]
    etags = [s3.upload_part(Bucket=bucket, Key="full", UploadId=uid, PartNumber=i + 1, Body=d, ChecksumAlgorithm="CRC32")["ETag"]
             for i, d in enumerate(data)]
    whole = b64(zlib.crc32(b"".join(data)).to_bytes(4, "big"))
    done = s3.complete_multipart_upload(Bucket=bucket, Key="full", UploadId=uid, ChecksumCRC32=whole, ChecksumType="FULL_OBJECT",
                                        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    check(done.get("ChecksumCRC32") == whole and done.get("ChecksumType") == "FULL_OBJECT", f"FULL_OBJECT CRC-32 of the whole object, {whole}")
    # boto3 validates a full-object checksum against the bytes it reads.
    got = s3.get_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    check(got["Body"].read() == b"".join(data) and got.get("ChecksumCRC32") == whole, "get-object: the bytes, validated by boto3 against it")
    for key in ["composite", "full"]:
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
