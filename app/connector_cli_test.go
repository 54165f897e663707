package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConnectorCheck(t *testing.T) {
	t.Parallel()
	good := filepath.Join("..", "connectors", "manifests", "examples", "tinyshop")
	bad := t.TempDir()
	for _, f := range []string{"manifest.yaml", "products.mapping.yaml", "orders.mapping.yaml", "stock.mapping.yaml"} {
		b, err := os.ReadFile(filepath.Join(good, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "manifest.yaml" {
			b = bytes.Replace(b, []byte("kind: offset"), []byte("kind: sideways"), 1)
		}
		if err := os.WriteFile(filepath.Join(bad, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"connector", "check", good}, 0, "ok (connector tinyshop"},
		{[]string{"connector", "check", filepath.Join(good, "manifest.yaml")}, 0, "ok (connector tinyshop"},
		{[]string{"connector", "check", bad}, 1, `manifest.yaml:73:13: streams[0].pagination.kind: unknown pagination kind "sideways"`},
		{[]string{"connector", "check"}, 2, ""},
	} {
		var stdout, stderr bytes.Buffer
		code := Main{Stdout: &stdout, Stderr: &stderr}.Run(context.Background(), tc.args)
		if code != tc.code || !strings.Contains(stdout.String(), tc.out) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", tc.args, code, stdout.String(), stderr.String())
		}
	}
}
