package membudget

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"

	"github.com/stashflow/stashflow/functions/step"
	"github.com/stashflow/stashflow/outputs"
)

// Shares of a budget, from bench/etcd -mem-limit (docs/functions.md,
// "Memory under a limit").
const (
	// DefaultSelf is the soft limit on our process's Go memory under a
	// budget, for a Function that declares none (step.MemoryDeclarer):
	// a streaming Function holds a few MiB of buffers.
	DefaultSelf = 24 << 20
	// MinSelf is the least our process is given when the limit is short.
	MinSelf = 8 << 20
	// Overhead is what neither Go memory limit covers: both binaries'
	// pages, restic's memory outside its Go runtime, the pipe between them.
	// Measured for stashflow-fn (2026-12-05, bench/etcd and
	// bench/elasticsearch, peak file-backed RSS sampled from /proc): 18 MiB
	// of stashflow-fn's pages, 28 MiB of restic 0.18.1's, 1 MiB of pipe:
	// 47 MiB; the binaries' mapped pages vary by ±3 MiB with the page
	// cache (docs/functions.md), so 9 MiB of margin on top.
	// TestOverheadCoversBinaries (functions/etcd) checks the sum.
	Overhead = 56 << 20
	// MinRestic is the least GOMEMLIMIT restic is given, even when the
	// limit is shorter than the step needs.
	MinRestic = 32 << 20
)

// Limit is a step's memory limit and where it came from.
type Limit struct {
	// Bytes is the limit; 0 means none.
	Bytes int64
	// From names its source: the flag, the environment variable or the
	// cgroup file.
	From string
}

// ParseLimit parses a memory limit: a number of bytes or a size such as
// 256Mi, 256MiB or 1G (k8s and IEC suffixes); "", "0", "none" and "max"
// mean none.
func ParseLimit(s string) (int64, error) {
	switch strings.TrimSpace(s) {
	case "", "0", "none", "max":
		return 0, nil
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 256Mi, 1GiB, 268435456, none)", s)
	}
	if n > 1<<62 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}

// Resolve returns the step's memory limit: the setting (the flag's value
// when it was given, else the environment variable's in environ), bounded
// by the cgroup's limit (CgroupLimit). Its error names the flag or variable.
func Resolve(flagName, flagValue string, flagSet bool, environ []string, cgroup Limit) (Limit, error) {
	var l Limit
	name, value := flagName, flagValue
	if !flagSet {
		name, value = "$"+outputs.MemoryLimitEnv, (&step.Env{Environ: environ}).Getenv(outputs.MemoryLimitEnv)
	}
	n, err := ParseLimit(value)
	if err != nil {
		return l, fmt.Errorf("%s: %w", name, err)
	}
	if n > 0 {
		l = Limit{Bytes: n, From: name}
	}
	if cgroup.Bytes > 0 && (l.Bytes == 0 || cgroup.Bytes < l.Bytes) {
		l = cgroup
	}
	return l, nil
}

// Budget is a step's memory limit split between our process and restic.
type Budget struct {
	Limit
	// Self is the soft limit on our process's Go memory
	// (debug.SetMemoryLimit); 0 leaves the runtime's default.
	Self int64
	// Restic is restic's GOMEMLIMIT; 0: none.
	Restic int64
	// Short says the limit is below what the step needs: the shares are
	// at their minimum and together exceed it.
	Short bool
}

// Split divides limit: our process gets declared (the Function's own need,
// DefaultSelf when 0), Overhead stays free, restic gets the rest. Without a
// limit only a declared need is applied.
func Split(l Limit, declared int64) Budget {
	b := Budget{Limit: l}
	if l.Bytes <= 0 {
		b.Self = declared
		return b
	}
	b.Self = declared
	if b.Self <= 0 {
		b.Self = DefaultSelf
	}
	b.Restic = l.Bytes - Overhead - b.Self
	if b.Restic < MinRestic {
		b.Self = max(MinSelf, l.Bytes-Overhead-MinRestic)
		b.Restic = max(MinRestic, l.Bytes-Overhead-b.Self)
		b.Short = b.Self+b.Restic+Overhead > l.Bytes
	}
	return b
}

// Apply puts b into effect for one run: the soft limit on our process's Go
// memory (unless this process was started with GOMEMLIMIT), and restic's
// share in env for restic.Client (which gives it to restic as GOMEMLIMIT
// unless env sets GOMEMLIMIT).
func (b Budget) Apply(env *step.Env) {
	if b.Self > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(b.Self)
	}
	if b.Restic > 0 {
		env.Environ = append(env.Environ, outputs.ResticMemoryLimitEnv+"="+strconv.FormatInt(b.Restic, 10))
	}
	log := env.Logger()
	switch {
	case b.Short:
		log.Warn("memory limit below what the step needs", "limit", b.Bytes, "from", b.From, "self", b.Self, "restic", b.Restic, "overhead", Overhead)
	case b.Bytes > 0:
		log.Info("memory budget", "limit", b.Bytes, "from", b.From, "self", b.Self, "restic", b.Restic)
	}
}
