package web

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"sentryhub/store"
)

func TestAuditPageFiltersAndDiffRows(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	e.user("a@example.com", store.RoleAdmin)
	ctx := context.Background()
	for _, a := range []store.Audit{
		{Actor: "user:a@example.com", Action: "webhook.update", Target: "webhook:3", Diff: map[string]any{"name": map[string]any{"from": "erp", "to": "erp2"}}},
		{Actor: "token:7", Action: "x_100%.update", Target: "x:1", Diff: map[string]any{"n": []int{1, 2}}},
		{Actor: "user:b@example.com", Action: "webhooks.other", Target: "webhook:30", Diff: map[string]any{"role": "admin"}},
	} {
		if err := e.db.Audit(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	c := e.browser()
	e.login(c, "a@example.com", "correct horse battery")
	ids := func(path string) []string {
		t.Helper()
		r := e.do(c, "GET", path, nil, nil)
		if r.StatusCode != 200 {
			t.Fatalf("%s: %d", path, r.StatusCode)
		}
		doc := parse(t, r)
		var out []string
		var walk func(*html.Node)
		walk = func(n *html.Node) {
			if n.Type == html.ElementNode && n.Data == "tr" {
				for _, a := range n.Attr {
					if a.Key == "id" && strings.HasPrefix(a.Val, "audit-") {
						out = append(out, strings.TrimPrefix(a.Val, "audit-")+" "+text(n))
					}
				}
			}
			for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
				walk(ch)
			}
		}
		walk(find(doc, "table", "id", "audit"))
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string // actions expected, newest first
	}{
		{"action=webhook", []string{"webhook.update"}}, // an area, not a prefix of "webhooks"
		{"action=webhook.update", []string{"webhook.update"}},
		{"target=webhook%3A3", []string{"webhook.update"}},
		{"target=webhook", []string{"webhooks.other", "webhook.update"}},
		{"actor=token%3A", []string{"x_100%.update"}},
		{"actor=%25", nil}, // % is literal, not a wildcard
		{"since=2026-11-26&until=2026-11-26&action=webhooks", []string{"webhooks.other"}},
		{"since=2026-11-27", nil},
	} {
		got := ids("/audit?" + tc.query)
		var actions []string
		for _, g := range got {
			for _, w := range []string{"webhook.update", "x_100%.update", "webhooks.other", "user.create"} {
				if strings.Contains(g, w) {
					actions = append(actions, w)
					break
				}
			}
		}
		if strings.Join(actions, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.query, actions, tc.want)
		}
	}

	// The diff reads as rows, from -> to.
	doc := parse(t, e.do(c, "GET", "/audit?action=webhook.update", nil, nil))
	row := find(doc, "tr", "data-field", "name")
	if row == nil || text(find(row, "td", "class", "from")) != "erp" || text(find(row, "td", "class", "to")) != "erp2" {
		t.Fatalf("diff row %q", text(row))
	}
	doc = parse(t, e.do(c, "GET", "/audit?action=x_100%25.update", nil, nil))
	if row := find(doc, "tr", "data-field", "n"); row == nil || text(find(row, "td", "class", "from")) != "1" {
		t.Fatal("pair diff not shown as from -> to")
	}

	// A malformed day is the HTML 400 naming the field.
	r := e.do(c, "GET", "/audit?since=yesterday", nil, nil)
	if r.StatusCode != 400 || !strings.Contains(text(parse(t, r)), "since: ") {
		t.Fatalf("bad since: %d", r.StatusCode)
	}
}
