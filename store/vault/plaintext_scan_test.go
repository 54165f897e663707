package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// forms returns byte strings any of which in a file would reveal s: the raw
// bytes, hex, and base64 (standard and URL-safe) at each of the three
// alignments s can have inside a larger encoded buffer. For base64 the first
// and last quantum are dropped, since they mix in neighbouring bytes.
func forms(s string) [][]byte {
	out := [][]byte{
		[]byte(s),
		[]byte(hex.EncodeToString([]byte(s))),
		[]byte(strings.ToUpper(hex.EncodeToString([]byte(s)))),
	}
	for pad := range 3 {
		in := append(make([]byte, pad), s...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString(in)
			out = append(out, []byte(e[4:len(e)-4]))
		}
	}
	return out
}

// scan fails the test if any form of any canary is in path's bytes, and
// returns the bytes.
func scan(t *testing.T, path string, canaries []string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	for _, c := range canaries {
		for _, f := range forms(c) {
			if bytes.Contains(b, f) {
				t.Errorf("%s contains %q (a form of a plaintext secret)", path, f)
			}
		}
	}
	return b
}

// TestNoPlaintextInDatabaseFiles drives the vault through puts, updates,
// deletes, webhook secret rotation and a key rotation, then reads every byte
// of the database, its WAL and its shared-memory index, while open and after
// close, and finds no plaintext secret in any form. A key name written in the
// clear by design is the control: the scan must find it, proving it reads
// the bytes the data actually went to.
func TestNoPlaintextInDatabaseFiles(t *testing.T) {
	ctx := context.Background()
	v, db, clk, _ := newTestVault(t)
	canaries := []string{
		"shpat_PLAINTEXT_CANARY_123",
		"shpss_SECOND_CANARY_456",
		"shpat_UPDATED_CANARY_789",
		"DELETED_CANARY_000_bigcommerce",
		"whsec_WEBHOOK_CANARY_abc",
		"whsec_PREVIOUS_CANARY_def",
		"AFTER_ROTATION_CANARY_ghi",
	}
	const control = "marker_key_NAME_CONTROL"

	putCreds(t, v, "shopify", 1, "api_key", canaries[0], "api_secret", canaries[1], control, "x-control-value")
	clk.Advance(time.Minute)
	putCreds(t, v, "shopify", 1, "api_key", canaries[2])
	putCreds(t, v, "bigcommerce", 2, "client_secret", canaries[3])
	if err := v.DeleteCredentials(ctx, "admin", "bigcommerce", 2); err != nil {
		t.Fatal(err)
	}
	putWebhook(t, v, db, 1, 1, canaries[5], nil)
	exp := clk.Now().Add(time.Hour)
	putWebhook(t, v, db, 1, 2, canaries[5], &exp)
	putWebhook(t, v, db, 1, 1, canaries[4], nil)
	if _, err := v.Rotate(ctx, "cli", mustKey(t)); err != nil {
		t.Fatal(err)
	}
	putCreds(t, v, "netsuite", 3, "token_secret", canaries[6])

	// The values really are stored (a scan of an empty database proves nothing).
	c, err := v.Credentials(ctx, "shopify", 1)
	if err != nil || string(c["api_key"].Reveal()) != canaries[2] || string(c["api_secret"].Reveal()) != canaries[1] {
		t.Fatalf("stored values not readable: %v", err)
	}
	if g1, g2, err := v.WebhookSecrets(ctx, 1); err != nil || string(g1.Reveal()) != canaries[4] || g2 == nil {
		t.Fatalf("webhook secrets not readable: %v", err)
	}

	// Audit diffs name keys, never values.
	var diffs strings.Builder
	for _, e := range auditEntries(t, db) {
		diffs.Write(e.Diff)
		diffs.WriteString(e.Target)
	}
	for _, c := range canaries {
		for _, f := range forms(c) {
			if strings.Contains(diffs.String(), string(f)) {
				t.Errorf("audit log holds a form of %q", c)
			}
		}
	}
	if !strings.Contains(diffs.String(), control) {
		t.Error("audit log does not name the keys set")
	}

	// Open: the WAL and shm files exist and hold the recent writes.
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		path := db.Path + suffix
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("%s: %v (expected while the database is open)", path, err)
		}
		all = append(all, scan(t, path, canaries)...)
	}
	if !bytes.Contains(all, []byte(control)) {
		t.Fatal("control key name not found in the database files: the scan is not looking where the data is")
	}

	// Closed: the WAL is checkpointed into the main file.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b := scan(t, db.Path, canaries)
	if !bytes.Contains(b, []byte(control)) {
		t.Fatal("control key name not in the closed database")
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(db.Path + suffix); err == nil {
			scan(t, db.Path+suffix, canaries)
		}
	}
}
