package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestSkipValue checks the scanner's value boundaries against
// encoding/json's, for strings with escapes at every offset up to 40 bytes
// and for values nested in objects and arrays.
func TestSkipValue(t *testing.T) {
	var values []string
	for n := range 40 {
		pad := strings.Repeat("a", n)
		for _, tail := range []string{`"`, `\`, `\\`, `\"x`, `\\"`, "é", "\u2028"} {
			s, err := json.Marshal(pad + tail + pad)
			if err != nil {
				t.Fatal(err)
			}
			values = append(values, string(s), `{"k":`+string(s)+`,"n":[`+string(s)+`,1,{"x":null}]}`)
		}
		values = append(values, `"`+pad+`\u0022"`, `"`+pad+`\\\\"`, `"`+pad+`\/"`)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune{'a', '"', '\\', '/', '{', '}', '[', ']', ',', 'é'}
	for range 2000 {
		r := make([]rune, rng.IntN(80))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s, err := json.Marshal(string(r))
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, string(s), `[`+string(s)+`,{"`+string(r[:0])+`":`+string(s)+`}]`)
	}
	for _, v := range values {
		// The value is followed by more JSON, as inside a page.
		doc := []byte(v + `,"after":"x"}`)
		var raw json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(doc))
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("reference decode of %s: %v", v, err)
		}
		want := int(dec.InputOffset())
		got, err := skipValue(doc, 0)
		if err != nil || got != want {
			t.Errorf("skipValue(%s) = %d, %v; want %d", v, got, err, want)
		}
	}
	// Unterminated strings fail, wherever they end.
	for n := range 36 {
		for _, bad := range []string{`"` + strings.Repeat("a", n), `"` + strings.Repeat("a", n) + `\`, `"` + strings.Repeat("a", n) + `\"`} {
			if got, err := skipValue([]byte(bad), 0); err == nil {
				t.Errorf("skipValue(%q) = %d, want an error", bad, got)
			}
		}
	}
}

// BenchmarkParsePage parses a page of documents shaped like those of
// bench/elasticsearch. Run it with
// `go test -bench ParsePage ./functions/elasticsearch`.
func BenchmarkParsePage(b *testing.B) {
	var page strings.Builder
	page.WriteString(`{"pit_id":"p","took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"failed":0},"hits":{"total":{"value":1000,"relation":"eq"},"hits":[`)
	for i := range 1000 {
		if i > 0 {
			page.WriteByte(',')
		}
		fmt.Fprintf(&page, `{"_index":"bench","_id":"doc-%07d","_score":null,"_source":{"@timestamp":"2026-01-02T03:04:05Z","host":"web-%02d","level":"info","status":%d,"latency_ms":%d.25,"path":"/api/v1/items/%d","user_agent":"Mozilla/5.0 (X11; Linux x86_64) bench","message":"request served \"ok\" for user %d with a somewhat longer text field"},"sort":[%d]}`, i, i%50, 200+i%5, i%900, i, i, i)
	}
	page.WriteString(`]}}`)
	body := []byte(page.String())
	var out bytes.Buffer
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		out.Reset()
		if _, err := parsePage(body, &out, nil); err != nil {
			b.Fatal(err)
		}
	}
}
