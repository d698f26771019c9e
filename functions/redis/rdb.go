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

// jones8 are jones's slicing-by-8 tables, built once: hash/crc64 keeps
// them only for ISO and ECMA and builds them again on every Update of
// 2 KiB or more for another polynomial.
var jones8 = func() *[8]crc64.Table {
	var t [8]crc64.Table
	t[0] = *jones
	for i := range 256 {
		crc := t[0][i]
		for j := 1; j < 8; j++ {
			crc = t[0][crc&0xff] ^ (crc >> 8)
			t[j][i] = crc
		}
	}
	return &t
}()

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
	s.held = append(s.held, p...) // one buffer, reused: no allocation per write
	if k := len(s.held) - s.hold(); k > 0 {
		out := s.held[:k]
		s.crc = update(s.crc, out)
		s.last = int(out[k-1])
		if _, err := s.w.Write(out); err != nil {
			return 0, err
		}
		s.held = s.held[:copy(s.held, s.held[k:])]
	}
	return len(p), nil
}

// update is Redis's CRC-64 over p (no inversion before or after, unlike
// hash/crc64's Update), 8 bytes a step with jones8 as hash/crc64 does for
// ISO and ECMA, the rest a byte at a time.
func update(crc uint64, p []byte) uint64 {
	t := jones8
	for len(p) >= 8 {
		crc ^= binary.LittleEndian.Uint64(p)
		crc = t[7][crc&0xff] ^ t[6][crc>>8&0xff] ^ t[5][crc>>16&0xff] ^ t[4][crc>>24&0xff] ^
			t[3][crc>>32&0xff] ^ t[2][crc>>40&0xff] ^ t[1][crc>>48&0xff] ^ t[0][crc>>56]
		p = p[8:]
	}
	for _, b := range p {
		crc = t[0][byte(crc)^b] ^ (crc >> 8)
	}
	return crc
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
