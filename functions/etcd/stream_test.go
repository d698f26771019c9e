package etcd

import (
	"crypto/sha256"
	"math/rand/v2"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// snapshotBytes returns n bytes of "database" (n a multiple of 512) plus
// etcd's sha256 trailer.
func snapshotBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n, n+sha256.Size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	sum := sha256.Sum256(b)
	return append(b, sum[:]...)
}

func TestTrailerHash(t *testing.T) {
	good := snapshotBytes(8192, 1)
	flipped := append([]byte(nil), good...)
	flipped[5000] ^= 0x01
	badTrailer := append([]byte(nil), good...)
	badTrailer[len(badTrailer)-1] ^= 0x80

	tests := []struct {
		name    string
		data    []byte
		chunks  []int // chunk sizes to cut the data into, repeated; empty: one write
		wantErr string
	}{
		{name: "one write", data: good},
		{name: "32 KiB-like chunks", data: good, chunks: []int{4096}},
		{name: "trailer split across writes", data: good, chunks: []int{8190, 5, 3, 100}},
		{name: "byte by byte", data: good, chunks: []int{1}},
		{name: "odd chunks", data: good, chunks: []int{31, 33, 1, 64, 7}},
		{name: "flipped data byte", data: flipped, chunks: []int{1000}, wantErr: "sha256 mismatch"},
		{name: "flipped trailer byte", data: badTrailer, chunks: []int{17}, wantErr: "sha256 mismatch"},
		{name: "too short", data: good[:20], wantErr: "too short"},
		{name: "no trailer (not page aligned)", data: good[:8192], wantErr: "not an etcd database (whole 512-byte pages) plus a sha256 trailer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := newTrailerHash()
			data := tt.data
			for i := 0; len(data) > 0; i++ {
				n := len(data)
				if len(tt.chunks) > 0 {
					n = min(tt.chunks[i%len(tt.chunks)], len(data))
				}
				_, _ = th.Write(data[:n]) // hashing: never fails
				data = data[n:]
			}
			sum, err := th.Verify()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Verify() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify(): %v", err)
			}
			want := sha256.Sum256(tt.data[:len(tt.data)-sha256.Size])
			if sum != string(hexOf(want[:])) {
				t.Errorf("sum = %s, want %x", sum, want)
			}
		})
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestChunkDecode(t *testing.T) {
	blob := []byte(strings.Repeat("x", 40000))
	msg := &pb.SnapshotResponse{
		Header:         &pb.ResponseHeader{ClusterId: 1, MemberId: 2, Revision: 3, RaftTerm: 4},
		RemainingBytes: 123456789,
		Blob:           blob,
		Version:        "3.6.0",
	}
	raw, err := msg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var c chunk
	if err := c.decode(raw); err != nil {
		t.Fatal(err)
	}
	if string(c.blob) != string(blob) || c.remainingBytes != 123456789 || c.version != "3.6.0" {
		t.Errorf("decoded blob len %d, remaining %d, version %q", len(c.blob), c.remainingBytes, c.version)
	}
	if err := c.decode(raw[:len(raw)-1]); err == nil {
		t.Error("decoding a truncated message succeeded")
	}
}

func TestParseRevKey(t *testing.T) {
	key := []byte{0, 0, 0, 0, 0, 0, 1, 2, '_', 0, 0, 0, 0, 0, 0, 0, 3}
	rev, tomb, err := parseRevKey(key)
	if err != nil || rev != (revision{main: 258, sub: 3}) || tomb {
		t.Errorf("parseRevKey = %v, %v, %v", rev, tomb, err)
	}
	rev, tomb, err = parseRevKey(append(key, 't'))
	if err != nil || rev.main != 258 || !tomb {
		t.Errorf("parseRevKey(tombstone) = %v, %v, %v", rev, tomb, err)
	}
	if _, _, err := parseRevKey(key[:10]); err == nil {
		t.Error("short key accepted")
	}
}
