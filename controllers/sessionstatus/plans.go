package sessionstatus

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/stashflow/stashflow/translators"
)

// Plans keeps the plan each running session of one kind was submitted with,
// so that node statuses are read against the graph that runs even if the
// invoker changes meanwhile. After a restart the plan is translated again.
type Plans struct {
	mu sync.Mutex
	m  map[types.NamespacedName]planEntry
}

type planEntry struct {
	uid  types.UID
	plan *translators.Plan
}

// Get returns the plan of the session key names with that uid, or nil.
func (p *Plans) Get(key types.NamespacedName, uid types.UID) *translators.Plan {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.m[key]; ok && e.uid == uid {
		return e.plan
	}
	return nil
}

// Put remembers the plan of a session.
func (p *Plans) Put(key types.NamespacedName, uid types.UID, plan *translators.Plan) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[types.NamespacedName]planEntry{}
	}
	p.m[key] = planEntry{uid: uid, plan: plan}
}

// Delete forgets the plan of a session.
func (p *Plans) Delete(key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, key)
}
