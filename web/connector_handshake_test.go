package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"sentryhub/connectors/manifest"
)

// handshakeReceiver answers a handshake on stream "subs" and takes every
// other delivery with 202, recording what reached Receive.
type handshakeReceiver struct{ received []string }

func (r *handshakeReceiver) Receive(_ context.Context, name string, _ int64, stream string, _ http.Header, body []byte) manifest.Reply {
	r.received = append(r.received, stream+":"+string(body))
	return manifest.Reply{Status: http.StatusAccepted, Message: "accepted"}
}

func (r *handshakeReceiver) Handshake(_ context.Context, _ string, _ int64, stream string, q map[string][]string, body []byte) (manifest.Reply, bool) {
	tok, ok := q["validationToken"]
	if stream != "subs" || !ok || len(body) > 0 {
		return manifest.Reply{}, false
	}
	return manifest.Reply{Status: http.StatusOK, Message: tok[0]}, true
}

// TestConnectorWebhookHandshake: a provider's endpoint validation is
// answered with the token as plain text, never sniffed as markup, before
// the signature-checked path; a delivery with a body goes to Receive.
func TestConnectorWebhookHandshake(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	rx := &handshakeReceiver{}
	e.s.SetConnectorWebhooks(rx)
	for _, tc := range []struct {
		path, body, want, ctype string
		status                  int
	}{
		{"/hooks/connectors/businesscentral/1/subs?validationToken=tok-42", "", "tok-42", "text/plain; charset=utf-8", 200},
		{"/hooks/connectors/businesscentral/1/subs", `{"value":[]}`, `{"message":"accepted"}`, "application/json", 202},
	} {
		resp, err := http.Post(e.srv.URL+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || strings.TrimSpace(string(b)) != tc.want || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) {
			t.Fatalf("%s: %d %q %q", tc.path, resp.StatusCode, b, resp.Header.Get("Content-Type"))
		}
		if tc.status == 200 && resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("handshake answer may be sniffed")
		}
	}
	if len(rx.received) != 1 || rx.received[0] != `subs:{"value":[]}` {
		t.Fatalf("received %q", rx.received)
	}
}
