package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerifySnippetsVerify runs the verifiers shown to admins against a
// request signed the way the dispatcher signs, and against a tampered
// body: a snippet that does not verify, or verifies anything, fails.
func TestVerifySnippetsVerify(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-For-Test_only"
	body := `{"event_id":7,"event_type":"ship.confirmed"}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + body))
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	code := map[string]string{}
	for _, s := range verifySnippets {
		code[s.Lang] = s.Code
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		lang, file, prog string
		cmd              []string
	}{
		{"Go", "main.go", `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"
)

` + code["Go"] + `

func main() {
	r, _ := http.NewRequest("POST", "/", nil)
	r.Header.Set("X-Sentry-Timestamp", os.Args[1])
	r.Header.Set("X-Sentry-Signature", os.Args[2])
	fmt.Println(Verify(r, []byte(os.Args[3]), os.Getenv("SENTRY_WEBHOOK_SECRET")))
}
`, []string{"go", "run", "main.go"}},
		{"Python", "v.py", code["Python"] + `

import sys
print("true" if verify({"X-Sentry-Timestamp": sys.argv[1], "X-Sentry-Signature": sys.argv[2]}, sys.argv[3].encode()) else "false")
`, []string{"python3", "v.py"}},
		{"Node", "v.js", code["Node"] + `

const [ts, sig, body] = process.argv.slice(2);
console.log(verify({"x-sentry-timestamp": ts, "x-sentry-signature": sig}, Buffer.from(body)) ? "true" : "false");
`, []string{"node", "v.js"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			// Each language writes its own file in dir and waits on its
			// own interpreter or compiler: nothing shared but the inputs.
			t.Parallel()
			if _, err := exec.LookPath(tc.cmd[0]); err != nil {
				if tc.lang == "Go" || os.Getenv("CI") == "true" {
					t.Fatalf("%s not found", tc.cmd[0])
				}
				t.Skipf("%s not installed", tc.cmd[0])
			}
			if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.prog), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				body, want string
			}{{body, "true"}, {body + " ", "false"}} {
				cmd := exec.Command(tc.cmd[0], append(tc.cmd[1:], ts, sig, c.body)...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "SENTRY_WEBHOOK_SECRET="+secret, "GO111MODULE=off")
				out, err := cmd.CombinedOutput()
				if err != nil || strings.TrimSpace(string(out)) != c.want {
					t.Fatalf("%s on %q: %s %v, want %s", tc.lang, c.body, out, err, c.want)
				}
			}
		})
	}
}
