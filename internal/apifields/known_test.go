package apifields_test

// knownIgnored are fields accepted and silently dropped. Each is a defect to fix;
// the value says what would fix it. Remove the entry with the fix.
var knownIgnored = map[string]string{}

// knownUntested are fields some code honours but no test proves it. Each is a
// defect to fix; the value says what would prove it. Remove the entry with the test.
var knownUntested = map[string]string{
	"AppBinding spec.clientConfig.service.path":      "a translators golden case or unit test that sets it",
	"AppBinding spec.clientConfig.service.query":     "a translators golden case or unit test that sets it",
	"BackupBlueprint spec.repoNamespace":             "a controllers/backupblueprint test whose blueprint sets it",
	"Function spec.runtimeSettings.env":              "a translators golden case or unit test that sets it",
	"Function spec.runtimeSettings.envFrom":          "a translators golden case or unit test that sets it",
	"Function spec.runtimeSettings.lifecycle":        "a translators golden case or unit test that sets it",
	"Function spec.runtimeSettings.ionice.class":     "a translators golden case or unit test that sets it",
	"Function spec.runtimeSettings.ionice.classData": "a translators golden case or unit test that sets it",
	"Function spec.runtimeSettings.nice.adjustment":  "a translators golden case or unit test that sets it",
	"Function spec.runtimeSettings.resources":        "a translators golden case or unit test that sets it",
	"Function spec.runtimeSettings.securityContext":  "a translators golden case or unit test that sets it",
	"Repository spec.backend.azure.container":        "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.azure.prefix":           "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.b2.bucket":              "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.b2.prefix":              "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.gcs.bucket":             "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.gcs.prefix":             "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.local.subPath":          "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.swift.container":        "a translators golden case with this backend, or an e2e backup to it",
	"Repository spec.backend.swift.prefix":           "a translators golden case with this backend, or an e2e backup to it",
	"Snapshot spec.paths":                            "assert it in controllers/backupsession TestSnapshotsMirrorRetention",
	"Task spec.volumes[].configMap":                  "a translators golden case or unit test that sets it",
	"Task spec.volumes[].hostPath":                   "a translators golden case or unit test that sets it",
	"Task spec.volumes[].persistentVolumeClaim":      "a translators golden case or unit test that sets it",
	"Task spec.volumes[].secret":                     "a translators golden case or unit test that sets it",
}
