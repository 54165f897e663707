# The seed contract's reference Python verifier (shared/seeds/webhooks-consumer-contract.txt),
# verbatim but for the indentation the seed's text lost. Tests of dispatcher and
# dispatcher/sink run it against real deliveries.
import hmac
import hashlib
import time
REPLAY_WINDOW_S = 300 # 5 minutes
def verify_webhook(headers, raw_body, secret_for_generation):
    """Returns True if the request is from Sentry, False otherwise.
    headers: dict-like with the X-Sentry-* headers
    raw_body: bytes; pass the exact bytes that arrived on the wire
    secret_for_generation: callable taking int (1 or 2) and returning bytes
    """
    sig_header = headers.get("X-Sentry-Signature", "")
    if not sig_header.startswith("sha256="):
        return False
    received_hex = sig_header[len("sha256="):]
    try:
        generation = int(headers.get("X-Sentry-Signature-Generation", ""))
        timestamp = int(headers.get("X-Sentry-Timestamp", ""))
    except ValueError:
        return False
    if generation not in (1, 2):
        return False
    if abs(int(time.time()) - timestamp) > REPLAY_WINDOW_S:
        return False
    secret = secret_for_generation(generation)
    if secret is None:
        # Generation rotated past its 24h dual-accept window.
        return False
    signing_input = f"{timestamp}.".encode("utf-8") + raw_body
    expected = hmac.new(secret, signing_input, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received_hex)
