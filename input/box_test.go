package input

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// boxed must give the same interface as Go's own conversion, and the value must survive collections while only
// the interface refers to its slab.
func TestBoxed(t *testing.T) {
	strs := []string{"", "001xx000003DGb2AAG", string(make([]byte, 300))}
	ints := []int64{0, 1, 255, 256, -1, 1 << 40}
	lists := [][]any{nil, {}, {"001a", "001b"}}
	var got, want []any
	for i := range strs {
		got, want = append(got, boxed(&strs[i])), append(want, any(strs[i]))
	}
	for i := range ints {
		got, want = append(got, boxed(&ints[i])), append(want, any(ints[i]))
	}
	for i := range lists {
		got, want = append(got, boxed(&lists[i])), append(want, any(lists[i]))
	}
	strs, ints, lists = nil, nil, nil
	for range 3 {
		runtime.GC()
	}
	require.Len(t, got, len(want))
	for i := range want {
		assert.Equal(t, want[i], got[i], "value %d", i)
		assert.IsType(t, want[i], got[i], "value %d", i)
	}
	s, ok := got[1].(string)
	assert.True(t, ok)
	assert.Equal(t, "001xx000003DGb2AAG", s)
	n, ok := got[6].(int64)
	assert.True(t, ok)
	assert.Equal(t, int64(256), n)
	if got[0] != any("") || got[4] != any(int64(1)) {
		t.Errorf("boxed values must compare equal to Go's own: %#v %#v", got[0], got[4])
	}
}

func TestBoxedAllocatesNothing(t *testing.T) {
	s, n, l := "x", int64(1<<40), []any{"a"}
	var sink any
	allocs := testing.AllocsPerRun(100, func() {
		sink = boxed(&s)
		sink = boxed(&n)
		sink = boxed(&l)
	})
	_ = sink
	assert.Zero(t, allocs)
}
