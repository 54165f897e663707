package web

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"sentryhub/connectors/manifest"
)

// ConnectorWebhookReceiver takes provider webhook deliveries for
// connectors (manifest.Receiver implements it).
type ConnectorWebhookReceiver interface {
	Receive(ctx context.Context, name string, warehouseID int64, stream string, h http.Header, body []byte) manifest.Reply
}

// connectorHandshaker answers provider endpoint validations before any
// signature (manifest.Receiver implements it).
type connectorHandshaker interface {
	Handshake(ctx context.Context, name string, warehouseID int64, stream string, query map[string][]string, body []byte) (manifest.Reply, bool)
}

// maxConnectorWebhookBody bounds a provider delivery read before its
// signature is checked.
const maxConnectorWebhookBody = 1 << 20

// ConnectorWebhookPath is the per-connection URL path of a connector's
// webhook stream, the address the UI tells the admin to register at the
// provider.
func ConnectorWebhookPath(name string, warehouseID int64, stream string) string {
	return "/hooks/connectors/" + name + "/" + strconv.FormatInt(warehouseID, 10) + "/" + stream
}

// SetConnectorWebhooks registers the public endpoint providers deliver to.
// It needs no hub credentials: the receiver verifies the provider's
// signature before anything else, and answers 401 when it does not match.
func (s *Server) SetConnectorWebhooks(rx ConnectorWebhookReceiver) {
	s.mux.Handle("POST /hooks/connectors/{name}/{warehouse_id}/{stream}", s.public(func(w http.ResponseWriter, r *http.Request) error {
		wh, err := strconv.ParseInt(r.PathValue("warehouse_id"), 10, 64)
		if err != nil || wh <= 0 {
			return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such webhook endpoint"}
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxConnectorWebhookBody+1))
		if err != nil {
			return badRequest("could not read the body", nil)
		}
		if len(body) > maxConnectorWebhookBody {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: "body is larger than 1 MiB"}
		}
		if hs, ok := rx.(connectorHandshaker); ok {
			if rep, ok := hs.Handshake(r.Context(), r.PathValue("name"), wh, r.PathValue("stream"), r.URL.Query(), body); ok {
				// A provider's endpoint validation: the token as plain text.
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(rep.Status)
				_, _ = io.WriteString(w, rep.Message)
				return nil
			}
		}
		rep := rx.Receive(r.Context(), r.PathValue("name"), wh, r.PathValue("stream"), r.Header, body)
		writeJSON(w, rep.Status, map[string]string{"message": rep.Message})
		return nil
	}))
}
