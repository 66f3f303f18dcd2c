"""Plumbing shared by the payment-provider emulators (test tools; Python 3 standard library only).

An emulator is an Emulator subclass: it registers its routes, keeps its state in memory under
self.lock, and calls the merchant back through Delivery objects, which retry on the provider's
schedule and record every attempt. The control API every emulator shares (/_control/health,
config, down, deliveries, requests, reset) is documented in README.md next to this file.
"""
import argparse
import base64
import collections
import datetime
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

GMT7 = datetime.timezone(datetime.timedelta(hours=7), "GMT+7")
UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def now_gmt7():
    return datetime.datetime.now(GMT7)


def iso_utc(t=None):
    t = t or datetime.datetime.now(datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_id(n, alphabet=UPPER_ALNUM):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def add_query(url, params):
    """url with params appended to its query string (form encoding, as browsers and VNPay do)."""
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


# --- HTTP messages --------------------------------------------------------------------------

class Response:
    def __init__(self, status=200, body=b"", content_type=None, headers=None):
        self.status = status
        self.body = body.encode() if isinstance(body, str) else body
        self.headers = list((headers or {}).items())
        if content_type:
            self.headers.append(("Content-Type", content_type))


DROP = object()  # a handler result meaning: close the connection without answering


def json_response(status, obj, headers=None):
    return Response(status, json.dumps(obj, ensure_ascii=False), "application/json", headers)


def html_response(status, title, text):
    esc = lambda s: str(s).replace("&", "&amp;").replace("<", "&lt;")
    return Response(status, f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{esc(title)}"
                            f"</title></head><body><h1>{esc(title)}</h1><p>{esc(text)}</p></body></html>",
                    "text/html; charset=utf-8")


def redirect(location):
    return Response(302, f"<a href=\"{location}\">Found</a>", "text/html", {"Location": location})


class HttpError(Exception):
    """Raised by a handler to answer with this response."""

    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def bad_request(message):
    return HttpError(json_response(400, {"error": message}))


class Request:
    def __init__(self, method, target, headers, body, client):
        parts = urllib.parse.urlsplit(target)
        self.method, self.path, self.query_string = method, parts.path, parts.query
        self.query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        self.headers, self.body, self.client = headers, body, client

    def json(self, allow_empty=False, error=None):
        """The body as a JSON object; an empty body is {} when allow_empty."""
        if allow_empty and not self.body.strip():
            return {}
        try:
            value = json.loads(self.body)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise HttpError(error) if error else bad_request("the body must be a JSON object")
        return value


def http_call(method, url, headers=None, body=None, timeout=5.0):
    """One HTTP exchange, no redirects followed and no proxy: (status, body bytes).
    Raises OSError (connection refused, reset, timeout...) when there is no answer."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


# --- Callbacks to the merchant ---------------------------------------------------------------

class Delivery:
    """One callback (an IPN, a webhook) sent until acknowledged or out of attempts.
    is_ack(status, body) says whether an answer ends the delivery."""

    def __init__(self, emu, kind, key, method, url, body=None, headers=None, is_ack=None,
                 retry=True, meta=None):
        self.emu, self.kind, self.key, self.method, self.url = emu, kind, key, method, url
        self.body, self.headers, self.retry, self.meta = body, dict(headers or {}), retry, meta or {}
        self.is_ack = is_ack or (lambda status, body: 200 <= status < 300)
        self.id = emu.next_delivery_id()
        self.created = iso_utc()
        self.attempts = []
        self.acknowledged = False
        self.first_attempt = threading.Event()
        self.done = threading.Event()
        self.cancel = emu.cancel_event

    def run(self, barrier=None, delay_ms=0):
        try:
            if delay_ms and self.cancel.wait(delay_ms / 1000):
                return
            if barrier:
                barrier.wait(timeout=10)
            max_attempts = max(1, int(self.emu.config["maxAttempts"])) if self.retry else 1
            for n in range(1, max_attempts + 1):
                if n > 1:
                    wait_s = self.emu.retry_delay_units(n - 1) * self.emu.config["retryUnitMs"] / 1000
                    if self.cancel.wait(wait_s):
                        break
                self.attempts.append(self._attempt(n))
                self.first_attempt.set()
                if self.attempts[-1]["acknowledged"]:
                    self.acknowledged = True
                    break
        except Exception:  # a bug here must not kill the server thread silently
            traceback.print_exc()
        finally:
            self.first_attempt.set()
            self.done.set()

    def _attempt(self, n):
        rec = {"attempt": n, "at": iso_utc(), "status": None, "body": None, "json": None,
               "error": None, "acknowledged": False}
        t0 = time.monotonic()
        if not self.url:
            rec["error"] = "no merchant URL configured"
        else:
            try:
                status, body = http_call(self.method, self.url, self.headers, self.body,
                                         self.emu.config["timeoutMs"] / 1000)
                rec["status"], rec["body"] = status, body.decode("utf-8", "replace")[:4000]
                try:
                    rec["json"] = json.loads(body)
                except ValueError:
                    pass
                rec["acknowledged"] = bool(self.is_ack(status, body))
            except (OSError, urllib.error.URLError) as e:
                rec["error"] = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
        rec["durationMs"] = round((time.monotonic() - t0) * 1000)
        self.emu.log(f"{self.kind} {self.key} attempt {n} -> "
                     f"{rec['status'] or rec['error']}{' (acknowledged)' if rec['acknowledged'] else ''}")
        return rec

    def to_json(self):
        body = self.body.decode("utf-8", "replace") if isinstance(self.body, bytes) else self.body
        return {"id": self.id, "kind": self.kind, "key": self.key, "method": self.method,
                "url": self.url, "requestHeaders": self.headers, "requestBody": body,
                "createdAt": self.created, "attempts": list(self.attempts),
                "acknowledged": self.acknowledged, "done": self.done.is_set(), **self.meta}


# --- The emulator base -----------------------------------------------------------------------

class Emulator:
    name = "emulator"
    callback_key = "callbackUrl"   # the config entry holding the merchant URL
    default_max_attempts = 5

    @classmethod
    def add_arguments(cls, parser):
        pass

    def retry_delay_units(self, n):
        """Delay before retry n (1 = the first retry), in provider minutes (config retryUnitMs)."""
        return 1

    def __init__(self, args, base_url):
        self.base_url = base_url
        self.lock = threading.RLock()
        self.cancel_event = threading.Event()
        self.config = {"retryUnitMs": args.retry_unit_ms, "timeoutMs": args.timeout_ms,
                       "maxAttempts": args.max_attempts or self.default_max_attempts}
        self.down = None
        self.deliveries = collections.OrderedDict()
        self.requests = collections.deque(maxlen=2000)
        self._delivery_seq = 0
        self.routes = []
        self.route("GET", "/_control/health", lambda r: json_response(200, {"ok": True, "provider": self.name}))
        self.route("GET", "/_control/config", lambda r: json_response(200, self.config))
        self.route("POST", "/_control/config", self.ctl_config)
        self.route("POST", "/_control/down", self.ctl_down)
        self.route("GET", "/_control/deliveries", self.ctl_deliveries)
        self.route("GET", "/_control/deliveries/([^/]+)", self.ctl_delivery)
        self.route("POST", "/_control/deliveries/([^/]+)/redeliver", self.ctl_redeliver)
        self.route("GET", "/_control/requests", self.ctl_requests)
        self.route("POST", "/_control/reset", self.ctl_reset)

    def route(self, method, pattern, fn):
        self.routes.append((method, re.compile(pattern + "$"), fn))

    def log(self, msg):
        print(f"{iso_utc()} {self.name} {msg}", file=sys.stderr, flush=True)

    def reset_state(self):
        """Subclasses clear their own state here (orders, outcomes...)."""

    def unavailable(self):
        return html_response(503, "Service Unavailable", "The server is temporarily unable to service your request.")

    # Requests ------------------------------------------------------------------------------

    def handle(self, req):
        t0 = time.monotonic()
        resp = None
        if not req.path.startswith("/_control/"):
            resp = self._down_action(req.path)
        if resp is None:
            resp = self._dispatch(req)
        status = "dropped" if resp is DROP else resp.status
        target = req.path + ("?" + req.query_string if req.query_string else "")
        self.log(f"{req.method} {target[:300]} -> {status} ({round((time.monotonic() - t0) * 1000)} ms)")
        if not req.path.startswith("/_control/"):
            headers = {k: (v.split(" ")[0] + " ..." if k.lower() == "authorization" else v)
                       for k, v in req.headers.items()}
            self.requests.append({"at": iso_utc(), "method": req.method, "path": req.path,
                                  "query": req.query_string, "headers": headers,
                                  "body": req.body.decode("utf-8", "replace")[:8000], "status": status})
        return resp

    def _dispatch(self, req):
        path_matched = False
        for method, rx, fn in self.routes:
            m = rx.match(req.path)
            if not m:
                continue
            path_matched = True
            if method != req.method:
                continue
            try:
                return fn(req, *[urllib.parse.unquote(g) for g in m.groups()])
            except HttpError as e:
                return e.response
            except Exception:
                traceback.print_exc()
                return json_response(500, {"error": "emulator bug; see its log"})
        if path_matched:
            return json_response(405, {"error": f"{req.method} not allowed on {req.path}"})
        return json_response(404, {"error": f"no route for {req.path}"})

    def _down_action(self, path):
        with self.lock:
            d = self.down
            if not d or not path.startswith(d.get("pathPrefix") or "/"):
                return None
            if d.get("remaining") is not None:
                d["remaining"] -= 1
                if d["remaining"] <= 0:
                    self.down = None
        if d["mode"] == "drop":
            return DROP
        if d["mode"] == "slow":
            time.sleep(d.get("delayMs", 0) / 1000)
            return None
        return self.unavailable()

    # Deliveries ------------------------------------------------------------------------------

    def next_delivery_id(self):
        with self.lock:
            self._delivery_seq += 1
            return f"{self.name}-d{self._delivery_seq}"

    def start_deliveries(self, deliveries, delay_ms=0):
        """Starts them together (a barrier lines up their first attempts) and keeps them."""
        barrier = threading.Barrier(len(deliveries)) if len(deliveries) > 1 else None
        with self.lock:
            for d in deliveries:
                self.deliveries[d.id] = d
        for d in deliveries:
            threading.Thread(target=d.run, args=(barrier, delay_ms), daemon=True).start()
        return deliveries

    def wait_deliveries(self, deliveries, body):
        """Honours a control request's "wait": "first" (default: every first attempt answered),
        "done" (acknowledged or out of attempts) or false, within waitMs (default 15000)."""
        mode = body.get("wait", "first")
        deadline = time.monotonic() + float(body.get("waitMs", 15000)) / 1000
        for d in deliveries:
            ev = d.done if mode == "done" else d.first_attempt if mode else None
            if ev:
                ev.wait(max(0.0, deadline - time.monotonic()))
        return [d.to_json() for d in deliveries]

    # Shared control API ------------------------------------------------------------------------

    def ctl_config(self, req):
        body = req.json()
        for k, v in body.items():
            if k not in self.config:
                raise bad_request(f"unknown config key {k}; known: {sorted(self.config)}")
            self.config[k] = v
        return json_response(200, self.config)

    def ctl_down(self, req):
        body = req.json()
        mode = str(body.get("mode", "503"))
        if mode not in ("503", "drop", "slow", "up"):
            raise bad_request("mode is one of 503, drop, slow, up")
        with self.lock:
            self.down = None if mode == "up" else {
                "mode": mode, "remaining": body.get("count"), "delayMs": body.get("delayMs", 0),
                "pathPrefix": body.get("pathPrefix")}
        return json_response(200, {"down": self.down})

    def ctl_deliveries(self, req):
        with self.lock:
            ds = list(self.deliveries.values())
        ds = [d for d in ds if all(req.query.get(k) in (None, getattr(d, k)) for k in ("kind", "key"))]
        return json_response(200, {"deliveries": [d.to_json() for d in ds]})

    def _delivery(self, delivery_id):
        with self.lock:
            d = self.deliveries.get(delivery_id)
        if not d:
            raise HttpError(json_response(404, {"error": f"no delivery {delivery_id}"}))
        return d

    def ctl_delivery(self, req, delivery_id):
        return json_response(200, self._delivery(delivery_id).to_json())

    def ctl_redeliver(self, req, delivery_id):
        """The same request again (same body and headers), count times at once."""
        d, body = self._delivery(delivery_id), req.json(allow_empty=True)
        copies = [Delivery(self, d.kind, d.key, d.method, d.url, d.body, d.headers, d.is_ack,
                           bool(body.get("retry", True)), dict(d.meta, redeliveryOf=d.id))
                  for _ in range(int(body.get("count", 1)))]
        self.start_deliveries(copies)
        return json_response(200, {"deliveries": self.wait_deliveries(copies, body)})

    def ctl_requests(self, req):
        prefix = req.query.get("path", "")
        with self.lock:
            items = [r for r in self.requests if r["path"].startswith(prefix)]
        return json_response(200, {"requests": items})

    def ctl_reset(self, req):
        with self.lock:
            self.cancel_event.set()              # stops pending retries
            self.cancel_event = threading.Event()
            self.deliveries.clear()
            self.requests.clear()
            self.down = None
            self.reset_state()
        return json_response(200, {"ok": True})


# --- Server ----------------------------------------------------------------------------------

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client went away: not our problem
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self):
        emu = self.server.emulator
        req = Request(self.command, self.path, self.headers, self._read_body(), self.client_address[0])
        resp = emu.handle(req)
        if resp is DROP:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(resp.status)
        for k, v in resp.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def version_string(self):
        return f"{self.server.emulator.name}-emulator"

    def log_request(self, code="-", size="-"):
        pass  # Emulator.handle logs every request

    def log_message(self, fmt, *args):
        self.server.emulator.log(fmt % args)


def env_default(name, fallback=None):
    return os.environ.get(name) or fallback


def main(emulator_cls):
    """Parses the command line, binds, prints one JSON line (port, URLs and any secret that
    was generated because none was given) and serves until SIGTERM/SIGINT."""
    p = argparse.ArgumentParser(description=emulator_cls.__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="0 picks a free port")
    p.add_argument("--port-file", help="written with the port once the emulator answers")
    p.add_argument("--retry-unit-ms", type=float,
                   default=float(env_default("PROVIDER_RETRY_UNIT_MS", "100")),
                   help="what one provider minute of the retry schedule lasts (default 100 ms)")
    p.add_argument("--timeout-ms", type=float, default=5000, help="timeout of each callback attempt")
    p.add_argument("--max-attempts", type=int, help="callback attempts (default: the provider's)")
    emulator_cls.add_arguments(p)
    args = p.parse_args()
    server = _Server((args.host, args.port), _Handler)
    host, port = server.server_address[:2]
    base = f"http://{host}:{port}"
    emu = emulator_cls(args, base)
    server.emulator = emu
    info = {"provider": emu.name, "port": port, "baseUrl": base, "controlUrl": base + "/_control"}
    info.update(getattr(emu, "generated_secrets", {}))
    print(json.dumps(info), flush=True)
    emu.log(f"listening on {base}")
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{port}\n")
        os.replace(tmp, args.port_file)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    emu.log("stopped")


# --- RSA (PKCS#1 v1.5, SHA-256), for PayPal's SHA256withRSA webhook signatures -----------------

_SMALL_PRIMES = [p for p in range(3, 2000) if all(p % q for q in range(2, int(p ** 0.5) + 1))]
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _probable_prime(n):
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(40):
        x = pow(secrets.randbelow(n - 3) + 2, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _der(tag, content):
    n = len(content)
    length = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + content


def _der_int(v):
    return _der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


class RsaKey:
    def __init__(self, bits=2048):
        e = 65537
        while True:
            p, q = (self._prime(bits // 2) for _ in range(2))
            phi = (p - 1) * (q - 1)
            if p != q and phi % e:
                break
        self.n, self.e, self.d = p * q, e, pow(e, -1, phi)
        self.size = (self.n.bit_length() + 7) // 8

    @staticmethod
    def _prime(bits):
        while True:
            c = secrets.randbits(bits) | (3 << (bits - 2)) | 1
            if _probable_prime(c):
                return c

    def _encode(self, message):
        t = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
        return int.from_bytes(b"\x00\x01" + b"\xff" * (self.size - len(t) - 3) + b"\x00" + t, "big")

    def sign(self, message):
        return pow(self._encode(message), self.d, self.n).to_bytes(self.size, "big")

    def verify(self, message, signature):
        if len(signature) != self.size:
            return False
        return pow(int.from_bytes(signature, "big"), self.e, self.n) == self._encode(message)

    def public_pem(self):
        """SubjectPublicKeyInfo PEM (what `openssl dgst -sha256 -verify` takes)."""
        rsa_oid = bytes.fromhex("06092a864886f70d0101010500")
        spki = _der(0x30, _der(0x30, rsa_oid) +
                    _der(0x03, b"\x00" + _der(0x30, _der_int(self.n) + _der_int(self.e))))
        b64 = base64.b64encode(spki).decode()
        lines = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
        return f"-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n"
