package gateway

import (
	"net/http/httputil"
	"sync"
)

// copyBufferSize is the buffer httputil.ReverseProxy would allocate for
// each response body it copies.
const copyBufferSize = 32 << 10

// BufferPool recycles reverse-proxy copy buffers; the zero value is ready.
// Without one, httputil.ReverseProxy allocates (and zeroes) 32 KiB per
// request, most of the memory a small proxied request costs. Buffers are
// kept as array pointers so that Put does not allocate. Every route's proxy
// shares the gateway's; `gatehouse bench` gives its bare proxy one too.
type BufferPool struct{ pool sync.Pool }

var _ httputil.BufferPool = (*BufferPool)(nil)

// Get returns a 32 KiB buffer.
func (p *BufferPool) Get() []byte {
	if b, ok := p.pool.Get().(*[copyBufferSize]byte); ok {
		return b[:]
	}
	return new([copyBufferSize]byte)[:]
}

// Put gives back a buffer Get returned.
func (p *BufferPool) Put(b []byte) {
	if len(b) == copyBufferSize {
		p.pool.Put((*[copyBufferSize]byte)(b))
	}
}
