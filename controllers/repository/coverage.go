package repository

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// coverage remembers, per Repository, the names of its last runs whose
// outcome is written (so that a stale read never starts one again), and the
// BackupSessions whose end its
// status has seen: the sessions that had ended when the Repository's last
// run was named (the run starts after that, so it reads their snapshots).
// A session that ended and is not covered makes the next run due. Session
// end times are only known to the second (creation plus the rounded
// duration), too coarse to compare with a run's start; membership is exact.
//
// A proposal is committed once the run's name is in the status (the patch
// that wrote it succeeded), so that a lost patch loses no session. After
// the operator restarts, the sessions that ended well before the last run
// started (by the second-precise times, with a margin) count as covered.
type coverage struct {
	mu     sync.Mutex
	byRepo map[types.NamespacedName]*repoCoverage
}

type repoCoverage struct {
	uid types.UID
	// doneRuns are the last runs whose outcome is written.
	doneRuns   []string
	covered    sets.Set[types.UID]
	pendingRun string
	pending    sets.Set[types.UID]
}

// endMargin bounds the error of a session end time read from its status.
const endMargin = 2 * time.Second

// endedSession is a session that ended, and about when.
type endedSession struct {
	uid types.UID
	end time.Time
}

// entry returns the Repository's record; a new one (or one of a Repository
// of the same name that was deleted) covers the sessions that ended well
// before lastRun.
func (c *coverage) entry(key types.NamespacedName, uid types.UID, ended []endedSession, lastRun time.Time) *repoCoverage {
	if c.byRepo == nil {
		c.byRepo = map[types.NamespacedName]*repoCoverage{}
	}
	e := c.byRepo[key]
	if e == nil || e.uid != uid {
		e = &repoCoverage{uid: uid, covered: sets.New[types.UID]()}
		for _, s := range ended {
			if !lastRun.IsZero() && s.end.Add(endMargin).Before(lastRun) {
				e.covered.Insert(s.uid)
			}
		}
		c.byRepo[key] = e
	}
	return e
}

// uncovered counts the ended sessions the status has not seen.
func (c *coverage) uncovered(key types.NamespacedName, uid types.UID, ended []endedSession, lastRun time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(key, uid, ended, lastRun)
	n := 0
	for _, s := range ended {
		if !e.covered.Has(s.uid) {
			n++
		}
	}
	return n
}

// propose records the sessions ended when run was named.
func (c *coverage) propose(key types.NamespacedName, uid types.UID, run string, ended []endedSession, lastRun time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(key, uid, ended, lastRun)
	e.pendingRun, e.pending = run, sets.New[types.UID]()
	for _, s := range ended {
		e.pending.Insert(s.uid)
	}
}

// commit makes the proposal of run the covered sessions, once its name is
// read back from the status.
func (c *coverage) commit(key types.NamespacedName, run string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byRepo[key]; e != nil && e.pendingRun != "" && e.pendingRun == run {
		e.covered, e.pendingRun, e.pending = e.pending, "", nil
	}
}

// maxDoneRuns is how many done run names are remembered per Repository.
const maxDoneRuns = 4

// markDone remembers that run's outcome is written.
func (c *coverage) markDone(key types.NamespacedName, uid types.UID, run string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry(key, uid, nil, time.Time{})
	e.doneRuns = append(e.doneRuns, run)
	if len(e.doneRuns) > maxDoneRuns {
		e.doneRuns = e.doneRuns[1:]
	}
}

// done says whether run's outcome was written.
func (c *coverage) done(key types.NamespacedName, uid types.UID, run string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byRepo[key]
	return e != nil && e.uid == uid && slices.Contains(e.doneRuns, run)
}

// forget drops a deleted Repository's record.
func (c *coverage) forget(key types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byRepo, key)
}
