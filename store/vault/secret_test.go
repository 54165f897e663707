package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const canary = "shpat_PLAINTEXT_CANARY_123"

// leaks reports whether out shows the canary in any obvious encoding.
func leaks(out string) bool {
	for _, f := range []string{
		canary,
		hex.EncodeToString([]byte(canary)),
		strings.ToUpper(hex.EncodeToString([]byte(canary))),
		base64.StdEncoding.EncodeToString([]byte(canary))[:24],
		base64.URLEncoding.EncodeToString([]byte(canary))[:24],
		strings.TrimSuffix(fmt.Sprint([]byte(canary)[:8]), "]"), // "[115 104 112 ..." from reflection
		"shpat",
	} {
		if strings.Contains(out, f) {
			return true
		}
	}
	return false
}

type config struct {
	Name   string
	APIKey Secret
	Ptr    *Secret
	Many   []Secret
	ByName map[string]Secret
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(canary)
	cfg := config{Name: "shopify", APIKey: s, Ptr: &s, Many: []Secret{s}, ByName: map[string]Secret{"k": s}}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%p", "%t", "%T",
		"%10s", "%-10v", "%08x", "% x", "%#x", "%U", "%e", "%!", "%[1]v"}
	for _, arg := range []any{s, &s, cfg, &cfg, []Secret{s}, map[string]Secret{"k": s}, struct{ s Secret }{s}} {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, arg)
			if leaks(out) {
				t.Errorf("Sprintf(%q, %T) = %q leaks the secret", verb, arg, out)
			}
		}
		for _, out := range []string{fmt.Sprint(arg), fmt.Sprintln(arg), fmt.Sprint("x", arg, 1)} {
			if leaks(out) {
				t.Errorf("Sprint(%T) = %q leaks the secret", arg, out)
			}
		}
	}
	if got := fmt.Sprintf("%v|%s|%q|%x|%#v", s, s, s, s, s); got != "****|****|****|****|****" {
		t.Errorf("verbs give %q, want **** for each", got)
	}
	if got := s.String() + s.GoString(); got != "********" {
		t.Errorf("String+GoString = %q", got)
	}
	if got := fmt.Sprintf("%+v", cfg); !strings.Contains(got, "APIKey:****") {
		t.Errorf("%%+v of a struct = %q, want APIKey:****", got)
	}

	err := errors.New(fmt.Sprint("connect with key ", s, " failed"))
	wrapped := fmt.Errorf("sync: %w (cfg %+v)", err, cfg)
	if leaks(err.Error()) || leaks(wrapped.Error()) {
		t.Errorf("error text leaks: %q / %q", err, wrapped)
	}
}

func TestSecretJSON(t *testing.T) {
	s := NewSecret(canary)
	for _, v := range []any{s, &s, config{APIKey: s, Ptr: &s, Many: []Secret{s}, ByName: map[string]Secret{"k": s}},
		map[string]any{"nested": map[string]Secret{"a": s}}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if leaks(string(b)) || !strings.Contains(string(b), `"****"`) {
			t.Errorf("json.Marshal(%T) = %s", v, b)
		}
	}
	txt, _ := s.MarshalText()
	if string(txt) != "****" {
		t.Errorf("MarshalText = %q", txt)
	}
	// Decoding into a Secret is an error, not a silent zero value: request
	// bodies are decoded as strings and wrapped with NewSecret on purpose.
	var got Secret
	if err := json.Unmarshal([]byte(`"x"`), &got); err == nil {
		t.Error("json.Unmarshal into Secret succeeded; want an error")
	}
}

func TestSecretSlog(t *testing.T) {
	s := NewSecret(canary)
	cfg := config{Name: "shopify", APIKey: s, Ptr: &s}
	for name, mk := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler {
			return slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
		"text": func(b *bytes.Buffer) slog.Handler {
			return slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})
		},
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(mk(&buf)).With("preset", s)
			log.Info("sync start", "api_key", s, "ptr", &s, slog.Any("config", cfg),
				slog.Group("creds", "k", s), "list", []Secret{s})
			log.Error("sync failed", slog.Any("error", fmt.Errorf("auth %v", s)))
			out := buf.String()
			if leaks(out) {
				t.Fatalf("log output leaks the secret:\n%s", out)
			}
			if !strings.Contains(out, "****") {
				t.Fatalf("log output has no ****:\n%s", out)
			}
		})
	}
}

func TestSecretValue(t *testing.T) {
	in := []byte(canary)
	s := NewSecret(in)
	in[0] = 'X' // NewSecret copied
	r := s.Reveal()
	if string(r) != canary {
		t.Fatalf("Reveal = %q", r)
	}
	r[0] = 'Y' // Reveal copied
	if string(s.Reveal()) != canary {
		t.Fatal("mutating Reveal's result changed the secret")
	}
	if !s.Equal(NewSecret(canary)) || s.Equal(NewSecret(canary+"x")) || s.Equal(Secret{}) {
		t.Error("Equal compares wrongly")
	}
	if !(Secret{}).IsZero() || !NewSecret("").IsZero() || s.IsZero() {
		t.Error("IsZero wrong")
	}
	if !(Secret{}).Equal(NewSecret("")) {
		t.Error("zero and empty secrets should be equal")
	}
}
