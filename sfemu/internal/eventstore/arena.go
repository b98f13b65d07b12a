package eventstore

// arena holds the encoded messages of one channel in large chunks, so that a retained event costs its wire bytes
// plus its index entry, not a separately allocated (and rounded-up) buffer. Chunks are append-only and never
// reused: a message handed to an answer stays valid after the event is dropped, and a chunk is freed by the
// garbage collector once no retained event (and no answer being written) points into it.
type arena struct {
	chunk    []byte // current chunk; len is the used part
	nextSize int    // size of the next chunk: grows from arenaMinChunk to arenaMaxChunk
	// used counts the bytes events took: every closed chunk whole (its unused tail is lost) and the used part of
	// the current one. The current chunk's free tail, at most arenaMaxChunk per channel, is not counted.
	used int64
}

const (
	arenaMinChunk = 64 << 10 // a channel with a few events stays small
	arenaMaxChunk = 4 << 20  // at most one partly used chunk per channel
)

// store copies rec (a message, then data kept after it) into the arena and returns the message, rec[:msgLen],
// with a capacity ending at the end of rec, so that appending to it cannot reach the next record.
func (a *arena) store(rec []byte, msgLen int) []byte {
	n := len(rec)
	if n > arenaMaxChunk/4 { // a large record gets a chunk of its own rather than ending the current one early
		own := make([]byte, n)
		copy(own, rec)
		a.used += int64(n)
		return own[:msgLen:n]
	}
	if cap(a.chunk)-len(a.chunk) < n {
		a.used += int64(cap(a.chunk) - len(a.chunk)) // the tail of the closed chunk is lost
		size := max(a.nextSize, arenaMinChunk, n)
		a.nextSize = min(size*2, arenaMaxChunk)
		a.chunk = make([]byte, 0, size)
	}
	off := len(a.chunk)
	a.chunk = append(a.chunk, rec...)
	a.used += int64(n)
	return a.chunk[off : off+msgLen : off+n]
}
