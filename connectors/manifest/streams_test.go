package manifest

import (
	"strings"
	"testing"

	"sentryhub/connectors"
)

// secondStream is a second poll stream of items, placed after the first.
const secondStream = `  - key: bundles
    mode: poll
    record: item
%s    request: {path: /bundles}
    records: data
    mapping: items.mapping.yaml
`

const fulfilWrite = `write:
  - key: ship
    object: fulfillment
    action: create
%s    request: {method: POST, path: "/orders/{{record.source_id}}/ship"}
    verify: {path: "/orders/{{record.source_id}}"}
`

func TestSeveralStreamsOfOneRecord(t *testing.T) {
	two := baseManifest + strings.ReplaceAll(secondStream, "%s", `    source_prefix: "bundle:"`+"\n")
	for _, tc := range []struct {
		name, src, want string
	}{
		{"second stream without a prefix", baseManifest + strings.ReplaceAll(secondStream, "%s", ""),
			`streams[1].source_prefix: poll stream items also reads item records with source_prefix ""`},
		{"same prefix twice", two + strings.ReplaceAll(strings.ReplaceAll(secondStream, "bundles", "kits"), "%s", `    source_prefix: "bundle:"`+"\n"),
			`streams[2].source_prefix: poll stream bundles also reads item records with source_prefix "bundle:"`},
		{"prefix without a colon", baseManifest + strings.ReplaceAll(secondStream, "%s", "    source_prefix: bundle\n"),
			"streams[1].source_prefix: must match"},
		{"write prefix naming no stream", two + strings.ReplaceAll(fulfilWrite, "%s", `    source_prefix: "kit:"`+"\n"),
			"write[0].source_prefix: no stream has this source_prefix"},
		{"two writes for one prefix", two + strings.ReplaceAll(fulfilWrite, "%s", "") + strings.ReplaceAll(strings.TrimPrefix(fulfilWrite, "write:\n"), "%s", ""),
			`write[1]: a create fulfillment action with source_prefix "" already exists (ship)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWith(t, tc.src, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n  %v\ndoes not contain\n  %s", err, tc.want)
			}
		})
	}

	src := two + strings.ReplaceAll(fulfilWrite, "%s", "") +
		strings.ReplaceAll(strings.ReplaceAll(strings.TrimPrefix(fulfilWrite, "write:\n"), "key: ship", "key: ship_bundle"), "%s", `    source_prefix: "bundle:"`+"\n")
	m, err := parseWith(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.pollStreams(RecordItem)) != 2 || m.Streams[1].SourcePrefix != "bundle:" {
		t.Fatalf("streams %+v", m.Streams)
	}
	if len(m.Caps) != 2 || m.Caps[0] != connectors.CapSyncItems || m.Caps[1] != connectors.CapPushFulfillment {
		t.Fatalf("caps = %v", m.Caps)
	}
	for id, want := range map[string]string{"12": "ship", "bundle:12": "ship_bundle", "bundles:12": "ship"} {
		if w := m.writeFor("fulfillment", "create", id); w == nil || w.Key != want {
			t.Errorf("write for %q = %+v, want %s", id, w, want)
		}
	}
}

func TestLinesRefusals(t *testing.T) {
	withLines := func(lines string) string {
		return strings.Replace(baseManifest, "    mapping: items", lines+"    mapping: items", 1)
	}
	for _, tc := range []struct{ name, src, want string }{
		{"no ids", withLines("    lines:\n      request: {path: /lines}\n      parent: order\n"),
			"streams[0].lines.request: must name {{ids}}"},
		{"no parent", withLines("    lines:\n      request: {path: \"/lines?in={{ids}}\"}\n"),
			"streams[0].lines.parent: is required"},
		{"cursor paging", withLines("    lines:\n      request: {path: \"/lines?in={{ids}}\"}\n      parent: order\n"),
			"streams[0].lines: needs offset pagination"},
		{"ids outside lines", strings.Replace(baseManifest, `"{{since}}"`, `"{{ids}}"`, 1),
			"streams[0].request.query.since: {{ids}} is not a placeholder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWith(t, tc.src, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n  %v\ndoes not contain\n  %s", err, tc.want)
			}
		})
	}
}

func TestDeltaFrom(t *testing.T) {
	write := func(extra string) string {
		return baseManifest + `write:
  - key: adjust
    object: inventory_level
    action: update
    request: {method: POST, path: /adjustments, body: '{"sku": "{{record.sku}}", "by": {{delta}} }'}
    verify: {path: "/stock/{{record.sku}}", expect: {on_hand: "{{record.on_hand}}"}}
` + extra
	}
	for _, tc := range []struct{ name, src, want string }{
		{"delta without delta_from", write(""), "write[0].request.body: {{delta}} is not a placeholder"},
		{"no snapshot", write("    delta_from: on_hand\n"), "write[0].delta_from: needs a snapshot"},
		{"not stock", strings.Replace(write("    delta_from: on_hand\n    snapshot: {path: \"/stock/{{record.sku}}\"}\n"), "object: inventory_level", "object: item", 1),
			"write[0].delta_from: is for inventory_level actions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseWith(t, tc.src, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n  %v\ndoes not contain\n  %s", err, tc.want)
			}
		})
	}
	if _, err := parseWith(t, write("    delta_from: on_hand\n    snapshot: {path: \"/stock/{{record.sku}}\"}\n"), nil); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		doc  string
		want int64
		err  bool
	}{
		{`{"items": [{"quantityonhand": "40"}]}`, 40, false},
		{`{"items": [{"quantityonhand": 12}]}`, 12, false},
		{`{"items": [{"quantityonhand": "-3"}]}`, -3, false},
		{`{"items": [{}]}`, 0, false}, // a null quantity is left out: none on hand
		{`{"items": []}`, 0, false},
		{`{"items": [{"quantityonhand": "2.5"}]}`, 0, true},
		{`{"items": [{"quantityonhand": "many"}]}`, 0, true},
		{`not json`, 0, true},
	} {
		got, err := snapshotQuantity(parsed(&connectors.Response{Body: []byte(tc.doc)}), splitPath("items.0.quantityonhand"))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: %d %v, want %d (error %v)", tc.doc, got, err, tc.want, tc.err)
		}
	}
}
