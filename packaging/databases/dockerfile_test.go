package databases

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stashflow/stashflow/functions/mysql"
	"github.com/stashflow/stashflow/functions/postgres"
	"github.com/stashflow/stashflow/functions/redis"
)

// dockerfile is what the test reads from the Dockerfile: the packages
// apt-get installs, each with its version glob ("" when unpinned), and
// the image's PATH.
type dockerfile struct {
	pins map[string]string
	path []string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ") // continuation lines
	d := dockerfile{pins: map[string]string{}}
	install := regexp.MustCompile(`apt-get install ([^&]+)`).FindStringSubmatch(text)
	if install == nil {
		t.Fatal("Dockerfile: no apt-get install")
	}
	for _, f := range strings.Fields(install[1]) {
		if strings.HasPrefix(f, "-") {
			continue
		}
		name, version, _ := strings.Cut(f, "=")
		d.pins[name] = version
	}
	env := regexp.MustCompile(`(?m)^ENV PATH=(\S+)`).FindStringSubmatch(text)
	if env == nil {
		t.Fatal("Dockerfile: no ENV PATH")
	}
	d.path = filepath.SplitList(env[1])
	return d
}

// clientTools is every program a catalog database Function runs.
func clientTools() []string {
	return slices.Concat(postgres.ClientTools(), mysql.ClientTools(), redis.ClientTools())
}

// TestClientTools: on this machine (Debian bookworm, the packages
// hack/install-databases.sh installs), every tool the database Functions
// run, looked up along the image's PATH, belongs to a package the
// Dockerfile installs; every installed package but ca-certificates is
// pinned, and the version the tests run against here matches its pin.
func TestClientTools(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Fatal("dpkg-query is missing: this test needs Debian with hack/install-databases.sh's packages")
	}
	d := readDockerfile(t)
	for _, tool := range clientTools() {
		file := ""
		for _, dir := range d.path {
			if st, err := os.Stat(filepath.Join(dir, tool)); err == nil && st.Mode()&0o111 != 0 {
				file = filepath.Join(dir, tool)
				break
			}
		}
		if file == "" {
			t.Errorf("%s is not on the image's PATH %v here: run hack/install-databases.sh", tool, d.path)
			continue
		}
		real, err := filepath.EvalSymlinks(file)
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("dpkg-query", "-S", real).Output()
		if err != nil {
			t.Errorf("%s (%s): no package owns it: %v", tool, real, err)
			continue
		}
		pkg, _, _ := strings.Cut(string(out), ":")
		if _, ok := d.pins[pkg]; !ok {
			t.Errorf("%s (%s) comes from package %s, which the Dockerfile does not install", tool, real, pkg)
		}
		version, err := exec.Command(file, "--version").CombinedOutput()
		if err != nil {
			t.Errorf("%s --version: %v: %s", file, err, version)
		}
		t.Logf("%s → %s (%s): %s", tool, real, pkg, strings.TrimSpace(string(version)))
	}
	for pkg, glob := range d.pins {
		if pkg == "ca-certificates" {
			continue
		}
		if glob == "" {
			t.Errorf("Dockerfile: %s is not pinned (want %s=<version glob>)", pkg, pkg)
			continue
		}
		out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", pkg).Output()
		if err != nil {
			t.Errorf("%s is not installed here: %v", pkg, err)
			continue
		}
		if ok, err := path.Match(glob, string(out)); !ok || err != nil {
			t.Errorf("%s %s installed here does not match the Dockerfile's pin %s (%v)", pkg, out, glob, err)
		}
		t.Logf("%s %s (pin %s)", pkg, out, glob)
	}
}

// TestClientToolsListed: the lists the test checks name what the
// Functions' errors say the image needs.
func TestClientToolsListed(t *testing.T) {
	want := []string{"pg_dumpall", "pg_dump", "psql", "mariadb-dump", "mysqldump", "mariadb", "mysql", "redis-cli"}
	if got := clientTools(); !slices.Equal(got, want) {
		t.Errorf("client tools = %v, want %v", got, want)
	}
}
