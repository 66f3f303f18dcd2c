#!/usr/bin/env python3
"""VNPay sandbox emulator: PAY 2.1.0 (payment page, return URL, IPN) and the merchant_webapi
querydr/refund API, with VNPay's HMAC-SHA512 signatures (see README.md, "VNPay")."""
import datetime
import hashlib
import hmac
import json
import re
import secrets
import sys
import urllib.parse

sys.dont_write_bytecode = True  # importing common must not leave __pycache__ in the source tree
from common import (GMT7, Delivery, Emulator, HttpError, add_query, bad_request, env_default,
                    html_response, json_response, main, now_gmt7, random_id, redirect)

PAY_PATH = "/paymentv2/vpcpay.html"
ERROR_PATH = "/paymentv2/Payment/Error.html"
API_PATH = "/merchant_webapi/api/transaction"

PAY_REQUIRED = ("vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_Amount", "vnp_CreateDate",
                "vnp_CurrCode", "vnp_IpAddr", "vnp_Locale", "vnp_OrderInfo", "vnp_OrderType",
                "vnp_ReturnUrl", "vnp_TxnRef", "vnp_ExpireDate", "vnp_SecureHash")
# The '|'-joined fields of the API checksums, in VNPay's documented order.
QUERYDR_REQUEST = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TxnRef",
                   "vnp_TransactionDate", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
QUERYDR_RESPONSE = ("vnp_ResponseId", "vnp_Command", "vnp_ResponseCode", "vnp_Message", "vnp_TmnCode",
                    "vnp_TxnRef", "vnp_Amount", "vnp_BankCode", "vnp_PayDate", "vnp_TransactionNo",
                    "vnp_TransactionType", "vnp_TransactionStatus", "vnp_OrderInfo",
                    "vnp_PromotionCode", "vnp_PromotionAmount")
REFUND_REQUEST = ("vnp_RequestId", "vnp_Version", "vnp_Command", "vnp_TmnCode", "vnp_TransactionType",
                  "vnp_TxnRef", "vnp_Amount", "vnp_TransactionNo", "vnp_TransactionDate",
                  "vnp_CreateBy", "vnp_CreateDate", "vnp_IpAddr", "vnp_OrderInfo")
REFUND_RESPONSE = QUERYDR_RESPONSE[:13]

PAGE_ERRORS = {"01": "Giao dich da ton tai (TxnRef already used)", "02": "Merchant khong hop le (vnp_TmnCode)",
               "03": "Du lieu gui sang khong dung dinh dang", "11": "Giao dich da het han cho thanh toan",
               "97": "Chu ky khong hop le (invalid checksum)"}
ORDER_STATUS = {"00": "paid", "07": "suspicious", "24": "cancelled"}


def hash_data(params):
    """The signed string: every non-empty vnp_* field but the hash itself, sorted by key,
    key=quote_plus(value), joined with '&'."""
    return "&".join(f"{k}={urllib.parse.quote_plus(str(v))}" for k, v in sorted(params.items())
                    if k.startswith("vnp_") and k not in ("vnp_SecureHash", "vnp_SecureHashType") and str(v) != "")


def sign(secret, params):
    return hmac.new(secret.encode(), hash_data(params).encode(), hashlib.sha512).hexdigest()


def sign_fields(secret, fields, values):
    return hmac.new(secret.encode(), "|".join(str(values.get(f, "")) for f in fields).encode(),
                    hashlib.sha512).hexdigest()


def same_hash(expected, given):
    return hmac.compare_digest(expected.lower(), str(given or "").lower())


def parse_date(s):
    try:
        return datetime.datetime.strptime(str(s), "%Y%m%d%H%M%S").replace(tzinfo=GMT7) if len(str(s)) == 14 else None
    except ValueError:
        return None


def fmt_date(t):
    return t.astimezone(GMT7).strftime("%Y%m%d%H%M%S")


def ipn_acknowledged(status, body):
    """VNPay stops calling the IPN URL once the merchant answers RspCode 00 or 02."""
    try:
        return 200 <= status < 300 and json.loads(body).get("RspCode") in ("00", "02")
    except (ValueError, AttributeError):
        return False


class VNPay(Emulator):
    """VNPay sandbox emulator (PAY 2.1.0, IPN, querydr, refund)."""
    name = "vnpay"
    callback_key = "ipnUrl"
    default_max_attempts = 11  # the first call and 10 retries

    def retry_delay_units(self, n):
        return 5  # VNPay retries the IPN every 5 minutes

    @classmethod
    def add_arguments(cls, p):
        p.add_argument("--ipn-url", default=env_default("VNPAY_IPN_URL"), help="the merchant's IPN URL")
        p.add_argument("--tmn-code", default=env_default("VNPAY_TMN_CODE"))
        p.add_argument("--hash-secret", default=env_default("VNPAY_HASH_SECRET"))

    def __init__(self, args, base_url):
        super().__init__(args, base_url)
        self.generated_secrets = {}
        if not args.tmn_code:
            args.tmn_code = self.generated_secrets["tmnCode"] = random_id(8)
        if not args.hash_secret:
            args.hash_secret = self.generated_secrets["hashSecret"] = random_id(32)
        self.tmn_code, self.secret = args.tmn_code, args.hash_secret
        self.config["ipnUrl"] = args.ipn_url
        self.txn_seq = 14000000 + secrets.randbelow(1000000)
        self.reset_state()
        self.route("GET", PAY_PATH, self.pay)
        self.route("GET", ERROR_PATH, self.error_page)
        self.route("POST", API_PATH, self.api)
        self.route("POST", "/_control/outcome", self.ctl_outcome)
        self.route("GET", "/_control/orders", lambda r: json_response(200, {"orders": list(self.orders.values())}))
        self.route("GET", "/_control/orders/([^/]+)", self.ctl_order)
        self.route("GET", "/_control/rejections", lambda r: json_response(200, {"rejections": self.rejections}))
        self.route("POST", "/_control/pay", self.ctl_pay)
        self.route("POST", "/_control/ipn/replay", self.ctl_replay)

    def reset_state(self):
        self.orders, self.outcomes, self.rejections, self.request_ids = {}, {}, [], set()

    def unavailable(self):
        return html_response(503, "503 Service Unavailable", "VNPAY dang bao tri (maintenance)")

    # The payment page -------------------------------------------------------------------------

    def reject(self, code, reason, params):
        with self.lock:
            self.rejections.append({"code": code, "reason": reason, "params": params, "at": fmt_date(now_gmt7())})
        self.log(f"payment request rejected with code {code}: {reason}")
        return redirect(f"{ERROR_PATH}?code={code}")

    def error_page(self, req):
        code = req.query.get("code", "99")
        return html_response(200, f"Thong bao loi - code={code}", PAGE_ERRORS.get(code, "Loi khong xac dinh"))

    def pay(self, req):
        p = req.query
        missing = [k for k in PAY_REQUIRED if not p.get(k)]
        if missing:
            return self.reject("03", f"missing {', '.join(missing)}", p)
        if p["vnp_TmnCode"] != self.tmn_code:
            return self.reject("02", f"unknown vnp_TmnCode {p['vnp_TmnCode']}", p)
        expected = sign(self.secret, p)
        if not same_hash(expected, p["vnp_SecureHash"]):
            return self.reject("97", f"checksum mismatch; signed data was: {hash_data(p)}", p)
        problem = self.check_pay(p)
        if problem:
            return self.reject("03", problem, p)
        txn = p["vnp_TxnRef"]
        with self.lock:
            order = self.orders.get(txn)
            if order and (order["status"] != "pending" or order["amount"] != int(p["vnp_Amount"])):
                return self.reject("01", f"TxnRef {txn} already used", p)
            if not order:
                order = self.orders[txn] = {
                    "txnRef": txn, "amount": int(p["vnp_Amount"]), "orderInfo": p["vnp_OrderInfo"],
                    "returnUrl": p["vnp_ReturnUrl"], "createDate": p["vnp_CreateDate"],
                    "expireDate": p["vnp_ExpireDate"], "bankCode": p.get("vnp_BankCode", ""),
                    "ipAddr": p["vnp_IpAddr"], "locale": p["vnp_Locale"], "status": "pending",
                    "request": dict(p), "result": None, "refunds": []}
            if parse_date(p["vnp_ExpireDate"]) < now_gmt7():
                order["status"] = "expired"
                return self.reject("11", "vnp_ExpireDate has passed", p)
            outcome = self.outcome_for(txn)
        if outcome.get("abandon"):
            return html_response(200, "VNPAY - Thanh toan", f"Order {txn}: waiting for the buyer")
        location, deliveries = self.finish(order, outcome)
        if deliveries and outcome.get("ipnBeforeReturn", True) and not outcome.get("ipnDelayMs"):
            deliveries[0].first_attempt.wait(self.config["timeoutMs"] / 1000 + 1)
        return redirect(location)

    def check_pay(self, p):
        if p["vnp_Version"] != "2.1.0" or p["vnp_Command"] != "pay" or p["vnp_CurrCode"] != "VND":
            return "vnp_Version must be 2.1.0, vnp_Command pay, vnp_CurrCode VND"
        if not re.fullmatch(r"[0-9]{1,12}", p["vnp_Amount"]):
            return "vnp_Amount must be digits (VND x 100)"
        if not 5000 * 100 <= int(p["vnp_Amount"]) < 1000000000 * 100:
            return "invalid amount: from 5,000 to under 1 billion VND (vnp_Amount = VND x 100)"
        create, expire = parse_date(p["vnp_CreateDate"]), parse_date(p["vnp_ExpireDate"])
        if not create or not expire or expire <= create:
            return "vnp_CreateDate/vnp_ExpireDate must be yyyyMMddHHmmss (GMT+7), expiry after creation"
        if p["vnp_Locale"] not in ("vn", "en"):
            return "vnp_Locale must be vn or en"
        if not re.fullmatch(r"[\x20-\x7e]{1,255}", p["vnp_OrderInfo"]):
            return "vnp_OrderInfo must be ASCII (Vietnamese without accents)"
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,100}", p["vnp_TxnRef"]):
            return "vnp_TxnRef must be 1-100 letters, digits or _.:-"
        if not re.match(r"https?://", p["vnp_ReturnUrl"]):
            return "vnp_ReturnUrl must be an http(s) URL"
        return None

    def outcome_for(self, txn):
        return dict(self.outcomes.get(txn) or self.outcomes.get("*") or {})

    def finish(self, order, outcome):
        """The buyer's result: signs it, starts the IPN and answers where the browser goes next."""
        rc = str(outcome.get("responseCode", "00"))
        status = str(outcome.get("transactionStatus") or ("00" if rc == "00" else "07" if rc == "07" else "02"))
        with self.lock:
            if order["status"] not in ("pending", "expired"):  # a second submit of the same page
                return add_query(order["returnUrl"], order["result"]), []
            moved = rc in ("00", "07")
            if moved:
                self.txn_seq += 1
            result = {"vnp_Amount": str(outcome.get("amountOverride") or order["amount"]),
                      "vnp_BankCode": outcome.get("bankCode") or order["bankCode"] or "NCB",
                      "vnp_CardType": "ATM", "vnp_OrderInfo": order["orderInfo"],
                      "vnp_PayDate": fmt_date(now_gmt7()), "vnp_ResponseCode": rc,
                      "vnp_TmnCode": self.tmn_code, "vnp_TransactionNo": str(self.txn_seq) if moved else "0",
                      "vnp_TransactionStatus": status, "vnp_TxnRef": order["txnRef"]}
            if moved:
                result["vnp_BankTranNo"] = f"VNP{self.txn_seq}"
            result["vnp_SecureHash"] = sign(self.secret, result)
            order.update(result=result, status=ORDER_STATUS.get(rc, "failed"), responseCode=rc)
        deliveries = self.send_ipn(order, result, int(outcome.get("ipnRepeat", 1)),
                                   delay_ms=float(outcome.get("ipnDelayMs", 0)))
        return add_query(order["returnUrl"], result), deliveries

    def send_ipn(self, order, params, count=1, delay_ms=0, retry=True, tamper=None):
        params = dict(params)
        if tamper == "hash":
            params["vnp_SecureHash"] = ("0" if params["vnp_SecureHash"][0] != "0" else "1") + params["vnp_SecureHash"][1:]
        elif tamper == "amount":  # changed after signing: the hash no longer matches
            params["vnp_Amount"] = str(int(params["vnp_Amount"]) + 100)
        url = add_query(self.config["ipnUrl"], params) if self.config["ipnUrl"] else None
        ds = [Delivery(self, "ipn", order["txnRef"], "GET", url, is_ack=ipn_acknowledged, retry=retry,
                       meta={"params": params, "tamper": tamper}) for _ in range(count)]
        return self.start_deliveries(ds, delay_ms)

    # merchant_webapi: querydr and refund --------------------------------------------------------

    def api(self, req):
        try:
            body = json.loads(req.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.api_answer(REFUND_RESPONSE, {}, "03", "Invalid JSON body")
        body = {k: ("" if v is None else str(v)) for k, v in body.items()}
        cmd = body.get("vnp_Command")
        fields = {"querydr": QUERYDR_REQUEST, "refund": REFUND_REQUEST}.get(cmd)
        if not fields:
            return self.api_answer(REFUND_RESPONSE, body, "03", "vnp_Command must be querydr or refund")
        answer_fields = QUERYDR_RESPONSE if cmd == "querydr" else REFUND_RESPONSE
        optional = ("vnp_TransactionNo",)
        missing = [f for f in fields + ("vnp_SecureHash",) if not body.get(f) and f not in optional]
        if missing:
            return self.api_answer(answer_fields, body, "03", f"Missing {', '.join(missing)}")
        if body["vnp_TmnCode"] != self.tmn_code:
            return self.api_answer(answer_fields, body, "02", "Invalid TmnCode")
        if not same_hash(sign_fields(self.secret, fields, body), body["vnp_SecureHash"]):
            return self.api_answer(answer_fields, body, "97", "Invalid Checksum")
        with self.lock:
            if body["vnp_RequestId"] in self.request_ids:
                return self.api_answer(answer_fields, body, "94", "Duplicate request (vnp_RequestId)")
            self.request_ids.add(body["vnp_RequestId"])
            order = self.orders.get(body["vnp_TxnRef"])
            if not order or order["createDate"] != body["vnp_TransactionDate"]:
                return self.api_answer(answer_fields, body, "91", "Transaction not found "
                                       "(vnp_TxnRef with vnp_TransactionDate = the payment's vnp_CreateDate)")
            return self.querydr(order, body) if cmd == "querydr" else self.refund(order, body)

    def querydr(self, order, body):
        r = order["result"] or {}
        values = {"vnp_Amount": str(order["amount"]), "vnp_BankCode": r.get("vnp_BankCode", ""),
                  "vnp_PayDate": r.get("vnp_PayDate", ""), "vnp_TransactionNo": r.get("vnp_TransactionNo", "0"),
                  "vnp_TransactionType": "01", "vnp_TransactionStatus": r.get("vnp_TransactionStatus", "01"),
                  "vnp_OrderInfo": order["orderInfo"], "vnp_PromotionCode": "", "vnp_PromotionAmount": ""}
        return self.api_answer(QUERYDR_RESPONSE, body, "00", "QueryDR Success", values)

    def refund(self, order, body):
        ttype, amount = body["vnp_TransactionType"], body["vnp_Amount"]
        if ttype not in ("02", "03") or not amount.isdigit() or int(amount) <= 0:
            return self.api_answer(REFUND_RESPONSE, body, "03", "vnp_TransactionType is 02 (full) or 03 "
                                   "(partial); vnp_Amount is digits (VND x 100)")
        forced = self.outcome_for(order["txnRef"]).get("refundResponseCode")
        if forced:
            return self.api_answer(REFUND_RESPONSE, body, str(forced), "Scripted refund answer")
        if order["status"] not in ("paid", "suspicious"):
            return self.api_answer(REFUND_RESPONSE, body, "95", "Transaction was not successful at VNPAY")
        remaining = order["amount"] - sum(x["amount"] for x in order["refunds"])
        if remaining <= 0:
            return self.api_answer(REFUND_RESPONSE, body, "94", "Transaction already refunded")
        if int(amount) > remaining or (ttype == "02" and int(amount) != order["amount"]):
            return self.api_answer(REFUND_RESPONSE, body, "03", f"Invalid refund amount (refundable {remaining})")
        self.txn_seq += 1
        refund = {"requestId": body["vnp_RequestId"], "amount": int(amount), "transactionType": ttype,
                  "transactionNo": str(self.txn_seq), "createBy": body["vnp_CreateBy"],
                  "payDate": fmt_date(now_gmt7())}
        order["refunds"].append(refund)
        return self.api_answer(REFUND_RESPONSE, body, "00", "Refund success", {
            "vnp_Amount": amount, "vnp_BankCode": (order["result"] or {}).get("vnp_BankCode", ""),
            "vnp_PayDate": refund["payDate"], "vnp_TransactionNo": refund["transactionNo"],
            "vnp_TransactionType": ttype, "vnp_TransactionStatus": "05", "vnp_OrderInfo": body["vnp_OrderInfo"]})

    def api_answer(self, fields, request, code, message, values=None):
        out = {"vnp_ResponseId": secrets.token_hex(16), "vnp_Command": request.get("vnp_Command", ""),
               "vnp_ResponseCode": code, "vnp_Message": message, "vnp_TmnCode": self.tmn_code,
               "vnp_TxnRef": request.get("vnp_TxnRef", "")}
        out.update(values or {})
        out = {f: out.get(f, "") for f in fields}
        out["vnp_SecureHash"] = sign_fields(self.secret, fields, out)
        return json_response(200, out)

    # Control API --------------------------------------------------------------------------------

    def ctl_outcome(self, req):
        body = req.json()
        key = str(body.pop("txnRef", "*"))
        with self.lock:
            if body.pop("clear", False):
                self.outcomes.pop(key, None)
            else:
                self.outcomes[key] = body
        return json_response(200, {"txnRef": key, "outcome": self.outcomes.get(key)})

    def _order(self, txn):
        with self.lock:
            order = self.orders.get(txn)
        if not order:
            raise HttpError(json_response(404, {"error": f"no order with vnp_TxnRef {txn}"}))
        return order

    def ctl_order(self, req, txn):
        order = self._order(txn)
        with self.lock:
            ds = [d.to_json() for d in self.deliveries.values() if d.key == txn]
        return json_response(200, dict(order, ipn=ds))

    def ctl_pay(self, req):
        """The buyer finishes a pending (abandoned) order now: a late payment."""
        body = req.json()
        order = self._order(str(body.get("txnRef")))
        if order["status"] not in ("pending", "expired"):
            raise bad_request(f"order {order['txnRef']} is already {order['status']}")
        outcome = dict(self.outcome_for(order["txnRef"]), **{k: v for k, v in body.items() if k != "txnRef"})
        location, ds = self.finish(order, outcome)
        return json_response(200, {"returnUrl": location, "result": order["result"],
                                   "deliveries": self.wait_deliveries(ds, body)})

    def ctl_replay(self, req):
        body = req.json()
        order = self._order(str(body.get("txnRef")))
        if not order["result"]:
            raise bad_request("the order has no result yet")
        ds = self.send_ipn(order, order["result"], int(body.get("count", 1)), retry=bool(body.get("retry", True)),
                           tamper=body.get("tamper"))
        return json_response(200, {"deliveries": self.wait_deliveries(ds, body)})


if __name__ == "__main__":
    main(VNPay)
