// Package step is the contract between the Function step runtime
// (`stashflow fn <name>`) and one Function: what a Function implements, what it
// receives (Env) and what it returns (Outputs). It is a leaf package so that the
// built-in Functions (functions/etcd, functions/restic, ...) and the registry
// in package functions can both depend on it without an import cycle; package
// functions re-exports these names.
package step

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// Function is one kind of step. The runtime makes a fresh instance for every
// run through the factory it was registered with, binds its flags, calls
// Validate, and then Run exactly once.
type Function interface {
	// Flags declares the Function's typed flags, bound to fields of the
	// instance.
	Flags(fs *pflag.FlagSet)
	// Validate checks the parsed flags before anything else happens. Its
	// errors name the offending flag ("--endpoints: ...").
	Validate() error
	// Run does the work. Outputs are written by the runtime, also when Run
	// fails (whatever was returned).
	Run(ctx context.Context, env *Env) (Outputs, error)
}

// Describer is implemented by Functions that have a one-line description for
// `stashflow fn --list` and --help.
type Describer interface {
	Description() string
}

// OutputDeclarer is implemented by Functions with outputs beyond
// CommonOutputs. The runtime writes every declared output, empty when Run
// did not return it (a warning, a failure), so that an engine that fails a
// step for a missing output file (Argo) and one that does not agree.
type OutputDeclarer interface {
	DeclaredOutputs() []string
}

// ArgsTaker is implemented by Functions that take positional arguments
// (`stashflow fn hook exec -- cmd ...`); they read them from the FlagSet
// given to Flags, once it is parsed. Other Functions reject arguments.
type ArgsTaker interface {
	TakesArgs() bool
}

// MemoryDeclarer is implemented by Functions whose own process holds more
// than a stream's buffers (an Elasticsearch export's chunk pool): OwnMemory
// is the soft limit the runtime puts on the process's Go memory, with or
// without a memory budget, instead of membudget.DefaultSelf.
type MemoryDeclarer interface {
	OwnMemory() int64
}

// Env is what a running Function may use from its surroundings. Functions
// take their secrets from Environ (they arrive as secretKeyRef environment
// variables) and never from flags.
type Env struct {
	// Environ is the step's environment as KEY=VALUE; child processes
	// (restic) inherit it.
	Environ []string
	// Log receives progress (it goes to the step's stdout). The one-line
	// failure reason is not logged here: the runtime prints it on stderr.
	Log *slog.Logger
	// TempDir is where a Function may put interim files when it has no flag
	// for that.
	TempDir string
}

// NewEnv returns an Env with the process's environment and a text logger on w.
func NewEnv(w io.Writer) *Env {
	if w == nil {
		w = io.Discard
	}
	return &Env{
		Environ: os.Environ(),
		Log:     slog.New(slog.NewTextHandler(w, nil)),
		TempDir: os.TempDir(),
	}
}

// LookupEnv returns the value of key in Environ (the last one wins, as in
// os/exec).
func (e *Env) LookupEnv(key string) (string, bool) {
	val, found := "", false
	for _, kv := range e.Environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

// Getenv returns the value of key in Environ, or "".
func (e *Env) Getenv(key string) string {
	v, _ := e.LookupEnv(key)
	return v
}

// Logger returns e.Log, or a logger that discards.
func (e *Env) Logger() *slog.Logger {
	if e == nil || e.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return e.Log
}

// Outputs are a step's output parameters: name → value. The runtime writes
// each as a file named after it in the output directory.
type Outputs map[string]string
