package ui

import (
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// formatDuration prints d rounded for people: "850ms", "4.2s", "3m12s", "2h5m".
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		// Status times have whole seconds: a step that took less
		// than one shows none.
		return "<1s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	s := d.Round(time.Minute).String()
	return strings.TrimSuffix(s, "0s")
}

// stepDuration is how long a step ran: finished - started, or now - started
// while it runs; "" if it did not start.
func stepDuration(started, finished *metav1.Time, now time.Time) string {
	if started == nil || started.IsZero() {
		return ""
	}
	end := now
	if finished != nil && !finished.IsZero() {
		end = finished.Time
	}
	return formatDuration(end.Sub(started.Time))
}

// formatTime prints t in UTC to the second; "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// metaTime is formatTime of a *metav1.Time.
func metaTime(t *metav1.Time) string {
	if t == nil {
		return ""
	}
	return formatTime(t.Time)
}

// shortID is the first 8 characters of a snapshot id, as restic prints it.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// ellipsis shortens s to at most n runes, ending it with "…" if cut.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:max(n-1, 0)]), " ") + "…"
}
