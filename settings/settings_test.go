package settings

import "testing"

func TestNonNegative(t *testing.T) {
	for _, tc := range []struct {
		fs   []Field
		want string
	}{
		{nil, ""},
		{[]Field{{"A", 0}, {"B", 5}}, ""},
		{[]Field{{"A", -1}, {"B", 5}, {"C", -2}}, "x: A, C must not be negative (zero means the default)"},
	} {
		err := NonNegative("x", tc.fs...)
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.want {
				t.Errorf("NonNegative(%v) = %q, want %q", tc.fs, got, tc.want)
			}
		} else if tc.want != "" {
			t.Errorf("NonNegative(%v) = nil, want %q", tc.fs, tc.want)
		}
	}
}
