package ui

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/controllers/resolve"
	"github.com/stashflow/stashflow/controllers/restoresession"
	"github.com/stashflow/stashflow/translators"
)

// planner translates a session again, as the controllers did when they
// submitted it: resolve its invoker's references (the cache first, the
// built-in catalog for Tasks and Functions the cluster lacks), then call the
// same pure translator. Translation is deterministic, so the graph is the
// one that ran unless the invoker, its Task or its Functions changed since.
type planner struct {
	client   client.Reader
	resolver *resolve.Resolver
	image    string
	// engine is the operator's engine, for sessions that have no workflow yet.
	engine v1alpha1.Engine
}

// plan translates r's session.
func (p *planner) plan(ctx context.Context, r *record) (*translators.Plan, error) {
	// The controllers translate for the engine the operator runs; a
	// session's workflow says which engine that was when it ran.
	engine := r.Engine()
	if engine == "" {
		engine = p.engine
	}
	opts := translators.Options{Image: p.image, Local: engine != v1alpha1.EngineArgo}
	switch o := r.obj.(type) {
	case *v1alpha1.BackupSession:
		inv, repo, members, err := p.backupInvoker(ctx, o)
		if err != nil {
			return nil, err
		}
		objs, err := p.resolver.Objects(ctx, resolve.Backup, o.Namespace, repo, members)
		if err != nil {
			return nil, err
		}
		return translators.Backup(o, inv, objs, opts)
	case *v1alpha1.RestoreSession:
		return p.restore(ctx, restoresession.RestoreSessionKind, o, opts)
	case *v1alpha1.RestoreBatch:
		return p.restore(ctx, restoresession.RestoreBatchKind, o, opts)
	}
	return nil, fmt.Errorf("unknown session type %T", r.obj)
}

func (p *planner) restore(ctx context.Context, kind restoresession.Kind, o client.Object, opts translators.Options) (*translators.Plan, error) {
	repo, members := kind.References(o)
	objs, err := p.resolver.Objects(ctx, resolve.Restore, o.GetNamespace(), repo, members)
	if err != nil {
		return nil, err
	}
	return kind.Translate(o, objs, opts)
}

// backupInvoker reads a BackupSession's invoker and returns it with its
// Repository and members, as the BackupSession controller does.
func (p *planner) backupInvoker(ctx context.Context, s *v1alpha1.BackupSession) (translators.BackupInvoker, v1alpha1.ObjectRef, []resolve.Member, error) {
	inv := s.Spec.Invoker
	key := client.ObjectKey{Namespace: s.Namespace, Name: inv.Name}
	member := func(field string, t *v1alpha1.BackupConfigurationTemplateSpec) resolve.Member {
		m := resolve.Member{Field: field, Task: t.Task}
		if t.Target != nil {
			m.Target = &t.Target.Ref
		}
		return m
	}
	var out translators.BackupInvoker
	var err error
	switch {
	case inv.Group() != v1alpha1.GroupName:
		return out, v1alpha1.ObjectRef{}, nil, fmt.Errorf("spec.invoker: API group %q is not %s", inv.Group(), v1alpha1.GroupName)
	case inv.Kind == v1alpha1.KindBackupConfiguration:
		c := &v1alpha1.BackupConfiguration{}
		if err = p.client.Get(ctx, key, c); err == nil {
			out.Config = c
			return out, c.Spec.Repository, []resolve.Member{member("spec", &c.Spec.BackupConfigurationTemplateSpec)}, nil
		}
	case inv.Kind == v1alpha1.KindBackupBatch:
		b := &v1alpha1.BackupBatch{}
		if err = p.client.Get(ctx, key, b); err == nil {
			out.Batch = b
			var members []resolve.Member
			for i := range b.Spec.Members {
				members = append(members, member(fmt.Sprintf("spec.members[%d]", i), &b.Spec.Members[i].BackupConfigurationTemplateSpec))
			}
			return out, b.Spec.Repository, members, nil
		}
	default:
		return out, v1alpha1.ObjectRef{}, nil, fmt.Errorf("spec.invoker: kind %q is neither BackupConfiguration nor BackupBatch", inv.Kind)
	}
	if apierrors.IsNotFound(err) {
		err = errors.New("not found")
	}
	return out, v1alpha1.ObjectRef{}, nil, fmt.Errorf("reading the invoker %s %s: %w", inv.Kind, key, err)
}

// sessionDAG is the graph of a session: translated again when that works
// and agrees with the status, else built from the status.
func (p *planner) sessionDAG(ctx context.Context, r *record) *dag {
	plan, err := p.plan(ctx, r)
	if err != nil {
		return dagFromStatus(r, "The graph could not be translated again ("+err.Error()+"); it is drawn from the status alone: targets side by side, each target's hooks and steps chained.")
	}
	d, err := dagFromPlan(plan, r)
	if err != nil {
		return dagFromStatus(r, "The graph translated today does not match the status: "+err.Error()+". It is drawn from the status alone: targets side by side, each target's hooks and steps chained.")
	}
	return d
}
