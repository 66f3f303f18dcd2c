#!/usr/bin/env python3
"""PayPal REST emulator: OAuth2 client credentials, Orders v2, captures and refunds, webhooks
signed SHA256withRSA and the verify-webhook-signature API (see README.md, "PayPal")."""
import base64
import copy
import decimal
import json
import re
import secrets
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

sys.dont_write_bytecode = True  # importing common must not leave __pycache__ in the source tree
from common import (Delivery, Emulator, HttpError, Response, RsaKey, add_query, bad_request,
                    env_default, html_response, iso_utc, json_response, main, random_id, redirect)

CURRENCIES = {"AUD", "BRL", "CAD", "CNY", "CZK", "DKK", "EUR", "HKD", "HUF", "ILS", "JPY", "MYR", "MXN",
              "TWD", "NZD", "NOK", "PHP", "PLN", "GBP", "SGD", "SEK", "CHF", "THB", "USD"}
CAPTURE_EVENTS = {"COMPLETED": "PAYMENT.CAPTURE.COMPLETED", "PENDING": "PAYMENT.CAPTURE.PENDING",
                  "DECLINED": "PAYMENT.CAPTURE.DENIED"}
MESSAGES = {400: ("INVALID_REQUEST", "Request is not well-formed, syntactically incorrect, or violates schema."),
            401: ("AUTHENTICATION_FAILURE", "Authentication failed due to invalid authentication credentials or a missing Authorization header."),
            404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
            422: ("UNPROCESSABLE_ENTITY", "The requested action could not be performed, semantically incorrect, or failed business validation.")}


def canonical(event):
    """The bytes the emulator sends and signs (CRC32) for a webhook event."""
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def money(value):
    return f"{value:.2f}"


def pp_error(status, issue=None, description=None, field=None):
    name, message = MESSAGES[status]
    body = {"name": name, "message": message, "debug_id": secrets.token_hex(7)}
    if issue:
        detail = {"issue": issue, "description": description or issue}
        if field:
            detail.update(field=field, location="body")
        body["details"] = [detail]
        body["links"] = [{"href": f"https://developer.paypal.com/docs/api/orders/v2/#error-{issue}",
                          "rel": "information_link", "method": "GET"}]
    return HttpError(json_response(status, body, {"Paypal-Debug-Id": body["debug_id"]}))


def parse_amount(amount, field):
    if not isinstance(amount, dict) or not amount.get("currency_code") or amount.get("value") is None:
        raise pp_error(400, "MISSING_REQUIRED_PARAMETER", "amount needs currency_code and value", field)
    if amount["currency_code"] not in CURRENCIES:
        raise pp_error(422, "CURRENCY_NOT_SUPPORTED", f"Currency code {amount['currency_code']} is not supported", field)
    value = str(amount["value"])
    if not isinstance(amount["value"], str) or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        raise pp_error(400, "INVALID_PARAMETER_SYNTAX", "value is a string like \"12.34\"", field + "/value")
    if "." in value and len(value.split(".")[1]) > 2:
        raise pp_error(422, "DECIMAL_PRECISION", "More than two decimals", field + "/value")
    if decimal.Decimal(value) <= 0:
        raise pp_error(422, "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero", field + "/value")
    return decimal.Decimal(value)


class PayPal(Emulator):
    """PayPal REST emulator (OAuth2, Orders v2, captures, refunds, webhooks)."""
    name = "paypal"
    callback_key = "webhookUrl"
    default_max_attempts = 25  # PayPal retries a webhook up to 25 times (over 3 days)

    def retry_delay_units(self, n):
        return min(2 ** (n - 1), 60)

    @classmethod
    def add_arguments(cls, p):
        p.add_argument("--webhook-url", default=env_default("PAYPAL_WEBHOOK_URL"), help="the merchant's webhook URL")
        p.add_argument("--client-id", default=env_default("PAYPAL_CLIENT_ID"))
        p.add_argument("--client-secret", default=env_default("PAYPAL_CLIENT_SECRET"))
        p.add_argument("--webhook-id", default=env_default("PAYPAL_WEBHOOK_ID"))
        p.add_argument("--rsa-bits", type=int, default=2048)

    def __init__(self, args, base_url):
        super().__init__(args, base_url)
        self.generated_secrets = {}
        for attr, key, make in (("client_id", "clientId", lambda: "A" + secrets.token_urlsafe(60)),
                                ("client_secret", "clientSecret", lambda: "E" + secrets.token_urlsafe(60)),
                                ("webhook_id", "webhookId", lambda: random_id(17))):
            if not getattr(args, attr):
                setattr(args, attr, make())
                self.generated_secrets[key] = getattr(args, attr)
        self.client_id, self.client_secret, self.webhook_id = args.client_id, args.client_secret, args.webhook_id
        self.key = RsaKey(args.rsa_bits)
        self.cert_url = f"{base_url}/v1/notifications/certs/CERT-360caa42-fca2a594-{secrets.token_hex(4)}"
        self.merchant_id = random_id(13)
        self.config.update(webhookUrl=args.webhook_url, tokenTtlS=32400)
        self.idem_lock = threading.Lock()
        self.reset_state()
        r = self.route
        r("POST", "/v1/oauth2/token", self.token)
        r("POST", "/v2/checkout/orders", lambda q: self.idempotent(q, "orders", self.create_order))
        r("GET", "/v2/checkout/orders/([^/]+)", lambda q, i: self.authed(q, lambda: json_response(200, self.render_order(self.order(i)))))
        r("POST", "/v2/checkout/orders/([^/]+)/capture", lambda q, i: self.idempotent(q, "capture:" + i, lambda q: self.capture(q, i)))
        r("GET", "/v2/payments/captures/([^/]+)", lambda q, i: self.authed(q, lambda: json_response(200, self.render_capture(self.find("captures", i)))))
        r("POST", "/v2/payments/captures/([^/]+)/refund", lambda q, i: self.idempotent(q, "refund:" + i, lambda q: self.refund(q, i)))
        r("GET", "/v2/payments/refunds/([^/]+)", lambda q, i: self.authed(q, lambda: json_response(200, self.render_refund(self.find("refunds", i)))))
        r("POST", "/v1/notifications/verify-webhook-signature", self.verify)
        r("GET", "/v1/notifications/webhooks-events/([^/]+)", lambda q, i: self.authed(q, lambda: json_response(200, self.find("events", i))))
        r("GET", "/v1/notifications/certs/[^/]+", lambda q: Response(200, self.key.public_pem(), "application/x-pem-file"))
        r("GET", "/checkoutnow", self.checkout)
        r("POST", "/_control/outcome", self.ctl_outcome)
        r("GET", "/_control/orders", lambda q: json_response(200, {"orders": [self.render_order(o) for o in self.orders.values()]}))
        r("GET", "/_control/orders/([^/]+)", lambda q, i: json_response(200, self.render_order(self.order(i))))
        r("GET", "/_control/events", lambda q: json_response(200, {"events": list(self.events.values())}))
        r("GET", "/_control/verifications", lambda q: json_response(200, {"verifications": self.verifications}))
        r("POST", "/_control/webhooks/send", self.ctl_send)
        r("POST", "/_control/webhooks/resend", self.ctl_resend)
        r("POST", "/_control/captures/([^/]+)/settle", self.ctl_settle)
        r("POST", "/_control/tokens/revoke", self.ctl_revoke)

    def reset_state(self):
        self.tokens, self.orders, self.captures, self.refunds, self.events = {}, {}, {}, {}, {}
        self.idem, self.idem_locks, self.outcomes, self.verifications = {}, {}, {}, []

    def unavailable(self):
        return json_response(503, {"name": "SERVICE_UNAVAILABLE", "message": "Service Unavailable.",
                                   "debug_id": secrets.token_hex(7)})

    # Authentication -----------------------------------------------------------------------------

    def token(self, req):
        auth = req.headers.get("Authorization", "")
        try:
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":") if auth.startswith("Basic ") else ("", "", "")
        except ValueError:
            cid, secret = "", ""
        if not (secrets.compare_digest(cid, self.client_id) and secrets.compare_digest(secret, self.client_secret)):
            return json_response(401, {"error": "invalid_client", "error_description": "Client Authentication failed"})
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8", "replace")), **req.query)
        if form.get("grant_type") != "client_credentials":
            return json_response(400, {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})
        token = "A21AA" + secrets.token_urlsafe(64)
        ttl = int(self.config["tokenTtlS"])
        with self.lock:
            self.tokens[token] = time.monotonic() + ttl
        return json_response(200, {"scope": "https://uri.paypal.com/services/payments/payment "
                                            "https://uri.paypal.com/services/payments/refund",
                                   "access_token": token, "token_type": "Bearer", "app_id": "APP-80W284485P519543T",
                                   "expires_in": ttl, "nonce": iso_utc() + secrets.token_urlsafe(32)})

    def authed(self, req, fn):
        auth = req.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            raise pp_error(401)
        with self.lock:
            expiry = self.tokens.get(auth[7:].strip())
        if not expiry or expiry < time.monotonic():
            return json_response(401, {"error": "invalid_token", "error_description": "Access Token not found in cache"})
        return fn()

    def idempotent(self, req, scope, fn):
        """PayPal-Request-Id: the same id on the same operation answers the first response again."""
        def run():
            rid = req.headers.get("PayPal-Request-Id")
            if not rid:
                return fn(req)
            with self.idem_lock:
                lock = self.idem_locks.setdefault((scope, rid), threading.Lock())
            with lock:
                if (scope, rid) not in self.idem:
                    try:
                        resp = fn(req)
                    except HttpError as e:
                        resp = e.response
                    if resp.status < 500:
                        self.idem[(scope, rid)] = resp
                    return resp
                return self.idem[(scope, rid)]
        return self.authed(req, run)

    # Orders -------------------------------------------------------------------------------------

    def find(self, table, rid):
        with self.lock:
            item = getattr(self, table).get(rid)
        if item is None:
            raise pp_error(404, "INVALID_RESOURCE_ID", "Specified resource ID does not exist. Please check the resource ID and try again.")
        return item

    def order(self, oid):
        return self.find("orders", oid)

    def create_order(self, req):
        body = req.json(error=pp_error(400, "MALFORMED_REQUEST_JSON", "The request JSON is not well formed.").response)
        if body.get("intent") != "CAPTURE":
            raise pp_error(400, "INVALID_PARAMETER_VALUE", "The emulator supports intent CAPTURE", "/intent")
        units = body.get("purchase_units")
        if not isinstance(units, list) or len(units) != 1 or not isinstance(units[0], dict):
            raise pp_error(400, "MISSING_REQUIRED_PARAMETER", "One purchase unit is expected", "/purchase_units")
        unit = units[0]
        value = parse_amount(unit.get("amount"), "/purchase_units/@reference_id=='default'/amount")
        if len(str(unit.get("custom_id", ""))) > 127:
            raise pp_error(400, "INVALID_STRING_LENGTH", "custom_id is at most 127 characters", "/purchase_units/0/custom_id")
        paypal_source = (body.get("payment_source") or {}).get("paypal")
        ctx = (paypal_source or {}).get("experience_context") or body.get("application_context") or {}
        now = iso_utc()
        order = {"id": random_id(17), "intent": "CAPTURE",
                 "status": "PAYER_ACTION_REQUIRED" if paypal_source is not None else "CREATED",
                 "reference_id": unit.get("reference_id", "default"), "currency": unit["amount"]["currency_code"],
                 "value": value, "custom_id": unit.get("custom_id"), "invoice_id": unit.get("invoice_id"),
                 "description": unit.get("description"), "return_url": ctx.get("return_url"),
                 "cancel_url": ctx.get("cancel_url"), "create_time": now, "update_time": now, "captures": [],
                 "payer": None, "buyer_cancelled": False, "request": body}
        with self.lock:
            self.orders[order["id"]] = order
        full = self.render_order(order)
        if "return=representation" in req.headers.get("Prefer", ""):
            return json_response(201, full)
        minimal = {k: full[k] for k in ("id", "status", "links")}
        if paypal_source is not None:
            minimal["payment_source"] = {"paypal": {}}
        return json_response(201, minimal)

    def amount(self, currency, value):
        return {"currency_code": currency, "value": money(value)}

    def render_order(self, o):
        unit = {"reference_id": o["reference_id"], "amount": self.amount(o["currency"], o["value"]),
                "payee": {"email_address": "merchant@metro.example", "merchant_id": self.merchant_id}}
        for k in ("custom_id", "invoice_id", "description"):
            if o.get(k):
                unit[k] = o[k]
        if o["captures"]:
            unit["payments"] = {"captures": [self.render_capture(c, nested=True) for c in o["captures"]]}
        out = {"id": o["id"], "intent": o["intent"], "status": o["status"], "purchase_units": [unit],
               "create_time": o["create_time"], "update_time": o["update_time"]}
        if o["payer"]:
            out["payer"] = o["payer"]
            out["payment_source"] = {"paypal": {"email_address": o["payer"]["email_address"],
                                                "account_id": o["payer"]["payer_id"], "account_status": "VERIFIED",
                                                "name": o["payer"]["name"], "address": {"country_code": "VN"}}}
        self_url = f"{self.base_url}/v2/checkout/orders/{o['id']}"
        links = [{"href": self_url, "rel": "self", "method": "GET"}]
        approve = {"href": f"{self.base_url}/checkoutnow?token={o['id']}", "method": "GET"}
        if o["status"] == "PAYER_ACTION_REQUIRED":
            links.append(dict(approve, rel="payer-action"))
        elif o["status"] in ("CREATED", "APPROVED"):
            if o["status"] == "CREATED":
                links.append(dict(approve, rel="approve"))
            links += [{"href": self_url, "rel": "update", "method": "PATCH"},
                      {"href": self_url + "/capture", "rel": "capture", "method": "POST"}]
        out["links"] = links
        return out

    def render_capture(self, c, nested=False):
        gross = c["value"]
        fee = min(gross, (gross * decimal.Decimal("0.0349") + decimal.Decimal("0.49")).quantize(decimal.Decimal("0.01")))
        out = {"id": c["id"], "status": c["status"], "amount": self.amount(c["currency"], gross), "final_capture": True,
               "seller_protection": {"status": "ELIGIBLE", "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"]},
               "seller_receivable_breakdown": {"gross_amount": self.amount(c["currency"], gross),
                                               "paypal_fee": self.amount(c["currency"], fee),
                                               "net_amount": self.amount(c["currency"], gross - fee)}}
        if c["status"] == "PENDING":
            out["status_details"] = {"reason": "PENDING_REVIEW"}
        for k in ("custom_id", "invoice_id"):
            if c.get(k):
                out[k] = c[k]
        url = f"{self.base_url}/v2/payments/captures/{c['id']}"
        out["links"] = [{"href": url, "rel": "self", "method": "GET"},
                        {"href": url + "/refund", "rel": "refund", "method": "POST"},
                        {"href": f"{self.base_url}/v2/checkout/orders/{c['order_id']}", "rel": "up", "method": "GET"}]
        if not nested:
            out["supplementary_data"] = {"related_ids": {"order_id": c["order_id"]}}
        out.update(create_time=c["create_time"], update_time=c["update_time"])
        return out

    def render_refund(self, r):
        return {"id": r["id"], "status": r["status"], "amount": self.amount(r["currency"], r["value"]),
                "note_to_payer": r.get("note_to_payer"), "create_time": r["create_time"], "update_time": r["create_time"],
                "links": [{"href": f"{self.base_url}/v2/payments/refunds/{r['id']}", "rel": "self", "method": "GET"},
                          {"href": f"{self.base_url}/v2/payments/captures/{r['capture_id']}", "rel": "up", "method": "GET"}]}

    def outcome_for(self, o):
        return dict(self.outcomes.get(o["id"]) or self.outcomes.get(f"custom:{o.get('custom_id')}")
                    or self.outcomes.get("*") or {})

    def checkout(self, req):
        """The buyer at the approve link: approves, cancels or abandons, as scripted."""
        oid = req.query.get("token", "")
        with self.lock:
            o = self.orders.get(oid)
            if not o:
                return html_response(404, "PayPal Checkout", f"No order {oid}")
            outcome = self.outcome_for(o)
            if o["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
                choice = outcome.get("approval", "approve")
                if choice == "abandon":
                    return html_response(200, "PayPal Checkout", f"Log in to pay order {oid}")
                if choice == "cancel":
                    o["buyer_cancelled"] = True
                    if outcome.get("cancelWebhook", True):
                        self.send_event("CHECKOUT.ORDER.CANCELLED", "checkout-order", self.render_order(o),
                                        f"Checkout Order {oid} cancelled by the buyer")
                    if not o["cancel_url"]:
                        return html_response(200, "PayPal Checkout", "Cancelled")
                    return redirect(add_query(o["cancel_url"], {"token": oid}))
                payer_id = random_id(13)
                o.update(status="APPROVED", update_time=iso_utc(), payer={
                    "name": {"given_name": "Lan", "surname": "Nguyen"}, "email_address": "buyer@metro.example",
                    "payer_id": payer_id, "address": {"country_code": "VN"}})
            elif o["status"] != "APPROVED":
                return html_response(200, "PayPal Checkout", f"Order {oid} is {o['status']}")
            if not o["return_url"]:
                return html_response(200, "PayPal Checkout", "Approved")
            return redirect(add_query(o["return_url"], {"token": oid, "PayerID": o["payer"]["payer_id"]}))

    def capture(self, req, oid):
        req.json(allow_empty=True, error=pp_error(400, "MALFORMED_REQUEST_JSON", "The request JSON is not well formed.").response)
        with self.lock:
            o = self.order(oid)
            if o["status"] == "COMPLETED":
                raise pp_error(422, "ORDER_ALREADY_CAPTURED", "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.")
            if o["status"] != "APPROVED":
                raise pp_error(422, "ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment.")
            outcome = self.outcome_for(o)
            status = outcome.get("captureStatus", "COMPLETED")
            if status == "INSTRUMENT_DECLINED":
                raise pp_error(422, "INSTRUMENT_DECLINED", "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.")
            now = iso_utc()
            cap = {"id": random_id(17), "order_id": oid, "status": status, "currency": o["currency"],
                   "value": decimal.Decimal(str(outcome.get("amountOverride") or o["value"])),
                   "custom_id": o.get("custom_id"), "invoice_id": o.get("invoice_id"),
                   "create_time": now, "update_time": now, "refunded": decimal.Decimal(0)}
            o.update(status="COMPLETED", update_time=now)
            o["captures"].append(cap)
            self.captures[cap["id"]] = cap
            rendered = self.render_order(o)
        if outcome.get("webhook", True):
            self.send_event(CAPTURE_EVENTS[status], "capture", self.render_capture(cap), f"Payment {status.lower()} for $ {money(cap['value'])} {cap['currency']}",
                            int(outcome.get("webhookRepeat", 1)), float(outcome.get("webhookDelayMs", 0)))
        return json_response(201, rendered)

    def refund(self, req, cid):
        body = req.json(allow_empty=True, error=pp_error(400, "MALFORMED_REQUEST_JSON", "The request JSON is not well formed.").response)
        with self.lock:
            cap = self.find("captures", cid)
            if cap["status"] == "REFUNDED":
                raise pp_error(422, "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded")
            if cap["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
                raise pp_error(422, "REFUND_NOT_ALLOWED", f"A {cap['status']} capture cannot be refunded")
            remaining = cap["value"] - cap["refunded"]
            value = remaining
            if "amount" in body:
                value = parse_amount(body["amount"], "/amount")
                if body["amount"]["currency_code"] != cap["currency"]:
                    raise pp_error(422, "REFUND_CAPTURE_CURRENCY_MISMATCH", "Refund must be in the capture's currency", "/amount/currency_code")
                if value > remaining:
                    raise pp_error(422, "REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the capture amount that has not yet been refunded.")
            status = self.outcome_for(self.orders[cap["order_id"]]).get("refundStatus", "COMPLETED")
            r = {"id": random_id(17), "capture_id": cid, "status": status, "currency": cap["currency"], "value": value,
                 "note_to_payer": body.get("note_to_payer"), "create_time": iso_utc()}
            self.refunds[r["id"]] = r
            if status in ("COMPLETED", "PENDING"):
                cap["refunded"] += value
                cap["status"] = "REFUNDED" if cap["refunded"] == cap["value"] else "PARTIALLY_REFUNDED"
                cap["update_time"] = r["create_time"]
        if status == "COMPLETED":
            self.send_event("PAYMENT.CAPTURE.REFUNDED", "refund", self.render_refund(r), f"A $ {money(value)} {r['currency']} capture payment was refunded")
        full = self.render_refund(r)
        if "return=representation" in req.headers.get("Prefer", ""):
            return json_response(201, full)
        return json_response(201, {k: full[k] for k in ("id", "status", "links")})

    # Webhooks -----------------------------------------------------------------------------------

    def send_event(self, event_type, resource_type, resource, summary, repeat=1, delay_ms=0, tamper=None, retry=True):
        eid = f"WH-{random_id(17)}-{random_id(17)}"
        event = {"id": eid, "event_version": "1.0", "create_time": iso_utc(), "resource_type": resource_type,
                 "resource_version": "2.0", "event_type": event_type, "summary": summary, "resource": resource,
                 "links": [{"href": f"{self.base_url}/v1/notifications/webhooks-events/{eid}", "rel": "self", "method": "GET"},
                           {"href": f"{self.base_url}/v1/notifications/webhooks-events/{eid}/resend", "rel": "resend", "method": "POST"}]}
        with self.lock:
            self.events[eid] = event
        return self.start_deliveries([self.transmission(event, tamper, retry) for _ in range(repeat)], delay_ms)

    def transmission(self, event, tamper=None, retry=True):
        """A signed POST of event: SHA256withRSA over transmission_id|transmission_time|webhook_id|crc32(body)."""
        body = canonical(event)
        tid, ttime = str(uuid.uuid1()), iso_utc()
        webhook_id = self.webhook_id if tamper != "webhook_id" else random_id(17)
        sig = base64.b64encode(self.key.sign(f"{tid}|{ttime}|{webhook_id}|{zlib.crc32(body)}".encode())).decode()
        if tamper == "body":
            forged = copy.deepcopy(event)
            if isinstance(forged["resource"].get("amount"), dict):
                forged["resource"]["amount"]["value"] = "999.99"
            else:
                forged["summary"] += " (forged)"
            body = canonical(forged)
        elif tamper == "signature":
            sig = base64.b64encode(secrets.token_bytes(self.key.size)).decode()
        headers = {"Content-Type": "application/json", "User-Agent": "PayPal/AUHD-214.0-58004204",
                   "PAYPAL-TRANSMISSION-ID": tid, "PAYPAL-TRANSMISSION-TIME": ttime, "PAYPAL-TRANSMISSION-SIG": sig,
                   "PAYPAL-CERT-URL": self.cert_url if tamper != "cert_url" else "https://attacker.example/cert.pem",
                   "PAYPAL-AUTH-ALGO": "SHA256withRSA"}
        return Delivery(self, "webhook", event["id"], "POST", self.config["webhookUrl"], body, headers, retry=retry,
                        meta={"eventType": event["event_type"], "tamper": tamper})

    def verify(self, req):
        def run():
            body = req.json(error=pp_error(400, "MALFORMED_REQUEST_JSON").response)
            fields = ("auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time", "webhook_id")
            missing = [f for f in fields if not isinstance(body.get(f), str) or not body[f]]
            missing += [] if isinstance(body.get("webhook_event"), dict) else ["webhook_event"]
            if missing:
                debug = secrets.token_hex(7)
                return json_response(400, {"name": "VALIDATION_ERROR", "message": "Invalid request - see details", "debug_id": debug,
                                           "details": [{"field": f, "location": "body", "issue": "Required field is missing or invalid"} for f in missing]},
                                     {"Paypal-Debug-Id": debug})
            event = body["webhook_event"]
            message = f"{body['transmission_id']}|{body['transmission_time']}|{body['webhook_id']}|{zlib.crc32(canonical(event))}"
            try:
                sig = base64.b64decode(body["transmission_sig"], validate=True)
            except ValueError:
                sig = b""
            reasons = [name for name, ok in (
                ("auth_algo", body["auth_algo"] == "SHA256withRSA"), ("cert_url", body["cert_url"] == self.cert_url),
                ("webhook_id", body["webhook_id"] == self.webhook_id),
                ("signature", self.key.verify(message.encode(), sig))) if not ok]
            status = "FAILURE" if reasons else "SUCCESS"
            with self.lock:
                self.verifications.append({"at": iso_utc(), "transmissionId": body["transmission_id"], "eventId": event.get("id"),
                                           "eventType": event.get("event_type"), "status": status, "failed": reasons})
            return json_response(200, {"verification_status": status})
        return self.authed(req, run)

    # Control API --------------------------------------------------------------------------------

    def ctl_outcome(self, req):
        body = req.json()
        key = body.pop("orderId", None) or (f"custom:{body.pop('customId')}" if body.get("customId") else "*")
        body.pop("customId", None)
        with self.lock:
            if body.pop("clear", False):
                self.outcomes.pop(key, None)
            else:
                self.outcomes[key] = body
        return json_response(200, {"key": key, "outcome": self.outcomes.get(key)})

    def ctl_send(self, req):
        """Sends an event about an order or capture, optionally tampered or with a patched resource."""
        body = req.json()
        event_type = body.get("eventType", "")
        with self.lock:
            if body.get("captureId"):
                cap = self.find("captures", body["captureId"])
            elif body.get("orderId"):
                o = self.order(body["orderId"])
                cap = o["captures"][-1] if o["captures"] else None
            else:
                raise bad_request("name an orderId or a captureId")
            if event_type.startswith("CHECKOUT.ORDER."):
                resource_type, resource = "checkout-order", self.render_order(self.order(body.get("orderId") or cap["order_id"]))
            elif event_type == "PAYMENT.CAPTURE.REFUNDED":
                refunds = [r for r in self.refunds.values() if cap and r["capture_id"] == cap["id"]]
                if not refunds:
                    raise bad_request("the capture has no refund")
                resource_type, resource = "refund", self.render_refund(refunds[-1])
            elif event_type.startswith("PAYMENT.CAPTURE.") and cap:
                resource_type, resource = "capture", self.render_capture(cap)
            else:
                raise bad_request("eventType is CHECKOUT.ORDER.* or PAYMENT.CAPTURE.* (a capture is needed)")
        resource.update(body.get("resourcePatch") or {})
        ds = self.send_event(event_type, resource_type, resource, body.get("summary", event_type), int(body.get("repeat", 1)),
                             float(body.get("delayMs", 0)), body.get("tamper"), bool(body.get("retry", True)))
        return json_response(200, {"eventId": ds[0].key, "deliveries": self.wait_deliveries(ds, body)})

    def ctl_resend(self, req):
        """PayPal's resend: the stored event in new transmissions (fresh id, time and signature)."""
        body = req.json()
        event = self.find("events", str(body.get("eventId")))
        ds = [self.transmission(event, body.get("tamper"), bool(body.get("retry", True))) for _ in range(int(body.get("count", 1)))]
        self.start_deliveries(ds)
        return json_response(200, {"deliveries": self.wait_deliveries(ds, body)})

    def ctl_settle(self, req, cid):
        """A PENDING capture clears (COMPLETED) or is denied (DECLINED), with its webhook."""
        body = req.json(allow_empty=True)
        status = body.get("status", "COMPLETED")
        if status not in ("COMPLETED", "DECLINED"):
            raise bad_request("status is COMPLETED or DECLINED")
        with self.lock:
            cap = self.find("captures", cid)
            if cap["status"] != "PENDING":
                raise bad_request(f"capture {cid} is {cap['status']}, not PENDING")
            cap.update(status=status, update_time=iso_utc())
        ds = self.send_event(CAPTURE_EVENTS[status], "capture", self.render_capture(cap), f"Payment {status.lower()}")
        return json_response(200, {"capture": self.render_capture(cap), "deliveries": self.wait_deliveries(ds, body)})

    def ctl_revoke(self, req):
        with self.lock:
            n = len(self.tokens)
            self.tokens.clear()
        return json_response(200, {"revoked": n})


if __name__ == "__main__":
    main(PayPal)
