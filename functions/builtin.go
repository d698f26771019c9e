package functions

import (
	"github.com/stashflow/stashflow/functions/elasticsearch"
	"github.com/stashflow/stashflow/functions/etcd"
	"github.com/stashflow/stashflow/functions/mysql"
	"github.com/stashflow/stashflow/functions/postgres"
	"github.com/stashflow/stashflow/functions/redis"
	"github.com/stashflow/stashflow/functions/repository"
	"github.com/stashflow/stashflow/functions/verdict"
	"github.com/stashflow/stashflow/functions/volume"
)

// builtin is one built-in Function.
type builtin struct {
	name    string
	factory Factory
}

// Builtin returns a new Registry with the built-in Functions: the light
// ones below and, unless built with the stashflow_lean tag, HeavyNames
// (heavyBuiltins).
func Builtin() (*Registry, error) {
	r := New()
	for _, b := range append([]builtin{
		{elasticsearch.BackupName, elasticsearch.NewBackup},
		{elasticsearch.RestoreName, elasticsearch.NewRestore},
		{etcd.BackupName, func() Function { return etcd.NewBackup() }},
		{etcd.RestoreName, func() Function { return etcd.NewRestore() }},
		{mysql.BackupName, mysql.NewBackup},
		{mysql.RestoreName, mysql.NewRestore},
		{mysql.MariaDBBackupName, mysql.NewMariaDBBackup},
		{mysql.MariaDBRestoreName, mysql.NewMariaDBRestore},
		{postgres.BackupName, postgres.NewBackup},
		{postgres.RestoreName, postgres.NewRestore},
		{redis.BackupName, redis.NewBackup},
		{redis.RestoreName, redis.NewRestore},
		{repository.RetentionName, func() Function { return repository.NewRetention() }},
		{repository.CheckName, func() Function { return repository.NewCheck() }},
		{repository.InitName, func() Function { return repository.NewInit() }},
		{volume.BackupName, volume.NewBackup},
		{volume.RestoreName, volume.NewRestore},
		{verdict.Name, verdict.New},
	}, heavyBuiltins()...) {
		if err := r.Register(b.name, b.factory); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// HeavyNames are the built-in Functions whose packages weigh on every
// step's start and memory (client-go for the hooks and workload steps, the
// S3 and Azure clients of repository-wipe): a binary built with the
// stashflow_lean tag (stashflow-fn) leaves them out, and `stashflow fn` runs
// them itself.
var HeavyNames = []string{"hook", "repository-wipe", "workload-quiesce", "workload-resume"}
