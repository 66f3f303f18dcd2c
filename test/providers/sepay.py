#!/usr/bin/env python3
"""Sepay emulator: bank-transfer webhooks (Authorization: Apikey) sent on command, with Sepay's
retries, and the VietQR image endpoint of qr.sepay.vn (see README.md, "Sepay")."""
import hashlib
import json
import secrets
import struct
import sys
import zlib

sys.dont_write_bytecode = True  # importing common must not leave __pycache__ in the source tree
from common import (Delivery, Emulator, Response, bad_request, env_default, json_response, main,
                    now_gmt7, random_id)

FIBONACCI_MINUTES = (1, 1, 2, 3, 5, 8, 13)


def sepay_acknowledged(status, body):
    """Sepay counts any 2xx as delivered (and retries anything else)."""
    return 200 <= status < 300


def answered_success(body):
    try:
        return json.loads(body).get("success") is True
    except (ValueError, AttributeError):
        return False


def qr_png(seed, modules=29, scale=4, border=4):
    """A QR-looking (not decodable) grayscale PNG derived from seed: a valid image for demos."""
    bits = []
    block = seed
    while len(bits) < modules * modules:
        block = hashlib.sha256(block).digest()
        bits += [(byte >> i) & 1 for byte in block for i in range(8)]

    def dark(x, y):
        for fx, fy in ((0, 0), (modules - 7, 0), (0, modules - 7)):   # the three finder squares
            if fx <= x < fx + 7 and fy <= y < fy + 7:
                dx, dy = x - fx, y - fy
                return dx in (0, 6) or dy in (0, 6) or (2 <= dx <= 4 and 2 <= dy <= 4)
            if fx - 1 <= x <= fx + 7 and fy - 1 <= y <= fy + 7:
                return False
        return bits[y * modules + x] == 1

    size = (modules + 2 * border) * scale
    rows = []
    for py in range(size):
        my = py // scale - border
        row = bytearray(b"\x00")  # filter type 0
        for px in range(size):
            mx = px // scale - border
            row.append(0 if 0 <= mx < modules and 0 <= my < modules and dark(mx, my) else 255)
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


class Sepay(Emulator):
    """Sepay emulator (bank-transfer webhooks, VietQR images)."""
    name = "sepay"
    callback_key = "webhookUrl"
    default_max_attempts = 8  # the first call and 7 retries

    def retry_delay_units(self, n):
        return FIBONACCI_MINUTES[min(n, len(FIBONACCI_MINUTES)) - 1]

    @classmethod
    def add_arguments(cls, p):
        p.add_argument("--webhook-url", default=env_default("SEPAY_WEBHOOK_URL"), help="the merchant's webhook URL")
        p.add_argument("--api-key", default=env_default("SEPAY_API_KEY"))
        p.add_argument("--bank", default=env_default("SEPAY_BANK", "MBBank"), help="the gateway (bank) name")
        p.add_argument("--account", default=env_default("SEPAY_ACCOUNT", "0123456789"), help="the account number")

    def __init__(self, args, base_url):
        super().__init__(args, base_url)
        self.generated_secrets = {}
        if not args.api_key:
            args.api_key = self.generated_secrets["apiKey"] = random_id(32)
        self.api_key, self.bank, self.account = args.api_key, args.bank, args.account
        self.config["webhookUrl"] = args.webhook_url
        self.reset_state()
        self.route("GET", "/img", self.img)
        self.route("POST", "/_control/transfer", self.ctl_transfer)
        self.route("GET", "/_control/transfers", lambda r: json_response(200, {"transfers": self.transfers}))
        self.route("GET", "/_control/qr", lambda r: json_response(200, {"requests": self.qr_requests}))

    def reset_state(self):
        self.transfers, self.qr_requests = [], []
        self.next_id, self.balance = 90000 + secrets.randbelow(10000), 0

    def unavailable(self):
        return json_response(503, {"status": 503, "error": "Service Unavailable"})

    def img(self, req):
        q = req.query
        missing = [k for k in ("bank", "acc") if not q.get(k)]
        with self.lock:
            self.qr_requests.append(dict(q))
        if missing:
            return Response(400, f"missing {', '.join(missing)}", "text/plain")
        return Response(200, qr_png(req.query_string.encode()), "image/png", {"Cache-Control": "public, max-age=86400"})

    def ctl_transfer(self, req):
        """A transfer lands on the account: Sepay posts it to the merchant."""
        body = req.json()
        content, amount = body.get("content"), body.get("transferAmount")
        kind = body.get("transferType", "in")
        if not isinstance(content, str) or not isinstance(amount, int) or amount <= 0 or kind not in ("in", "out"):
            raise bad_request("content (string), transferAmount (integer > 0) and transferType in|out are needed")
        with self.lock:
            if body.get("id") is None:
                self.next_id += 1
            self.balance += amount if kind == "in" else -amount
            payload = {
                "id": body.get("id", self.next_id), "gateway": body.get("gateway", self.bank),
                "transactionDate": now_gmt7().strftime("%Y-%m-%d %H:%M:%S"),
                "accountNumber": body.get("accountNumber", self.account), "subAccount": body.get("subAccount"),
                "code": body.get("code"), "content": content, "transferType": kind, "transferAmount": amount,
                "accumulated": self.balance, "referenceCode": body.get("referenceCode", "FT" + random_id(14, "0123456789")),
                "description": body.get("description", f"BankAPINotify {content}")}
            self.transfers.append(payload)
        key = body.get("apiKey") or (self.api_key if not body.get("wrongKey") else "WRONG" + random_id(27))
        headers = {"Content-Type": "application/json"}
        if not body.get("noAuth"):
            headers["Authorization"] = f"Apikey {key}"
        raw = json.dumps(payload, ensure_ascii=False).encode()
        ds = [Delivery(self, "webhook", str(payload["id"]), "POST", self.config["webhookUrl"], raw, headers,
                       sepay_acknowledged, bool(body.get("retry", True)),
                       {"wrongKey": bool(body.get("wrongKey")), "noAuth": bool(body.get("noAuth"))})
              for _ in range(int(body.get("repeat", 1)))]
        self.start_deliveries(ds, float(body.get("delayMs", 0)))
        out = self.wait_deliveries(ds, body)
        for d in out:
            d["answeredSuccess"] = any(a["body"] and answered_success(a["body"]) for a in d["attempts"])
        return json_response(200, {"transfer": payload, "deliveries": out})


if __name__ == "__main__":
    main(Sepay)
