package input

import "unsafe"

// Storing a string, an int64 or a slice in metadata (an `any`) makes Go copy the value to a fresh heap object of its
// own: one allocation per value. A batch of 1,000 events sets thousands of such values, and their allocation and
// collection cost more than setting them. boxed stores the interface's data pointer at a value already in a slab
// allocated once per batch instead: the interface is exactly what `any(*p)` would give (same type, same value;
// type switches, assertions and reflection see no difference), only its value lives inside the slab.
//
// Interfaces holding these types never hand out a pointer to their value, so the value is immutable as long as
// the slab element is never written again: each slab belongs to one batch and every element is written once,
// before it is boxed. The garbage collector keeps the whole slab alive while any message refers to one element.
//
// The type set is closed on purpose: for pointer-shaped types (pointers, maps, channels, functions) the interface's
// data word is the value itself, not a pointer to it, and this would be wrong.
func boxed[T string | int64 | []any](p *T) any {
	var zero T
	v := any(zero) // the zero value of these types is boxed without an allocation
	(*[2]unsafe.Pointer)(unsafe.Pointer(&v))[1] = unsafe.Pointer(p)
	return v
}
