package conformance

import (
	"fmt"
	"time"

	"github.com/stashflow/stashflow/pipeline"
)

func linear() Case {
	return newCase("linear", ok, `
a ─▶ b ─▶ c`, []spec{
		{name: "a", want: ok},
		{name: "b", deps: after("a"), want: ok},
		{name: "c", deps: after("b"), want: ok},
	})
}

func diamond() Case {
	return newCase("diamond", ok, `
    ┌─▶ b ─┐
a ──┤      ├─▶ d
    └─▶ c ─┘`, []spec{
		{name: "a", want: ok},
		{name: "b", deps: after("a"), want: ok},
		{name: "c", deps: after("a"), want: ok},
		{name: "d", deps: after("b", "c"), want: ok},
	})
}

// failureWithHooks: a step fails in the middle of a chain; hooks of every
// policy hang off the failed step and off the step it caused to be omitted.
// An Omitted dependency satisfies OnEnd but neither OnSuccess nor OnFailure.
func failureWithHooks() Case {
	return newCase("failure-with-hooks", failed, `
pre ─▶ backup ─▶ upload ✗ ─▶ retention (Omitted)
                   │            ├─(OnFailure)─▶ after-omitted-on-failure (Omitted)
                   │            └─(OnEnd)─────▶ after-omitted-always
                   ├─(OnSuccess)─▶ post-on-success (Omitted)
                   ├─(OnFailure)─▶ post-on-failure
                   └─(OnEnd)─────▶ post-always`, []spec{
		{name: "pre", want: ok},
		{name: "backup", deps: after("pre"), want: ok},
		{name: "upload", deps: after("backup"), want: failed, fails: true},
		{name: "retention", deps: after("upload"), want: omitted},
		{name: "post-on-success", deps: after("upload"), want: omitted},
		{name: "post-on-failure", deps: []pipeline.Dependency{on("upload", pipeline.OnFailure)}, want: ok},
		{name: "post-always", deps: []pipeline.Dependency{on("upload", pipeline.OnEnd)}, want: ok},
		{name: "after-omitted-on-failure", deps: []pipeline.Dependency{on("retention", pipeline.OnFailure)}, want: omitted},
		{name: "after-omitted-always", deps: []pipeline.Dependency{on("retention", pipeline.OnEnd)}, want: ok},
	})
}

// target returns the steps of one batch target: pre ─▶ backup ─▶ retention
// ─(OnEnd)▶ post, the pre hook depending on first.
func target(name string, first pipeline.Dependency, backupFails bool) []spec {
	backup, retention := ok, ok
	if backupFails {
		backup, retention = failed, omitted
	}
	return []spec{
		{name: name + "-pre", deps: []pipeline.Dependency{first}, want: ok},
		{name: name + "-backup", deps: after(name + "-pre"), want: backup, fails: backupFails},
		{name: name + "-retention", deps: after(name + "-backup"), want: retention},
		{name: name + "-post", deps: []pipeline.Dependency{on(name+"-retention", pipeline.OnEnd)}, want: ok},
	}
}

// sequentialBatch: DESIGN.md's Sequential BackupBatch; target N+1 waits for
// target N to end, whatever its outcome.
func sequentialBatch() Case {
	specs := []spec{{name: "global-pre", want: ok}}
	specs = append(specs, target("t1", on("global-pre", pipeline.OnSuccess), false)...)
	specs = append(specs, target("t2", on("t1-post", pipeline.OnEnd), true)...)
	specs = append(specs, target("t3", on("t2-post", pipeline.OnEnd), false)...)
	specs = append(specs, spec{name: "global-post", deps: []pipeline.Dependency{on("t3-post", pipeline.OnEnd)}, want: ok})
	return newCase("sequential-batch", ok, `
global-pre ─▶ t1-pre ─▶ t1-backup ─▶ t1-retention ─(OnEnd)▶ t1-post ─(OnEnd)┐
┌───────────────────────────────────────────────────────────────────────────┘
└▶ t2-pre ─▶ t2-backup ✗ ─▶ t2-retention (Omitted) ─(OnEnd)▶ t2-post ─(OnEnd)┐
┌────────────────────────────────────────────────────────────────────────────┘
└▶ t3-pre ─▶ t3-backup ─▶ t3-retention ─(OnEnd)▶ t3-post ─(OnEnd)▶ global-post`, specs)
}

// parallelBatch: DESIGN.md's Parallel BackupBatch; t2 fails while t1 and t3
// are still in their pre hooks, and they go on (no fail-fast). The post
// hooks carry the three policies.
func parallelBatch() Case {
	const slow = "sleep 0.3"
	return newCase("parallel-batch", ok, `
             ┌─▶ t1-pre ─▶ t1-backup   ─(OnSuccess)─▶ t1-post            ─(OnEnd)┐
global-pre ──┼─▶ t2-pre ─▶ t2-backup ✗ ─(OnFailure)─▶ t2-post            ─(OnEnd)┼─▶ global-post
             └─▶ t3-pre ─▶ t3-backup   ─(OnFailure)─▶ t3-post (Omitted)  ─(OnEnd)┘
t1-pre and t3-pre sleep 0.3 s, so t2-backup has failed before t1-backup and t3-backup start.`, []spec{
		{name: "global-pre", want: ok},
		{name: "t1-pre", deps: after("global-pre"), want: ok, before: slow},
		{name: "t1-backup", deps: after("t1-pre"), want: ok},
		{name: "t1-post", deps: []pipeline.Dependency{on("t1-backup", pipeline.OnSuccess)}, want: ok},
		{name: "t2-pre", deps: after("global-pre"), want: ok},
		{name: "t2-backup", deps: after("t2-pre"), want: failed, fails: true},
		{name: "t2-post", deps: []pipeline.Dependency{on("t2-backup", pipeline.OnFailure)}, want: ok},
		{name: "t3-pre", deps: after("global-pre"), want: ok, before: slow},
		{name: "t3-backup", deps: after("t3-pre"), want: ok},
		{name: "t3-post", deps: []pipeline.Dependency{on("t3-backup", pipeline.OnFailure)}, want: omitted},
		{name: "global-post", deps: []pipeline.Dependency{
			on("t1-post", pipeline.OnEnd), on("t2-post", pipeline.OnEnd), on("t3-post", pipeline.OnEnd),
		}, want: ok},
	})
}

// failingPreHook: a pre hook fails; its target's steps are omitted, its
// post hook (Always) runs, the other target and the global post hook run.
func failingPreHook() Case {
	return newCase("failing-pre-hook", ok, `
              ┌─▶ t1-pre ✗ ─▶ t1-backup (Omitted) ─(OnEnd)▶ t1-post ─(OnEnd)┐
global-pre ───┤                                                              ├─▶ global-post
              └─▶ t2-pre ───▶ t2-backup ─────────────────▶ t2-post ─(OnEnd)┘`, []spec{
		{name: "global-pre", want: ok},
		{name: "t1-pre", deps: after("global-pre"), want: failed, fails: true},
		{name: "t1-backup", deps: after("t1-pre"), want: omitted},
		{name: "t1-post", deps: []pipeline.Dependency{on("t1-backup", pipeline.OnEnd)}, want: ok},
		{name: "t2-pre", deps: after("global-pre"), want: ok},
		{name: "t2-backup", deps: after("t2-pre"), want: ok},
		{name: "t2-post", deps: after("t2-backup"), want: ok},
		{name: "global-post", deps: []pipeline.Dependency{
			on("t1-post", pipeline.OnEnd), on("t2-post", pipeline.OnEnd),
		}, want: ok},
	})
}

// timeout: a step sleeps 30 s under a 1 s timeout and fails.
func timeout() Case {
	return newCase("timeout", failed, `
slow (sleep 30, timeout 1s) ✗ ─┬─(OnFailure)─▶ on-timeout
                               └─────────────▶ next (Omitted)`, []spec{
		{name: "slow", want: failed, timeout: time.Second, extra: "sleep 30"},
		{name: "on-timeout", deps: []pipeline.Dependency{on("slow", pipeline.OnFailure)}, want: ok},
		{name: "next", deps: after("slow"), want: omitted},
	})
}

// retryThenSucceed: a step fails on its first attempt and succeeds on the
// second; its output comes from the attempt that succeeded.
func retryThenSucceed() Case {
	c := newCase("retry-then-succeed", ok, `
flaky (retry limit 2, backoff 100ms; fails on attempt 1) ─▶ after-retry`, []spec{
		{
			name: "flaky", want: ok, outputs: []string{"attempt"},
			retry: pipeline.RetryPolicy{Limit: 2, Backoff: 100 * time.Millisecond, Factor: 2},
			extra: `n=$(cat counter-flaky 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > counter-flaky
echo "$n" > "$out/attempt"
if [ "$n" -lt 2 ]; then echo "attempt $n fails on purpose" >&2; exit 1; fi`,
		},
		{name: "after-retry", deps: after("flaky"), want: ok},
	})
	c.WantOutputs = map[string]map[string]string{"flaky": {"attempt": "2"}}
	c.WantAttempts = map[string]int{"flaky": 2, "after-retry": 1}
	return c
}

// outputReference: a step's output parameters reach a later step through
// its args and env; exactly one trailing newline is trimmed, as Argo does.
func outputReference() Case {
	c := newCase("output-reference", ok, `
produce (outputs id, raw) ─▶ relay ─▶ consume (args: $(steps.produce.outputs.id);
                                               env ID=$(steps.produce.outputs.id))`, []spec{
		{
			name: "produce", want: ok, outputs: []string{"id", "raw"},
			extra: `printf 'snap-42\n' > "$out/id"
printf 'line1\nline2\n\n' > "$out/raw"`,
		},
		{name: "relay", deps: after("produce"), want: ok},
		{
			name: "consume", deps: after("relay"), want: ok, outputs: []string{"seen", "env"},
			args: []string{"$(steps.produce.outputs.id)"},
			env:  []pipeline.EnvVar{{Name: "ID", Value: "id=$(steps.produce.outputs.id)"}},
			extra: `printf 'got %s\n' "$1" > "$out/seen"
printf '%s' "$ID" > "$out/env"`,
		},
	})
	c.WantOutputs = map[string]map[string]string{
		"produce": {"id": "snap-42", "raw": "line1\nline2\n"},
		"consume": {"seen": "got snap-42", "env": "id=snap-42"},
	}
	return c
}

// anyOfHooks: global post hooks shaped as the translators build them. The
// OnFailure hook runs if any target's work failed (AnyOf); the OnSuccess hook
// needs every target's last step to have succeeded, so it is Omitted.
func anyOfHooks() Case {
	return newCase("any-of-hooks", failed, `
┌─▶ t1-backup ───┐
│                ├─(any failed)──▶ global-on-failure
└─▶ t2-backup ✗ ─┼─(all ok)──────▶ global-on-success (Omitted)
                 └─(any ok)──────▶ any-succeeded`, []spec{
		{name: "t1-backup", want: ok},
		{name: "t2-backup", want: failed, fails: true},
		{name: "global-on-failure", anyOf: []pipeline.Dependency{
			on("t1-backup", pipeline.OnFailure), on("t2-backup", pipeline.OnFailure),
		}, want: ok},
		{name: "global-on-success", deps: after("t1-backup", "t2-backup"), want: omitted},
		{name: "any-succeeded", anyOf: []pipeline.Dependency{
			on("t1-backup", pipeline.OnSuccess), on("t2-backup", pipeline.OnSuccess),
		}, want: ok},
	})
}

// verdict: a Sequential batch as the translators build it when a failure
// can be handled: target t2 failing is handled by its OnFailure post hook and
// by the OnEnd edges after it, so without more the Workflow would succeed.
// The verdict step waits for every step, runs only if one failed (AnyOf
// OnFailure) and always fails, so the run fails exactly when a step did.
func verdict(t2Fails bool) Case {
	name, run, t2, t2post, v := "verdict-failed-run", failed, failed, ok, failed
	if !t2Fails {
		name, run, t2, t2post, v = "verdict-succeeded-run", ok, ok, omitted, omitted
	}
	specs := []spec{
		{name: "global-pre", want: ok},
		{name: "t1-backup", deps: after("global-pre"), want: ok},
		{name: "t1-post", deps: []pipeline.Dependency{on("t1-backup", pipeline.OnEnd)}, want: ok},
		{name: "t2-backup", deps: []pipeline.Dependency{on("global-pre", pipeline.OnSuccess), on("t1-post", pipeline.OnEnd)}, want: t2, fails: t2Fails},
		{name: "t2-post", deps: []pipeline.Dependency{on("t2-backup", pipeline.OnFailure)}, want: t2post},
		{name: "global-post", deps: []pipeline.Dependency{on("t1-post", pipeline.OnEnd), on("t2-post", pipeline.OnEnd)}, want: ok},
	}
	var anyFailed []pipeline.Dependency
	for _, s := range specs {
		anyFailed = append(anyFailed, on(s.name, pipeline.OnFailure))
	}
	specs = append(specs, spec{name: "verdict", anyOf: anyFailed, want: v, fails: true})
	drawing := `
global-pre ─▶ t1-backup ─(OnEnd)▶ t1-post ─(OnEnd)▶ t2-backup %s─(OnFailure)▶ t2-post ─(OnEnd)▶ global-post
every step ─(any failed)▶ verdict ✗ %s`
	if t2Fails {
		return newCase(name, run, fmt.Sprintf(drawing, "✗ ", ""), specs)
	}
	return newCase(name, run, fmt.Sprintf(drawing, "", "(Omitted)"), specs)
}
