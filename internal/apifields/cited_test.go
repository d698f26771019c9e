package apifields_test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/internal/apifields"
)

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

var (
	// reTestFunc is a test's declaration in a _test.go file.
	reTestFunc = regexp.MustCompile(`^func (Test[A-Z][A-Za-z0-9_]*)\(`)
	// reCited is a test named in prose: optionally after its package's
	// directory ("controllers/repository TestIntegrityCheck"). A name after
	// "func " is an example of how to write a test, not a citation.
	reCited = regexp.MustCompile(`(?:(func) |([a-z0-9_][a-z0-9_/.-]*) )?\b(Test[A-Z][A-Za-z0-9_]*)`)
)

// testIndex maps every test function of the repository to the directories
// (relative to the root, slash-separated) whose _test.go files declare it.
func testIndex(t *testing.T) map[string][]string {
	t.Helper()
	idx := map[string][]string{}
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "node_modules", "dist", ".cache":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, err := filepath.Rel(repoRoot, filepath.Dir(path))
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if m := reTestFunc.FindStringSubmatch(sc.Text()); m != nil {
				idx[m[1]] = append(idx[m[1]], filepath.ToSlash(rel))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// cited returns a problem for every test text names that does not exist,
// or that exists but not in the package directory text puts before it.
func cited(idx map[string][]string, text string) []string {
	var problems []string
	for _, m := range reCited.FindAllStringSubmatch(text, -1) {
		if m[1] == "func" {
			continue
		}
		pkg, name := m[2], m[3]
		dirs, ok := idx[name]
		if !ok {
			problems = append(problems, name+" is declared by no _test.go file")
			continue
		}
		pkg = strings.TrimPrefix(strings.TrimSuffix(pkg, "/..."), "./")
		if pkg == "" || !isDir(pkg) || slices.Contains(dirs, pkg) {
			continue
		}
		problems = append(problems, name+" is cited in "+pkg+" but declared in "+strings.Join(dirs, ", "))
	}
	return problems
}

func TestCited(t *testing.T) {
	idx := map[string][]string{"TestA": {"translators"}, "TestB": {"controllers/repository", "e2e"}}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{name: "bare name", text: "proved by TestA", want: nil},
		{name: "in its package", text: "translators TestA; controllers/repository TestB, e2e TestB", want: nil},
		{name: "missing", text: "see TestNope", want: []string{"TestNope is declared by no _test.go file"}},
		{name: "wrong package", text: "e2e TestA", want: []string{"TestA is cited in e2e but declared in translators"}},
		{name: "a word before is not a package", text: "and TestA, test TestB", want: nil},
		{name: "an example declaration", text: "func TestSomething(t *testing.T) {", want: nil},
		{name: "go test path", text: "go test ./translators -run TestA", want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, cited(idx, tc.text)); diff != "" {
				t.Errorf("cited(%q) (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

func isDir(rel string) bool {
	fi, err := os.Stat(filepath.Join(repoRoot, filepath.FromSlash(rel)))
	return err == nil && fi.IsDir()
}

// TestCitedTestsExist: docs claim only what a test shows, so every test the
// field table's proofs and the documentation name must exist, in the
// package named beside it.
func TestCitedTestsExist(t *testing.T) {
	idx := testIndex(t)
	if len(idx) < 100 {
		t.Fatalf("found only %d tests under %s: the walk is broken", len(idx), repoRoot)
	}
	for _, f := range apifields.Fields {
		for _, p := range cited(idx, f.Proof) {
			t.Errorf("internal/apifields: %s %s: %s", f.Kind, f.Path, p)
		}
	}
	docs := []string{filepath.Join(repoRoot, "README.md")}
	err := filepath.WalkDir(filepath.Join(repoRoot, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			docs = append(docs, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range docs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot, path)
		for i, line := range strings.Split(string(b), "\n") {
			for _, p := range cited(idx, line) {
				t.Errorf("%s:%d: %s", filepath.ToSlash(rel), i+1, p)
			}
		}
	}
}
