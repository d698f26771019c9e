package stepcause

import "testing"

func TestRedactor(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"longest first", []string{"pass", "", "password123"}, "pass password123 passport", "[redacted] [redacted] [redacted]port"},
		{"nothing registered", nil, "password123", "password123"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Redactor{}
			for _, v := range tc.values {
				r.Add(v)
			}
			if got := r.Redact(tc.in); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	var nilRedactor *Redactor
	if got := nilRedactor.Redact("x"); got != "x" {
		t.Errorf("nil Redactor: Redact(%q) = %q", "x", got)
	}
}
