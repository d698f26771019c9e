package names

import (
	"strings"
	"testing"
)

func TestJoin(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		name, base, suffix, want string
	}{
		{"short", "nightly", "1700000000", "nightly-1700000000"},
		{"exactly 63", strings.Repeat("b", 52), "1700000000", strings.Repeat("b", 52) + "-1700000000"},
		{"long base", long, "1700000000", strings.Repeat("a", 43) + "-" + Hash(long) + "-1700000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Join(tt.base, tt.suffix)
			if got != tt.want {
				t.Errorf("Join() = %q, want %q", got, tt.want)
			}
			if len(got) > MaxLength {
				t.Errorf("Join() is %d characters long", len(got))
			}
		})
	}
	if Join(long, "x") == Join(long+"b", "x") {
		t.Error("two long bases gave the same name")
	}
}
