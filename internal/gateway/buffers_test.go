package gateway

import "testing"

// A recycled buffer comes back whole; a buffer of another size is not
// kept, so Get never hands out a short one.
func TestBufferPool(t *testing.T) {
	var p BufferPool
	b := p.Get()
	if len(b) != copyBufferSize {
		t.Fatalf("Get: %d bytes", len(b))
	}
	p.Put(b)
	p.Put(make([]byte, 512))
	for range 3 {
		if b := p.Get(); len(b) != copyBufferSize {
			t.Fatalf("Get after Put: %d bytes", len(b))
		}
	}
}
