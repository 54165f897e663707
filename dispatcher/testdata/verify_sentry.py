# Checks a Sentry Hub webhook delivery in Python 3 (docs/webhooks.md).
# The hub's tests run this file against real deliveries.
import hashlib
import hmac
import time

WINDOW_SECONDS = 300  # X-Sentry-Timestamp may be 5 minutes from now, either way


def delivery_problem(headers, raw_body, secrets, now=None):
    """Return None when a delivery is genuine, else a short reason.

    headers:  the request's headers, a mapping (names in any letter case)
    raw_body: the request body exactly as received (bytes, not parsed JSON)
    secrets:  {1: bytes, 2: bytes}, the secret of each generation you hold
    now:      Unix seconds; the current time when None
    """
    by_name = {name.lower(): value for name, value in headers.items()}
    signature = by_name.get("x-sentry-signature", "")
    if not signature.startswith("sha256=") or signature == "sha256=":
        return "no-signature"
    digest = signature[len("sha256="):]
    try:
        generation = int(by_name.get("x-sentry-signature-generation", ""))
        stamp = int(by_name.get("x-sentry-timestamp", ""))
    except ValueError:
        return "bad-header"
    if generation not in (1, 2):
        return "unknown-generation"
    if now is None:
        now = int(time.time())
    if abs(now - stamp) > WINDOW_SECONDS:
        return "outside-window"
    key = secrets.get(generation)
    if not key:
        return "no-secret"  # e.g. generation 2 once its 24 hours are over
    signed = b"%d." % stamp + raw_body
    expected = hmac.new(key, signed, hashlib.sha256).hexdigest().encode("ascii")
    received = digest.encode("utf-8", "replace")
    if not hmac.compare_digest(expected, received):  # constant time
        return "mismatch"
    return None
