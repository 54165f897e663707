package web

// Consumer verification snippets, shown next to a new signing secret.
// They read the secret from the environment, so it is not pasted into
// code. The check is the wire contract's: hex HMAC-SHA256 of
// "<X-Sentry-Timestamp>.<raw body>" keyed with the secret's UTF-8 bytes,
// compared in constant time with X-Sentry-Signature after "sha256=", and
// a timestamp within 5 minutes.

// snippet is one language's verifier.
type snippet struct {
	ID, Lang, Code string
}

var verifySnippets = []snippet{
	{ID: "snippet-go", Lang: "Go", Code: `// Verify checks one delivery; secret is SENTRY_WEBHOOK_SECRET.
func Verify(r *http.Request, body []byte, secret string) bool {
	ts := r.Header.Get("X-Sentry-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || math.Abs(float64(time.Now().Unix()-sec)) > 300 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(want), []byte(r.Header.Get("X-Sentry-Signature")))
}`},
	{ID: "snippet-python", Lang: "Python", Code: `import hashlib, hmac, os, time

def verify(headers, body: bytes) -> bool:
    secret = os.environ["SENTRY_WEBHOOK_SECRET"].encode()
    ts = headers.get("X-Sentry-Timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return False
    digest = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + digest, headers.get("X-Sentry-Signature", ""))`},
	{ID: "snippet-node", Lang: "Node", Code: `const crypto = require("node:crypto");

// rawBody is the Buffer as received (e.g. express.raw({ type: "*/*" })).
function verify(headers, rawBody) {
  const secret = process.env.SENTRY_WEBHOOK_SECRET;
  const ts = headers["x-sentry-timestamp"] || "";
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const mac = crypto.createHmac("sha256", secret).update(ts + ".").update(rawBody).digest("hex");
  const want = Buffer.from("sha256=" + mac);
  const got = Buffer.from(headers["x-sentry-signature"] || "");
  return want.length === got.length && crypto.timingSafeEqual(want, got);
}`},
}

// standardSnippets use the Standard Webhooks libraries with the whsec_
// form of the secret; shown when the subscription sends those headers.
var standardSnippets = []snippet{
	{ID: "snippet-std-python", Lang: "Python (standardwebhooks)", Code: `from standardwebhooks.webhooks import Webhook

wh = Webhook(os.environ["SENTRY_WEBHOOK_WHSEC"])  # the whsec_... form
payload = wh.verify(body, headers)  # raises on a bad signature or timestamp`},
	{ID: "snippet-std-node", Lang: "Node (standardwebhooks)", Code: `import { Webhook } from "standardwebhooks";

const wh = new Webhook(process.env.SENTRY_WEBHOOK_WHSEC); // the whsec_... form
const payload = wh.verify(rawBody, headers); // throws on a bad signature or timestamp`},
}
