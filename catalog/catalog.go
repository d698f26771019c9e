package catalog

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"

	"github.com/stashflow/stashflow/api/v1alpha1"
	"github.com/stashflow/stashflow/internal/manifest"
)

//go:embed functions/*.yaml tasks/*.yaml
var files embed.FS

// The catalog's objects carry this label; an object of a catalog name
// without it is a user's own and is never overwritten.
const (
	Label      = "app.kubernetes.io/part-of"
	LabelValue = "stashflow-catalog"
)

// Catalog is the built-in set, by name.
type Catalog struct {
	Functions map[string]*v1alpha1.Function
	Tasks     map[string]*v1alpha1.Task
}

// Load decodes the embedded catalog. It fails only if the catalog itself is
// broken, which the package's tests rule out.
func Load() (*Catalog, error) {
	c := &Catalog{Functions: map[string]*v1alpha1.Function{}, Tasks: map[string]*v1alpha1.Task{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".yaml" {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		objs, err := manifest.Decode("catalog/"+p, data)
		if err != nil {
			return err
		}
		for _, o := range objs {
			switch t := o.Object.(type) {
			case *v1alpha1.Function:
				if c.Functions[t.Name] != nil {
					return fmt.Errorf("%s: Function %q is defined twice", o.Source, t.Name)
				}
				c.Functions[t.Name] = t
			case *v1alpha1.Task:
				if c.Tasks[t.Name] != nil {
					return fmt.Errorf("%s: Task %q is defined twice", o.Source, t.Name)
				}
				c.Tasks[t.Name] = t
			default:
				return fmt.Errorf("%s: the catalog holds only Functions and Tasks, not %T", o.Source, o.Object)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// FunctionNames and TaskNames list the catalog, sorted.
func (c *Catalog) FunctionNames() []string { return sortedKeys(c.Functions) }

// TaskNames lists the built-in Tasks, sorted.
func (c *Catalog) TaskNames() []string { return sortedKeys(c.Tasks) }

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
