package integrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sentryhub/canonjson"
	"sentryhub/dispatcher"
	"sentryhub/store"
)

// MaxActionAnswer is the most of an action's answer the hub reads and
// shows.
const MaxActionAnswer = 4 << 10

// ActionEventType names a UI action request in X-Sentry-Event-Type.
const ActionEventType = "ui.action"

// ActionAnswer is what an integration answered to a UI action: shown to
// the admin as text, never as HTML.
type ActionAnswer struct {
	Status  int
	Message string
}

// SetActionClient sets the HTTP client UI actions are sent with; app gives
// it the SSRF guard's transport. Without one, actions are refused.
func (s *Service) SetActionClient(c *http.Client) { s.actions = c }

// PageElement is one UI element an integration shows on a page, with its
// index in the document (what RunAction takes).
type PageElement struct {
	Integration store.Integration
	Index       int
	Element     UIElement
	// Href is a link's expanded URL ("" for an action).
	Href string
}

// PageElements lists every installed integration's UI elements for page,
// links expanded with record.
func (s *Service) PageElements(ctx context.Context, page string, record map[string]string) ([]PageElement, error) {
	its, err := s.db.Integrations(ctx)
	if err != nil {
		return nil, err
	}
	var out []PageElement
	for _, it := range its {
		if it.Installation == nil || len(it.UIComponents) == 0 {
			continue
		}
		doc, err := ParseUIComponents(it.UIComponents)
		if err != nil {
			// Validated when saved; a document that no longer parses
			// (a rule tightened since) is skipped, not shown half-working.
			s.log.Warn("integration UI components do not validate", "integration", it.Slug, "error", err)
			continue
		}
		for i, e := range doc.Elements {
			if !contains(e.Pages, page) {
				continue
			}
			pe := PageElement{Integration: it, Index: i, Element: e}
			if e.Type == "link" {
				t, _ := ParseTemplate(e.URI)
				pe.Href = t.Expand(record)
			}
			out = append(out, pe)
		}
	}
	return out, nil
}

// RunAction sends action index of integration slug the record's context
// from page, as a signed POST (the webhook signing scheme, keyed by the
// client secret), and returns the answer. The answer's "message" field is
// shown when it is JSON with one, else its text.
func (s *Service) RunAction(ctx context.Context, slug, page string, index int, record map[string]string) (ActionAnswer, error) {
	it, err := s.db.IntegrationBySlug(ctx, slug)
	if err != nil {
		return ActionAnswer{}, err
	}
	if it.Installation == nil || len(it.UIComponents) == 0 {
		return ActionAnswer{}, fmt.Errorf("integration %s has no actions: %w", slug, store.ErrNotFound)
	}
	doc, err := ParseUIComponents(it.UIComponents)
	if err != nil || index < 0 || index >= len(doc.Elements) || doc.Elements[index].Type != "action" || !contains(doc.Elements[index].Pages, page) {
		return ActionAnswer{}, fmt.Errorf("integration %s has no action %d on %s pages: %w", slug, index, page, store.ErrNotFound)
	}
	if s.actions == nil {
		return ActionAnswer{}, errors.New("UI actions are not configured")
	}
	sealed, err := s.db.SealedClientSecret(ctx, slug)
	if err != nil {
		return ActionAnswer{}, err
	}
	secret, err := s.vault.Open(sealed)
	if err != nil {
		return ActionAnswer{}, fmt.Errorf("client secret of integration %s: %w", slug, err)
	}
	el := doc.Elements[index]
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	ts := now.Unix()
	body, err := canonjson.Marshal(map[string]any{"action": el.Label, "integration": it.Slug, "page": page,
		"record": record, "installation": it.Installation.UUID, "timestamp": strconv.FormatInt(ts, 10)})
	if err != nil {
		return ActionAnswer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, el.URI, bytes.NewReader(body))
	if err != nil {
		return ActionAnswer{}, fmt.Errorf("action request: %w", err)
	}
	key := secret.Reveal()
	req.Header.Set(dispatcher.HeaderSignature, dispatcher.Sign(key, ts, body))
	clear(key)
	req.Header.Set(dispatcher.HeaderSignatureGeneration, "1")
	req.Header.Set(dispatcher.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(dispatcher.HeaderEventType, ActionEventType)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.actions.Do(req)
	if err != nil {
		return ActionAnswer{Message: "the integration could not be reached"}, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, MaxActionAnswer))
	return ActionAnswer{Status: resp.StatusCode, Message: answerText(raw)}, nil
}

// answerText is what to show of an answer: its "message" when it is a JSON
// object with one, else the text itself, cut to valid UTF-8.
func answerText(raw []byte) string {
	var m struct {
		Message *string `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && m.Message != nil {
		return *m.Message
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}
