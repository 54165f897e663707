package integrations

import (
	"strings"
	"testing"
)

func TestExpandTemplate(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"var": "value", "hello": "Hello World!", "path": "/foo/bar", "x": "1024", "y": "768", "empty": ""}
	for _, tc := range []struct{ tmpl, want string }{
		{"{var}", "value"},
		{"{hello}", "Hello%20World%21"},
		{"{+hello}", "Hello%20World!"},
		{"{+path}/here", "/foo/bar/here"},
		{"here?ref={+path}", "here?ref=/foo/bar"},
		{"X{#var}", "X#value"},
		{"map?{x,y}", "map?1024,768"},
		{"{+x,hello,y}", "1024,Hello%20World!,768"},
		{"X{.var}", "X.value"},
		{"{/var,x}/here", "/value/1024/here"},
		{"{;x,y,empty}", ";x=1024;y=768;empty"},
		{"{?x,y,empty}", "?x=1024&y=768&empty="},
		{"?fixed=yes{&x}", "?fixed=yes&x=1024"},
		{"{?undef}", ""},
		{"https://erp.example/o/{var}?q={hello}", "https://erp.example/o/value?q=Hello%20World%21"},
	} {
		tm, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		if got := tm.Expand(vars); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.tmpl, got, tc.want)
		}
	}
	for _, bad := range []string{"{", "}", "{}", "{var:3}", "{list*}", "{a b}", "a b", `x"y`} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestUIComponentsValidation(t *testing.T) {
	t.Parallel()
	link := func(uri, pages string) string {
		return `{"elements":[{"type":"link","label":"Open in ERP","uri":"` + uri + `","pages":[` + pages + `]}]}`
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"ok link", link("https://erp.example/orders/{order_id}", `"sales_order"`), ""},
		{"ok action", `{"elements":[{"type":"action","label":"Ticket","uri":"https://desk.example/hook","pages":["item","warehouse"]}]}`, ""},
		{"not json", `{`, "not valid JSON"},
		{"no elements", `{}`, "elements"},
		{"unknown type", `{"elements":[{"type":"iframe","label":"x","uri":"https://a/","pages":["item"]}]}`, "/elements/0/type"},
		{"unknown page", link("https://a.example/", `"dashboard"`), "/elements/0/pages/0"},
		{"extra field", `{"elements":[],"script":"x"}`, "script"},
		{"variable not offered", link("https://erp.example/items/{sku}", `"sales_order"`), `variable "sku" is not offered on page sales_order`},
		{"host from a variable", link("https://{name}.example/", `"item"`), "host must be literal"},
		{"javascript", link("javascript:alert(1)", `"item"`), "absolute https"},
		{"action template", `{"elements":[{"type":"action","label":"x","uri":"https://a.example/{sku}","pages":["item"]}]}`, "fixed"},
		{"action http", `{"elements":[{"type":"action","label":"x","uri":"http://a.example/","pages":["item"]}]}`, "https"},
		{"bad template", link("https://a.example/{sku", `"item"`), "never closed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateUIComponents([]byte(tc.doc))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}

func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"{var}", "https://a.example/{+p}{?x,y}", "{", "{;a,b}", "%{x}"} {
		f.Add(s, "v/a l")
	}
	f.Fuzz(func(t *testing.T, tmpl, value string) {
		tm, err := ParseTemplate(tmpl)
		if err != nil {
			return
		}
		vars := map[string]string{}
		for _, v := range tm.Variables() {
			vars[v] = value
		}
		out := tm.Expand(vars)
		// A simple expansion never lets a value add URI delimiters.
		if len(tm.parts) == 1 && tm.parts[0].op == 0 && tm.parts[0].names != nil && strings.ContainsAny(out, "/?#&") {
			t.Fatalf("%q with %q expanded to %q", tmpl, value, out)
		}
	})
}

func FuzzUIComponents(f *testing.F) {
	f.Add([]byte(`{"elements":[{"type":"link","label":"a","uri":"https://a.example/{sku}","pages":["item"]}]}`))
	f.Add([]byte(`{"elements":[]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := ParseUIComponents(doc)
		if err != nil {
			return
		}
		for _, e := range c.Elements {
			if !strings.HasPrefix(e.URI, "https://") && !strings.HasPrefix(e.URI, "http://") {
				t.Fatalf("accepted %q", e.URI)
			}
		}
	})
}

// FuzzSpec: whatever an admin types, Normalize either names a problem or
// returns a spec that holds its own invariants.
func FuzzSpec(f *testing.F) {
	f.Add("internal", "ERP Sync", "", "https://a.example/h", "", "orders", "write", "ship.confirmed")
	f.Add("public", " ", "Bad Slug", "http://x", "https://r.example/?code=1", "users", "owner", "x")
	f.Fuzz(func(t *testing.T, kind, name, slug, hook, redirect, res, level, event string) {
		s, err := Spec{Kind: kind, Name: name, Slug: slug, WebhookURL: hook, RedirectURL: redirect,
			Permissions: Permissions{res: level}, EventTypes: []string{event}}.Normalize(false, true)
		if err != nil {
			return
		}
		if !validSlug(s.Slug) || s.Name == "" || len(s.Permissions) != len(Resources) {
			t.Fatalf("accepted %+v", s)
		}
		for _, r := range Resources {
			if _, ok := ParseLevel(s.Permissions[r]); !ok {
				t.Fatalf("accepted level %q", s.Permissions[r])
			}
		}
	})
}
