package etcd

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// describeStreamError shortens gRPC errors of the snapshot stream.
func describeStreamError(err error) error {
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return errorString(st.Code().String() + ": " + st.Message())
	}
	return describeDialError(err)
}

type errorString string

func (e errorString) Error() string { return string(e) }
