package local

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"

	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// What the engine leaves in a step's directory when the step ends, for
// people and the web UI: the end of the last attempt's log and the step's
// output parameters, both with the step's secret values replaced by
// "[redacted]" (attempt-N.log itself is the process's raw output).
const (
	// TailFile is <WorkDir>/<step>/TailFile: the last TailLines lines, at
	// most TailBytes, of the last attempt's log, redacted.
	TailFile = "tail.log"
	// OutputsFile is <WorkDir>/<step>/OutputsFile: the step's output
	// parameters as a JSON object, name → value, redacted; written only
	// when the step succeeded with outputs.
	OutputsFile = "outputs.json"
	TailLines   = 200
	TailBytes   = 64 << 10
)

// writeStepRecord writes TailFile and OutputsFile into dir. Failures are
// ignored: they are a view of the run, not part of it.
func writeStepRecord(dir, logPath string, outputs map[string]string, red *stepcause.Redactor) {
	if logPath != "" {
		if tail, err := redactedTail(logPath, red); err == nil {
			writeAtomic(filepath.Join(dir, TailFile), tail)
		}
	}
	if len(outputs) > 0 {
		safe := make(map[string]string, len(outputs))
		for k, v := range outputs {
			safe[k] = red.Redact(v)
		}
		if b, err := json.Marshal(safe); err == nil {
			writeAtomic(filepath.Join(dir, OutputsFile), b)
		}
	}
}

// redactedTail reads the end of the log and keeps its last TailLines whole
// lines within TailBytes, every secret value replaced. It reads more than
// it keeps, by the longest value, and starts what it keeps past that margin,
// at a line start outside any value: a value cut by where the read started
// lies within the margin, so no part of a value is ever kept.
func redactedTail(logPath string, red *stepcause.Redactor) ([]byte, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	margin := 0
	for _, v := range red.Values() {
		margin = max(margin, len(v))
	}
	off := max(fi.Size()-TailBytes-int64(margin), 0)
	buf := make([]byte, fi.Size()-off)
	n, err := f.ReadAt(buf, off)
	if n < len(buf) && err != nil {
		return nil, err
	}
	buf = buf[:n]
	secret := secretRanges(buf, red.Values())
	start := 0
	if off > 0 {
		start = min(margin, len(buf))
		if i := bytes.IndexByte(buf[start:], '\n'); i >= 0 {
			start += i + 1
		} else {
			start = len(buf)
		}
	}
	var out bytes.Buffer
	for _, r := range secret {
		if r[1] <= start {
			continue
		}
		if r[0] < start {
			// The line start is inside a value: keep from its end.
			start = r[1]
			continue
		}
		out.Write(buf[start:r[0]])
		out.WriteString(stepcause.Redacted)
		start = r[1]
	}
	out.Write(buf[start:])
	body := bytes.TrimRight(out.Bytes(), "\n")
	if lines := bytes.Split(body, []byte("\n")); len(lines) > TailLines {
		body = bytes.Join(lines[len(lines)-TailLines:], []byte("\n"))
	}
	if len(body) > 0 {
		body = append(body, '\n')
	}
	return body, nil
}

// secretRanges are the places of values in buf, sorted and disjoint; longer
// values win (values come longest first), as in redactor.redact.
func secretRanges(buf []byte, values []string) [][2]int {
	var out [][2]int
	taken := make([]bool, len(buf))
	for _, v := range values {
		for from := 0; ; {
			i := bytes.Index(buf[from:], []byte(v))
			if i < 0 {
				break
			}
			a, b := from+i, from+i+len(v)
			if !slices.Contains(taken[a:b], true) {
				out = append(out, [2]int{a, b})
				for k := a; k < b; k++ {
					taken[k] = true
				}
			}
			from = b
		}
	}
	slices.SortFunc(out, func(x, y [2]int) int { return x[0] - y[0] })
	return out
}

// writeAtomic writes path through a temporary file and a rename, so that a
// reader never sees half of it.
func writeAtomic(path string, b []byte) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
	}
}
