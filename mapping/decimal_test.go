package mapping

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestNumberFormatParse(t *testing.T) {
	eu := numberFormat{point: ',', groups: "."}
	fr := numberFormat{point: ',', groups: " "}
	nbsp := numberFormat{point: ',', groups: "\u00a0"}
	ch := numberFormat{point: '.', groups: "'"}
	tests := []struct {
		f    numberFormat
		in   string
		want string // Decimal.String, or "syntax" / "range"
	}{
		{plainNumber, "0", "0"},
		{plainNumber, "42", "42"},
		{plainNumber, " -42 ", "-42"},
		{plainNumber, "+7", "7"},
		{plainNumber, "1.50", "1.50"},
		{plainNumber, "0.05", "0.05"},
		{plainNumber, ".5", "0.5"},
		{plainNumber, "007", "7"},
		{plainNumber, "-0", "0"},
		{plainNumber, "123456789012345678", "123456789012345678"},
		{plainNumber, "1234567890123456789", "range"},
		{plainNumber, "0.000000000000000001", "0.000000000000000001"},
		{plainNumber, "0.0000000000000000001", "range"},
		// Trailing zeros beyond 18 digits carry no value and are dropped.
		{plainNumber, "1.0000000000000000000000", "1.00000000000000000"},
		{plainNumber, "", "syntax"},
		{plainNumber, "-", "syntax"},
		{plainNumber, "5.", "syntax"},
		{plainNumber, "1.2.3", "syntax"},
		{plainNumber, "1,000", "syntax"},
		{plainNumber, "1e3", "syntax"},
		{plainNumber, "abc", "syntax"},
		{plainNumber, "12€", "syntax"},
		{plainNumber, "--1", "syntax"},
		{eu, "1.234,50", "1234.50"},
		{eu, "-1.234.567,5", "-1234567.5"},
		{eu, "1234,5", "1234.5"},
		{eu, "0,99", "0.99"},
		{eu, "1.234", "1234"},
		{eu, "1..234", "syntax"},
		{eu, ".234", "syntax"},
		{eu, "1.234.", "syntax"},
		{eu, "1,2,3", "syntax"},
		{eu, "1,234.5", "syntax"},
		{fr, "1 234 567,89", "1234567.89"},
		{fr, "1\u00a0234,5", "1234.5"},
		{fr, "1\u202f234", "1234"},
		{nbsp, "1\u00a0234,5", "1234.5"},
		{nbsp, "1 234,5", "syntax"}, // only a space stands for the no-break ones
		{ch, "1'234.50", "1234.50"},
	}
	for _, tt := range tests {
		d, err := tt.f.parse(tt.in)
		got := d.String()
		switch err {
		case numSyntax:
			got = "syntax"
		case numRange:
			got = "range"
		}
		if got != tt.want {
			t.Errorf("%+q in %q/%q = %s, want %s", tt.in, tt.f.point, tt.f.groups, got, tt.want)
		}
	}
}

func TestParseJSONNumber(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"-12", "-12"},
		{"12.50", "12.50"},
		{"1e3", "1000"},
		{"1.5E+2", "150"},
		{"1.50e1", "15.0"},
		{"25e-1", "2.5"},
		{"-1e-18", "-0.000000000000000001"},
		{"0e99999", "0"},
		{"1e18", "range"},
		{"1e99999", "range"},
		{"1e-19", "range"},
		{"123456789012345678.0", "123456789012345678"}, // no room for the zero
		{"", "syntax"},
		{"+1", "syntax"},
		{"1.", "syntax"},
		{".1", "syntax"},
		{"1e", "syntax"},
		{"1x", "syntax"},
		{"0x10", "syntax"},
	}
	for _, tt := range tests {
		d, err := parseJSONNumber(tt.in)
		got := d.String()
		switch err {
		case numSyntax:
			got = "syntax"
		case numRange:
			got = "range"
		}
		if got != tt.want {
			t.Errorf("parseJSONNumber(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDecimal(t *testing.T) {
	d, err := ParseDecimal("-1234.50")
	if err != nil || d.Coefficient() != -123450 || d.Scale() != 2 || d.String() != "-1234.50" {
		t.Fatalf("ParseDecimal = %v (%d, %d), %v", d, d.Coefficient(), d.Scale(), err)
	}
	if _, ok := d.Int64(); ok {
		t.Error("-1234.50 reported whole")
	}
	if i, ok := mustDecimal(t, "12.000").Int64(); !ok || i != 12 {
		t.Errorf("12.000 Int64 = %d, %v", i, ok)
	}
	if s := mustDecimal(t, "-0.05").String(); s != "-0.05" {
		t.Errorf("-0.05 String = %s", s)
	}
	b, err := json.Marshal(map[string]Decimal{"total": mustDecimal(t, "19.90")})
	if err != nil || string(b) != `{"total":"19.90"}` {
		t.Errorf("marshal = %s, %v", b, err)
	}
	if _, err := ParseDecimal("1,5"); !errors.Is(err, ErrNumberSyntax) {
		t.Errorf("ParseDecimal(1,5) err = %v", err)
	}
	if _, err := ParseDecimal("12345678901234567890"); !errors.Is(err, ErrNumberRange) {
		t.Errorf("ParseDecimal(20 digits) err = %v", err)
	}
	if d, err := NewDecimal(1999, 2); err != nil || d.String() != "19.99" {
		t.Errorf("NewDecimal = %v, %v", d, err)
	}
	for _, bad := range [][2]int64{{1, -1}, {1, 19}, {1e18, 0}, {-1e18, 0}} {
		if _, err := NewDecimal(bad[0], int(bad[1])); !errors.Is(err, ErrNumberRange) {
			t.Errorf("NewDecimal(%d, %d) err = %v", bad[0], bad[1], err)
		}
	}
}

func mustDecimal(t *testing.T, s string) Decimal {
	t.Helper()
	d, err := ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
