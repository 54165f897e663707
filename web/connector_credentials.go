package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"sentryhub/connectors"
	"sentryhub/store"
)

// Saving, deleting and testing a connector's credentials.

// saveCredentials turns the generated form into the API's credentials
// submission. Its semantics are the API's, where a field left out keeps its
// stored value:
//   - a secret left blank is left out, so the stored secret is kept (and a
//     required one never stored is reported missing); a secret is never sent
//     back to the browser, so blank is the only way to say "keep";
//   - every other field is sent as typed, so emptying a required one is an
//     error rather than silently keeping the old value;
//   - a checkbox sends "false" from a hidden input before it, so unticking
//     it is seen.
func (u *connectorUI) saveCredentials(w http.ResponseWriter, r *http.Request) error {
	info, err := u.svc.Info(r.PathValue("name"))
	if err != nil {
		return err
	}
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	raw, typed, secretTyped, emptied := credentialsFromForm(info, r)
	view, err := u.svc.PutCredentials(r.Context(), principal(r.Context()).Actor(), info.Name, wh, raw)
	var ve *store.ValidationError
	if errors.As(err, &ve) && ve.Fields["warehouse_id"] != "" {
		return err // no such warehouse: there is no form to go back to
	}
	if errors.As(err, &ve) {
		in := &connectorCredentialsInput{values: typed, errors: map[string]string{}}
		n := 0
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			if _, ok := info.Schema.Field(k); ok {
				in.errors[k] = ve.Fields[k]
				n++
				continue
			}
			in.notes = append(in.notes, k+" "+ve.Fields[k])
		}
		if len(ve.Fields) == 0 {
			in.notes = append(in.notes, ve.Message)
		}
		head := "Credentials not saved; nothing was changed."
		if n > 0 {
			head += fmt.Sprintf(" Fix the %d field(s) marked below.", n)
		}
		in.notes = append([]string{head}, in.notes...)
		if secretTyped {
			in.notes = append(in.notes, "Secret values are never sent back to the browser: type them again.")
		}
		// Post/redirect/get: the page shows the errors and the typed
		// settings; secrets are not kept (typed holds none).
		values := url.Values{}
		for k, v := range typed {
			values.Set(k, v)
		}
		return u.s.seeOtherRefused(w, r, connectorURL(info.Name, wh, "credentials"),
			refusedForm{Form: connectorCredentialsForm(info.Name, wh), Values: values, Errors: in.errors, Notes: in.notes})
	}
	if err != nil {
		return err
	}
	f := flash{Kind: "ok", Text: "Credentials saved. Secrets are stored encrypted and shown only as “stored”. Test the connection next."}
	var kept []string
	for _, name := range emptied {
		if view.Values[name] != "" {
			fl, _ := info.Schema.Field(name)
			kept = append(kept, fl.Label)
		}
	}
	if len(kept) > 0 {
		f.Kind = "warn"
		f.Text = "Credentials saved, but " + strings.Join(kept, ", ") + " was left empty and keeps its stored value: " +
			"a saved setting cannot be emptied on its own. Delete the credentials and save them again to clear it."
	}
	return u.redirect(w, r, info.Name, wh, "credentials", f)
}

// connectorCredentialsForm names the credentials form of a connector at a
// warehouse, for a refusal to come back to.
func connectorCredentialsForm(name string, wh int64) string {
	return "connector-credentials:" + name + ":" + strconv.FormatInt(wh, 10)
}

// refusedCredentials turns a refused credentials form back into the form's
// input.
func refusedCredentials(rf *refusedForm) *connectorCredentialsInput {
	if rf == nil {
		return nil
	}
	in := &connectorCredentialsInput{values: map[string]string{}, errors: rf.Errors, notes: rf.Notes}
	for k := range rf.Values {
		in.values[k] = rf.Values.Get(k)
	}
	return in
}

// credentialsFromForm reads the generated form as the API's submission
// (see saveCredentials): raw is what is sent, typed the non-secret values as
// typed (to show again), secretTyped whether any secret was typed, emptied
// the optional fields sent empty.
func credentialsFromForm(info connectors.Info, r *http.Request) (raw map[string]json.RawMessage, typed map[string]string, secretTyped bool, emptied []string) {
	raw = map[string]json.RawMessage{}
	typed = map[string]string{}
	for _, f := range info.Schema.Fields {
		vals, sent := r.PostForm[f.Name]
		if !sent {
			continue
		}
		v := vals[len(vals)-1] // a ticked checkbox follows its hidden "false"
		if f.Secret {
			if v == "" {
				continue
			}
			secretTyped = true
		} else {
			typed[f.Name] = v
			if v == "" && !f.Required {
				emptied = append(emptied, f.Name)
			}
		}
		b, _ := json.Marshal(v)
		raw[f.Name] = b
	}
	return raw, typed, secretTyped, emptied
}

// deleteCredentials needs confirm=yes; without it, it asks first.
func (u *connectorUI) deleteCredentials(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if _, err := u.svc.Info(name); err != nil {
		return err
	}
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	if r.PostForm.Get("confirm") != "yes" {
		http.Redirect(w, r, connectorURL(name, wh, "")+"&confirm=delete#delete", http.StatusSeeOther)
		return nil
	}
	err = u.svc.DeleteCredentials(r.Context(), principal(r.Context()).Actor(), name, wh)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return u.redirect(w, r, name, wh, "credentials", flash{Kind: "warn", Text: "There were no credentials to delete."})
	case err != nil:
		return err
	}
	return u.redirect(w, r, name, wh, "credentials", flash{Kind: "ok",
		Text: "Credentials deleted. Syncs and fulfillment pushes of this warehouse will fail until new ones are saved."})
}

func (u *connectorUI) testConnection(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	res, err := u.svc.Test(r.Context(), name, wh)
	if err != nil {
		return err // unknown connector or warehouse: there is no page to go back to
	}
	f := flash{Kind: "ok", Topic: "test", Text: "Connection OK: " + res.Message}
	if !res.OK {
		f.Kind, f.Text = "error", "Connection failed: "+res.Message
	}
	return u.redirect(w, r, name, wh, "credentials", f)
}
