package app

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the test binary; TestMain makes it and removes it.
var binDir string

// binary is the sentryhub binary, compiled once for all of this package's
// tests that run it (each build costs seconds of a 2-core machine).
var binary = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(binDir, "sentryhub")
	cmd := exec.Command("go", "build", "-o", bin, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// buildBinary returns the compiled binary, failing t if it does not build.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "sentryhub-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// A run of the whole package needs the binary and the browser: start
	// both now, so the build and Chromium's start overlap the in-process
	// tests (mostly waiting on I/O) instead of holding up the first test
	// that needs them. A filtered run starts them on demand as before.
	if !testing.Short() && flag.Lookup("test.run").Value.String() == "" {
		go binary()
		if _, err := exec.LookPath(chromiumPath()); err == nil {
			go browser.get()
		}
	}
	code := m.Run()
	browser.close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestServeStopsOnSIGTERM runs the real binary and checks that SIGTERM
// shuts it down cleanly (exit 0) after in-flight work.
func TestServeStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--log-level", "info")
	cmd.Env = []string{"SENTRY_ENCRYPTION_KEY=" + testKey(t)}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()

	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url string
	deadline := time.After(30 * time.Second)
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("serve exited before listening")
			}
			if i := strings.Index(l, `"url":"`); i >= 0 && strings.Contains(l, "sentryhub listening") {
				url = l[i+7:]
				url = url[:strings.IndexByte(url, '"')]
			}
		case <-deadline:
			t.Fatal("serve did not start")
		}
	}
	if resp, err := http.Get(url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped := false
	for l := range lines {
		if strings.Contains(l, "sentryhub stopped") {
			stopped = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	if !stopped {
		t.Fatal("no clean-stop log line")
	}
}
