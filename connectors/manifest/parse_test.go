package manifest

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"sentryhub/connectors"
)

const baseManifest = `key: demo
name: Demo
provider: Demo Inc
version: 1.0.0
base_url: https://api.demo.example/v1
hosts: [api.demo.example]
settings:
  type: object
  required: [api_key]
  properties:
    api_key: {type: string, title: API key, x-secret: true}
    region: {type: string, title: Region, enum: [eu, us], default: eu}
auth:
  kind: bearer
  token: "{{secrets.api_key}}"
test:
  path: /me
streams:
  - key: items
    mode: poll
    record: item
    request:
      path: /items
      query: {since: "{{since}}"}
    records: data
    pagination: {kind: cursor, cursor_path: next, cursor_param: after}
    mapping: items.mapping.yaml
`

const itemsMapping = `version: 1
resource: items
source_id: $.id
fields:
  sku: $.sku
  name: $.name
`

func parseWith(t *testing.T, src string, files map[string]string) (*Manifest, error) {
	t.Helper()
	fsys := fstest.MapFS{"items.mapping.yaml": {Data: []byte(itemsMapping)}}
	for k, v := range files {
		fsys[k] = &fstest.MapFile{Data: []byte(v)}
	}
	return Parse("demo/manifest.yaml", []byte(src), fsys, ".")
}

func TestParseValid(t *testing.T) {
	m, err := parseWith(t, baseManifest, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Key != "demo" || len(m.Streams) != 1 || m.Streams[0].Mapping == nil || m.Streams[0].Schedule != "" {
		t.Fatalf("manifest = %+v", m)
	}
	if len(m.Caps) != 1 || m.Caps[0] != connectors.CapSyncItems {
		t.Fatalf("caps = %v", m.Caps)
	}
	f, _ := m.Schema.Field("region")
	if f.Type != connectors.TypeEnum || f.Default != "eu" {
		t.Fatalf("region field = %+v", f)
	}
}

// Every refusal names file, line, column and field.
func TestParseRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to string
		files    map[string]string
		want     string // substring of the error
	}{
		{"unknown top key", "name: Demo", "name: Demo\ncolour: red", nil, `demo/manifest.yaml:3:1: unknown field "colour"`},
		{"bad key", "key: demo", "key: Demo!", nil, "demo/manifest.yaml:1:6: key: must match"},
		{"unknown auth kind", "kind: bearer", "kind: magic", nil, `demo/manifest.yaml:14:9: auth.kind: unknown auth kind "magic"`},
		{"secret as setting", "{{secrets.api_key}}", "{{settings.api_key}}", nil, `demo/manifest.yaml:15:10: auth.token: {{settings.api_key}}: "api_key" is x-secret`},
		{"unknown placeholder", `"{{since}}"`, `"{{yesterday}}"`, nil, "demo/manifest.yaml:24:22: streams[0].request.query.since: {{yesterday}} is not a placeholder"},
		{"pagination kind", "kind: cursor,", "kind: sideways,", nil, `demo/manifest.yaml:26:24: streams[0].pagination.kind: unknown pagination kind "sideways"`},
		{"cursor needs a path", "cursor_path: next, ", "", nil, "streams[0].pagination.cursor_path: is required"},
		{"no hosts", "hosts: [api.demo.example]", "hosts: []", nil, "demo/manifest.yaml:6:8: hosts: list the hosts"},
		{"schedule", "mode: poll", "mode: poll\n    schedule: 10s", nil, "streams[0].schedule: an interval must be between 1m"},
		{"settings type", "api_key: {type: string,", "api_key: {type: number,", nil, `settings.properties.api_key.type: unsupported type "number"`},
		{"secret default (registry refusal)", "x-secret: true}", "x-secret: true, default: x}", nil, "a secret field cannot have a default"},
		{"mapping missing", "mapping: items.mapping.yaml", "mapping: nope.yaml", nil, "streams[0].mapping: cannot read demo/nope.yaml"},
		{"mapping error in its own file", "", "", map[string]string{"items.mapping.yaml": "version: 1\nresource: items\nsource_id: $.id\nfields:\n  sku: $.sku\n"},
			"demo/items.mapping.yaml:4:1: fields"},
		{"mapping of the wrong record", "record: item", "record: order", nil, "demo/items.mapping.yaml:1:1: resource: must be orders"},
		{"no capabilities", "mode: poll", "mode: webhook", nil, "streams[0].signature: is required"},
		{"yaml syntax", "name: Demo", "name: [Demo", nil, "demo/manifest.yaml:3:1: ',' or ']' must be specified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := baseManifest
			if tc.from != "" {
				if !strings.Contains(src, tc.from) {
					t.Fatalf("base manifest has no %q", tc.from)
				}
				src = strings.Replace(src, tc.from, tc.to, 1)
			}
			_, err := parseWith(t, src, tc.files)
			var el ErrorList
			if !errors.As(err, &el) {
				t.Fatalf("err = %v, want an ErrorList", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n  %v\ndoes not contain\n  %s", err, tc.want)
			}
		})
	}
}

func TestRegisterRefusesUnknownHook(t *testing.T) {
	m, err := parseWith(t, strings.Replace(baseManifest, "mapping: items", "hook: flatten\n    mapping: items", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = RegisterManifest(connectors.NewRegistry(), m, Options{})
	if err == nil || !strings.Contains(err.Error(), `demo/manifest.yaml:27:11: streams[0].hook: no Go response hook named "flatten"`) {
		t.Fatalf("err = %v", err)
	}
	reg := connectors.NewRegistry()
	hooks := Hooks{Responses: map[string]ResponseHook{"flatten": func(*connectors.Response) ([]any, string, error) { return nil, "", nil }}}
	if err := RegisterManifest(reg, m, Options{Hooks: hooks}); err != nil {
		t.Fatal(err)
	}
	if err := RegisterManifest(reg, m, Options{Hooks: hooks}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("second registration: %v", err)
	}
}
