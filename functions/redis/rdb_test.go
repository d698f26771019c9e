package redis

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestUpdate: the CRC equals the byte-at-a-time definition, for lengths on
// both sides of the 8-bytes-a-step loop and when continued across calls;
// Redis's check value for "123456789" is e9c6d914c4b8d9ca.
func TestUpdate(t *testing.T) {
	bytewise := func(crc uint64, p []byte) uint64 {
		for _, b := range p {
			crc = jones[byte(crc)^b] ^ (crc >> 8)
		}
		return crc
	}
	if got := update(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Errorf("update(123456789) = %016x, want e9c6d914c4b8d9ca", got)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 63, 64, 2047, 2048, 32 << 10, 100_003} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		split := n / 3
		want := bytewise(0, p)
		if got := update(0, p); got != want {
			t.Errorf("len %d: %016x, want %016x", n, got, want)
		}
		if got := update(update(0, p[:split]), p[split:]); got != want {
			t.Errorf("len %d split at %d: %016x, want %016x", n, split, got, want)
		}
	}
}

// TestRDBStreamClose: what Close says of whole, cut-short and damaged
// files, including a file cut where its byte before the would-be checksum
// is 0xFF (told apart from a whole file only by the checksum).
func TestRDBStreamClose(t *testing.T) {
	whole := func(body string) []byte {
		p := append([]byte("REDIS0011"+body), rdbEOF)
		return binary.LittleEndian.AppendUint64(p, update(0, p))
	}
	good := whole("\xfe\x00some records")
	for _, tc := range []struct {
		name, want string
		in         []byte
		allowMark  bool
	}{
		{name: "whole", in: good},
		{name: "checksum off (0)", in: append(append([]byte("REDIS0011x"), rdbEOF), make([]byte, 8)...)},
		{name: "whole with redis-cli's EOF mark", in: append(bytes.Clone(good), bytes.Repeat([]byte("m"), markLen)...), allowMark: true},
		{name: "cut short", in: good[:len(good)-3], want: "the RDB file is cut short"},
		{name: "cut short after a 0xFF byte", in: append([]byte("REDIS0011\xff\xff"), "12345678"...), want: "damaged or cut short"},
		{name: "damaged", in: append([]byte("REDIS0011w"), good[10:]...), want: "damaged or cut short: RDB checksum mismatch"},
		{name: "not an RDB", in: []byte("HELLO0011\xff12345678"), want: "does not start like an RDB file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			s := newRDBStream(&out, tc.allowMark)
			for p := tc.in; len(p) > 0; p = p[min(len(p), 5):] { // in small writes
				if _, err := s.Write(p[:min(len(p), 5)]); err != nil {
					t.Fatal(err)
				}
			}
			err := s.Close()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && err != nil || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("Close() = %v, want %q", err, tc.want)
			}
			want := tc.in
			if tc.allowMark {
				want = tc.in[:len(tc.in)-markLen]
			}
			if tc.want == "" && !bytes.Equal(out.Bytes(), want) {
				t.Errorf("wrote %q, want %q", out.Bytes(), want)
			}
		})
	}
}
