package sink

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sentryhub/store/vault"
)

// pythonHarness feeds each case to delivery_problem, the Python verifier
// of docs/webhooks.md (dispatcher/testdata/verify_sentry.py, which the
// dispatcher's wire tests run against real deliveries), with its header
// values decoded as Latin-1, as a WSGI framework hands them over. It prints
// one verdict per case: true when the verifier finds no problem. An
// exception fails the test: the verifier must answer for any header.
const pythonHarness = `
import base64, json, sys
sys.path.insert(0, sys.argv[1])
from verify_sentry import delivery_problem
out = []
for c in json.load(open(sys.argv[2])):
    headers = {k: base64.b64decode(v).decode("latin-1") for k, v in c["headers"].items()}
    secrets = {1: c["gen1"].encode("utf-8")}
    if c.get("gen2"):
        secrets[2] = c["gen2"].encode("utf-8")
    out.append(delivery_problem(headers, base64.b64decode(c["body"]), secrets) is None)
print(json.dumps(out))
`

// TestVerifyMatchesPythonVerifier runs the repository's Python verifier and
// the sink's on the same requests, including the header forms where a
// hand-written Go parser would most likely drift from Python's int():
// signs, underscores, Latin-1 whitespace. Timestamps stay well inside or
// outside the window so the two clocks cannot disagree.
func TestVerifyMatchesPythonVerifier(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3 is required in CI: %v", err)
		}
		t.Skipf("python3 not found: %v", err)
	}
	verifierDir, err := filepath.Abs(filepath.Join("..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(verifierDir, "verify_sentry.py")); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	body := envelopeBody(41, "receipt.completed")
	ok := signed(secret1, 1, now, body)
	tsStr := strconv.FormatInt(now, 10)
	digest := strings.TrimPrefix(ok.header[HeaderSignature], "sha256=")
	type pcase struct {
		name string
		d    delivery
		gen2 bool
	}
	cases := []pcase{
		{"valid", ok, false},
		{"valid gen 2", signed(secret2, 2, now, body), true},
		{"gen 2 without secret", signed(secret2, 2, now, body), false},
		{"wrong secret", signed(secret2, 1, now, body), false},
		{"altered body", delivery{ok.header, envelopeBody(42, "receipt.completed")}, false},
		{"plus sign", ok.with(HeaderTimestamp, "+"+tsStr).with(HeaderSignatureGeneration, "+1"), false},
		{"leading zeros", ok.with(HeaderTimestamp, "000"+tsStr).with(HeaderSignatureGeneration, "01"), false},
		{"underscores", ok.with(HeaderTimestamp, tsStr[:3]+"_"+tsStr[3:]).with(HeaderSignatureGeneration, "0_1"), false},
		{"double underscore", ok.with(HeaderTimestamp, tsStr[:3]+"__"+tsStr[3:]), false},
		{"trailing underscore", ok.with(HeaderSignatureGeneration, "1_"), false},
		{"ascii whitespace", ok.with(HeaderTimestamp, " \t"+tsStr+"\r\n").with(HeaderSignatureGeneration, "\v1\f"), false},
		{"file separators", ok.with(HeaderTimestamp, "\x1c"+tsStr+"\x1f"), false},
		{"latin-1 NBSP and NEL", ok.with(HeaderTimestamp, "\xa0"+tsStr+"\x85"), false},
		{"inner space", ok.with(HeaderTimestamp, tsStr[:3]+" "+tsStr[3:]), false},
		{"superscript digit", ok.with(HeaderSignatureGeneration, "\xb9"), false},
		{"float", ok.with(HeaderSignatureGeneration, "1.0"), false},
		{"hex", ok.with(HeaderSignatureGeneration, "0x1"), false},
		{"empty generation", ok.with(HeaderSignatureGeneration, ""), false},
		{"generation 0", ok.with(HeaderSignatureGeneration, "0"), false},
		{"generation 3", ok.with(HeaderSignatureGeneration, "3"), false},
		{"huge generation", ok.with(HeaderSignatureGeneration, "100000000000000000000001"), false},
		{"huge timestamp", ok.with(HeaderTimestamp, "1"+strings.Repeat("0", 30)), false},
		{"negative huge timestamp", ok.with(HeaderTimestamp, "-1"+strings.Repeat("0", 30)), false},
		{"expired", signed(secret1, 1, now-1000, body), false},
		{"future", signed(secret1, 1, now+1000, body), false},
		{"inside the window", signed(secret1, 1, now-200, body), false},
		{"uppercase digest", ok.with(HeaderSignature, "sha256="+strings.ToUpper(digest)), false},
		{"uppercase prefix", ok.with(HeaderSignature, "SHA256="+digest), false},
		{"digest with trailing space", ok.with(HeaderSignature, "sha256="+digest+" "), false},
		{"short digest", ok.with(HeaderSignature, "sha256="+digest[:63]), false},
		{"non-ascii digest", ok.with(HeaderSignature, "sha256="+digest[:63]+"\xe9"), false},
		{"no signature", ok.with(HeaderSignature, ""), false},
		{"empty body signed", signed(secret1, 1, now, nil), false},
		{"binary body signed", signed(secret1, 1, now, []byte{0, 0xff, '\n', 0x80}), false},
	}
	type wire struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
		Gen1    string            `json:"gen1"`
		Gen2    string            `json:"gen2,omitempty"`
	}
	var ws []wire
	for _, c := range cases {
		w := wire{Headers: map[string]string{}, Body: base64.StdEncoding.EncodeToString(c.d.body), Gen1: secret1}
		for k, v := range c.d.header {
			w.Headers[k] = base64.StdEncoding.EncodeToString([]byte(v))
		}
		if c.gen2 {
			w.Gen2 = secret2
		}
		ws = append(ws, w)
	}
	b, err := json.Marshal(ws)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cases.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// -B: importing the verifier must not write __pycache__ into testdata.
	cmd := exec.Command("python3", "-B", "-c", pythonHarness, verifierDir, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("python3: %v\n%s", err, stderr.String())
	}
	var py []bool
	if err := json.Unmarshal(stdout.Bytes(), &py); err != nil || len(py) != len(cases) {
		t.Fatalf("python output %q: %v", stdout.String(), err)
	}
	valid := 0
	for i, c := range cases {
		kr := NewKeyring(vault.NewSecret(secret1))
		if c.gen2 {
			kr.Set(2, vault.NewSecret(secret2))
		}
		h := http.Header{}
		for k, v := range c.d.header {
			h[k] = []string{v}
		}
		v, err := Verify(context.Background(), h, c.d.body, kr, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if v.Valid != py[i] {
			t.Errorf("%s: sink says valid=%v (%s), the Python verifier %v", c.name, v.Valid, v.Reason, py[i])
		}
		if py[i] {
			valid++
		}
	}
	// Guard against a harness that says false to everything.
	if valid < 8 {
		t.Fatalf("only %d cases valid for Python; the harness is broken", valid)
	}
}
