#!/usr/bin/env python3
"""End-to-end self-test of the provider emulators.

Starts VNPay, PayPal, Sepay and SMS with scripts/providers.sh (fast retry schedule), plays the
merchant with a tiny HTTP server (the only fake here: it signs and verifies independently of
the emulators, following README.md), and checks each protocol both ways: signatures,
idempotency, scripted outcomes, retries, concurrency and downtime. Exit status 0 = all passed.

    python3 test/providers/selftest.py [-k NAME] [--keep]
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GMT7 = datetime.timezone(datetime.timedelta(hours=7))
RETRY_UNIT_MS = 20
FAILURES = []


def check(cond, label):
    print(f"  {'ok  ' if cond else 'FAIL'} {label}", flush=True)
    if not cond:
        FAILURES.append(label)
    return cond


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)


def call(method, url, body=None, headers=None, timeout=10):
    """One HTTP exchange (no redirects followed)."""
    u = urllib.parse.urlsplit(url)
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, (u.path or "/") + ("?" + u.query if u.query else ""), body=body, headers=headers)
        r = conn.getresponse()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def wait_for(fn, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > end:
            return value
        time.sleep(0.02)


# --- Signatures, written from README.md (independently of the emulators) ----------------------

def vnp_hash(secret, params):
    data = "&".join(f"{k}={urllib.parse.quote_plus(v)}" for k, v in sorted(params.items())
                    if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and v != "")
    return hmac.new(secret.encode(), data.encode(), hashlib.sha512).hexdigest()


def vnp_pipe_hash(secret, values):
    return hmac.new(secret.encode(), "|".join(values).encode(), hashlib.sha512).hexdigest()


QUERYDR_RESPONSE = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode", "vnp_TxnRef",
                    "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo", "vnp_TransactionType",
                    "vnp_TransactionStatus", "vnp_OrderInfo", "vnp_PromotionCode", "vnp_PromotionAmount")
REFUND_RESPONSE = QUERYDR_RESPONSE[:13]


def gmt7(delta_minutes=0):
    return (datetime.datetime.now(GMT7) + datetime.timedelta(minutes=delta_minutes)).strftime("%Y%m%d%H%M%S")


# --- The fake merchant -----------------------------------------------------------------------

class Merchant:
    """What the payment service will do at its callback endpoints, minimally."""

    def __init__(self):
        self.env = {}
        self.lock = threading.Lock()
        self.log = {"ipn": [], "return": [], "paypal": [], "sepay": []}
        self.script = {"ipn": [], "paypal": [], "sepay": []}   # forced answers, consumed in order
        self.orders = {}           # VNPay TxnRef -> {"amount", "final"}
        self.token = None

    def scripted(self, kind):
        with self.lock:
            action = self.script[kind].pop(0) if self.script[kind] else None
        if action and action[0] == "sleep":
            time.sleep(action[1])
            return None
        return action

    def vnpay_ipn(self, q):
        ok = hmac.compare_digest(vnp_hash(self.env["METRO_VNPAY_HASH_SECRET"], q).lower(), q.get("vnp_SecureHash", "").lower())
        forced = self.scripted("ipn")
        with self.lock:
            order = self.orders.get(q.get("vnp_TxnRef"))
            if forced:
                answer = forced
            elif not ok:
                answer = (200, {"RspCode": "97", "Message": "Invalid Checksum"})
            elif not order:
                answer = (200, {"RspCode": "01", "Message": "Order not found"})
            elif str(order["amount"] * 100) != q.get("vnp_Amount"):
                answer = (200, {"RspCode": "04", "Message": "Invalid amount"})
            elif order["final"]:
                answer = (200, {"RspCode": "02", "Message": "Order already confirmed"})
            else:
                order["final"] = q.get("vnp_ResponseCode")
                answer = (200, {"RspCode": "00", "Message": "Confirm Success"})
            self.log["ipn"].append({"params": q, "hashOk": ok, "answer": answer[1]})
        return answer

    def paypal_token(self, force=False):
        if force or not self.token:
            basic = base64.b64encode(f"{self.env['METRO_PAYPAL_CLIENT_ID']}:{self.env['METRO_PAYPAL_CLIENT_SECRET']}".encode()).decode()
            r = call("POST", self.env["METRO_PAYPAL_API_BASE"] + "/v1/oauth2/token", b"grant_type=client_credentials",
                     {"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"})
            self.token = r.json["access_token"]
        return self.token

    def paypal_webhook(self, headers, raw):
        forced = self.scripted("paypal")
        if forced:
            return forced
        event = json.loads(raw)
        body = {"auth_algo": headers.get("paypal-auth-algo"), "cert_url": headers.get("paypal-cert-url"),
                "transmission_id": headers.get("paypal-transmission-id"),
                "transmission_sig": headers.get("paypal-transmission-sig"),
                "transmission_time": headers.get("paypal-transmission-time"),
                "webhook_id": self.env["METRO_PAYPAL_WEBHOOK_ID"], "webhook_event": event}
        r = call("POST", self.env["METRO_PAYPAL_API_BASE"] + "/v1/notifications/verify-webhook-signature", body,
                 {"Authorization": "Bearer " + self.paypal_token()})
        if r.status == 401:
            r = call("POST", self.env["METRO_PAYPAL_API_BASE"] + "/v1/notifications/verify-webhook-signature", body,
                     {"Authorization": "Bearer " + self.paypal_token(force=True)})
        status = r.json.get("verification_status") if r.status == 200 else f"HTTP {r.status}"
        with self.lock:
            self.log["paypal"].append({"event": event, "headers": headers, "raw": raw, "verification": status})
        return (200, {}) if status == "SUCCESS" else (400, {"error": "invalid signature"})

    def sepay_webhook(self, headers, raw):
        expected = "Apikey " + self.env["METRO_SEPAY_API_KEY"]
        authorized = hmac.compare_digest(headers.get("authorization", "").encode(), expected.encode())
        forced = self.scripted("sepay")
        with self.lock:
            self.log["sepay"].append({"payload": json.loads(raw), "authorization": headers.get("authorization"),
                                      "authorized": authorized})
        if forced:
            return forced
        return (200, {"success": True}) if authorized else (401, {"success": False, "error": "unauthorized"})

    def serve(self):
        merchant = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
                if u.path == "/v1/webhooks/vnpay/ipn":
                    self.answer(*merchant.vnpay_ipn(q))
                elif u.path == "/v1/payments/vnpay/return":
                    ok = vnp_hash(merchant.env["METRO_VNPAY_HASH_SECRET"], q) == q.get("vnp_SecureHash", "").lower()
                    with merchant.lock:
                        merchant.log["return"].append({"params": q, "hashOk": ok})
                    self.answer(200, {"hashOk": ok, "responseCode": q.get("vnp_ResponseCode")})
                else:
                    self.answer(200, {"page": u.path, "query": q})  # PayPal return/cancel pages

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fn = {"/v1/webhooks/paypal": merchant.paypal_webhook, "/v1/webhooks/sepay": merchant.sepay_webhook}.get(self.path)
                self.answer(*(fn(headers, raw) if fn else (404, {})))

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], ConnectionError):  # timeouts tests hang up on us
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"


M = Merchant()


def ctl(provider, method, path, body=None):
    r = call(method, M.env[f"PROVIDER_{provider.upper()}_CONTROL"] + path, body)
    assert r.status == 200, f"control {method} {path}: {r.status} {r.body[:300]}"
    return r.json


def deliveries(provider, key):
    return ctl(provider, "GET", "/deliveries?" + urllib.parse.urlencode({"key": key}))["deliveries"]


def all_done(provider, key, count=1):
    return wait_for(lambda: (lambda ds: ds if len(ds) >= count and all(d["done"] for d in ds) else None)(deliveries(provider, key)))


# --- VNPay -----------------------------------------------------------------------------------

def vnpay_url(txn, vnd, register=True, mutate=None, upper=False, **extra):
    env = M.env
    p = {"vnp_Version": "2.1.0", "vnp_Command": "pay", "vnp_TmnCode": env["METRO_VNPAY_TMN_CODE"],
         "vnp_Amount": str(vnd * 100), "vnp_CurrCode": "VND", "vnp_TxnRef": txn,
         "vnp_OrderInfo": f"Payment for ticket {txn}: #1 (x2) & more", "vnp_OrderType": "other", "vnp_Locale": "vn",
         "vnp_ReturnUrl": env["METRO_PUBLIC_BASE_URL"] + "/v1/payments/vnpay/return", "vnp_IpAddr": "127.0.0.1",
         "vnp_CreateDate": gmt7(), "vnp_ExpireDate": gmt7(15)}
    p.update(extra)
    if mutate:
        mutate(p)
    h = vnp_hash(env["METRO_VNPAY_HASH_SECRET"], p)
    p["vnp_SecureHash"] = h.upper() if upper else h
    if register:
        with M.lock:
            M.orders[txn] = {"amount": vnd, "final": None}
    return env["METRO_VNPAY_PAY_URL"] + "?" + urllib.parse.urlencode(p), p


def ipns(txn):
    with M.lock:
        return [x for x in M.log["ipn"] if x["params"].get("vnp_TxnRef") == txn]


def test_vnpay_pay_ipn_return():
    url, p = vnpay_url("T-HAPPY-1", 12000, upper=True)
    r = call("GET", url)
    check(r.status == 302, "the pay page answers 302")
    loc = r.headers.get("location", "")
    check(loc.startswith(p["vnp_ReturnUrl"] + "?"), "it redirects to vnp_ReturnUrl")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
    check(vnp_hash(M.env["METRO_VNPAY_HASH_SECRET"], q) == q["vnp_SecureHash"], "the return parameters are signed (sorted, quote_plus, HMAC-SHA512)")
    check(q["vnp_ResponseCode"] == "00" and q["vnp_TransactionStatus"] == "00", "result 00/00")
    check(q["vnp_Amount"] == "1200000" and q["vnp_TxnRef"] == "T-HAPPY-1", "amount (VND x 100) and TxnRef echoed")
    check(set(q) >= {"vnp_BankCode", "vnp_BankTranNo", "vnp_CardType", "vnp_OrderInfo", "vnp_PayDate", "vnp_TmnCode", "vnp_TransactionNo"},
          "all result fields present")
    got = ipns("T-HAPPY-1")
    check(len(got) == 1 and got[0]["hashOk"] and got[0]["answer"]["RspCode"] == "00", "the IPN came before the redirect, signed, answered 00")
    check(got and got[0]["params"] == q, "IPN and return carry the same parameters")
    ds = all_done("vnpay", "T-HAPPY-1")
    check(ds and ds[0]["acknowledged"] and len(ds[0]["attempts"]) == 1 and ds[0]["attempts"][0]["json"]["RspCode"] == "00",
          "the emulator recorded the merchant's JSON answer and stopped")
    r = call("GET", loc)
    check(r.status == 200 and r.json["hashOk"], "the merchant's return page verifies the hash")
    order = ctl("vnpay", "GET", "/orders/T-HAPPY-1")
    check(order["status"] == "paid" and order["amount"] == 1200000 and order["returnUrl"] == p["vnp_ReturnUrl"], "the order is stored as paid")


def test_vnpay_rejections():
    secret_cases = [
        ("97", lambda p: p.update(vnp_SecureHash="0" * 128), "a bad hash"),
        ("03", lambda p: p.pop("vnp_ReturnUrl"), "a missing vnp_ReturnUrl"),
        ("02", lambda p: p.update(vnp_TmnCode="WRONG123"), "another vnp_TmnCode"),
        ("03", lambda p: p.update(vnp_Amount="12000"), "an amount not multiplied by 100 (120 VND)"),
        ("11", lambda p: p.update(vnp_CreateDate=gmt7(-30), vnp_ExpireDate=gmt7(-15)), "an expired order"),
    ]
    for i, (code, mutate, what) in enumerate(secret_cases):
        txn = f"T-REJ-{i}"
        if code == "97":
            url, p = vnpay_url(txn, 12000)
            p["vnp_SecureHash"] = "0" * 128
            url = M.env["METRO_VNPAY_PAY_URL"] + "?" + urllib.parse.urlencode(p)
        else:
            url, _ = vnpay_url(txn, 12000, mutate=mutate)
        r = call("GET", url)
        loc = r.headers.get("location", "")
        check(r.status == 302 and loc.endswith(f"Error.html?code={code}"), f"{what} -> error page code {code}")
    page = call("GET", urllib.parse.urljoin(M.env["METRO_VNPAY_PAY_URL"], "/paymentv2/Payment/Error.html?code=97"))
    check(page.status == 200 and b"code=97" in page.body, "the error page shows the code")
    time.sleep(0.1)
    check(not any(ipns(f"T-REJ-{i}") for i in range(len(secret_cases))), "no IPN for rejected requests")
    check(len(ctl("vnpay", "GET", "/rejections")["rejections"]) >= len(secret_cases), "rejections are listed with their reason")


def test_vnpay_outcomes():
    for txn, code, status in (("T-CANCEL", "24", "cancelled"), ("T-NOMONEY", "51", "failed")):
        ctl("vnpay", "POST", "/outcome", {"txnRef": txn, "responseCode": code})
        url, _ = vnpay_url(txn, 20000)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(call("GET", url).headers["location"]).query))
        check(q["vnp_ResponseCode"] == code and q["vnp_TransactionStatus"] == "02" and q["vnp_TransactionNo"] == "0",
              f"outcome {code}: ResponseCode {code}, TransactionStatus 02, no transaction number")
        got = ipns(txn)
        check(len(got) == 1 and got[0]["params"]["vnp_ResponseCode"] == code and got[0]["hashOk"], f"outcome {code}: signed IPN sent")
        check(ctl("vnpay", "GET", f"/orders/{txn}")["status"] == status, f"outcome {code}: order {status}")
    ctl("vnpay", "POST", "/config", {"maxAttempts": 3})
    try:
        ctl("vnpay", "POST", "/outcome", {"txnRef": "T-AMOUNT", "amountOverride": 100})
        url, _ = vnpay_url("T-AMOUNT", 20000)
        call("GET", url)
        ds = all_done("vnpay", "T-AMOUNT")
        check(ds and [a["json"]["RspCode"] for a in ds[0]["attempts"]] == ["04"] * 3 and not ds[0]["acknowledged"],
              "amountOverride: signed wrong amount, merchant answers 04, retried until maxAttempts")
    finally:
        ctl("vnpay", "POST", "/config", {"maxAttempts": 11})


def test_vnpay_retries():
    M.script["ipn"] += [(500, {"error": "boom"}), (200, {"RspCode": "99", "Message": "Unknown error"})]
    url, _ = vnpay_url("T-RETRY", 15000)
    t0 = time.monotonic()
    call("GET", url)
    ds = all_done("vnpay", "T-RETRY")
    attempts = ds[0]["attempts"] if ds else []
    check([a["status"] for a in attempts] == [500, 200, 200] and ds[0]["acknowledged"], "HTTP 500, then RspCode 99, then 00: three attempts")
    check(time.monotonic() - t0 >= 2 * 5 * RETRY_UNIT_MS / 1000, "retries wait 5 provider minutes each")
    ctl("vnpay", "POST", "/config", {"timeoutMs": 300})
    try:
        M.script["ipn"].append(("sleep", 0.6))
        url, _ = vnpay_url("T-SLOW", 15000)
        call("GET", url)
        ds = all_done("vnpay", "T-SLOW")
        check(ds and "timed out" in (ds[0]["attempts"][0]["error"] or "") and ds[0]["acknowledged"],
              "an IPN without answer in time is retried")
    finally:
        ctl("vnpay", "POST", "/config", {"timeoutMs": 5000})


def test_vnpay_concurrency():
    ctl("vnpay", "POST", "/outcome", {"txnRef": "T-DUP", "ipnRepeat": 4})
    url, _ = vnpay_url("T-DUP", 30000)
    call("GET", url)
    all_done("vnpay", "T-DUP", 4)
    answers = sorted(x["answer"]["RspCode"] for x in ipns("T-DUP"))
    check(answers == ["00", "02", "02", "02"], f"ipnRepeat 4: one 00 and three 02 ({answers})")
    r = ctl("vnpay", "POST", "/ipn/replay", {"txnRef": "T-DUP", "count": 5, "wait": "done"})
    check(len(r["deliveries"]) == 5 and all(d["acknowledged"] for d in r["deliveries"]), "replay 5 at once: all acknowledged")
    check(len(ipns("T-DUP")) == 9, "the merchant received all 9 IPNs")
    r = ctl("vnpay", "POST", "/ipn/replay", {"txnRef": "T-DUP", "tamper": "hash", "retry": False, "wait": "done"})
    check(r["deliveries"][0]["attempts"][0]["json"]["RspCode"] == "97", "a tampered replay gets 97 from the merchant")


def test_vnpay_abandon_late_payment():
    ctl("vnpay", "POST", "/outcome", {"txnRef": "T-LATE", "abandon": True})
    url, _ = vnpay_url("T-LATE", 12000)
    r = call("GET", url)
    check(r.status == 200 and not ipns("T-LATE"), "abandon: the payment page stays, no IPN")
    check(ctl("vnpay", "GET", "/orders/T-LATE")["status"] == "pending", "abandon: order pending")
    r = ctl("vnpay", "POST", "/pay", {"txnRef": "T-LATE", "responseCode": "00"})
    check(r["result"]["vnp_ResponseCode"] == "00" and r["deliveries"][0]["attempts"][0]["json"]["RspCode"] == "00",
          "a late payment sends its IPN")


def vnpay_api(fields, body):
    body["vnp_SecureHash"] = vnp_pipe_hash(M.env["METRO_VNPAY_HASH_SECRET"], [body.get(f, "") for f in fields])
    return call("POST", M.env["METRO_VNPAY_API_URL"], body)


def signed_answer(r, fields):
    j = r.json
    return r.status == 200 and vnp_pipe_hash(M.env["METRO_VNPAY_HASH_SECRET"], [str(j.get(f, "")) for f in fields]) == j["vnp_SecureHash"]


QUERYDR = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef", "vnp_TransactionDate",
           "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
REFUND = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType", "vnp_TxnRef",
          "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate", "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr",
          "vnp_OrderInfo")
REQ_SEQ = iter(range(1, 10 ** 6))


def querydr(txn, date, request_id=None):
    return vnpay_api(QUERYDR, {"vnp_RequestId": request_id or f"Q{next(REQ_SEQ)}", "vnp_Version": "2.1.0", "vnp_Command": "querydr",
                               "vnp_TmnCode": M.env["METRO_VNPAY_TMN_CODE"], "vnp_TxnRef": txn, "vnp_TransactionDate": date,
                               "vnp_CreateDate": gmt7(), "vnp_IpAddr": "127.0.0.1", "vnp_OrderInfo": f"Query {txn}"})


def refund(txn, date, ttype, amount):
    return vnpay_api(REFUND, {"vnp_RequestId": f"R{next(REQ_SEQ)}", "vnp_Version": "2.1.0", "vnp_Command": "refund",
                              "vnp_TmnCode": M.env["METRO_VNPAY_TMN_CODE"], "vnp_TransactionType": ttype, "vnp_TxnRef": txn,
                              "vnp_Amount": str(amount), "vnp_TransactionNo": "", "vnp_TransactionDate": date,
                              "vnp_CreateBy": "admin", "vnp_CreateDate": gmt7(), "vnp_IpAddr": "127.0.0.1",
                              "vnp_OrderInfo": f"Refund {txn}"})


def test_vnpay_querydr_refund():
    url, p = vnpay_url("T-API", 50000)
    call("GET", url)
    date = p["vnp_CreateDate"]
    r = querydr("T-API", date, "REQ-ONCE")
    check(signed_answer(r, QUERYDR_RESPONSE), "querydr: the answer is signed over the documented '|' fields")
    check(r.json["vnp_ResponseCode"] == "00" and r.json["vnp_TransactionStatus"] == "00" and r.json["vnp_Amount"] == "5000000",
          "querydr: 00, paid, amount")
    check(querydr("T-API", date, "REQ-ONCE").json["vnp_ResponseCode"] == "94", "querydr: a repeated vnp_RequestId -> 94")
    check(querydr("T-API", gmt7(-60)).json["vnp_ResponseCode"] == "91", "querydr: another vnp_TransactionDate -> 91")
    bad = {"vnp_RequestId": "BAD1", "vnp_Version": "2.1.0", "vnp_Command": "querydr", "vnp_TmnCode": M.env["METRO_VNPAY_TMN_CODE"],
           "vnp_TxnRef": "T-API", "vnp_TransactionDate": date, "vnp_CreateDate": gmt7(), "vnp_IpAddr": "127.0.0.1",
           "vnp_OrderInfo": "x", "vnp_SecureHash": "ab" * 64}
    r = call("POST", M.env["METRO_VNPAY_API_URL"], bad)
    check(r.json["vnp_ResponseCode"] == "97" and signed_answer(r, QUERYDR_RESPONSE), "querydr: a bad checksum -> 97 (signed answer)")
    r = refund("T-API", date, "03", 2000000)
    check(signed_answer(r, REFUND_RESPONSE) and r.json["vnp_ResponseCode"] == "00" and r.json["vnp_TransactionStatus"] == "05",
          "refund: partial 03 -> 00, status 05, signed")
    check(refund("T-API", date, "02", 5000000).json["vnp_ResponseCode"] == "03", "refund: a full refund after a partial one -> 03")
    check(refund("T-API", date, "03", 3000000).json["vnp_ResponseCode"] == "00", "refund: the remainder -> 00")
    check(refund("T-API", date, "03", 100).json["vnp_ResponseCode"] == "94", "refund: nothing left -> 94")
    cancelled = ctl("vnpay", "GET", "/orders/T-CANCEL") if any(o["txnRef"] == "T-CANCEL" for o in ctl("vnpay", "GET", "/orders")["orders"]) else None
    if cancelled:
        check(refund("T-CANCEL", cancelled["createDate"], "02", cancelled["amount"]).json["vnp_ResponseCode"] == "95",
              "refund: an unpaid order -> 95")
    url, p = vnpay_url("T-API-2", 50000)
    call("GET", url)
    ctl("vnpay", "POST", "/outcome", {"txnRef": "T-API-2", "refundResponseCode": "99"})
    check(refund("T-API-2", p["vnp_CreateDate"], "02", 5000000).json["vnp_ResponseCode"] == "99", "refund: a scripted 99")


def test_vnpay_down():
    url = M.env["METRO_VNPAY_API_URL"]
    ctl("vnpay", "POST", "/down", {"mode": "503", "count": 2})
    codes = [call("POST", url, {}).status for _ in range(3)]
    check(codes == [503, 503, 200], f"down 503 x2, then up ({codes})")
    ctl("vnpay", "POST", "/down", {"mode": "drop", "count": 1})
    try:
        call("POST", url, {})
        dropped = False
    except (http.client.HTTPException, ConnectionError):
        dropped = True
    check(dropped and call("POST", url, {}).status == 200, "drop: the connection closes without an answer, once")
    ctl("vnpay", "POST", "/down", {"mode": "slow", "delayMs": 300, "count": 1})
    t0 = time.monotonic()
    call("POST", url, {})
    check(time.monotonic() - t0 >= 0.3, "slow: the answer waits delayMs")


# --- PayPal ----------------------------------------------------------------------------------

def pp(method, path, body=None, token=None, headers=None):
    h = {"Authorization": "Bearer " + (token or M.paypal_token())}
    h.update(headers or {})
    return call(method, M.env["METRO_PAYPAL_API_BASE"] + path, body, h)


def new_order(custom_id, value="1.23", request_id=None, style="application_context"):
    base = M.env["METRO_PUBLIC_BASE_URL"]
    ctx = {"return_url": f"{base}/pay/return", "cancel_url": f"{base}/pay/cancel"}
    body = {"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "USD", "value": value}, "custom_id": custom_id}]}
    if style == "payment_source":
        body["payment_source"] = {"paypal": {"experience_context": ctx}}
    else:
        body["application_context"] = ctx
    return pp("POST", "/v2/checkout/orders", body, headers={"PayPal-Request-Id": request_id} if request_id else None)


def link(order, rel):
    return next((x["href"] for x in order["links"] if x["rel"] == rel), None)


def webhooks(pred):
    with M.lock:
        return [x for x in M.log["paypal"] if pred(x["event"])]


def test_paypal_oauth():
    base = M.env["METRO_PAYPAL_API_BASE"]
    bad = base64.b64encode(f"{M.env['METRO_PAYPAL_CLIENT_ID']}:nope".encode()).decode()
    r = call("POST", base + "/v1/oauth2/token", b"grant_type=client_credentials", {"Authorization": "Basic " + bad})
    check(r.status == 401 and r.json["error"] == "invalid_client", "a wrong secret -> 401 invalid_client")
    good = base64.b64encode(f"{M.env['METRO_PAYPAL_CLIENT_ID']}:{M.env['METRO_PAYPAL_CLIENT_SECRET']}".encode()).decode()
    r = call("POST", base + "/v1/oauth2/token", b"", {"Authorization": "Basic " + good})
    check(r.status == 400, "no grant_type -> 400")
    token = M.paypal_token(force=True)
    check(token.startswith("A21AA"), "client credentials -> a Bearer access_token")
    check(call("POST", base + "/v2/checkout/orders", {}).status == 401, "no token -> 401")
    check(pp("GET", "/v2/checkout/orders/X", token="bogus").json.get("error") == "invalid_token", "an unknown token -> 401 invalid_token")
    ctl("paypal", "POST", "/tokens/revoke")
    check(pp("GET", "/v2/checkout/orders/X", token=token).status == 401, "a revoked token -> 401")
    ctl("paypal", "POST", "/config", {"tokenTtlS": 1})
    short = M.paypal_token(force=True)
    time.sleep(1.1)
    check(pp("GET", "/v2/checkout/orders/X", token=short).status == 401, "an expired token -> 401")
    ctl("paypal", "POST", "/config", {"tokenTtlS": 32400})
    M.paypal_token(force=True)
    ctl("paypal", "POST", "/down", {"mode": "503", "count": 1, "pathPrefix": "/v1/oauth2/"})
    r = call("POST", base + "/v1/oauth2/token", b"grant_type=client_credentials", {"Authorization": "Basic " + good})
    check(r.status == 503 and M.paypal_token(force=True), "downtime on the token endpoint, then back")


def test_paypal_orders_capture():
    r1 = new_order("pay-1", request_id="REQ-1")
    r2 = new_order("pay-1", request_id="REQ-1")
    r3 = new_order("pay-1", request_id="REQ-2")
    o = r1.json
    check(r1.status == 201 and o["status"] == "CREATED" and link(o, "approve"), "create -> 201 CREATED with an approve link")
    check(r2.json["id"] == o["id"] and r3.json["id"] != o["id"], "PayPal-Request-Id: the same id answers the same order")
    results = []
    threads = [threading.Thread(target=lambda: results.append(new_order("pay-c", request_id="REQ-C").json["id"])) for _ in range(5)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    check(len(set(results)) == 1 and len(results) == 5, "5 concurrent creates with one PayPal-Request-Id: one order")
    ps = new_order("pay-ps", style="payment_source").json
    check(ps["status"] == "PAYER_ACTION_REQUIRED" and link(ps, "payer-action"), "payment_source.paypal -> PAYER_ACTION_REQUIRED + payer-action")
    bad = pp("POST", "/v2/checkout/orders", {"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "USD", "value": "1.234"}}]})
    check(bad.status == 422 and bad.json["details"][0]["issue"] == "DECIMAL_PRECISION", "3 decimals -> 422 DECIMAL_PRECISION")
    bad = pp("POST", "/v2/checkout/orders", {"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "VND", "value": "12000"}}]})
    check(bad.status == 422 and bad.json["details"][0]["issue"] == "CURRENCY_NOT_SUPPORTED", "VND -> 422 CURRENCY_NOT_SUPPORTED")
    r = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {})
    check(r.status == 422 and r.json["details"][0]["issue"] == "ORDER_NOT_APPROVED", "capture before approval -> 422 ORDER_NOT_APPROVED")
    r = call("GET", link(o, "approve"))
    loc = urllib.parse.urlsplit(r.headers.get("location", ""))
    q = dict(urllib.parse.parse_qsl(loc.query))
    check(r.status == 302 and loc.path == "/pay/return" and q.get("token") == o["id"] and q.get("PayerID"), "approve -> 302 return_url?token&PayerID")
    check(pp("GET", f"/v2/checkout/orders/{o['id']}").json["status"] == "APPROVED", "the order is APPROVED")
    c1 = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {}, headers={"PayPal-Request-Id": "CAP-1"})
    cap = c1.json["purchase_units"][0]["payments"]["captures"][0]
    check(c1.status == 201 and c1.json["status"] == "COMPLETED" and cap["status"] == "COMPLETED", "capture -> 201 order COMPLETED, capture COMPLETED")
    check(cap["amount"] == {"currency_code": "USD", "value": "1.23"} and cap["custom_id"] == "pay-1", "the capture carries amount and custom_id")
    c2 = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {}, headers={"PayPal-Request-Id": "CAP-1"})
    check(c2.status == 201 and c2.json["purchase_units"][0]["payments"]["captures"][0]["id"] == cap["id"], "capture again, same request id: same answer")
    c3 = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {})
    check(c3.status == 422 and c3.json["details"][0]["issue"] == "ORDER_ALREADY_CAPTURED", "capture again -> 422 ORDER_ALREADY_CAPTURED")
    got = wait_for(lambda: webhooks(lambda e: e["resource"].get("id") == cap["id"]))
    check(got and got[0]["event"]["event_type"] == "PAYMENT.CAPTURE.COMPLETED" and got[0]["verification"] == "SUCCESS",
          "PAYMENT.CAPTURE.COMPLETED webhook, verified SUCCESS through the API")
    check(got and got[0]["event"]["resource"]["supplementary_data"]["related_ids"]["order_id"] == o["id"], "the event names the order")
    if got and shutil.which("openssl"):
        h = got[0]["headers"]
        pem = call("GET", h["paypal-cert-url"]).body
        msg = f"{h['paypal-transmission-id']}|{h['paypal-transmission-time']}|{M.env['METRO_PAYPAL_WEBHOOK_ID']}|{__import__('zlib').crc32(got[0]['raw'])}"
        with tempfile.TemporaryDirectory() as d:
            for name, data in (("pub.pem", pem), ("msg", msg.encode()), ("sig", base64.b64decode(h["paypal-transmission-sig"]))):
                with open(os.path.join(d, name), "wb") as f:
                    f.write(data)
            out = subprocess.run(["openssl", "dgst", "-sha256", "-verify", f"{d}/pub.pem", "-signature", f"{d}/sig", f"{d}/msg"],
                                 capture_output=True, text=True)
        check("Verified OK" in out.stdout, "openssl verifies PAYPAL-TRANSMISSION-SIG (SHA256withRSA) with the key at PAYPAL-CERT-URL")
    ds = all_done("paypal", got[0]["event"]["id"]) if got else None
    check(ds and ds[0]["acknowledged"] and len(ds[0]["attempts"]) == 1, "the merchant's 200 ends the delivery")
    return o, cap


def test_paypal_webhook_security():
    o, cap = getattr(test_paypal_orders_capture, "result", None) or test_paypal_orders_capture()
    ctl("paypal", "POST", "/config", {"maxAttempts": 2})
    try:
        for tamper in ("body", "signature", "webhook_id", "cert_url"):
            r = ctl("paypal", "POST", "/webhooks/send", {"orderId": o["id"], "eventType": "PAYMENT.CAPTURE.COMPLETED",
                                                          "tamper": tamper, "wait": "done"})
            d = r["deliveries"][0]
            check([a["status"] for a in d["attempts"]] == [400, 400] and not d["acknowledged"],
                  f"tampered {tamper}: verification FAILURE, merchant 400, retried")
    finally:
        ctl("paypal", "POST", "/config", {"maxAttempts": 25})
    v = ctl("paypal", "GET", "/verifications")["verifications"]
    check(sum(1 for x in v if x["status"] == "FAILURE") >= 8, "failed verifications are recorded with what failed")
    r = ctl("paypal", "POST", "/webhooks/send", {"orderId": o["id"], "eventType": "PAYMENT.CAPTURE.COMPLETED", "wait": "done",
                                                 "resourcePatch": {"amount": {"currency_code": "USD", "value": "0.01"}}})
    got = webhooks(lambda e: e["id"] == r["eventId"])
    check(got and got[0]["verification"] == "SUCCESS" and got[0]["event"]["resource"]["amount"]["value"] == "0.01",
          "resourcePatch: a genuinely signed event with another amount")
    body = {"auth_algo": "SHA256withRSA", "cert_url": got[0]["headers"]["paypal-cert-url"] if got else "",
            "transmission_id": got[0]["headers"]["paypal-transmission-id"] if got else "", "transmission_sig": got[0]["headers"]["paypal-transmission-sig"] if got else "",
            "transmission_time": got[0]["headers"]["paypal-transmission-time"] if got else "", "webhook_id": "SOMEOTHERWEBHOOK",
            "webhook_event": got[0]["event"] if got else {}}
    check(pp("POST", "/v1/notifications/verify-webhook-signature", body).json["verification_status"] == "FAILURE",
          "verify with another webhook_id -> FAILURE")
    r = pp("POST", "/v1/notifications/verify-webhook-signature", {"webhook_id": "x"})
    check(r.status == 400 and r.json["name"] == "VALIDATION_ERROR", "verify without the fields -> 400 VALIDATION_ERROR")
    r = ctl("paypal", "POST", "/webhooks/resend", {"eventId": got[0]["event"]["id"], "count": 3, "wait": "done"})
    tids = {d["requestHeaders"]["PAYPAL-TRANSMISSION-ID"] for d in r["deliveries"]}
    check(len(tids) == 3 and all(d["acknowledged"] for d in r["deliveries"]), "resend x3 at once: new transmissions, all verified")
    d = r["deliveries"][0]["id"]
    r = ctl("paypal", "POST", f"/deliveries/{d}/redeliver", {"count": 2, "wait": "done"})
    check(all(x["acknowledged"] for x in r["deliveries"]), "redeliver the same transmission twice: still verifies")
    M.script["paypal"] += [(503, {}), (503, {})]
    r = ctl("paypal", "POST", "/webhooks/send", {"orderId": o["id"], "eventType": "CHECKOUT.ORDER.COMPLETED", "wait": "done"})
    check([a["status"] for a in r["deliveries"][0]["attempts"]] == [503, 503, 200], "merchant down twice: retried, then delivered")


def test_paypal_outcomes():
    ctl("paypal", "POST", "/outcome", {"customId": "pay-cancel", "approval": "cancel"})
    o = new_order("pay-cancel").json
    r = call("GET", link(o, "approve"))
    check(r.status == 302 and "/pay/cancel?token=" + o["id"] in r.headers["location"], "cancel -> 302 cancel_url?token")
    got = wait_for(lambda: webhooks(lambda e: e["event_type"] == "CHECKOUT.ORDER.CANCELLED" and e["resource"]["id"] == o["id"]))
    check(got and got[0]["verification"] == "SUCCESS", "CHECKOUT.ORDER.CANCELLED webhook")
    check(pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {}).status == 422, "capture after cancel -> 422")
    ctl("paypal", "POST", "/outcome", {"customId": "pay-pending", "captureStatus": "PENDING"})
    o = new_order("pay-pending").json
    call("GET", link(o, "approve"))
    cap = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {}).json["purchase_units"][0]["payments"]["captures"][0]
    check(cap["status"] == "PENDING" and cap["status_details"]["reason"] == "PENDING_REVIEW", "captureStatus PENDING")
    check(wait_for(lambda: webhooks(lambda e: e["event_type"] == "PAYMENT.CAPTURE.PENDING" and e["resource"]["id"] == cap["id"])),
          "PAYMENT.CAPTURE.PENDING webhook")
    ctl("paypal", "POST", f"/captures/{cap['id']}/settle", {"status": "COMPLETED", "wait": "done"})
    check(webhooks(lambda e: e["event_type"] == "PAYMENT.CAPTURE.COMPLETED" and e["resource"]["id"] == cap["id"]), "settle -> PAYMENT.CAPTURE.COMPLETED")
    check(pp("GET", f"/v2/payments/captures/{cap['id']}").json["status"] == "COMPLETED", "the capture is COMPLETED")
    ctl("paypal", "POST", "/outcome", {"customId": "pay-declined", "captureStatus": "DECLINED"})
    o = new_order("pay-declined").json
    call("GET", link(o, "approve"))
    cap = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {}).json["purchase_units"][0]["payments"]["captures"][0]
    check(cap["status"] == "DECLINED" and wait_for(lambda: webhooks(lambda e: e["event_type"] == "PAYMENT.CAPTURE.DENIED" and e["resource"]["id"] == cap["id"])),
          "captureStatus DECLINED -> PAYMENT.CAPTURE.DENIED")
    ctl("paypal", "POST", "/outcome", {"customId": "pay-instr", "captureStatus": "INSTRUMENT_DECLINED"})
    o = new_order("pay-instr").json
    call("GET", link(o, "approve"))
    r = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {})
    check(r.status == 422 and r.json["details"][0]["issue"] == "INSTRUMENT_DECLINED", "INSTRUMENT_DECLINED -> 422")
    ctl("paypal", "POST", "/outcome", {"customId": "pay-abandon", "approval": "abandon"})
    o = new_order("pay-abandon").json
    check(call("GET", link(o, "approve")).status == 200 and pp("GET", f"/v2/checkout/orders/{o['id']}").json["status"] == "CREATED",
          "abandon: no redirect, order stays CREATED")


def test_paypal_refunds():
    o = new_order("pay-refund", value="10.00").json
    call("GET", link(o, "approve"))
    cap = pp("POST", f"/v2/checkout/orders/{o['id']}/capture", {}).json["purchase_units"][0]["payments"]["captures"][0]
    path = f"/v2/payments/captures/{cap['id']}/refund"
    r1 = pp("POST", path, {"amount": {"currency_code": "USD", "value": "4.00"}}, headers={"PayPal-Request-Id": "RF-1"})
    r2 = pp("POST", path, {"amount": {"currency_code": "USD", "value": "4.00"}}, headers={"PayPal-Request-Id": "RF-1"})
    check(r1.status == 201 and r1.json["status"] == "COMPLETED" and r2.json["id"] == r1.json["id"], "partial refund -> COMPLETED; same request id, same refund")
    check(pp("GET", f"/v2/payments/captures/{cap['id']}").json["status"] == "PARTIALLY_REFUNDED", "the capture is PARTIALLY_REFUNDED")
    r = pp("POST", path, {"amount": {"currency_code": "USD", "value": "7.00"}})
    check(r.status == 422 and r.json["details"][0]["issue"] == "REFUND_AMOUNT_EXCEEDED", "more than what is left -> 422 REFUND_AMOUNT_EXCEEDED")
    r = pp("POST", path, {}, headers={"Prefer": "return=representation"})
    check(r.status == 201 and r.json["amount"]["value"] == "6.00", "refund without amount: the rest (6.00)")
    r = pp("POST", path, {})
    check(r.status == 422 and r.json["details"][0]["issue"] == "CAPTURE_FULLY_REFUNDED", "then 422 CAPTURE_FULLY_REFUNDED")
    check(wait_for(lambda: len(webhooks(lambda e: e["event_type"] == "PAYMENT.CAPTURE.REFUNDED" and cap["id"] in json.dumps(e["resource"]["links"]))) == 2),
          "two PAYMENT.CAPTURE.REFUNDED webhooks")


# --- Sepay -----------------------------------------------------------------------------------

def sepay_received(tid):
    with M.lock:
        return [x for x in M.log["sepay"] if x["payload"]["id"] == tid]


def test_sepay_webhooks():
    r = ctl("sepay", "POST", "/transfer", {"content": "Payment for ticket 0f8fad5b-d9cb-469f-a165-70867728950e", "transferAmount": 36000})
    t = r["transfer"]
    got = sepay_received(t["id"])
    check(len(got) == 1 and got[0]["authorization"] == "Apikey " + M.env["METRO_SEPAY_API_KEY"], "POST with Authorization: Apikey <key>")
    p = got[0]["payload"] if got else {}
    check(set(p) == {"id", "gateway", "transactionDate", "accountNumber", "subAccount", "code", "content", "transferType",
                     "transferAmount", "accumulated", "referenceCode", "description"}, "every Sepay field")
    check(p.get("transferType") == "in" and p.get("transferAmount") == 36000 and p.get("accountNumber") == M.env["METRO_SEPAY_ACCOUNT"]
          and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", p.get("transactionDate", "")), "values and date format")
    d = r["deliveries"][0]
    check(d["acknowledged"] and d["answeredSuccess"] and len(d["attempts"]) == 1, "200 {success:true} ends the delivery")
    ctl("sepay", "POST", "/config", {"maxAttempts": 3})
    try:
        for opt in ("wrongKey", "noAuth"):
            r = ctl("sepay", "POST", "/transfer", {"content": "x", "transferAmount": 1000, opt: True, "wait": "done"})
            d = r["deliveries"][0]
            check([a["status"] for a in d["attempts"]] == [401] * 3 and not d["acknowledged"], f"{opt}: merchant 401, retried up to maxAttempts")
    finally:
        ctl("sepay", "POST", "/config", {"maxAttempts": 8})
    M.script["sepay"] += [(500, {}), (500, {})]
    t0 = time.monotonic()
    r = ctl("sepay", "POST", "/transfer", {"content": "retry me", "transferAmount": 2000, "wait": "done"})
    check([a["status"] for a in r["deliveries"][0]["attempts"]] == [500, 500, 200], "merchant 500 twice: retried, then delivered")
    check(time.monotonic() - t0 >= 2 * RETRY_UNIT_MS / 1000, "Fibonacci delays (1, 1, ... minutes)")
    r = ctl("sepay", "POST", "/transfer", {"content": "dup", "transferAmount": 3000, "repeat": 5, "wait": "done"})
    tid = r["transfer"]["id"]
    check(len(sepay_received(tid)) == 5 and all(d["acknowledged"] for d in r["deliveries"]), "repeat 5 at once: 5 deliveries of one id")
    r = ctl("sepay", "POST", f"/deliveries/{r['deliveries'][0]['id']}/redeliver", {"count": 2, "wait": "done"})
    check(len(sepay_received(tid)) == 7, "redeliver: the same body again")
    r = ctl("sepay", "POST", "/transfer", {"id": tid, "content": "dup", "transferAmount": 3000, "transferType": "out"})
    check(len(sepay_received(tid)) == 8 and sepay_received(tid)[-1]["payload"]["transferType"] == "out", "a chosen id and an outgoing transfer")
    ctl("sepay", "POST", "/config", {"timeoutMs": 300})
    try:
        M.script["sepay"].append(("sleep", 0.6))
        r = ctl("sepay", "POST", "/transfer", {"content": "slow", "transferAmount": 4000, "wait": "done"})
        check(r["deliveries"][0]["attempts"][0]["error"] and r["deliveries"][0]["acknowledged"], "a timeout is retried")
    finally:
        ctl("sepay", "POST", "/config", {"timeoutMs": 5000})


def test_sepay_qr():
    base = M.env["METRO_SEPAY_QR_BASE"]
    r = call("GET", f"{base}/img?" + urllib.parse.urlencode({"bank": "MBBank", "acc": M.env["METRO_SEPAY_ACCOUNT"], "amount": 36000,
                                                              "des": "Payment for ticket 0f8fad5b-d9cb-469f-a165-70867728950e"}))
    check(r.status == 200 and r.headers["content-type"] == "image/png" and r.body.startswith(b"\x89PNG\r\n\x1a\n"), "/img answers a PNG")
    check(call("GET", f"{base}/img?amount=1").status == 400, "/img without bank and acc -> 400")
    check(ctl("sepay", "GET", "/qr")["requests"][0]["des"].startswith("Payment for ticket"), "QR requests are recorded")
    ctl("sepay", "POST", "/down", {"mode": "503", "count": 1})
    check(call("GET", f"{base}/img?bank=MB&acc=1").status == 503 and call("GET", f"{base}/img?bank=MB&acc=1").status == 200, "downtime, then up")


def sms_send(body, key=None):
    return call("POST", M.env["METRO_SMS_API_URL"], body,
                {"Authorization": f"Bearer {key or M.env['METRO_SMS_API_KEY']}"} if key != "" else {})


def test_sms():
    env = M.env
    check(env["METRO_SMS_API_URL"].endswith("/v1/messages") and env["METRO_SMS_SENDER"] == "METRO", "SMS env written")
    ok = {"to": "+84901234567", "from": env["METRO_SMS_SENDER"], "text": "Mã OTP của bạn là 482913"}
    r = sms_send(ok)
    check(r.status == 201 and re.fullmatch(r"SM[0-9a-f]{32}", r.json["id"]) and r.json["status"] == "queued"
          and r.json["to"] == ok["to"], "send -> 201 SM<hex> queued")
    check(r.json["segments"] == 1 and sms_send(dict(ok, text="ạ" * 71)).json["segments"] == 2
          and sms_send(dict(ok, text="a" * 161)).json["segments"] == 2, "segments: UCS-2 70/67, GSM-7 160/153")
    listed = ctl("sms", "GET", "/messages?to=%2B84901234567")["messages"]
    check(listed and listed[0]["id"] == r.json["id"] and listed[0]["text"] == ok["text"], "/_control/messages?to= lists it")
    check(call("GET", env["METRO_SMS_API_URL"] + "/" + r.json["id"],
               headers={"Authorization": "Bearer " + env["METRO_SMS_API_KEY"]}).json["text"] == ok["text"], "GET /v1/messages/{id}")
    check(sms_send(ok, key="wrong").status == 401 and sms_send(ok, key="").json == {"error": "unauthorized"},
          "wrong or missing key -> 401 unauthorized")
    check(all(sms_send(dict(ok, to=t)).json.get("error") == "invalid_to" for t in ("12345678", "+1234567890123456", "+84 90", "")),
          "bad numbers -> 400 invalid_to")
    check(sms_send(dict(ok, text="x" * 1601)).status == 400 and sms_send(dict(ok, text="x" * 1600)).status == 201,
          "text over 1600 characters -> 400")
    check(sms_send(dict(ok, text="")).json.get("error") == "invalid_text", "empty text -> 400 invalid_text")
    check(call("POST", env["METRO_SMS_API_URL"], b"nope", {"Authorization": "Bearer " + env["METRO_SMS_API_KEY"]}).status == 400,
          "a body that is not JSON -> 400")
    ctl("sms", "POST", "/outcome", {"to": "+84900000429", "status": 429, "count": 1})
    check(sms_send(dict(ok, to="+84900000429")).status == 429 and sms_send(dict(ok, to="+84900000429")).status == 201,
          "a scripted 429, once")
    ctl("sms", "POST", "/down", {"mode": "503", "count": 1})
    check(sms_send(ok).status == 503 and sms_send(ok).status == 201, "downtime, then up")


def test_reset():
    for p in ("vnpay", "paypal", "sepay", "sms"):
        ctl(p, "POST", "/reset")
        check(not ctl(p, "GET", "/deliveries")["deliveries"] and not ctl(p, "GET", "/requests")["requests"], f"{p}: reset clears the state")
    check(call("GET", M.env["PROVIDER_VNPAY_CONTROL"] + "/nothing").status == 404, "unknown paths -> 404")


TESTS = [test_vnpay_pay_ipn_return, test_vnpay_rejections, test_vnpay_outcomes, test_vnpay_retries, test_vnpay_concurrency,
         test_vnpay_abandon_late_payment, test_vnpay_querydr_refund, test_vnpay_down, test_paypal_oauth,
         test_paypal_orders_capture, test_paypal_webhook_security, test_paypal_outcomes, test_paypal_refunds,
         test_sepay_webhooks, test_sepay_qr, test_sms, test_reset]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", help="run only the tests whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the state directory (logs)")
    args = ap.parse_args()
    base = M.serve()
    state = tempfile.mkdtemp(prefix="metro-providers-")
    script = os.path.join(ROOT, "scripts", "providers.sh")
    env = dict(os.environ, METRO_PUBLIC_BASE_URL=base, PROVIDER_RETRY_UNIT_MS=str(RETRY_UNIT_MS))
    try:
        subprocess.run(["bash", script, "start", state], env=env, check=True)
        with open(os.path.join(state, "env")) as f:
            M.env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        for t in TESTS:
            if args.k and args.k not in t.__name__:
                continue
            print(t.__name__, flush=True)
            try:
                t.result = t()
            except Exception:
                traceback.print_exc()
                FAILURES.append(f"{t.__name__} raised")
    finally:
        subprocess.run(["bash", script, "stop", state], env=env)
        if args.keep or FAILURES:
            print(f"logs kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)
    print(f"\n{len(FAILURES)} failure(s)" + "".join(f"\n  - {f}" for f in FAILURES) if FAILURES else "\nall provider emulator checks passed")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
