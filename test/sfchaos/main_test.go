package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, o.duration)
	assert.Equal(t, 50, o.minFaults)
	assert.Equal(t, 5, o.minRestarts)
	assert.NotZero(t, o.seed, "a random seed is drawn (and printed)")

	o, err = parseFlags([]string{"-duration", "35m", "-seed", "12", "-min-faults", "1000", "-min-restarts", "50", "-rate", "5"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, options{
		duration: 35 * time.Minute, seed: 12, channels: defaultChannels, rate: 5, minFaults: 1000, minRestarts: 50,
		faultEvery: 2 * time.Second, restartEvery: 15 * time.Second, outageEvery: 40 * time.Second,
		drainTimeout: time.Minute, pubsub: true, mirrorAccounts: 2000, mirrorContacts: 1000,
	}, o)
	assert.True(t, o.pubsub, "Pub/Sub is on by default")

	o, err = parseFlags([]string{"-pubsub=false"}, io.Discard)
	require.NoError(t, err)
	assert.False(t, o.pubsub)

	o, err = parseFlags([]string{"-mirror", "-mirror-accounts", "300", "-mirror-contacts", "50"}, io.Discard)
	require.NoError(t, err)
	assert.True(t, o.mirror)
	assert.Equal(t, 300, o.mirrorAccounts)
	assert.Equal(t, 50, o.mirrorContacts)

	for _, bad := range [][]string{
		{"-mirror", "-mirror-accounts", "0"}, {"-mirror", "-mirror-contacts", "-1"},
		{"-duration", "1s"}, {"-rate", "0"}, {"-fault-every", "0s"}, {"-drain-timeout", "0s"}, {"extra"}, {"-nope"},
	} {
		_, err := parseFlags(bad, io.Discard)
		assert.Error(t, err, "%q", bad)
	}
}

func TestRunRejectsBadChannelsBeforeStartingAnything(t *testing.T) {
	assert.Equal(t, 2, run([]string{"-channels", "/nope/X"}, io.Discard, io.Discard))
	assert.Equal(t, 2, run([]string{"-mirror", "-channels", "/data/AccountChangeEvent"}, io.Discard, io.Discard),
		"with -mirror the CDC channels are the mirror's: nothing is left to publish to")
}
