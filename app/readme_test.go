package app

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// These tests hold README.md to the program where that is cheap: the
// command reference, the commands its examples run, and the sample error.

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// section returns the text of the README section under heading, up to the
// next heading of the same level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	level := heading[:strings.IndexByte(heading, ' ')+1]
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	rest := doc[i+len(heading)+2:]
	if j := strings.Index(rest, "\n"+level); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestReadmeCommandReferenceIsComplete: every subcommand Main knows has a
// row in the README's command reference, and every row names one.
func TestReadmeCommandReferenceIsComplete(t *testing.T) {
	t.Parallel()
	table := section(t, readme(t), "## Command reference")
	row := regexp.MustCompile("(?m)^\\| `([a-z][a-z-]*)")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(table, -1) {
		listed = append(listed, m[1])
	}
	var known []string
	for _, c := range (Main{}).commands() {
		known = append(known, c.name)
		if !slices.Contains(listed, c.name) {
			t.Errorf("README.md's command reference does not list %q", c.name)
		}
	}
	for _, name := range listed {
		if !slices.Contains(known, name) {
			t.Errorf("README.md's command reference lists %q, which is not a command (known: %v)", name, known)
		}
	}
}

// TestReadmeExamplesRunRealCommands: every `go run . CMD [SUB]` and
// `./sentryhub CMD [SUB]` in the README names a command (and subcommand)
// that exists: its -h exits 0. No shell example runs a bare sentryhub, and
// URLs with a query string are quoted.
func TestReadmeExamplesRunRealCommands(t *testing.T) {
	t.Parallel()
	invocation := regexp.MustCompile(`(?:go run \.|\./sentryhub) ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?`)
	seen := map[string]bool{}
	for _, m := range invocation.FindAllStringSubmatch(readme(t), -1) {
		args := []string{m[1]}
		if m[2] != "" && hasSubcommands(m[1]) {
			args = append(args, m[2])
		}
		key := strings.Join(args, " ")
		if seen[key] {
			continue
		}
		seen[key] = true
		if r := run(t, env(), "", append(args, "-h")...); r.code != 0 {
			t.Errorf("README.md runs %q: `%s -h` exits %d: %s", m[0], key, r.code, r.stderr)
		}
	}
	if len(seen) < 5 {
		t.Fatalf("found only %d distinct commands in README.md: %v", len(seen), seen)
	}

	// Shell examples run `go run . …` or the `./sentryhub` that Production
	// builds: nothing installs a bare `sentryhub` on the PATH. (In a docker
	// command, sentryhub is the image.)
	// A URL with a query is quoted: unquoted, ? is a glob (zsh refuses the
	// line) and & ends the command.
	bare := regexp.MustCompile(`(?:^|[\s(])sentryhub [a-z]`)
	query := regexp.MustCompile(`(.)https?://[^\s'"]*\?`)
	for _, block := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(readme(t), -1) {
		for _, line := range strings.Split(block[1], "\n") {
			if bare.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "docker ") {
				t.Errorf("README.md example runs a sentryhub it never builds or installs: %s", line)
			}
			for _, m := range query.FindAllStringSubmatch(line, -1) {
				if m[1] != "'" && m[1] != `"` {
					t.Errorf("README.md example has an unquoted URL with a query: %s", line)
				}
			}
		}
	}
}

// hasSubcommands reports whether a command's first argument is a
// subcommand (as the usage lines of these commands say).
func hasSubcommands(cmd string) bool {
	switch cmd {
	case "migrate", "admin", "token", "audit", "bench":
		return true
	}
	return false
}

// TestReadmeSampleErrorIsReal: the error shown under "HTTP API" is the
// response the hub gives for the request it describes (an unknown scope in
// POST /api/admin/tokens), byte for byte as a JSON value.
func TestReadmeSampleErrorIsReal(t *testing.T) {
	t.Parallel()
	api := section(t, readme(t), "## HTTP API")
	block := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindStringSubmatch(api)
	if block == nil {
		t.Fatal("no ```json block under ## HTTP API")
	}
	var want any
	if err := json.Unmarshal([]byte(block[1]), &want); err != nil {
		t.Fatalf("README's sample error is not JSON: %v\n%s", err, block[1])
	}

	getenv := env("SENTRY_ENCRYPTION_KEY", testKey(t), "SENTRY_DATA_DIR", t.TempDir(), "SENTRY_LOG_LEVEL", "warn")
	base := startServe(t, getenv)
	tok := strings.TrimSpace(run(t, getenv, "", "token", "create", "--name", "ops", "--scope", "admin").stdout)
	req, err := http.NewRequest("POST", base+"/api/admin/tokens", strings.NewReader(`{"name":"erp-sync","scopes":["root"]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-WMS-Token", tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	if resp.StatusCode != http.StatusUnprocessableEntity || !reflect.DeepEqual(got, want) {
		t.Fatalf("the hub answers %d %s\nREADME.md shows %s", resp.StatusCode, body, block[1])
	}
}
