package backupblueprint

import (
	"encoding/json"
	"fmt"
	"strings"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/translators"
)

// desired computes the Repository and the BackupConfiguration a blueprint
// makes for a target. It reads nothing but its arguments.
func (r *Reconciler) desired(bp *v1alpha1.BackupBlueprint, target client.Object) (*v1alpha1.Repository, *v1alpha1.BackupConfiguration, error) {
	// As Stash fills them: the kind in lower case, the resource, the apiVersion.
	vars := translators.Variables{
		"TARGET_API_VERSION": r.Kind.APIVersion,
		"TARGET_KIND":        strings.ToLower(r.Kind.Name),
		"TARGET_RESOURCE":    r.Kind.Resource,
		"TARGET_NAME":        target.GetName(),
		"TARGET_NAMESPACE":   target.GetNamespace(),
	}
	for k, v := range r.Kind.Variables(target) {
		vars[k] = v
	}
	name := madeName(r.Kind.Short, target.GetName())
	repoName := name
	var err error
	if bp.Spec.RepoName != "" {
		if repoName, err = vars.Substitute(bp.Spec.RepoName); err != nil {
			return nil, nil, fmt.Errorf("BackupBlueprint %s: spec.repoName: %w", bp.Name, err)
		}
		repoName = strings.ToLower(repoName)
	}
	if errs := validation.IsDNS1123Subdomain(repoName); len(errs) > 0 {
		return nil, nil, fmt.Errorf("BackupBlueprint %s: spec.repoName gives %q: %s", bp.Name, repoName, strings.Join(errs, "; "))
	}
	repoNS := target.GetNamespace()
	if bp.Spec.RepoNamespace != "" {
		if repoNS, err = vars.Substitute(bp.Spec.RepoNamespace); err != nil {
			return nil, nil, fmt.Errorf("BackupBlueprint %s: spec.repoNamespace: %w", bp.Name, err)
		}
	}
	var repoSpec v1alpha1.RepositorySpec
	if err := substituteJSON(vars, bp.Spec.RepositorySpec, &repoSpec); err != nil {
		return nil, nil, fmt.Errorf("BackupBlueprint %s: the repository's fields: %w", bp.Name, err)
	}
	schedule := bp.Spec.Schedule
	if s, _ := annotation(target.GetAnnotations(), bp.Spec.ScheduleAnnotation()); s != "" {
		schedule = s
	}
	if schedule == "" {
		return nil, nil, fmt.Errorf("BackupBlueprint %s has no schedule and %s has no %s annotation", bp.Name, target.GetName(), bp.Spec.ScheduleAnnotation())
	}
	backupTarget, err := r.backupTarget(target)
	if err != nil {
		return nil, nil, err
	}

	labels := map[string]string{
		LabelBlueprint:           bp.Name,
		LabelBlueprintTargetKind: r.Kind.id(),
		LabelBlueprintTarget:     target.GetName(),
		labelTargetNamespace:     target.GetNamespace(),
		v1alpha1.LabelManagedBy:  v1alpha1.ManagedByValue,
	}
	repo := &v1alpha1.Repository{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Repository"},
		ObjectMeta: metav1.ObjectMeta{Name: repoName, Namespace: repoNS, Labels: labels},
		Spec:       repoSpec,
	}
	bc := &v1alpha1.BackupConfiguration{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: v1alpha1.KindBackupConfiguration},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: target.GetNamespace(), Labels: labels},
		Spec: v1alpha1.BackupConfigurationSpec{
			BackupConfigurationTemplateSpec: v1alpha1.BackupConfigurationTemplateSpec{
				Task:                  bp.Spec.Task.DeepCopy(),
				Target:                backupTarget,
				RuntimeSettings:       bp.Spec.RuntimeSettings.DeepCopy(),
				TempDir:               bp.Spec.TempDir.DeepCopy(),
				InterimVolumeTemplate: bp.Spec.InterimVolumeTemplate.DeepCopy(),
				Hooks:                 bp.Spec.Hooks.DeepCopy(),
			},
			Repository:         v1alpha1.ObjectRef{Name: repoName},
			Schedule:           schedule,
			RetentionPolicy:    bp.Spec.RetentionPolicy.DeepCopy(),
			BackupHistoryLimit: bp.Spec.BackupHistoryLimit,
			TimeOut:            bp.Spec.TimeOut,
			RetryConfig:        bp.Spec.RetryConfig.DeepCopy(),
		},
	}
	if repoNS != target.GetNamespace() {
		bc.Spec.Repository.Namespace = repoNS
	}
	for _, obj := range []client.Object{repo, bc} {
		if obj.GetNamespace() != target.GetNamespace() {
			continue // cleaned up by its labels
		}
		if err := controllerutil.SetControllerReference(target, obj, r.Scheme); err != nil {
			return nil, nil, err
		}
	}
	return repo, bc, nil
}

// madeName is the name of what a blueprint makes for a target, Stash's:
// <short>-<target name>, cut to 63 characters without a trailing '-'.
func madeName(short, target string) string {
	n := short + "-" + target
	return strings.Trim(n[:min(len(n), validation.DNS1123LabelMaxLength)], "-")
}

// backupTarget is the BackupConfiguration's target: the reference, and for a
// workload the paths and volume mounts its annotations name.
func (r *Reconciler) backupTarget(target client.Object) (*v1alpha1.BackupTarget, error) {
	bt := &v1alpha1.BackupTarget{Ref: v1alpha1.TargetRef{APIVersion: r.Kind.APIVersion, Kind: r.Kind.Name, Name: target.GetName()}}
	if !r.Kind.Workload {
		return bt, nil
	}
	var err error
	if bt.Paths, bt.VolumeMounts, err = workloadFiles(r.Kind.Name, target.GetAnnotations()); err != nil {
		return nil, err
	}
	return bt, nil
}

// substituteJSON fills ${VAR} in every string of in and decodes into out.
func substituteJSON(vars translators.Variables, in, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	s, err := vars.Substitute(string(raw))
	if err != nil {
		return err
	}
	return json.Unmarshal([]byte(s), out)
}

// forEach calls f for every item of a list.
func forEach(list client.ObjectList, f func(client.Object)) error {
	items, err := apimeta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			f(o)
		}
	}
	return nil
}
