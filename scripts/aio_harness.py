"""Starts `nimbus aio` on a free loopback port in a temp dir, for the real-client checks."""
import os, shutil, socket, ssl, subprocess, sys, tempfile, time, urllib.request


class AIO:
    def __init__(self, nimbus, extra=(), tls=None):
        """tls: (certificate, key, CA file) to serve HTTPS (the CA checks the health probe)."""
        self.work = tempfile.mkdtemp(prefix="nimbus-client-")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.log = open(os.path.join(self.work, "aio.out"), "w")
        self.proc = subprocess.Popen(
            [nimbus, "aio", "--port", str(self.port), "--data-dir", os.path.join(self.work, "data"),
             "--log-file", os.path.join(self.work, "nimbus.log"), *extra,
             *(["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else [])], stdout=self.log, stderr=self.log)
        scheme = "https" if tls else "http"
        self.auth = f"{scheme}://127.0.0.1:{self.port}/auth/v1.0"
        context = ssl.create_default_context(cafile=tls[2]) if tls else None
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{scheme}://127.0.0.1:{self.port}/healthcheck", timeout=1, context=context)
                return
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("nimbus aio did not come up")

    def stop(self, keep=False):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not keep:
            shutil.rmtree(self.work, ignore_errors=True)


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)
    print(f"ok   {what}")


def run_checks(aio, body, passed):
    """Runs `body()`, prints `passed` or the failure, stops the cloud (keeping its logs after a
    failure) and answers the exit status."""
    ok = False
    try:
        body()
        print(passed)
        ok = True
        return 0
    except Failure as e:
        print(f"FAIL {e}", file=sys.stderr)
        print(f"(logs kept in {aio.work})", file=sys.stderr)
        return 1
    finally:
        aio.stop(keep=not ok)
