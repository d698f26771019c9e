package ui

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

// invoker is a BackupConfiguration or a BackupBatch as the UI shows it.
type invoker struct {
	Kind, Namespace, Name string
	// Repository is the Repository it backs up into, "namespace/name".
	Repository string
	Schedule   string
	Paused     bool
	Phase      string
	// Next is status.nextBackupTime: the slot the controller computed with
	// controllers/schedule; nil when it schedules none.
	Next       *metav1.Time
	LastBackup *metav1.Time
	Ready      *v1alpha1.Condition
}

// key is how sessions name their invoker: "Kind/namespace/name".
func (i *invoker) key() string { return i.Kind + "/" + i.Namespace + "/" + i.Name }

// listInvokers lists the BackupConfigurations and BackupBatches of
// namespace ("" for all).
func listInvokers(ctx context.Context, c client.Reader, namespace string) ([]*invoker, error) {
	opts := []client.ListOption{client.UnsafeDisableDeepCopy}
	if namespace != "" {
		opts = append(opts, client.InNamespace(namespace))
	}
	var out []*invoker
	configs := &v1alpha1.BackupConfigurationList{}
	if err := c.List(ctx, configs, opts...); err != nil {
		return nil, fmt.Errorf("listing BackupConfigurations: %w", err)
	}
	for i := range configs.Items {
		o := &configs.Items[i]
		out = append(out, &invoker{
			Kind: "BackupConfiguration", Namespace: o.Namespace, Name: o.Name,
			Repository: o.Spec.Repository.NamespaceOr(o.Namespace) + "/" + o.Spec.Repository.Name,
			Schedule:   o.Spec.Schedule, Paused: o.Spec.Paused, Phase: string(o.Status.Phase),
			Next: o.Status.NextBackupTime, LastBackup: o.Status.LastBackupTime,
			Ready: readyCondition(o.Status.Conditions),
		})
	}
	batches := &v1alpha1.BackupBatchList{}
	if err := c.List(ctx, batches, opts...); err != nil {
		return nil, fmt.Errorf("listing BackupBatches: %w", err)
	}
	for i := range batches.Items {
		o := &batches.Items[i]
		out = append(out, &invoker{
			Kind: "BackupBatch", Namespace: o.Namespace, Name: o.Name,
			Repository: o.Spec.Repository.NamespaceOr(o.Namespace) + "/" + o.Spec.Repository.Name,
			Schedule:   o.Spec.Schedule, Paused: o.Spec.Paused, Phase: string(o.Status.Phase),
			Next: o.Status.NextBackupTime, LastBackup: o.Status.LastBackupTime,
			Ready: readyCondition(o.Status.Conditions),
		})
	}
	return out, nil
}

// repositoryOf is the Repository ("namespace/name") a session uses: a
// restore's own, a backup's invoker's (known from invokers by key); "" if
// the invoker is gone.
func repositoryOf(rec *record, invokers map[string]*invoker) string {
	if rec.Repository != "" {
		return rec.Repository
	}
	if inv := invokers[rec.InvokerKey()]; inv != nil {
		return inv.Repository
	}
	return ""
}

// scheduleRow is one line of the schedules page.
type scheduleRow struct {
	Kind, Namespace, Name string
	Repository            string
	RepositoryURL         string
	Schedule              string
	Paused                bool
	Phase                 string
	ReadyMessage          string
	// Next is the next slot, NextIn how far it is; NextNote says why
	// there is none.
	Next, NextISO, NextIn, NextNote string
	LastBackup                      string
	// Last is the newest session, nil if none; Sessions links them all.
	Last        *sessionRow
	SessionsURL string
}

func (p *pages) schedules(w http.ResponseWriter, r *http.Request) {
	ns := r.URL.Query().Get("namespace")
	ctx := r.Context()
	invs, err := listInvokers(ctx, p.s.cfg.Client, ns)
	if err != nil {
		p.failErr(w, r, "schedules", err)
		return
	}
	recs, err := listSessions(ctx, p.s.cfg.Client, sessionKinds[:1], ns)
	if err != nil {
		p.failErr(w, r, "sessions", err)
		return
	}
	now := p.s.cfg.Now()
	last := map[string]*record{}
	for _, rec := range recs {
		k := rec.InvokerKey()
		if cur := last[k]; cur == nil || rec.Created.After(cur.Created) || rec.Created.Equal(cur.Created) && rec.Name > cur.Name {
			last[k] = rec
		}
	}
	var rows []scheduleRow
	for _, inv := range invs {
		row := scheduleRow{
			Kind: inv.Kind, Namespace: inv.Namespace, Name: inv.Name, Repository: inv.Repository,
			RepositoryURL: "/repositories/" + inv.Repository,
			Schedule:      inv.Schedule, Paused: inv.Paused, Phase: inv.Phase, LastBackup: metaTime(inv.LastBackup),
			SessionsURL: "/sessions?namespace=" + inv.Namespace + "&invoker=" + inv.Kind + "/" + inv.Name,
		}
		if inv.Ready != nil && inv.Ready.Status != metav1.ConditionTrue {
			row.ReadyMessage = inv.Ready.Message
		}
		switch {
		case inv.Next != nil:
			row.Next, row.NextISO = metaTime(inv.Next), inv.Next.UTC().Format(time.RFC3339)
			row.NextIn = "in " + formatDuration(inv.Next.Sub(now))
		case inv.Schedule == "":
			row.NextNote = "no schedule: runs when triggered"
		case inv.Paused:
			row.NextNote = "paused"
		default:
			row.NextNote = "none scheduled: " + orQuestion(inv.Phase)
		}
		if rec := last[inv.key()]; rec != nil {
			sr := rowOf(rec, now)
			row.Last = &sr
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b scheduleRow) int {
		return strings.Compare(a.Namespace+"/"+a.Kind+"/"+a.Name, b.Namespace+"/"+b.Kind+"/"+b.Name)
	})
	p.render(w, r, http.StatusOK, "schedules", view{Title: "Schedules", Nav: "schedules", Live: true, Page: struct {
		Namespace string
		Rows      []scheduleRow
	}{ns, rows}})
}

// readyCondition is the Ready condition of conds, or nil.
func readyCondition(conds []v1alpha1.Condition) *v1alpha1.Condition {
	for i := range conds {
		if conds[i].Type == v1alpha1.ConditionReady {
			return &conds[i]
		}
	}
	return nil
}
