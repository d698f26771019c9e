package translators

import (
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/stashflow/stashflow/pipeline"
)

// InterimVolumeDir is where a target's interimVolumeTemplate claim is
// mounted in its Function steps; INTERIM_DATA_DIR points there (Stash:
// /stash-interim-volume/data). Without a claim INTERIM_DATA_DIR is
// InterimDir, the tempDir scratch volume.
const InterimVolumeDir = "/stashflow/interim-volume"

// defaultInterimClaim names a claim whose template has no metadata.name: in
// a cluster the claim is <session>-interim-volume (Argo names it
// <workflow>-<name>, Stash <session>-<name>). A batch member's default is
// prefixed with its step prefix, one claim per target.
const defaultInterimClaim = "interim-volume"

// interimField is the path of a member's interimVolumeTemplate.
func (r *run) interimField(m *member) string {
	if r.isBatch() {
		return fmt.Sprintf("spec.members[%d].interimVolumeTemplate", m.index)
	}
	return "spec.interimVolumeTemplate"
}

// nameClaim gives a member with an interimVolumeTemplate its claim's
// name (m.claim), or says why the template cannot be honoured: a workload
// target (its steps read the workload's own volumes on the workload's
// nodes), a name that cannot name a volume, and on the local engine what
// a directory of the run cannot be (a block device, a claim pre-filled
// from a data source).
func (r *run) nameClaim(m *member, prefix string, opts Options) error {
	t := m.interim
	if t == nil {
		return nil
	}
	field := r.interimField(m)
	if m.ref != nil && IsWorkload(m.ref.Kind) {
		return fmt.Errorf("%s: a %s target is backed up and restored by steps that mount the workload's own volumes on its nodes and use no interim data: remove it", field, m.ref.Kind)
	}
	name := prefix + defaultInterimClaim
	if t.Metadata != nil && t.Metadata.Name != "" {
		name = t.Metadata.Name
		if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
			return fmt.Errorf("%s.metadata.name: %q names the steps' volume and must be a DNS label: %s", field, name, msgs[0])
		}
	}
	if opts.Local {
		const why = "the local engine makes the claim a directory of the run (on the run folder's disk), made empty before the first step and removed when the run ends; run on the Argo engine, or remove it"
		s := &t.Spec
		switch {
		case s.VolumeMode != nil && *s.VolumeMode == "Block":
			return fmt.Errorf("%s.spec.volumeMode: Block: %s", field, why)
		case s.DataSource != nil:
			return fmt.Errorf("%s.spec.dataSource: %s", field, why)
		case s.DataSourceRef != nil:
			return fmt.Errorf("%s.spec.dataSourceRef: %s", field, why)
		}
	}
	m.claim = name
	return nil
}

// volumeClaims are the run's claims, one per interimVolumeTemplate: its
// labels (the run's labels win, so the claim is found like the run's pods),
// annotations and spec. Members naming the same claim share it, as Stash's
// targets of one session do, if their templates agree. A claim may not take
// the name of one of the graph's volumes.
func (r *run) volumeClaims(volumes map[string]bool) ([]pipeline.VolumeClaim, error) {
	var out []pipeline.VolumeClaim
	byName := map[string]*member{}
	for i := range r.members {
		m := &r.members[i]
		if m.claim == "" {
			continue
		}
		field := r.interimField(m)
		if volumes[m.claim] {
			return nil, fmt.Errorf("%s.metadata.name: %q is the name of another volume of the run's steps: choose another", field, m.claim)
		}
		if first, ok := byName[m.claim]; ok {
			if !equality.Semantic.DeepEqual(first.interim, m.interim) {
				return nil, fmt.Errorf("%s: claim %q is also %s, with another template: give each its own metadata.name", field, m.claim, r.interimField(first))
			}
			continue
		}
		byName[m.claim] = m
		c := pipeline.VolumeClaim{Name: m.claim, Spec: *m.interim.Spec.DeepCopy()}
		if md := m.interim.Metadata; md != nil {
			c.Labels, c.Annotations = maps.Clone(md.Labels), maps.Clone(md.Annotations)
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		maps.Copy(c.Labels, r.labels())
		out = append(out, c)
	}
	return out, nil
}
