package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCeilingBody(t *testing.T) {
	for _, size := range []int{1100, 2000} {
		body := ceilingBody(size)
		assert.Len(t, body, size)
		assert.True(t, json.Valid([]byte(body)), "a JSON document of %d bytes", size)
	}
	assert.True(t, json.Valid([]byte(ceilingBody(0))), "below the skeleton's size the body is the skeleton")
}

func TestCeilingShare(t *testing.T) {
	drain := drainResult{events: 500000, wall: 2 * time.Second, cpu: 2 * time.Second}       // 250,000 events/s, 4 µs
	ceiling := drainResult{events: 500000, wall: time.Second, cpu: 1500 * time.Millisecond} // 500,000 events/s, 3 µs
	assert.Equal(t, "50% of its events/s; 1.0 µs more CPU per event", ceilingShare(drain, ceiling))
	assert.Equal(t, "200% of its events/s; 1.0 µs less CPU per event", ceilingShare(ceiling, drain))
}
