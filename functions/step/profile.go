package step

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// CPUProfileEnv names a file to write a Go CPU profile of a Function run
// into (for `go tool pprof`); unset, nothing is profiled.
const CPUProfileEnv = "STASHFLOW_CPUPROFILE"

// StartCPUProfile starts a CPU profile into path (none if path is empty);
// stop ends it and closes the file.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("$%s: %w", CPUProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("$%s: %w", CPUProfileEnv, err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
