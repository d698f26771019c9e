package local

import (
	"os"

	"github.com/stashflow/stashflow/pipeline/stepcause"
)

// headSize is how much of the start of an attempt's log is read for the
// first meaningful line.
const headSize = 4 << 10

// logCause is the cause (stepcause.Of) the log at logPath gives, from its
// first headSize and last tailSize bytes, red's values replaced.
func logCause(logPath string, red *stepcause.Redactor) string {
	f, err := os.Open(logPath)
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	size := fi.Size()
	head := make([]byte, min(size, headSize))
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	off := max(size-tailSize, 0)
	tail := make([]byte, size-off)
	n, _ = f.ReadAt(tail, off)
	tail = tail[:n]
	return stepcause.Of(stepcause.Lines(head, false, size > headSize), stepcause.Lines(tail, off > 0, false), red.Redact)
}
