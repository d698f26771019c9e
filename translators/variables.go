package translators

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/outputs"
	"github.com/stashflow/stashflow/pipeline"
)

// Mount paths inside a step, the same on every engine (the local engine maps
// them onto host directories).
const (
	InterimDir      = "/stashflow/interim"
	TargetMountRoot = "/stashflow/data"
)

// memberVariables are the built-in variables of one target of a run.
func (r *run) memberVariables(m *member, objs *Objects, opts Options) Variables {
	v := Variables{
		"NAMESPACE":        r.namespace,
		"INVOKER_KIND":     r.invoker.Kind,
		"INVOKER_NAME":     r.invoker.Name,
		"INTERIM_DATA_DIR": InterimDir,
		"STASHFLOW_IMAGE":  opts.Image,
	}
	if m.claim != "" {
		v["INTERIM_DATA_DIR"] = InterimVolumeDir
	}
	if r.kind == backupRun {
		v["BACKUP_SESSION"] = r.name
	} else {
		v["RESTORE_SESSION"] = r.name
	}
	host := opts.Hostname
	if m.ref != nil {
		v["TARGET_NAME"] = m.ref.Name
		v["TARGET_KIND"] = m.ref.Kind
		v["TARGET_NAMESPACE"] = r.namespace
		if host == "" {
			host = cmp.Or(m.alias, m.ref.Name)
		}
		if m.ref.Kind == "AppBinding" {
			if ab := objs.AppBindings[m.ref.Name]; ab != nil {
				v["TARGET_APP_TYPE"] = ab.Spec.Type
				v["TARGET_APP_VERSION"] = ab.Spec.Version
				v["TARGET_ENDPOINT"] = endpoint(ab, r.namespace)
				if ab.Spec.Secret != nil {
					v["TARGET_SECRET_NAME"] = ab.Spec.Secret.Name
				}
			}
		}
	}
	if host == "" {
		host = r.invoker.Name // a Task without a target backs up as its invoker
	}
	v["HOSTNAME"] = host
	v["SOURCE_HOSTNAME"] = host
	paths := m.paths
	if len(paths) == 0 && m.ref != nil && m.ref.Kind == "PersistentVolumeClaim" {
		paths = []string{targetMountPath(m.ref.Name)}
	}
	v["TARGET_PATHS"] = csvList(paths)
	if r.kind == restoreRun && m.ref != nil && m.ref.Kind == "PersistentVolumeClaim" {
		// A volume restore writes into the target's own mount, whichever
		// volume the snapshot came from (functions/volume --map-to).
		v["RESTORE_MAP_TO"] = targetMountPath(m.ref.Name)
	}
	v["EXCLUDE_PATTERNS"] = csvList(m.exclude)
	if rule := restoreRule(m.rules, host); rule != nil {
		v["RESTORE_SNAPSHOTS"] = strings.Join(rule.Snapshots, ",")
		v["RESTORE_PATHS"] = csvList(rule.Paths)
		v["INCLUDE_PATTERNS"] = csvList(rule.Include)
		if len(rule.Exclude) > 0 {
			v["EXCLUDE_PATTERNS"] = csvList(rule.Exclude)
		}
		if rule.SourceHost != "" {
			v["SOURCE_HOSTNAME"] = rule.SourceHost
		}
	}
	repositoryVariables(v, objs.Repository)
	retentionVariables(v, r.retention)
	return v
}

// restoreRule picks the rule for host: the first that names it in
// targetHosts, else the first without targetHosts.
func restoreRule(rules []v1alpha1.RestoreRule, host string) *v1alpha1.RestoreRule {
	if i := restoreRuleIndex(rules, host); i >= 0 {
		return &rules[i]
	}
	return nil
}

// restoreRuleIndex is the index of restoreRule's rule, -1 if none.
func restoreRuleIndex(rules []v1alpha1.RestoreRule, host string) int {
	fallback := -1
	for i := range rules {
		if slices.Contains(rules[i].TargetHosts, host) {
			return i
		}
		if len(rules[i].TargetHosts) == 0 && fallback < 0 {
			fallback = i
		}
	}
	return fallback
}

// endpoint is where an AppBinding's application listens: its Service when
// it names one (Stash's preference, also when a URL is set beside it: the
// URL of KubeDB's MySQL AppBindings is a driver string), else its URL.
func endpoint(ab *v1alpha1.AppBinding, namespace string) string {
	cc := ab.Spec.ClientConfig
	if s := cc.Service; s != nil {
		scheme := s.Scheme
		if scheme == "" {
			scheme = "http"
		}
		u := fmt.Sprintf("%s://%s.%s.svc:%d%s", scheme, s.Name, namespace, s.Port, s.Path)
		if s.Query != "" {
			u += "?" + s.Query
		}
		return u
	}
	if cc.URL != nil {
		return *cc.URL
	}
	return ""
}

func repositoryVariables(v Variables, repo *v1alpha1.Repository) {
	if repo == nil {
		return
	}
	b := &repo.Spec.Backend
	v["REPOSITORY_NAME"] = repo.Name
	v["REPOSITORY_NAMESPACE"] = repo.Namespace
	v["REPOSITORY_PROVIDER"] = b.Provider()
	v["REPOSITORY_SECRET_NAME"] = b.StorageSecretName
	v["REPOSITORY_URL"] = ResticRepository(b)
	d := DescribeBackend(b)
	if b.Local == nil && b.Rest == nil {
		v["REPOSITORY_BUCKET"], v["REPOSITORY_PREFIX"] = d.Bucket, d.Prefix
	}
	if b.S3 != nil || b.Rest != nil {
		v["REPOSITORY_ENDPOINT"] = d.Endpoint
	}
	if b.S3 != nil {
		v["REPOSITORY_REGION"] = d.Region
	}
}

// BackendDescription is a backend in Stash's terms, for people: its
// provider, its bucket (or container) and prefix, its endpoint and region.
type BackendDescription struct {
	Provider string `json:"provider"`
	Bucket   string `json:"bucket,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Region   string `json:"region,omitempty"`
}

// DescribeBackend is b in Stash's terms.
func DescribeBackend(b *v1alpha1.Backend) BackendDescription {
	d := BackendDescription{Provider: b.Provider()}
	switch {
	case b.S3 != nil:
		d.Bucket, d.Prefix, d.Endpoint, d.Region = b.S3.Bucket, b.S3.Prefix, b.S3.Endpoint, b.S3.Region
	case b.GCS != nil:
		d.Bucket, d.Prefix = b.GCS.Bucket, b.GCS.Prefix
	case b.Azure != nil:
		d.Bucket, d.Prefix = b.Azure.Container, b.Azure.Prefix
	case b.B2 != nil:
		d.Bucket, d.Prefix = b.B2.Bucket, b.B2.Prefix
	case b.Swift != nil:
		d.Bucket, d.Prefix = b.Swift.Container, b.Swift.Prefix
	case b.Rest != nil:
		d.Endpoint = b.Rest.URL
	case b.Local != nil:
		d.Prefix = b.Local.SubPath
	}
	return d
}

// String is the description on one line, e.g. "s3 bucket backups prefix
// demo (endpoint https://minio:9000, region us-east-1)".
func (d BackendDescription) String() string {
	var b strings.Builder
	b.WriteString(d.Provider)
	if d.Bucket != "" {
		b.WriteString(" bucket " + d.Bucket)
	}
	if d.Prefix != "" {
		b.WriteString(" prefix " + d.Prefix)
	}
	var extra []string
	if d.Endpoint != "" {
		extra = append(extra, "endpoint "+d.Endpoint)
	}
	if d.Region != "" {
		extra = append(extra, "region "+d.Region)
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

// ResticRepository is the RESTIC_REPOSITORY of a backend, as a step in a
// cluster sees it (a local backend is its mountPath).
func ResticRepository(b *v1alpha1.Backend) string {
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p = strings.Trim(p, "/"); p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, "/")
	}
	switch {
	case b.Local != nil:
		return b.Local.MountPath
	case b.S3 != nil:
		endpoint := strings.TrimPrefix(strings.TrimPrefix(b.S3.Endpoint, "https://"), "http://")
		if endpoint == "" {
			endpoint = "s3.amazonaws.com"
		}
		if strings.HasPrefix(b.S3.Endpoint, "http://") {
			endpoint = "http://" + endpoint
		}
		return "s3:" + join(endpoint, b.S3.Bucket, b.S3.Prefix)
	case b.GCS != nil:
		return "gs:" + b.GCS.Bucket + ":/" + strings.Trim(b.GCS.Prefix, "/")
	case b.Azure != nil:
		return "azure:" + b.Azure.Container + ":/" + strings.Trim(b.Azure.Prefix, "/")
	case b.B2 != nil:
		return "b2:" + b.B2.Bucket + ":" + strings.Trim(b.B2.Prefix, "/")
	case b.Swift != nil:
		return "swift:" + b.Swift.Container + ":/" + strings.Trim(b.Swift.Prefix, "/")
	case b.Rest != nil:
		return "rest:" + b.Rest.URL
	}
	return ""
}

// Credential is one backend credential a step gets: the environment
// variable restic reads (Env), from the storage Secret's key (Key).
type Credential struct {
	Env string
	Key string
}

// sameName is a credential whose Secret key is the variable's own name.
func sameName(names ...string) []Credential {
	out := make([]Credential, len(names))
	for i, n := range names {
		out[i] = Credential{Env: n, Key: n}
	}
	return out
}

// backendCredentialKeys are the storage Secret keys of each provider, as
// Stash documents them, and the variable restic reads each one as; every
// key is passed as an optional secretKeyRef so that a Secret holds only
// what its backend needs.
//
// A rest-server's user name and password are REST_SERVER_USERNAME and
// REST_SERVER_PASSWORD in the Secret (Stash's keys), given to restic as
// RESTIC_REST_USERNAME and RESTIC_REST_PASSWORD; never in the URL, which
// every step's environment and the rendered Workflow show (the CRD refuses
// a url with userinfo). Secret keys named RESTIC_REST_* are not read: an
// environment variable has one source, and Stash's keys are the ones a
// Stash user's Secret already holds.
var backendCredentialKeys = map[string][]Credential{
	"s3":    sameName("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "CA_CERT_DATA"),
	"gcs":   sameName("GOOGLE_PROJECT_ID", "GOOGLE_SERVICE_ACCOUNT_JSON_KEY"),
	"azure": sameName("AZURE_ACCOUNT_NAME", "AZURE_ACCOUNT_KEY", "AZURE_ACCOUNT_SAS"),
	"b2":    sameName("B2_ACCOUNT_ID", "B2_ACCOUNT_KEY"),
	"swift": sameName("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_TENANT_NAME", "OS_REGION_NAME", "OS_PROJECT_NAME", "OS_USER_DOMAIN_NAME", "OS_PROJECT_DOMAIN_NAME", "ST_AUTH", "ST_USER", "ST_KEY"),
	"rest": {
		{Env: "RESTIC_REST_USERNAME", Key: "REST_SERVER_USERNAME"},
		{Env: "RESTIC_REST_PASSWORD", Key: "REST_SERVER_PASSWORD"},
		{Env: "CA_CERT_DATA", Key: "CA_CERT_DATA"},
	},
	"local": nil,
}

// RepositoryEnv is the environment every Function step gets: where the
// restic repository is, its restic options and, by reference only, its
// password and credentials. `stashflow snapshots` reads a Repository
// through the same list.
func RepositoryEnv(repo *v1alpha1.Repository) []pipeline.EnvVar {
	if repo == nil {
		return nil
	}
	b := &repo.Spec.Backend
	env := []pipeline.EnvVar{{Name: "RESTIC_REPOSITORY", Value: ResticRepository(b)}}
	env = append(env, backendOptionEnv(b)...)
	if b.StorageSecretName == "" {
		return env
	}
	env = append(env, pipeline.EnvVar{Name: "RESTIC_PASSWORD", SecretKeyRef: &pipeline.SecretKeyRef{Name: b.StorageSecretName, Key: "RESTIC_PASSWORD"}})
	for _, c := range backendCredentialKeys[b.Provider()] {
		env = append(env, pipeline.EnvVar{Name: c.Env, SecretKeyRef: &pipeline.SecretKeyRef{Name: b.StorageSecretName, Key: c.Key, Optional: true}})
	}
	return env
}

func retentionVariables(v Variables, p *v1alpha1.RetentionPolicy) {
	if p == nil {
		return
	}
	set := func(name string, n *int64) {
		if n != nil {
			v[name] = strconv.FormatInt(*n, 10)
		}
	}
	set("RETENTION_KEEP_LAST", p.KeepLast)
	set("RETENTION_KEEP_HOURLY", p.KeepHourly)
	set("RETENTION_KEEP_DAILY", p.KeepDaily)
	set("RETENTION_KEEP_WEEKLY", p.KeepWeekly)
	set("RETENTION_KEEP_MONTHLY", p.KeepMonthly)
	set("RETENTION_KEEP_YEARLY", p.KeepYearly)
	v["RETENTION_KEEP_TAGS"] = csvList(p.KeepTags)
	v["RETENTION_PRUNE"] = strconv.FormatBool(p.Prune)
	v["RETENTION_DRY_RUN"] = strconv.FormatBool(p.DryRun)
	v["RETENTION_POLICY_NAME"] = p.Name
}

// csvList joins items into one CSV record, which the Functions' list flags
// (pflag's StringSlice) read back item by item: an item that holds a
// comma or a quote (a path "/data/a,b"; a keepTags entry "a,b": the
// snapshots with both tags, restic's --keep-tag a,b, as Stash passes it)
// stays one item. Items without commas or quotes are joined with plain
// commas.
func csvList(items []string) string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(items) // into a strings.Builder: cannot fail
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n")
}

func targetMountPath(pvc string) string { return TargetMountRoot + "/" + pvc }

// backendOptionEnv carries a backend's restic settings that are not
// credentials: maxConnections as restic's <backend>.connections option, an
// S3 backend's region as s3.region, and its insecureTLS.
func backendOptionEnv(b *v1alpha1.Backend) []pipeline.EnvVar {
	var opts []string
	connections := func(prefix string, max *int64) {
		if max != nil && *max > 0 {
			opts = append(opts, prefix+".connections="+strconv.FormatInt(*max, 10))
		}
	}
	switch {
	case b.GCS != nil:
		connections("gs", b.GCS.MaxConnections)
	case b.Azure != nil:
		connections("azure", b.Azure.MaxConnections)
	case b.B2 != nil:
		connections("b2", b.B2.MaxConnections)
	case b.S3 != nil && b.S3.Region != "":
		opts = append(opts, "s3.region="+b.S3.Region)
	}
	var env []pipeline.EnvVar
	if len(opts) > 0 {
		env = append(env, pipeline.EnvVar{Name: outputs.ResticOptionsEnv, Value: strings.Join(opts, ",")})
	}
	if b.S3 != nil && b.S3.InsecureTLS {
		env = append(env, pipeline.EnvVar{Name: outputs.ResticInsecureTLSEnv, Value: "true"})
	}
	return env
}

// MissingSecretKeys are the storage Secret keys that a backend cannot work
// without and has reports absent (or empty), each with why it is needed:
// RESTIC_PASSWORD always; for s3 and rest a user without a secret or the
// reverse; for azure the account name; for b2 both keys. Keys a backend can
// do without (an S3 instance role, GCS's default credentials, Swift's many
// ways to log in) are not required.
func MissingSecretKeys(b *v1alpha1.Backend, has func(key string) bool) []MissingKey {
	var out []MissingKey
	need := func(key, why string) {
		if !has(key) {
			out = append(out, MissingKey{Key: key, Why: why})
		}
	}
	pair := func(a, b string) {
		if has(a) != has(b) {
			need(a, "it comes with "+b)
			need(b, "it comes with "+a)
		}
	}
	need("RESTIC_PASSWORD", "the restic repository's password")
	switch {
	case b.S3 != nil:
		pair("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
	case b.Rest != nil:
		pair("REST_SERVER_USERNAME", "REST_SERVER_PASSWORD")
	case b.Azure != nil:
		need("AZURE_ACCOUNT_NAME", "the azure backend's storage account")
	case b.B2 != nil:
		need("B2_ACCOUNT_ID", "the b2 backend's account")
		need("B2_ACCOUNT_KEY", "the b2 backend's key")
	}
	return out
}

// MissingKey is a storage Secret key a backend needs and why.
type MissingKey struct {
	Key string
	Why string
}
