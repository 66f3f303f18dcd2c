#!/usr/bin/env python3
"""SMS provider emulator: a generic HTTP SMS API (POST /v1/messages, Bearer key, JSON) that
accepts texts and keeps them for tests to read back (see README.md, "SMS")."""
import re
import secrets
import sys

sys.dont_write_bytecode = True  # importing common must not leave __pycache__ in the source tree
from common import (Emulator, HttpError, bad_request, env_default, iso_utc, json_response, main,
                    random_id)

PHONE = re.compile(r"\+?[0-9]{9,15}")
MAX_TEXT = 1600  # 10 concatenated UCS-2 parts and then some; what common providers accept
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
           "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def segments(text):
    """How many SMS parts the text takes: GSM-7 (160, or 153 per part) or else UCS-2 (70 / 67)."""
    if all(ch in GSM7 for ch in text):
        units = sum(2 if ch in "^{}\\[~]|€" else 1 for ch in text)
        single, part = 160, 153
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, part = 70, 67
    return 1 if units <= single else -(-units // part)


def error(status, code, message=None):
    return HttpError(json_response(status, {"error": code, **({"message": message} if message else {})}))


class Sms(Emulator):
    """SMS provider emulator (POST /v1/messages)."""
    name = "sms"

    @classmethod
    def add_arguments(cls, p):
        p.add_argument("--api-key", default=env_default("SMS_API_KEY"))

    def __init__(self, args, base_url):
        super().__init__(args, base_url)
        self.generated_secrets = {}
        if not args.api_key:
            args.api_key = self.generated_secrets["apiKey"] = random_id(32)
        self.api_key = args.api_key
        self.reset_state()
        self.route("POST", "/v1/messages", self.send)
        self.route("GET", "/v1/messages/([^/]+)", self.get)
        self.route("GET", "/_control/messages", self.ctl_messages)
        self.route("POST", "/_control/outcome", self.ctl_outcome)

    def reset_state(self):
        self.messages, self.outcomes = [], {}

    def unavailable(self):
        return json_response(503, {"error": "service_unavailable"})

    def _authorize(self, req):
        scheme, _, key = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(key.strip().encode(), self.api_key.encode()):
            raise error(401, "unauthorized")

    def _scripted(self, to):
        """A scripted answer for this number (or "*"), consumed when it has a count."""
        with self.lock:
            for key in (to, "*"):
                o = self.outcomes.get(key)
                if not o:
                    continue
                if o.get("count") is not None:
                    o["count"] -= 1
                    if o["count"] <= 0:
                        del self.outcomes[key]
                return o
        return None

    def send(self, req):
        self._authorize(req)
        body = req.json(error=json_response(400, {"error": "invalid_json"}))
        to, sender, text = body.get("to"), body.get("from"), body.get("text")
        if not isinstance(to, str) or not PHONE.fullmatch(to):
            raise error(400, "invalid_to", "to is '+' and 9-15 digits")
        if not isinstance(sender, str) or not 1 <= len(sender) <= 15:
            raise error(400, "invalid_from", "from is 1-15 characters")
        if not isinstance(text, str) or not text:
            raise error(400, "invalid_text", "text is a non-empty string")
        if len(text) > MAX_TEXT:
            raise error(400, "text_too_long", f"text is at most {MAX_TEXT} characters")
        o = self._scripted(to)
        if o:
            return json_response(int(o["status"]), {"error": o.get("error", "scripted")})
        msg = {"id": "SM" + secrets.token_hex(16), "status": "queued", "to": to, "from": sender, "text": text,
               "segments": segments(text), "createdAt": iso_utc()}
        with self.lock:
            self.messages.append(msg)
        return json_response(201, {k: msg[k] for k in ("id", "status", "to", "from", "segments", "createdAt")})

    def get(self, req, message_id):
        self._authorize(req)
        with self.lock:
            msg = next((m for m in self.messages if m["id"] == message_id), None)
        if not msg:
            raise error(404, "not_found")
        return json_response(200, msg)

    def ctl_messages(self, req):
        to = req.query.get("to")
        if to is not None:
            to = to.replace(" ", "+")  # an unencoded '+' in the query arrives as a space
        with self.lock:
            items = [m for m in self.messages if to in (None, m["to"])]
        return json_response(200, {"messages": items})

    def ctl_outcome(self, req):
        """{to | "*", status, error?, count?} answers status (4xx/5xx) to that number instead of
        sending; {to, "clear": true} removes it."""
        body = req.json()
        to = body.get("to", "*")
        if body.get("clear"):
            with self.lock:
                self.outcomes.pop(to, None)
            return json_response(200, {"outcomes": self.outcomes})
        status = body.get("status")
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise bad_request("status is an HTTP status from 400 to 599")
        with self.lock:
            self.outcomes[to] = {"status": status, "error": str(body.get("error", "scripted")),
                                 "count": body.get("count")}
            return json_response(200, {"outcomes": self.outcomes})


if __name__ == "__main__":
    main(Sms)
