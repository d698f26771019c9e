package functions

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/stashflow/stashflow/functions/step"
)

// Re-exported contract types; see package step.
type (
	// Function is step.Function: one kind of step.
	Function = step.Function
	// Describer is step.Describer: a Function with a one-line description.
	Describer = step.Describer
	// Env is step.Env: what a running Function may use from its surroundings.
	Env = step.Env
	// Outputs is step.Outputs: a step's output parameters.
	Outputs = step.Outputs
)

// Factory returns a fresh Function instance; it is called once per run.
type Factory func() Function

// Registry maps Function names to factories. The zero value is not usable;
// use New or Builtin. A Registry is safe for concurrent use.
type Registry struct {
	mu        sync.RWMutex
	factories map[string]Factory
}

// New returns an empty Registry.
func New() *Registry {
	return &Registry{factories: map[string]Factory{}}
}

// validName is a DNS-1123 label, the shape Function names have in the
// catalog and in Argo template names.
var validName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Register adds a factory under name. A name registered twice, an invalid
// name, or a nil factory is an error.
func (r *Registry) Register(name string, factory Factory) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("register function %q: name must be a DNS-1123 label (lower-case letters, digits and '-')", name)
	}
	if factory == nil {
		return fmt.Errorf("register function %q: nil factory", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.factories[name]; dup {
		return fmt.Errorf("register function %q: already registered", name)
	}
	r.factories[name] = factory
	return nil
}

// New returns a fresh instance of the named Function.
func (r *Registry) New(name string) (Function, error) {
	r.mu.RLock()
	factory, ok := r.factories[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("unknown function %q (known: %s)", name, strings.Join(r.Names(), ", "))
	}
	fn := factory()
	if fn == nil {
		return nil, fmt.Errorf("function %q: factory returned nil", name)
	}
	return fn, nil
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.factories))
	for n := range r.factories {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Has reports whether name is registered.
func (r *Registry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.factories[name]
	return ok
}

// Description returns the one-line description of the named Function, or "".
func (r *Registry) Description(name string) string {
	fn, err := r.New(name)
	if err != nil {
		return ""
	}
	if d, ok := fn.(Describer); ok {
		return d.Description()
	}
	return ""
}
