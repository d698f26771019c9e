//go:build !stashflow_lean

package functions

import (
	"github.com/stashflow/stashflow/functions/hook"
	"github.com/stashflow/stashflow/functions/repository"
	"github.com/stashflow/stashflow/functions/repository/objectstore"
	"github.com/stashflow/stashflow/functions/workload"
)

// heavyBuiltins are the Functions of HeavyNames.
func heavyBuiltins() []builtin {
	return []builtin{
		{hook.Name, hook.New},
		{repository.WipeName, func() Function { return repository.NewWipe(objectstore.Open) }},
		{workload.QuiesceName, workload.NewQuiesce},
		{workload.ResumeName, workload.NewResume},
	}
}
