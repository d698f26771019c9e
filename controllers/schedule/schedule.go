// Package schedule decides when a BackupConfiguration or BackupBatch runs,
// without CronJobs: it parses the schedule with robfig/cron v3 and computes
// slots, the instants the schedule names. It is pure (the caller passes the
// clock's reading) so that the controllers' scheduling is a table of cases.
//
// Slots are absolute for cron expressions and descriptors such as @daily.
// "@every D" has no natural origin, so its slots are counted from an anchor,
// the invoker's creation time: anchor+D, anchor+2D, ... That keeps a slot's
// time, and so the name of its session, the same whoever computes it and
// whenever.
package schedule

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// parser takes 5 fields, or 6 with leading seconds, descriptors (@daily,
// @every 1h) and a CRON_TZ= or TZ= prefix.
var parser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed schedule.
type Schedule struct {
	spec  string
	cron  cron.Schedule
	every time.Duration // > 0 for "@every"
}

// Parse parses a schedule.
func Parse(spec string) (*Schedule, error) {
	s, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w", spec, err)
	}
	out := &Schedule{spec: spec, cron: s}
	if d, ok := s.(cron.ConstantDelaySchedule); ok {
		out.every = d.Delay
	}
	return out, nil
}

// String returns the schedule as written.
func (s *Schedule) String() string { return s.spec }

// Latest returns the latest slot in [from, now], or false if there is none.
// anchor is where "@every" slots are counted from; from should not be before
// anchor (a slot before the invoker existed is never due).
func (s *Schedule) Latest(anchor, from, now time.Time) (time.Time, bool) {
	if now.Before(from) {
		return time.Time{}, false
	}
	if s.every > 0 {
		k := now.Sub(anchor) / s.every
		if k < 1 {
			return time.Time{}, false
		}
		slot := anchor.Add(k * s.every)
		return slot, !slot.Before(from)
	}
	// Walk forward from the start of ever wider windows that end at now, so
	// that the walk takes a few steps whatever the schedule and however old
	// from is: the first window holding a slot holds the latest one.
	for _, w := range lookback {
		start := now.Add(-w)
		if start.Before(from) {
			start = from
		}
		var latest time.Time
		// cron.Schedule.Next returns the first slot strictly after its argument.
		for t := s.cron.Next(start.Add(-time.Nanosecond)); !t.IsZero() && !t.After(now); t = s.cron.Next(t) {
			latest = t
		}
		if !latest.IsZero() {
			return latest, true
		}
		if !start.After(from) {
			break
		}
	}
	return time.Time{}, false
}

// lookback are the windows Latest searches, narrowest first; robfig/cron
// itself gives up after five years.
var lookback = []time.Duration{
	time.Minute, time.Hour, 24 * time.Hour, 32 * 24 * time.Hour, 367 * 24 * time.Hour, 5 * 367 * 24 * time.Hour,
}

// Next returns the first slot strictly after now; zero if the schedule names
// none (a date that never comes, such as 30 February).
func (s *Schedule) Next(anchor, now time.Time) time.Time {
	if s.every > 0 {
		if now.Before(anchor) {
			return anchor.Add(s.every)
		}
		k := now.Sub(anchor)/s.every + 1
		return anchor.Add(k * s.every)
	}
	return s.cron.Next(now)
}

// Decision is what to do at one reading of the clock.
type Decision struct {
	// Due is the slot to run now; zero if none.
	Due time.Time
	// Missed is a slot that passed unrun but too long ago to catch up
	// (older than the starting deadline); zero if none.
	Missed time.Time
	// Next is the first slot after now.
	Next time.Time
}

// Input is what Decide needs.
type Input struct {
	// Anchor is the invoker's creation time: no slot before it is due, and
	// "@every" slots count from it.
	Anchor time.Time
	// Handled is the first slot not handled yet: slots before it already
	// have a session (or were deliberately passed over). Zero means none.
	Handled time.Time
	// Now is the clock's reading.
	Now time.Time
	// StartingDeadline is how late a slot may start: a slot older than that
	// is missed, not caught up. At most one slot, the latest, is ever caught up.
	StartingDeadline time.Duration
}

// Decide returns the slot to run now, if any, and the next one.
func (s *Schedule) Decide(in Input) Decision {
	d := Decision{Next: s.Next(in.Anchor, in.Now)}
	from := in.Anchor
	if in.Handled.After(from) {
		from = in.Handled
	}
	latest, ok := s.Latest(in.Anchor, from, in.Now)
	if !ok {
		return d
	}
	if in.StartingDeadline > 0 && in.Now.Sub(latest) > in.StartingDeadline {
		d.Missed = latest
		return d
	}
	d.Due = latest
	return d
}
