package redis

import (
	"math/rand/v2"
	"testing"
)

// TestUpdate: the CRC equals the byte-at-a-time definition, for lengths on
// both sides of hash/crc64's 8-bytes-a-step threshold and when continued
// across calls; Redis's check value for "123456789" is e9c6d914c4b8d9ca.
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
	for _, n := range []int{0, 1, 63, 64, 2047, 2048, 32 << 10, 100_003} {
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
