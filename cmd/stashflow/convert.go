package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/stashflow/stashflow/internal/convert"
)

func init() { subcommands = append(subcommands, newConvertCommand) }

type convertOptions struct {
	files  []string
	outDir string
	stdin  io.Reader
}

// stdinName is -f -: standard input, written as stdin.yaml with -o.
const stdinName = "stdin.yaml"

// convertFailure is convert's exit 1: some objects could not be carried.
type convertFailure struct{ notWritten []string }

func (e convertFailure) Error() string {
	return fmt.Sprintf("%d object(s) not written: %s", len(e.notWritten), strings.Join(e.notWritten, ", "))
}
func (convertFailure) ExitCode() int { return exitFailed }

func newConvertCommand() *cobra.Command {
	o := &convertOptions{}
	cmd := &cobra.Command{
		Use:   "convert -f FILE|DIR [-f ...] [-o DIR]",
		Short: "Rewrite Stash manifests as stashflow manifests, with a line per change",
		Long: `Convert reads Stash manifests (stash.appscode.com/v1beta1 and v1alpha1 Repository,
appcatalog.appscode.com/v1alpha1 AppBindings, objects with Stash's blueprint annotations) and writes
stashflow.dev/v1alpha1 manifests: to stdout as one YAML stream, or with -o DIR one file per input
file, of the same name, into DIR. Every other object passes through unchanged.

Every change is a line on stderr, "<Kind>/<name>: <field>: <what changed>". Every converted
object is then decoded strictly and validated with stashflow's CRDs (schemas and CEL rules), as
the apiserver would on create; what cannot be carried is a line
"<Kind>/<name>: <field>: cannot carry: <reason>" and that object is not written.
Exit code 0 when everything was carried, 1 when some objects were not written (the others are),
2 for bad flags or unreadable files.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.stdin = c.InOrStdin()
			return o.run(c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "Stash YAML file or directory, - for standard input (repeatable; directories are not read recursively)")
	f.StringVarP(&o.outDir, "output-dir", "o", "", "write one file per input file into this directory instead of stdout")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// convertInput is one input file, read.
type convertInput struct {
	path string
	docs []map[string]any
}

func (o *convertOptions) run(stdout, stderr io.Writer) error {
	inputs, err := o.read()
	if err != nil {
		return usageError{err}
	}
	c, err := convert.New()
	if err != nil {
		return err
	}
	var notWritten []string
	var stream bytes.Buffer
	for _, in := range inputs {
		var file bytes.Buffer
		for _, doc := range in.docs {
			for _, r := range c.Convert(doc) {
				for _, ch := range r.Changes {
					fmt.Fprintln(stderr, ch)
				}
				for _, p := range r.Problems {
					fmt.Fprintln(stderr, p)
				}
				if len(r.Problems) > 0 {
					notWritten = append(notWritten, r.Name)
				}
				if r.Object == nil {
					continue
				}
				b, err := yaml.Marshal(r.Object.Object)
				if err != nil {
					return fmt.Errorf("%s: %w", r.Name, err)
				}
				if file.Len() > 0 {
					file.WriteString("---\n")
				}
				file.Write(b)
			}
		}
		if o.outDir == "" {
			if stream.Len() > 0 && file.Len() > 0 {
				stream.WriteString("---\n")
			}
			stream.Write(file.Bytes())
			continue
		}
		if file.Len() == 0 {
			fmt.Fprintf(stderr, "%s: nothing to write\n", in.path)
			continue
		}
		if err := os.WriteFile(filepath.Join(o.outDir, filepath.Base(in.path)), file.Bytes(), 0o600); err != nil {
			return err
		}
	}
	if _, err := stdout.Write(stream.Bytes()); err != nil {
		return err
	}
	if len(notWritten) > 0 {
		return convertFailure{notWritten: notWritten}
	}
	return nil
}

// read lists and reads every input file (directories: their .yaml, .yml
// and .json files, in name order) and checks -o: one output file per input
// name, and no input overwritten.
func (o *convertOptions) read() ([]convertInput, error) {
	var files []string
	for _, p := range o.files {
		if p == "-" {
			files = append(files, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			switch filepath.Ext(e.Name()) {
			case ".yaml", ".yml", ".json":
				if !e.IsDir() {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("-f %s: no .yaml, .yml or .json file", strings.Join(o.files, ", "))
	}
	if o.outDir != "" {
		if err := o.checkOutDir(files); err != nil {
			return nil, err
		}
	}
	var out []convertInput
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(o.stdin)
			f = stdinName
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return nil, err
		}
		docs, err := convert.ReadDocuments(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, convertInput{path: f, docs: docs})
	}
	return out, nil
}

func (o *convertOptions) checkOutDir(files []string) error {
	outAbs, err := filepath.Abs(o.outDir)
	if err != nil {
		return err
	}
	seen := map[string]string{}
	for _, f := range files {
		base := filepath.Base(f)
		if f == "-" {
			base = stdinName
		}
		if other, ok := seen[base]; ok {
			return fmt.Errorf("--output-dir: %s and %s would both be written to %s", other, f, filepath.Join(o.outDir, base))
		}
		seen[base] = f
		if abs, err := filepath.Abs(f); err == nil && f != "-" && filepath.Dir(abs) == outAbs {
			return fmt.Errorf("--output-dir: %s is an input file; write into another directory", f)
		}
	}
	if err := os.MkdirAll(o.outDir, 0o755); err != nil {
		return fmt.Errorf("--output-dir: %w", err)
	}
	return nil
}
