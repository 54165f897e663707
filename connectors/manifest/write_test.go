package manifest

import (
	"strings"
	"testing"

	"sentryhub/connectors"
)

const shipWrite = `write:
  - key: ship
    object: fulfillment
    action: ACTION
    request: {method: POST, path: "/orders/{{record.source_id}}/shipments"}
    body_hook: ship_body
    existing:
      path: "/orders/{{record.source_id}}/shipments"
      MATCH
      ref_path: id
    verify: {path: "/shipments/{{ref}}"}
`

// existing needs match fields and a create action; a body hook must be
// registered.
func TestWriteExistingAndBodyHook(t *testing.T) {
	for _, tc := range []struct {
		name, action, match, want string
	}{
		{"valid", "create", `match: {tracking: "{{record.tracking}}"}`, ""},
		{"no match", "create", "", "write[0].existing.match: is required"},
		{"not a create", "update", `match: {tracking: "{{record.tracking}}"}`, "write[0].existing: is only for create actions"},
		{"bad placeholder", "create", `match: {tracking: "{{record.nope}}"}`, "write[0].existing.match.tracking"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := strings.NewReplacer("ACTION", tc.action, "MATCH", tc.match).Replace(shipWrite)
			m, err := parseWith(t, baseManifest+w, nil)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = RegisterManifest(connectors.NewRegistry(), m, Options{})
			if err == nil || !strings.Contains(err.Error(), `write[0].body_hook: no Go body hook named "ship_body"`) {
				t.Fatalf("unregistered hook: %v", err)
			}
			hooks := Hooks{Bodies: map[string]BodyHook{"ship_body": func(Record, any) (any, error) { return nil, nil }}}
			if err := RegisterManifest(connectors.NewRegistry(), m, Options{Hooks: hooks}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
