package integrations

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"sentryhub/store"
)

// Spec is an integration's settings as an admin gives them (the body of
// POST /api/admin/integrations and PUT /api/admin/integrations/{slug}).
type Spec struct {
	Kind          string          `json:"kind"`
	Name          string          `json:"name"`
	Slug          string          `json:"slug"`
	Author        string          `json:"author"`
	Overview      string          `json:"overview"`
	WebhookURL    string          `json:"webhook_url"`
	RedirectURL   string          `json:"redirect_url"`
	VerifyInstall bool            `json:"verify_install"`
	Permissions   Permissions     `json:"permissions"`
	EventTypes    []string        `json:"event_types"`
	AlertAction   bool            `json:"alert_action"`
	UIComponents  json.RawMessage `json:"ui_components"`
}

const (
	maxName     = 100
	maxSlug     = 60
	maxAuthor   = 100
	maxOverview = 4000
)

// Slugify derives a slug from a name: lowercase letters and digits, runs
// of anything else as one hyphen.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= maxSlug {
			break
		}
	}
	return b.String()
}

func validSlug(s string) bool {
	if s == "" || len(s) > maxSlug || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			return false
		}
	}
	return true
}

func text(v, field string, max int, required bool, fields map[string]string) string {
	v = strings.TrimSpace(v)
	switch {
	case required && v == "":
		fields[field] = "is required"
	case !utf8.ValidString(v):
		fields[field] = "must be UTF-8 text"
	case utf8.RuneCountInString(v) > max:
		fields[field] = fmt.Sprintf("must be at most %d characters", max)
	}
	return v
}

// Normalize checks s and returns it cleaned up, or a *store.ValidationError
// naming every bad field. allowHTTP accepts http:// URLs (local
// development, as for webhook subscriptions). On an update (creating
// false) kind and slug are not taken from s.
func (s Spec) Normalize(allowHTTP, creating bool) (Spec, error) {
	fields := map[string]string{}
	if creating {
		switch s.Kind {
		case store.IntegrationInternal, store.IntegrationPublic:
		default:
			fields["kind"] = `must be "internal" or "public"`
		}
	}
	s.Name = text(s.Name, "name", maxName, true, fields)
	s.Author = text(s.Author, "author", maxAuthor, false, fields)
	s.Overview = text(s.Overview, "overview", maxOverview, false, fields)
	if creating {
		s.Slug = strings.TrimSpace(s.Slug)
		if s.Slug == "" {
			s.Slug = Slugify(s.Name)
		}
		if !validSlug(s.Slug) {
			fields["slug"] = "must be 1-60 lowercase letters, digits and inner hyphens"
		}
	}
	s.WebhookURL = strings.TrimSpace(s.WebhookURL)
	if s.WebhookURL != "" {
		if why := store.ValidateWebhookURL(s.WebhookURL, allowHTTP); why != "" {
			fields["webhook_url"] = why
		}
	}
	s.RedirectURL = strings.TrimSpace(s.RedirectURL)
	if s.RedirectURL != "" {
		if why := store.ValidateWebhookURL(s.RedirectURL, allowHTTP); why != "" {
			fields["redirect_url"] = why
		} else if u, _ := url.Parse(s.RedirectURL); u.Query().Has("code") || u.Query().Has("installationId") {
			fields["redirect_url"] = "must not carry code or installationId: the hub adds them"
		}
	}
	s.Permissions = NormalizePermissions(s.Permissions, fields)
	seen := map[string]bool{}
	var types []string
	for _, t := range s.EventTypes {
		switch {
		case !store.IsCatalogEventType(t):
			fields["event_types"] = fmt.Sprintf("unknown event type %q (valid: %s)", t, strings.Join(store.CatalogEventTypes(), ", "))
		case !seen[t]:
			seen[t] = true
			types = append(types, t)
		}
	}
	s.EventTypes = types
	if len(types) > 0 && s.Permissions.Level(ResourceEvents) < LevelRead {
		fields["event_types"] = "receiving events needs the events permission at read or above"
	}
	if s.WebhookURL == "" {
		switch {
		case len(types) > 0:
			fields["webhook_url"] = "is required to receive the selected event types"
		case s.AlertAction:
			fields["webhook_url"] = "is required for an alert action (alerts arrive as webhooks)"
		case s.Kind == store.IntegrationPublic && s.RedirectURL == "" && creating:
			fields["webhook_url"] = "a public integration needs a webhook URL or a redirect URL to receive its grant code"
		}
	}
	if s.Kind == store.IntegrationInternal && creating && (s.RedirectURL != "" || s.VerifyInstall) {
		fields["redirect_url"] = "an internal integration installs itself: no redirect URL or verify-install"
	}
	if len(s.UIComponents) > 0 && string(s.UIComponents) != "null" {
		if err := ValidateUIComponents(s.UIComponents); err != nil {
			fields["ui_components"] = err.Error()
		} else {
			var buf bytes.Buffer
			_ = json.Compact(&buf, s.UIComponents)
			s.UIComponents = json.RawMessage(buf.Bytes())
		}
	} else {
		s.UIComponents = nil
	}
	if len(fields) > 0 {
		return s, &store.ValidationError{Message: "invalid integration", Fields: fields}
	}
	return s, nil
}
