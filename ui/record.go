package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// sessionKind is one of the kinds the UI shows as a session.
type sessionKind struct {
	// Name is the Kind, e.g. "BackupSession".
	Name string
	// Path is its segment in the UI's URLs, e.g. "backupsession".
	Path string
	// Backup is true for BackupSessions.
	Backup  bool
	newObj  func() client.Object
	newList func() client.ObjectList
	items   func(client.ObjectList) []client.Object
	// toRecord converts an object of the kind; Kind is left to record.
	toRecord func(client.Object) *record
}

// record converts an object of the kind.
func (k *sessionKind) record(o client.Object) *record {
	r := k.toRecord(o)
	r.Kind = k
	return r
}

// sessionKinds are BackupSession, RestoreSession and RestoreBatch, in the
// order the filter offers them.
var sessionKinds = []*sessionKind{
	{
		Name: "BackupSession", Path: "backupsession", Backup: true,
		newObj:  func() client.Object { return &v1alpha1.BackupSession{} },
		newList: func() client.ObjectList { return &v1alpha1.BackupSessionList{} },
		items: func(l client.ObjectList) []client.Object {
			items := l.(*v1alpha1.BackupSessionList).Items
			out := make([]client.Object, len(items))
			for i := range items {
				out[i] = &items[i]
			}
			return out
		},
		toRecord: func(o client.Object) *record { return backupRecord(o.(*v1alpha1.BackupSession)) },
	},
	{
		Name: "RestoreSession", Path: "restoresession",
		newObj:  func() client.Object { return &v1alpha1.RestoreSession{} },
		newList: func() client.ObjectList { return &v1alpha1.RestoreSessionList{} },
		items: func(l client.ObjectList) []client.Object {
			items := l.(*v1alpha1.RestoreSessionList).Items
			out := make([]client.Object, len(items))
			for i := range items {
				out[i] = &items[i]
			}
			return out
		},
		toRecord: func(o client.Object) *record {
			s := o.(*v1alpha1.RestoreSession)
			return restoreRecord(s, s.Spec.Repository, &s.Status)
		},
	},
	{
		Name: "RestoreBatch", Path: "restorebatch",
		newObj:  func() client.Object { return &v1alpha1.RestoreBatch{} },
		newList: func() client.ObjectList { return &v1alpha1.RestoreBatchList{} },
		items: func(l client.ObjectList) []client.Object {
			items := l.(*v1alpha1.RestoreBatchList).Items
			out := make([]client.Object, len(items))
			for i := range items {
				out[i] = &items[i]
			}
			return out
		},
		toRecord: func(o client.Object) *record {
			b := o.(*v1alpha1.RestoreBatch)
			return restoreRecord(b, b.Spec.Repository, &b.Status)
		},
	},
}

// kindByName finds a session kind by Kind ("BackupSession") or URL segment
// ("backupsession").
func kindByName(name string) *sessionKind {
	for _, k := range sessionKinds {
		if k.Name == name || k.Path == name {
			return k
		}
	}
	return nil
}

// record is what the UI shows of one session, whatever its kind.
type record struct {
	Kind      *sessionKind
	Namespace string
	Name      string
	Created   time.Time
	// Invoker is "BackupConfiguration/<name>" or "BackupBatch/<name>" for
	// backups, "Repository/<name>" for restores.
	Invoker string
	// Repository is a restore's Repository, "namespace/name"; "" for
	// backups (their invoker names it).
	Repository string
	Phase      string
	Reason     string
	Message    string
	Duration   string
	Workflow   *v1alpha1.WorkflowRef
	// Plan is the run record the session was submitted with; nil before.
	Plan       *v1alpha1.RunPlan
	GlobalPre  *v1alpha1.HookStatus
	GlobalPost *v1alpha1.HookStatus
	Targets    []targetRecord
	Conditions []v1alpha1.Condition

	obj client.Object
}

// targetRecord is one target of a session's status.
type targetRecord struct {
	Ref       *v1alpha1.TargetRef
	Phase     v1alpha1.TargetPhase
	Steps     []v1alpha1.StepStatus
	PreHooks  []v1alpha1.HookStatus
	PostHooks []v1alpha1.HookStatus
	Stats     []hostStats
}

// hostStats is one host's numbers, backup or restore.
type hostStats struct {
	Hostname   string
	Phase      v1alpha1.HostPhase
	SnapshotID string
	Size       *int64
	Uploaded   *int64
	Files      *int64
	Duration   string
	Error      string
}

func backupRecord(s *v1alpha1.BackupSession) *record {
	st := &s.Status
	r := &record{
		Namespace: s.Namespace, Name: s.Name, Created: s.CreationTimestamp.Time,
		Invoker: s.Spec.Invoker.Kind + "/" + s.Spec.Invoker.Name,
		Phase:   string(st.Phase), Reason: st.Reason, Message: st.Message, Duration: st.SessionDuration,
		Workflow: st.Workflow, Plan: st.Plan, Conditions: st.Conditions, obj: s,
	}
	if g := st.GlobalHooks; g != nil {
		r.GlobalPre, r.GlobalPost = g.PreBackup, g.PostBackup
	}
	for _, t := range st.Targets {
		tr := targetRecord{Ref: t.Ref, Phase: t.Phase, Steps: t.Steps, PreHooks: t.PreBackupHooks, PostHooks: t.PostBackupHooks}
		for _, h := range t.Stats {
			tr.Stats = append(tr.Stats, hostStats{
				Hostname: h.Hostname, Phase: h.Phase, SnapshotID: h.SnapshotID, Size: h.Size,
				Uploaded: h.Uploaded, Files: h.Files, Duration: h.Duration, Error: h.Error,
			})
		}
		r.Targets = append(r.Targets, tr)
	}
	return r
}

func restoreRecord(o client.Object, repo v1alpha1.ObjectRef, st *v1alpha1.RestoreSessionStatus) *record {
	r := &record{
		Namespace: o.GetNamespace(), Name: o.GetName(), Created: o.GetCreationTimestamp().Time,
		Invoker: "Repository/" + repo.Name, Repository: repo.NamespaceOr(o.GetNamespace()) + "/" + repo.Name,
		Phase: string(st.Phase), Reason: st.Reason, Message: st.Message, Duration: st.SessionDuration,
		Workflow: st.Workflow, Plan: st.Plan, Conditions: st.Conditions, obj: o,
	}
	if repo.Namespace != "" && repo.Namespace != o.GetNamespace() {
		r.Invoker = "Repository/" + repo.Namespace + "/" + repo.Name
	}
	if g := st.GlobalHooks; g != nil {
		r.GlobalPre, r.GlobalPost = g.PreRestore, g.PostRestore
	}
	for _, t := range st.Targets {
		tr := targetRecord{Ref: t.Ref, Phase: t.Phase, Steps: t.Steps, PreHooks: t.PreRestoreHooks, PostHooks: t.PostRestoreHooks}
		for _, h := range t.Stats {
			tr.Stats = append(tr.Stats, hostStats{
				Hostname: h.Hostname, Phase: h.Phase, SnapshotID: h.SnapshotID, Size: h.Size,
				Files: h.Files, Duration: h.Duration, Error: h.Error,
			})
		}
		r.Targets = append(r.Targets, tr)
	}
	return r
}

// Finished reports whether the session's phase is final.
func (r *record) Finished() bool {
	switch r.Phase {
	case "", "Pending", "Running":
		return false
	}
	return true
}

// PhaseOrNew is the phase, or "Pending" before the operator saw the session.
func (r *record) PhaseOrNew() string {
	if r.Phase == "" {
		return "Pending"
	}
	return r.Phase
}

// InvokerKey is "Kind/namespace/name" of a backup's invoker, "" for restores.
func (r *record) InvokerKey() string {
	if !r.Kind.Backup {
		return ""
	}
	kind, name, _ := strings.Cut(r.Invoker, "/")
	return kind + "/" + r.Namespace + "/" + name
}

// URL is the session's page.
func (r *record) URL() string {
	return "/sessions/" + r.Kind.Path + "/" + r.Namespace + "/" + r.Name
}

// Elapsed is the session's duration: status.sessionDuration once set, the
// time since it was created while it runs, "" otherwise.
func (r *record) Elapsed(now time.Time) string {
	if r.Duration != "" {
		return r.Duration
	}
	if !r.Finished() && !r.Created.IsZero() {
		return formatDuration(now.Sub(r.Created)) + " so far"
	}
	return ""
}

// Engine is the engine of the session's workflow, "" before one exists.
func (r *record) Engine() v1alpha1.Engine {
	if r.Workflow == nil {
		return ""
	}
	return r.Workflow.Engine
}

// getSession reads one session.
func getSession(ctx context.Context, c client.Reader, kind *sessionKind, namespace, name string) (*record, error) {
	obj := kind.newObj()
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		return nil, err
	}
	return kind.record(obj), nil
}

// listSessions lists the sessions of kinds in namespace ("" for all).
func listSessions(ctx context.Context, c client.Reader, kinds []*sessionKind, namespace string) ([]*record, error) {
	var out []*record
	for _, k := range kinds {
		l := k.newList()
		// The cache answers without copying: the UI never writes.
		opts := []client.ListOption{client.UnsafeDisableDeepCopy}
		if namespace != "" {
			opts = append(opts, client.InNamespace(namespace))
		}
		if err := c.List(ctx, l, opts...); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", k.Name, err)
		}
		for _, o := range k.items(l) {
			out = append(out, k.record(o))
		}
	}
	return out, nil
}
