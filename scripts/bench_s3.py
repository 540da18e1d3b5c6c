#!/usr/bin/env python3
"""4 KiB PUT and GET through the S3 API and through the Swift API of the same cluster, side by
side: rounds alternate Swift, S3, Swift, S3 (A B A B), each with fresh objects, the same number
of keep-alive connections and the same client work per request apart from the protocol (S3
requests are SigV4-signed with the body's SHA-256, as boto3 signs them over HTTP; Swift
requests carry a token). Stdlib only. Prints one line per round and the medians with the
S3 / Swift ratio.
Usage: bench_s3.py --endpoint http://127.0.0.1:PORT [--objects 2000 --concurrency 16 --rounds 2]"""
import argparse, datetime, functools, hashlib, hmac, http.client, json, os, statistics, sys, threading, time, urllib.parse, urllib.request


@functools.lru_cache(maxsize=8)
def signing_key(secret, day):
    """The day's signing key, derived once (as the AWS SDKs for Java and Go cache it): the
    client's own CPU shares the machine with the server being measured."""
    key = ("AWS4" + secret).encode()
    for part in [day, "us-east-1", "s3", "aws4_request"]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign_v4(method, path, host, body_sha, access, secret, now):
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    scope = f"{day}/us-east-1/s3/aws4_request"
    headers = {"host": host, "x-amz-content-sha256": body_sha, "x-amz-date": amz}
    signed = ";".join(sorted(headers))
    canonical = "\n".join([method, path, "", "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)), signed, body_sha])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    signature = hmac.new(signing_key(secret, day), to_sign.encode(), hashlib.sha256).hexdigest()
    return {"X-Amz-Date": amz, "X-Amz-Content-SHA256": body_sha,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, Signature={signature}"}


class Client:
    def __init__(self, args, api):
        self.args, self.api = args, api
        u = urllib.parse.urlsplit(args.endpoint)
        self.host = u.netloc
        if api == "swift":
            r = urllib.request.urlopen(urllib.request.Request(args.endpoint + "/auth/v1.0",
                                                              headers={"X-Auth-User": args.user, "X-Auth-Key": args.key}))
            self.token = r.headers["X-Auth-Token"]
            self.base = urllib.parse.urlsplit(r.headers["X-Storage-Url"]).path

    def path(self, container, name):
        return f"{self.base}/{container}/{name}" if self.api == "swift" else f"/{container}/{name}"

    def headers(self, method, path, body):
        if self.api == "swift":
            return {"X-Auth-Token": self.token}
        return sign_v4(method, path, self.host, hashlib.sha256(body).hexdigest(), self.args.user, self.args.key,
                       datetime.datetime.now(datetime.timezone.utc))

    def request(self, conn, method, path, body=b""):
        h = self.headers(method, path, body)
        h["Content-Length"] = str(len(body))
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return r.status, data


def phase(args, client, method, container, names, payload):
    """`method` on every name from --concurrency threads; returns ops/s (fails on any error)."""
    u = urllib.parse.urlsplit(args.endpoint)
    errors = []
    work = list(names)
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        while True:
            with lock:
                if not work:
                    break
                name = work.pop()
            status, data = client.request(conn, method, client.path(container, name), payload if method == "PUT" else b"")
            ok = status in (200, 201) and (method == "PUT" or data == payload)
            if not ok:
                errors.append(f"{method} {name}: {status} {data[:200]!r}")
        conn.close()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if errors:
        sys.exit(f"bench_s3: {len(errors)} requests failed, e.g. {errors[0]}")
    return len(names) / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--user", default="test:tester")
    ap.add_argument("--key", default="testing")
    ap.add_argument("--objects", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", choices=["swift", "s3"], help="one API alone (for profiling one protocol)")
    args = ap.parse_args()
    payload = os.urandom(args.size)
    clients = {"swift": Client(args, "swift"), "s3": Client(args, "s3")}
    u = urllib.parse.urlsplit(args.endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    results = {(api, op): [] for api in clients for op in ("PUT", "GET")}
    for n in range(args.rounds):
        for api in ([args.only] if args.only else ["swift", "s3"]):
            client = clients[api]
            container = f"bench-{api}-{n}-{os.getpid()}"
            status, _ = client.request(conn, "PUT", client.path(container, "").rstrip("/"))
            if status not in (200, 201, 202):
                sys.exit(f"bench_s3: creating {container} through {api}: {status}")
            names = [f"obj-{i:06d}" for i in range(args.objects)]
            for op in ("PUT", "GET"):
                rate = phase(args, client, op, container, names, payload)
                results[(api, op)].append(rate)
                print(json.dumps({"round": n + 1, "api": api, "op": op, "ops_per_s": round(rate, 1)}), flush=True)
    print("| 4 KiB, %d objects, %d connections | Swift API (median) | S3 API (median) | S3 / Swift |" % (args.objects, args.concurrency))
    print("|---|---|---|---|")
    for op in ("PUT", "GET"):
        if args.only:
            break
        sw, s3 = statistics.median(results[("swift", op)]), statistics.median(results[("s3", op)])
        print(f"| {op} | {sw:,.0f} /s | {s3:,.0f} /s | {s3 / sw:.2f} |")


if __name__ == "__main__":
    main()
