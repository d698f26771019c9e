package outputs

import "testing"

func TestRoleOf(t *testing.T) {
	for _, tc := range []struct {
		name     string
		declared []string
		restore  bool
		want     Role
	}{
		{"none", nil, false, RoleNone},
		{"backup", Common(), false, RoleBackup},
		{"restore", Common(), true, RoleRestore},
		{"retention", []string{Kept, Removed, KeptSnapshots, ForgottenSnapshots, Duration}, false, RoleRetention},
		{"retention with only forgotten", []string{ForgottenSnapshots}, false, RoleRetention},
		{"check", []string{Integrity, Duration}, false, RoleIntegrityCheck},
		{"named like a check but declares nothing", []string{"verified"}, false, RoleNone},
		{"duration only", []string{Duration}, true, RoleNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RoleOf(tc.declared, tc.restore); got != tc.want {
				t.Errorf("RoleOf(%q, %v) = %q, want %q", tc.declared, tc.restore, got, tc.want)
			}
		})
	}
}
