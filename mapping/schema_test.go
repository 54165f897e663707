package mapping

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestLookupReturnsCopies(t *testing.T) {
	s, ok := Lookup(SalesOrders)
	if !ok || s.Resource != SalesOrders || len(s.Lines) != 2 {
		t.Fatalf("Lookup = %+v, %v", s, ok)
	}
	s.Fields[0].Name = "changed"
	s.Lines[0].Name = "changed"
	again, _ := Lookup(SalesOrders)
	if again.Fields[0].Name != "order_number" || again.Lines[0].Name != "sku" {
		t.Error("Lookup handed out the table itself")
	}
	if _, ok := Lookup("orders"); ok {
		t.Error("unknown resource found")
	}
	r := Resources()
	r[0] = "x"
	if !slices.Contains(Resources(), Items) {
		t.Error("Resources handed out the table itself")
	}
}

func TestDecode(t *testing.T) {
	v, err := Decode([]byte(` {"n": 12345678901234567890.50} `))
	if err != nil {
		t.Fatal(err)
	}
	if n := v.(map[string]any)["n"]; n != any(json.Number("12345678901234567890.50")) {
		t.Errorf("n = %#v", n)
	}
	for _, bad := range []string{``, `{`, `{} {}`, `{}x`, `[1,]`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}
