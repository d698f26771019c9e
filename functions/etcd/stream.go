package etcd

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// snapshotMethod is the gRPC method of Maintenance.Snapshot.
const snapshotMethod = "/etcdserverpb.Maintenance/Snapshot"

// snapshotStream reads Maintenance.Snapshot without the etcd client's
// io.Pipe and without allocating per message: a gRPC codec decodes every
// SnapshotResponse into one reused buffer. Blob is valid until the next
// call to Next.
type snapshotStream struct {
	stream grpc.ClientStream
	chunk  chunk
	// total is the database size announced by the first message
	// (remaining_bytes + len(blob)); -1 before it.
	total int64
}

// chunk is a decoded SnapshotResponse: only the fields the stream needs.
type chunk struct {
	buf            []byte
	blob           []byte
	remainingBytes uint64
	version        string
}

// openSnapshot starts the Snapshot RPC on cli's connection (with its
// credentials and interceptors).
func openSnapshot(ctx context.Context, cli *clientv3.Client) (*snapshotStream, error) {
	desc := &grpc.StreamDesc{StreamName: "Snapshot", ServerStreams: true}
	st, err := cli.ActiveConnection().NewStream(ctx, desc, snapshotMethod, grpc.ForceCodecV2(snapshotCodec{}))
	if err != nil {
		return nil, err
	}
	if err := st.SendMsg(&pb.SnapshotRequest{}); err != nil {
		return nil, err
	}
	if err := st.CloseSend(); err != nil {
		return nil, err
	}
	return &snapshotStream{stream: st, total: -1}, nil
}

// Next returns the next blob, or io.EOF at the end of the stream.
func (s *snapshotStream) Next() ([]byte, error) {
	if err := s.stream.RecvMsg(&s.chunk); err != nil {
		return nil, err
	}
	if s.total < 0 {
		s.total = int64(s.chunk.remainingBytes) + int64(len(s.chunk.blob))
	}
	return s.chunk.blob, nil
}

// snapshotCodec encodes the (empty) SnapshotRequest and decodes
// SnapshotResponse into *chunk, reusing its buffer. Other messages go to
// the regular proto codec. Its name is "proto" so that the wire
// content-subtype stays the server's default.
type snapshotCodec struct{}

func (snapshotCodec) Name() string { return "proto" }

func (snapshotCodec) Marshal(v any) (mem.BufferSlice, error) {
	if _, ok := v.(*pb.SnapshotRequest); ok {
		return mem.BufferSlice{}, nil // no fields: zero bytes on the wire
	}
	return encoding.GetCodecV2("proto").Marshal(v)
}

func (snapshotCodec) Unmarshal(data mem.BufferSlice, v any) error {
	c, ok := v.(*chunk)
	if !ok {
		return encoding.GetCodecV2("proto").Unmarshal(data, v)
	}
	n := data.Len()
	if cap(c.buf) < n {
		c.buf = make([]byte, n, max(n, 64<<10))
	}
	c.buf = c.buf[:n]
	data.CopyTo(c.buf)
	return c.decode(c.buf)
}

// decode parses the protobuf wire format of SnapshotResponse:
// 1 header (message), 2 remaining_bytes (varint), 3 blob (bytes),
// 4 version (string). Unknown fields are skipped; blob aliases b.
func (c *chunk) decode(b []byte) error {
	c.blob, c.remainingBytes, c.version = nil, 0, ""
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("snapshot response: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 2 && typ == protowire.VarintType:
			c.remainingBytes, n = protowire.ConsumeVarint(b)
		case num == 3 && typ == protowire.BytesType:
			c.blob, n = protowire.ConsumeBytes(b)
		case num == 4 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			c.version = string(v)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("snapshot response field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil
}

// trailerSize is the size of the sha256 etcd appends to a snapshot.
const trailerSize = sha256.Size

// trailerHash hashes an etcd snapshot stream as it goes by, holding the
// last 32 bytes back from the hash: at the end of the stream they are the
// trailer, the sha256 of everything before them.
type trailerHash struct {
	h     hash.Hash
	tail  [trailerSize]byte
	n     int
	total int64
}

func newTrailerHash() *trailerHash { return &trailerHash{h: sha256.New()} }

func (t *trailerHash) Write(p []byte) (int, error) {
	t.total += int64(len(p))
	if len(p) >= trailerSize {
		t.h.Write(t.tail[:t.n])
		t.h.Write(p[:len(p)-trailerSize])
		copy(t.tail[:], p[len(p)-trailerSize:])
		t.n = trailerSize
		return len(p), nil
	}
	if over := t.n + len(p) - trailerSize; over > 0 {
		t.h.Write(t.tail[:over])
		copy(t.tail[:], t.tail[over:t.n])
		t.n -= over
	}
	copy(t.tail[t.n:], p)
	t.n += len(p)
	return len(p), nil
}

// Verify checks the trailer against the hash of the bytes before it and
// returns the hex digest.
func (t *trailerHash) Verify() (string, error) {
	if err := checkTrailedSize(t.total); err != nil {
		return "", err
	}
	sum := t.h.Sum(nil)
	if string(sum) != string(t.tail[:]) {
		return "", fmt.Errorf("snapshot sha256 mismatch: computed %x, trailer says %x", sum, t.tail[:])
	}
	return fmt.Sprintf("%x", sum), nil
}

// checkTrailedSize refuses a snapshot of total bytes that cannot be a
// database (whole 512-byte pages) plus a sha256 trailer.
func checkTrailedSize(total int64) error {
	if total < trailerSize {
		return fmt.Errorf("%d bytes: too short to carry a sha256 trailer", total)
	}
	if (total-trailerSize)%512 != 0 {
		return fmt.Errorf("%d bytes: not an etcd database (whole 512-byte pages) plus a sha256 trailer", total)
	}
	return nil
}

var _ io.Writer = (*trailerHash)(nil)
