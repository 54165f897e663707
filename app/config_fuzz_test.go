package app

import (
	"errors"
	"strings"
	"testing"
)

// FuzzLoadConfig feeds arbitrary values to every setting. loadConfig either
// accepts them or returns a *ConfigError whose every problem names the
// variable at fault; it never panics, and a key is never invented.
func FuzzLoadConfig(f *testing.F) {
	f.Add("", "./data", "127.0.0.1:8080", "", "info", "", "1024", "128", "0", "5000", "8000", "10000", "2000")
	f.Add("short", "", "nonsense", "ftp://x", "loud", "10.0.0.0/33,::1", "0", "-5", "-1", "x", "0", "1e9", "5")
	f.Add("ZmVybmV0", "/tmp/\x00", ":99999", "https://hub.example.com", "DEBUG", "127.0.0.0/8, ::1/128", "1", "lots", "2000", "1", "1", "1", "600001")
	f.Fuzz(func(t *testing.T, key, dir, addr, base, level, private, conns, connsPerAddr, floor, connect, read, wall, sweep string) {
		vals := []string{key, dir, addr, base, level, private, conns, connsPerAddr, floor, connect, read, wall, sweep}
		env := map[string]string{}
		for i, s := range settings {
			env[s.env] = vals[i]
		}
		getenv := func(k string) string { return env[k] }
		cfg, err := loadConfig(Main{}.flagSet("serve", "serve"), nil, getenv, loadOptions{requireKey: true})
		if err == nil {
			if cfg.EncryptionKey != strings.TrimSpace(key) && cfg.EncryptionKey != key {
				t.Fatalf("key changed: %q -> %q", key, cfg.EncryptionKey)
			}
			if _, kerr := cfg.Key(); kerr != nil {
				t.Fatalf("accepted an unusable key %q: %v", key, kerr)
			}
			return
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || len(ce.Problems) == 0 {
			t.Fatalf("not a ConfigError: %v", err)
		}
		for _, p := range ce.Problems {
			named := false
			for _, s := range settings {
				if strings.Contains(p, s.env) {
					named = true
				}
			}
			if !named {
				t.Fatalf("problem names no variable: %q", p)
			}
		}
	})
}
