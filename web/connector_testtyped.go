package web

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"sentryhub/store"
)

// testTyped is the credentials form's "Test these values" button: it runs
// the connection test with the values in the form, laid over the stored
// ones, and saves nothing. The page comes back around the same typed
// values (a redirect would have to keep them somewhere, and typed secrets
// must not be kept anywhere), with the result where a test result goes.
// Nothing changed, so reloading only tests again.
func (u *connectorUI) testTyped(w http.ResponseWriter, r *http.Request) error {
	info, err := u.svc.Info(r.PathValue("name"))
	if err != nil {
		return err
	}
	wh, err := connectorFormWarehouse(r)
	if err != nil {
		return err
	}
	tv, ok := u.svc.(connectorValuesTester)
	if !ok {
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: "testing unsaved values is not available"}
	}
	raw, typed, secretTyped, _ := credentialsFromForm(info, r)
	in := &connectorCredentialsInput{values: typed, errors: map[string]string{}}
	if secretTyped {
		in.notes = append(in.notes, "Secret values are never sent back to the browser: type them again to save them.")
	}
	res, err := tv.TestValues(r.Context(), info.Name, wh, raw)
	var ve *store.ValidationError
	if errors.As(err, &ve) {
		n := 0
		for _, k := range slices.Sorted(maps.Keys(ve.Fields)) {
			if _, ok := info.Schema.Field(k); ok {
				in.errors[k] = ve.Fields[k]
				n++
			}
		}
		head := "Not tested, nothing saved: " + ve.Message
		if n > 0 {
			head = fmt.Sprintf("Not tested, nothing saved: fix the %d field(s) marked below.", n)
		}
		in.notes = append([]string{head}, in.notes...)
		return u.renderWith(w, r, http.StatusUnprocessableEntity, info, wh, in, nil, nil)
	}
	if err != nil {
		return err
	}
	f := flash{Kind: "ok", Topic: "test", Text: "These values work (not saved yet): " + res.Message}
	if !res.OK {
		f.Kind, f.Text = "error", "These values failed (nothing saved): "+res.Message
	}
	return u.renderWith(w, r, http.StatusOK, info, wh, in, nil, &f)
}
