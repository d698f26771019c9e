package etcd

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// bytesFields walks a protobuf message and calls fn for every
// length-delimited field, with the field's bytes as a sub-slice of b (no
// copy). Other fields are skipped.
func bytesFields(b []byte, fn func(num protowire.Number, val []byte)) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("protobuf: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.BytesType {
			val, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("protobuf field %d: %w", num, protowire.ParseError(n))
			}
			fn(num, val)
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return fmt.Errorf("protobuf field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return nil
}

// kvFields returns the key (field 1) and value (field 5) of a marshalled
// mvccpb.KeyValue as sub-slices of b.
func kvFields(b []byte) (key, value []byte, err error) {
	err = bytesFields(b, func(num protowire.Number, val []byte) {
		switch num {
		case 1:
			key = val
		case 5:
			value = val
		}
	})
	return key, value, err
}
