//go:build !stashflow_lean

package functions

import (
	"github.com/stashflow/stashflow/functions/hook"
	"github.com/stashflow/stashflow/functions/workload"
)

// heavyBuiltins are the Functions of HeavyNames.
func heavyBuiltins() []builtin {
	return []builtin{
		{hook.Name, hook.New},
		{workload.QuiesceName, workload.NewQuiesce},
		{workload.ResumeName, workload.NewResume},
	}
}
