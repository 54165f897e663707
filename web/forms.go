package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Form parsing of the UI pages: each form is read into a struct holding
// what was typed, so a refused form is shown again unchanged; checks that
// belong to the data are the store's. The webhook and connector forms are
// in webhooks_form.go and connectors_form.go.

// parseForm parses a posted form; a body over the limit stays a
// *http.MaxBytesError (413), anything else unreadable is a 400.
func parseForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("the form could not be read: "+err.Error(), nil)
	}
	return nil
}

// fieldList renders field errors as "Label: message" lines, in a stable
// order.
func fieldList(fields map[string]string) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fieldLabel(k)+": "+fields[k])
	}
	return out
}

// tokenForm is the create-token form as typed.
type tokenForm struct {
	Name   string
	Scopes []string
}

// Has reports whether scope was ticked.
func (f tokenForm) Has(scope string) bool { return slices.Contains(f.Scopes, scope) }

func parseTokenForm(r *http.Request) (tokenForm, error) {
	if err := parseForm(r); err != nil {
		return tokenForm{}, err
	}
	return tokenForm{Name: strings.TrimSpace(r.PostForm.Get("name")), Scopes: r.PostForm["scope"]}, nil
}

// userForm is the create-user form as typed.
type userForm struct {
	Email  string
	Role   string
	Errors map[string]string
}

func parseUserForm(r *http.Request) userForm {
	return userForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Role: r.PostForm.Get("role")}
}

// dayRange reads the since/until query values as UTC days (YYYY-MM-DD),
// until inclusive: the zero times when absent. Problems go into fields.
func dayRange(v url.Values, fields map[string]string) (since, until time.Time) {
	day := func(name string) time.Time {
		s := v.Get(name)
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			fields[name] = fmt.Sprintf("%q is not a date: use YYYY-MM-DD", whClip(s))
		}
		return t
	}
	since = day("since")
	if u := day("until"); !u.IsZero() {
		until = u.AddDate(0, 0, 1)
	}
	return since, until
}
