package web

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaultsAndRefusals(t *testing.T) {
	t.Parallel()
	got, err := Config{}.withDefaults()
	if err != nil || got.SessionIdle != 2*time.Hour || got.MaxBodyBytes != 1<<20 || got.LoginConcurrency < 2 || got.LoginConcurrency > 4 {
		t.Fatalf("defaults: %+v %v", got, err)
	}
	if got, _ := (Config{LoginFailuresPerAddr: 7}).withDefaults(); got.LoginFailuresPerAddr != 7 {
		t.Fatalf("a set value was replaced: %d", got.LoginFailuresPerAddr)
	}
	_, err = Config{MaxBodyBytes: -1, SessionIdle: -time.Second}.withDefaults()
	if err == nil || !strings.Contains(err.Error(), "SessionIdle, MaxBodyBytes") {
		t.Fatalf("negative settings: %v", err)
	}
}
