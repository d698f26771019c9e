package redis

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
)

// jones is the table of CRC-64/Jones (reflected polynomial
// 0x95AC9329AC4BC9B5), the checksum Redis ends an RDB file with.
var jones = crc64.MakeTable(0x95AC9329AC4BC9B5)

// rdbMagic starts every RDB file; its version follows.
var rdbMagic = []byte("REDIS")

const (
	rdbEOF = 0xFF // the opcode before the checksum
	sumLen = 8    // the checksum
	// markLen is the EOF mark of a diskless transfer: redis-cli removes it
	// from a file with ftruncate, but writing to a pipe it cannot.
	markLen = 40
)

// rdbStream passes an RDB file through to w while hashing it, holding back
// its last bytes (checksum, and the EOF mark redis-cli may leave); Close
// checks the file's shape and checksum and writes the held bytes, without
// the mark. Redis's CRC starts at 0 with no final inversion, unlike
// hash/crc64's Update.
type rdbStream struct {
	w         io.Writer
	allowMark bool
	crc       uint64
	head      []byte // the first 9 bytes (magic and version)
	held      []byte
	last      int // the last hashed byte, -1 before any
	n         int64
}

func newRDBStream(w io.Writer, allowMark bool) *rdbStream {
	return &rdbStream{w: w, allowMark: allowMark, last: -1}
}

func (s *rdbStream) hold() int {
	if s.allowMark {
		return sumLen + markLen
	}
	return sumLen
}

func (s *rdbStream) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if len(s.head) < 9 {
		s.head = append(s.head, p[:min(len(p), 9-len(s.head))]...)
	}
	s.held = append(s.held, p...)
	if k := len(s.held) - s.hold(); k > 0 {
		out := s.held[:k]
		s.crc = update(s.crc, out)
		s.last = int(out[k-1])
		if _, err := s.w.Write(out); err != nil {
			return 0, err
		}
		s.held = append(s.held[:0:0], s.held[k:]...)
	}
	return len(p), nil
}

// update is Redis's CRC-64 over p: hash/crc64's Update (which inverts
// before and after) with the inversions undone. hash/crc64 runs 8 bytes a
// step on buffers of 2 KiB and more, where a byte-at-a-time loop runs one.
func update(crc uint64, p []byte) uint64 {
	return ^crc64.Update(^crc, jones, p)
}

// ends reports whether the held bytes, minus trailing ones, end the file:
// the EOF opcode, then a checksum that matches (or is 0: rdbchecksum no).
func (s *rdbStream) ends(trailing int) (bool, error) {
	if len(s.held) < sumLen+trailing {
		return false, nil
	}
	body := s.held[:len(s.held)-sumLen-trailing]
	crc, last := update(s.crc, body), s.last
	if len(body) > 0 {
		last = int(body[len(body)-1])
	}
	if last != rdbEOF {
		return false, nil
	}
	sum := binary.LittleEndian.Uint64(s.held[len(body):])
	if sum != 0 && sum != crc {
		// A file cut short whose last byte before the would-be checksum
		// happens to be 0xFF lands here too: without parsing every record
		// the two cannot be told apart, so the message names both.
		return false, fmt.Errorf("the RDB file is damaged or cut short: RDB checksum mismatch: the file says %016x, its bytes give %016x", sum, crc)
	}
	return true, nil
}

// Close checks the stream and writes what was held back.
func (s *rdbStream) Close() error {
	if !bytes.HasPrefix(s.head, rdbMagic) || len(s.head) < 9 {
		return fmt.Errorf("the stream does not start like an RDB file (%q)", s.head)
	}
	keep := len(s.held)
	ok, err := s.ends(0)
	if !ok && s.allowMark {
		var merr error
		if ok, merr = s.ends(markLen); ok {
			keep, err = len(s.held)-markLen, nil
		} else if err == nil {
			err = merr
		}
	}
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("the RDB file is cut short (no end-of-file opcode before its checksum)")
	}
	s.n -= int64(len(s.held) - keep)
	_, err = s.w.Write(s.held[:keep])
	return err
}
