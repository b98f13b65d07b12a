package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/sfemu"
	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

func TestParseChannels(t *testing.T) {
	specs, err := parseChannels(defaultChannels)
	require.NoError(t, err)
	kinds := map[sfemu.Kind]bool{}
	for _, s := range specs {
		kinds[sfemu.KindOf(s.Base)] = true
	}
	assert.Len(t, kinds, 4, "the default channels cover every kind")
	assert.NotContains(t, kinds, sfemu.KindUnknown)

	specs, err = parseChannels(" /u/A, /topic/T?Status__c=Open&Region__c=EU ,/event/E__e")
	require.NoError(t, err)
	assert.Equal(t, []channelSpec{
		{Configured: "/u/A", Base: "/u/A", Gap: 1},
		{Configured: "/topic/T?Status__c=Open&Region__c=EU", Base: "/topic/T", Gap: 2,
			Filter: map[string]string{"Status__c": "Open", "Region__c": "EU"}},
		{Configured: "/event/E__e", Base: "/event/E__e", Gap: 3},
	}, specs)

	for _, bad := range []string{"", " , ", "/u/A,/u/A", "/topic/T,/topic/T?S=1", "/u/A?S=1", "/topic/T?%zz", "/nope/X", "/event/", "/topic/a/b", "/u/*"} {
		_, err := parseChannels(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestPublisherLedgerMatchesTheEmulator publishes through the real control
// API of an in-process emulator and checks the ledger against what a
// subscriber of the filtered PushTopic may get.
func TestPublisherLedgerMatchesTheEmulator(t *testing.T) {
	emu := sfemu.New(sfemu.DefaultConfig())
	srv := httptest.NewServer(emu)
	defer srv.Close()
	defer emu.Close()

	specs, err := parseChannels("/u/A,/topic/T?Status__c=Open")
	require.NoError(t, err)
	p := newPublisher(harness.NewClient(srv.URL), specs, 1000, 1) // 100 per channel per tick
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- p.run(stop) }()
	require.Eventually(t, func() bool { return p.published() >= 600 }, 10*time.Second, 20*time.Millisecond)
	close(stop)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the publisher did not stop")
	}

	expected, times, filtered, last := p.ledger()
	st, err := harness.NewClient(srv.URL).State(context.Background())
	require.NoError(t, err)
	for _, ch := range []string{"/u/A", "/topic/T"} {
		cs := st.Channels[ch]
		assert.Equal(t, cs.LastReplayID, last[ch], "%s: the ledger ends where the emulator does", ch)
		assert.Equal(t, cs.Published, int64(len(expected[ch])+filtered[ch]), "%s: every publish is in the ledger", ch)
		assert.Len(t, times[ch], len(expected[ch]))
		for i := 1; i < len(expected[ch]); i++ {
			require.Greater(t, expected[ch][i], expected[ch][i-1], "%s: ids grow", ch)
		}
	}
	assert.Zero(t, filtered["/u/A"])
	assert.Positive(t, filtered["/topic/T"], "some PushTopic events miss the filter")
	assert.Positive(t, len(expected["/topic/T"]), "most match it")
	gaps := expected["/topic/T"]
	assert.Zero(t, (gaps[len(gaps)-1]-gaps[0])%2, "the second channel's ids step by 2")
}

func TestSobjectMatchesOrMissesTheFilter(t *testing.T) {
	p := newPublisher(nil, nil, 1, 3)
	filter := map[string]string{"Status__c": "Open", "Region__c": "EU"}
	for range 20 {
		assert.Contains(t, string(p.sobject(filter, true)), `"Region__c":"EU"`)
		assert.Contains(t, string(p.sobject(filter, true)), `"Status__c":"Open"`)
		miss := string(p.sobject(filter, false))
		assert.True(t, !strings.Contains(miss, `"Region__c":"EU"`) || !strings.Contains(miss, `"Status__c":"Open"`), miss)
	}
}
