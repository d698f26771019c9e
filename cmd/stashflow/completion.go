package main

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/catalog"
)

// Shell completion goes through cobra's hooks (the "completion" command
// cobra adds, and its hidden __complete): object names come from the
// cluster the command's own connection flags name, within completionTimeout;
// when no cluster answers, nothing is offered and nothing is printed.
const completionTimeout = 3 * time.Second

// kindNames are the kinds a KIND/NAME argument takes, by the word
// completed before the slash (kubectl's names and short names).
var kindNames = map[string]string{
	"backupconfiguration": v1alpha1.KindBackupConfiguration, "backupconfigurations": v1alpha1.KindBackupConfiguration, "bc": v1alpha1.KindBackupConfiguration,
	"backupbatch": v1alpha1.KindBackupBatch, "backupbatches": v1alpha1.KindBackupBatch, "bb": v1alpha1.KindBackupBatch,
	"backupsession": "BackupSession", "backupsessions": "BackupSession", "bs": "BackupSession",
	"restoresession": "RestoreSession", "restoresessions": "RestoreSession", "restore": "RestoreSession",
	"restorebatch": "RestoreBatch", "restorebatches": "RestoreBatch", "rb": "RestoreBatch",
}

// completeRefs completes one KIND/NAME argument of the given kinds: before
// the slash, "kind/NAME" of every object of those kinds; after it, the
// names of that kind, with the word the user typed.
func completeRefs(kube *kubeFlags, kinds ...string) cobra.CompletionFunc {
	return func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(contextOf(c), completionTimeout)
		defer cancel()
		var out []string
		if word, _, ok := strings.Cut(toComplete, "/"); ok {
			kind := kindNames[strings.ToLower(word)]
			if !slices.Contains(kinds, kind) {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			for _, n := range kube.names(ctx, kind) {
				out = append(out, word+"/"+n)
			}
		} else {
			for _, kind := range kinds {
				for _, n := range kube.names(ctx, kind) {
					out = append(out, strings.ToLower(kind)+"/"+n)
				}
			}
		}
		return withPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// names are the names of the objects of kind in the namespace of -n or the
// context, sorted; none when the cluster cannot be read.
func (f *kubeFlags) names(ctx context.Context, kind string) []string {
	ns, _, err := f.namespace()
	if err != nil {
		return nil
	}
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind(kind + "List"))
	return f.listNames(ctx, list, client.InNamespace(ns))
}

// listNames lists list's kind (metadata only) and returns the names.
func (f *kubeFlags) listNames(ctx context.Context, list *metav1.PartialObjectMetadataList, opts ...client.ListOption) []string {
	cl, err := f.client()
	if err != nil {
		return nil
	}
	if err := cl.List(ctx, list, opts...); err != nil {
		return nil
	}
	out := make([]string, 0, len(list.Items))
	for _, o := range list.Items {
		out = append(out, o.Name)
	}
	sort.Strings(out)
	return out
}

// registerKubeCompletion completes -n with the cluster's namespaces and
// --context with the kubeconfig's contexts.
func registerKubeCompletion(c *cobra.Command, f *kubeFlags) {
	_ = c.RegisterFlagCompletionFunc("namespace", func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(contextOf(c), completionTimeout)
		defer cancel()
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
		return f.listNames(ctx, list), cobra.ShellCompDirectiveNoFileComp
	})
	_ = c.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		cfg, err := f.config.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		out := make([]string, 0, len(cfg.Contexts))
		for name := range cfg.Contexts {
			out = append(out, name)
		}
		sort.Strings(out)
		return out, cobra.ShellCompDirectiveNoFileComp
	})
}

// completeRepositories completes --repository with the cluster's
// Repositories (none with -f: the files name them).
func completeRepositories(r *repoFlags) cobra.CompletionFunc {
	return func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(r.files) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(contextOf(c), completionTimeout)
		defer cancel()
		return r.kube.names(ctx, "Repository"), cobra.ShellCompDirectiveNoFileComp
	}
}

// snapshotIDs are "latest" and the short ids of the Snapshot objects of
// repository (all when ""), newest first: what the cluster already knows,
// without reaching the backend.
func (f *kubeFlags) snapshotIDs(ctx context.Context, repository string) []string {
	out := []string{"latest"}
	cl, err := f.client()
	if err != nil {
		return out
	}
	ns, _, err := f.namespace()
	if err != nil {
		return out
	}
	var list v1alpha1.SnapshotList
	if err := cl.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return out
	}
	sort.SliceStable(list.Items, func(i, j int) bool {
		return snapshotTime(&list.Items[j]).Before(snapshotTime(&list.Items[i]))
	})
	for _, s := range list.Items {
		if id := s.Spec.SnapshotID; id != "" && (repository == "" || s.Spec.Repository.Name == repository) {
			out = append(out, id[:min(8, len(id))])
		}
	}
	return out
}

// completeCatalogNames completes catalog show NAME with the built-in Tasks
// and Functions.
func completeCatalogNames(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cat, err := catalog.Load()
	if err != nil || len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := slices.Compact(slices.Sorted(slices.Values(append(cat.TaskNames(), cat.FunctionNames()...))))
	return withPrefix(names, toComplete), cobra.ShellCompDirectiveNoFileComp
}

// withPrefix are the words that start with what the user typed.
func withPrefix(words []string, typed string) []string {
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, typed) {
			out = append(out, w)
		}
	}
	return out
}

// contextOf is the command's context, or a background one (cobra gives
// none to a completion function run outside Execute).
func contextOf(c *cobra.Command) context.Context {
	if ctx := c.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
