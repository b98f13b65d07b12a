package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReplayInt(t *testing.T) {
	assert.Equal(t, int64(0x134CBD), replayInt([]byte{0, 0, 0, 0, 0, 0x13, 0x4C, 0xBD}))
	assert.Zero(t, replayInt([]byte{1, 2, 3}), "not the emulator's 8-byte form")
	assert.Zero(t, replayInt(nil))
}
