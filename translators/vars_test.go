package translators

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stashflow/stashflow/api/v1alpha1"
)

func TestSubstitute(t *testing.T) {
	vars := Variables{"NAMESPACE": "demo", "EMPTY": "", "TARGET_PATHS": "/data,/etc"}
	tests := []struct {
		name, in, want string
		wantErr        string
	}{
		{name: "no references", in: "plain text", want: "plain text"},
		{name: "one variable", in: "--namespace=${NAMESPACE}", want: "--namespace=demo"},
		{name: "two variables", in: "${NAMESPACE}/${TARGET_PATHS}", want: "demo//data,/etc"},
		{name: "default unused", in: "${NAMESPACE:=other}", want: "demo"},
		{name: "default used when unset", in: "--keep=${RETENTION_KEEP_LAST:=5}", want: "--keep=5"},
		{name: "default used when empty", in: "${EMPTY:=x}", want: "x"},
		{name: "shell spelling of default", in: "${EMPTY:-y}", want: "y"},
		{name: "empty default", in: "[${UNSET:=}]", want: "[]"},
		{name: "empty value without default is kept", in: "[${EMPTY}]", want: "[]"},
		{name: "default is literal", in: "${UNSET:=${NAMESPACE}", want: "${NAMESPACE"},
		{name: "escaped", in: "$${NAMESPACE}", want: "${NAMESPACE}"},
		{name: "bare dollar left alone", in: "echo $HOME $1 $(date)", want: "echo $HOME $1 $(date)"},
		{name: "output reference left alone", in: "$(steps.a.outputs.snapshotID)", want: "$(steps.a.outputs.snapshotID)"},
		{name: "unresolved", in: "--x=${MISSING}", wantErr: "variable ${MISSING} has no value and no default"},
		{name: "unclosed", in: "--x=${NAMESPACE", wantErr: `at offset 4: "${" is not closed by "}"`},
		{name: "bad operator", in: "${A:+b}", wantErr: "at offset 0: ${A:+b}: want ${NAME}, ${NAME:=default} or ${NAME:-default}"},
		{name: "bad name", in: "${1A}", wantErr: `at offset 0: ${1A}: "1A" is not a variable name (letters, digits and '_', not starting with a digit)`},
		{name: "empty name", in: "${}", wantErr: `at offset 0: ${}: "" is not a variable name (letters, digits and '_', not starting with a digit)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := vars.Substitute(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Substitute(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Substitute(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Substitute(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestSubstituteUnresolvedIsTyped(t *testing.T) {
	_, err := Variables{}.Substitute("${X}")
	var ue *UnresolvedError
	if !errors.As(err, &ue) || ue.Variable != "X" {
		t.Fatalf("error = %#v, want *UnresolvedError for X", err)
	}
}

func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"", "${A}", "${A:=b}", "$${A}", "${", "${A:-}", "x${B}y${C:=z}", "$(steps.a.outputs.b)"} {
		f.Add(s)
	}
	vars := Variables{"A": "a", "B": ""}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := vars.Substitute(s)
		if err == nil && !containsRef(s) && out != s {
			t.Fatalf("Substitute(%q) = %q, changed a string without references", s, out)
		}
	})
}

func containsRef(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '$' && s[i+1] == '{' {
			return true
		}
	}
	return false
}

// TestEndpoint: ${TARGET_ENDPOINT} is the AppBinding's Service when it names
// one, also beside a URL (KubeDB's MySQL AppBindings carry a driver string
// there; Stash prefers the Service), else its URL. The Service's path and
// query end the URL.
func TestEndpoint(t *testing.T) {
	svc := &v1alpha1.ServiceReference{Scheme: "mysql", Name: "sample-mysql", Port: 3306, Path: "/"}
	url := "tcp(sample-mysql:3306)/"
	for _, tc := range []struct {
		name string
		cc   v1alpha1.ClientConfig
		want string
	}{
		{"service", v1alpha1.ClientConfig{Service: svc}, "mysql://sample-mysql.demo.svc:3306/"},
		{"url", v1alpha1.ClientConfig{URL: &url}, url},
		{"both: the service", v1alpha1.ClientConfig{URL: &url, Service: svc}, "mysql://sample-mysql.demo.svc:3306/"},
		{"neither", v1alpha1.ClientConfig{}, ""},
		{"service path", v1alpha1.ClientConfig{Service: &v1alpha1.ServiceReference{Scheme: "https", Name: "search", Port: 9200, Path: "/es"}},
			"https://search.demo.svc:9200/es"},
		{"service query", v1alpha1.ClientConfig{Service: &v1alpha1.ServiceReference{Name: "pg", Port: 5432, Query: "sslmode=require"}},
			"http://pg.demo.svc:5432?sslmode=require"},
		{"service path and query", v1alpha1.ClientConfig{Service: &v1alpha1.ServiceReference{Scheme: "mongodb", Name: "mongo", Port: 27017, Path: "/admin", Query: "authSource=admin&tls=true"}},
			"mongodb://mongo.demo.svc:27017/admin?authSource=admin&tls=true"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ab := &v1alpha1.AppBinding{Spec: v1alpha1.AppBindingSpec{ClientConfig: tc.cc}}
			if diff := cmp.Diff(tc.want, endpoint(ab, "demo")); diff != "" {
				t.Errorf("endpoint() (-want +got):\n%s", diff)
			}
		})
	}
}
