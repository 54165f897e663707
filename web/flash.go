package web

import (
	"encoding/json"
	"net/http"

	"sentryhub/connectors"
)

// flash is a one-time message shown on the page a redirect leads to
// (post/redirect/get). Topic names the page section it belongs to, so a
// page can show it where the browser lands; "" puts it on top.
type flash struct {
	Kind  string `json:"k"` // ok, warn or error: the .flash CSS classes
	Topic string `json:"t,omitempty"`
	Text  string `json:"m"`
}

const (
	flashKey = "flash"
	// revealKey holds the nonce of a value shown once (a new secret or
	// token) in the server's memory; the value itself never enters the
	// cookie.
	revealKey = "reveal"
	// maxFlashes keeps the cookie small: messages nobody came back to see
	// are dropped, oldest first.
	maxFlashes = 4
)

// seeOther queues fs for the next page and redirects there with 303.
func (s *Server) seeOther(w http.ResponseWriter, r *http.Request, to string, fs ...flash) error {
	return s.seeOtherReveal(w, r, to, "", fs...)
}

// seeOtherReveal is seeOther that also passes the nonce of a one-time
// reveal (see revealStore) to the next page.
func (s *Server) seeOtherReveal(w http.ResponseWriter, r *http.Request, to, nonce string, fs ...flash) error {
	if sess, err := s.sessions.Get(r, sessionName); err == nil && !sess.IsNew {
		old, _ := sess.Values[flashKey].([]string)
		for _, f := range fs {
			f.Text = connectors.SanitizeMessage(f.Text, 2*connectors.MaxMessageLen)
			b, _ := json.Marshal(f)
			old = append(old, string(b))
		}
		if len(old) > maxFlashes {
			old = old[len(old)-maxFlashes:]
		}
		sess.Values[flashKey] = old
		if nonce != "" {
			sess.Values[revealKey] = nonce
		}
		_ = sess.Save(r, w) // without the cookie the page only misses its message
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// takeFlashes returns and forgets the queued messages and reveal nonce.
// Call it before writing the response.
func (s *Server) takeFlashes(w http.ResponseWriter, r *http.Request) (fs []flash, nonce string) {
	sess, err := s.sessions.Get(r, sessionName)
	if err != nil || sess.IsNew {
		return nil, ""
	}
	raw, _ := sess.Values[flashKey].([]string)
	nonce, _ = sess.Values[revealKey].(string)
	if len(raw) == 0 && nonce == "" {
		return nil, ""
	}
	delete(sess.Values, flashKey)
	delete(sess.Values, revealKey)
	_ = sess.Save(r, w)
	for _, v := range raw {
		var f flash
		if json.Unmarshal([]byte(v), &f) == nil && f.Text != "" {
			fs = append(fs, f)
		}
	}
	return fs, nonce
}
