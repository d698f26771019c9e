package functions

import (
	"github.com/stashflow/stashflow/functions/elasticsearch"
	"github.com/stashflow/stashflow/functions/etcd"
	"github.com/stashflow/stashflow/functions/hook"
	"github.com/stashflow/stashflow/functions/mysql"
	"github.com/stashflow/stashflow/functions/postgres"
	"github.com/stashflow/stashflow/functions/redis"
	"github.com/stashflow/stashflow/functions/repository"
	"github.com/stashflow/stashflow/functions/verdict"
	"github.com/stashflow/stashflow/functions/volume"
	"github.com/stashflow/stashflow/functions/workload"
)

// Builtin returns a new Registry with the built-in Functions.
func Builtin() (*Registry, error) {
	r := New()
	for _, b := range []struct {
		name    string
		factory Factory
	}{
		{etcd.BackupName, func() Function { return etcd.NewBackup() }},
		{etcd.RestoreName, func() Function { return etcd.NewRestore() }},
		{elasticsearch.BackupName, elasticsearch.NewBackup},
		{elasticsearch.RestoreName, elasticsearch.NewRestore},
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
		{repository.WipeName, func() Function { return repository.NewWipe() }},
		{volume.BackupName, volume.NewBackup},
		{volume.RestoreName, volume.NewRestore},
		{workload.QuiesceName, workload.NewQuiesce},
		{workload.ResumeName, workload.NewResume},
		{hook.Name, hook.New},
		{verdict.Name, verdict.New},
	} {
		if err := r.Register(b.name, b.factory); err != nil {
			return nil, err
		}
	}
	return r, nil
}
