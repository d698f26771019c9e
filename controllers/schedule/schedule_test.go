package schedule

import (
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	tests := []struct {
		spec    string
		wantErr bool
	}{
		{spec: "*/5 * * * *"},
		{spec: "30 */5 * * * *"},
		{spec: "@daily"},
		{spec: "@every 2s"},
		{spec: "CRON_TZ=Europe/Paris 0 2 * * *"},
		{spec: "TZ=UTC 0 2 * * *"},
		{spec: "61 * * * *", wantErr: true},
		{spec: "@fortnightly", wantErr: true},
		{spec: "CRON_TZ=Nowhere/Land 0 2 * * *", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			_, err := Parse(tt.spec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Parse(%q) error = %v, want error %v", tt.spec, err, tt.wantErr)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	created := at("2025-01-01T00:00:00Z")
	tests := []struct {
		name string
		spec string
		in   Input
		want Decision
	}{
		{
			name: "every: nothing due before the first slot",
			spec: "@every 10s",
			in:   Input{Anchor: created, Now: created.Add(5 * time.Second), StartingDeadline: 5 * time.Minute},
			want: Decision{Next: created.Add(10 * time.Second)},
		},
		{
			name: "every: slots count from the anchor",
			spec: "@every 10s",
			in:   Input{Anchor: created, Now: created.Add(25 * time.Second), StartingDeadline: 5 * time.Minute},
			want: Decision{Due: created.Add(20 * time.Second), Next: created.Add(30 * time.Second)},
		},
		{
			name: "every: a handled slot is not due again",
			spec: "@every 10s",
			in:   Input{Anchor: created, Handled: created.Add(30 * time.Second), Now: created.Add(25 * time.Second), StartingDeadline: 5 * time.Minute},
			want: Decision{Next: created.Add(30 * time.Second)},
		},
		{
			name: "every: the slot at now is due",
			spec: "@every 10s",
			in:   Input{Anchor: created, Handled: created.Add(30 * time.Second), Now: created.Add(30 * time.Second), StartingDeadline: 5 * time.Minute},
			want: Decision{Due: created.Add(30 * time.Second), Next: created.Add(40 * time.Second)},
		},
		{
			name: "cron: only the latest of several missed slots is caught up",
			spec: "*/5 * * * *",
			in:   Input{Anchor: created, Handled: at("2025-01-01T01:00:00Z"), Now: at("2025-01-01T01:17:30Z"), StartingDeadline: 5 * time.Minute},
			want: Decision{Due: at("2025-01-01T01:15:00Z"), Next: at("2025-01-01T01:20:00Z")},
		},
		{
			name: "cron: a slot older than the starting deadline is missed",
			spec: "0 2 * * *",
			in:   Input{Anchor: created, Handled: at("2025-01-02T02:00:00Z"), Now: at("2025-01-02T03:00:00Z"), StartingDeadline: 5 * time.Minute},
			want: Decision{Missed: at("2025-01-02T02:00:00Z"), Next: at("2025-01-03T02:00:00Z")},
		},
		{
			name: "cron: no slot before the invoker existed",
			spec: "0 2 * * *",
			in:   Input{Anchor: at("2025-01-02T02:00:30Z"), Now: at("2025-01-02T02:01:00Z"), StartingDeadline: 5 * time.Minute},
			want: Decision{Next: at("2025-01-03T02:00:00Z")},
		},
		{
			name: "cron with seconds",
			spec: "*/15 * * * * *",
			in:   Input{Anchor: created, Handled: at("2025-03-01T00:00:00Z"), Now: at("2025-03-01T00:00:20Z"), StartingDeadline: 5 * time.Minute},
			want: Decision{Due: at("2025-03-01T00:00:15Z"), Next: at("2025-03-01T00:00:30Z")},
		},
		{
			name: "cron: a yearly slot long ago is found and missed",
			spec: "@yearly",
			in:   Input{Anchor: created, Now: at("2025-11-01T00:00:00Z"), StartingDeadline: 5 * time.Minute},
			want: Decision{Missed: at("2025-01-01T00:00:00Z"), Next: at("2026-01-01T00:00:00Z")},
		},
		{
			name: "cron: time zone",
			spec: "CRON_TZ=Asia/Tokyo 0 9 * * *",
			in:   Input{Anchor: created, Handled: at("2025-01-02T00:00:00Z"), Now: at("2025-01-02T00:01:00Z"), StartingDeadline: 5 * time.Minute},
			want: Decision{Due: at("2025-01-02T00:00:00Z"), Next: at("2025-01-03T00:00:00Z")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Decide(tt.in)
			if !got.Due.Equal(tt.want.Due) || !got.Missed.Equal(tt.want.Missed) || !got.Next.Equal(tt.want.Next) {
				t.Errorf("Decide() = due %v missed %v next %v, want due %v missed %v next %v",
					got.Due, got.Missed, got.Next, tt.want.Due, tt.want.Missed, tt.want.Next)
			}
		})
	}
}
