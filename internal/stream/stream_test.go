package stream

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestChannelKey(t *testing.T) {
	for in, want := range map[string]string{
		"/topic/X":              "/topic/X",
		"/topic/X?Status__c=Op": "/topic/X",
		"/data/ChangeEvents":    "/data/ChangeEvents",
		"":                      "",
	} {
		assert.Equal(t, want, ChannelKey(in), in)
		assert.Equal(t, len(want), KeyLen([]byte(in)), in)
	}
}

func TestPositionAfter(t *testing.T) {
	tests := []struct {
		name string
		p, q Position
		want bool
	}{
		{"higher seq", Position{Seq: 5}, Position{Seq: 4}, true},
		{"lower seq", Position{Seq: 4}, Position{Seq: 5}, false},
		{"same", Position{Seq: 4}, Position{Seq: 4}, false},
		{"later epoch wins over seq", Position{Epoch: 1, Seq: 1}, Position{Seq: 900}, true},
		{"earlier epoch", Position{Seq: 900}, Position{Epoch: 1, Seq: 1}, false},
		{"past a start marker", Position{Seq: 3}, Position{Seq: 9, Start: true}, true},
		{"start marker below every position", Position{Seq: 9, Start: true}, Position{Seq: 3}, false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.p.After(tt.q), tt.name)
	}
}

func TestBatchPositionsAndRelease(t *testing.T) {
	released := 0
	b := Batch{Channel: "/e/E", Events: []Event{{ReplayID: 4, HasReplayID: true}, {}}, OnRelease: func(n int) { released += n }}
	last, ok := b.Last()
	assert.True(t, ok)
	assert.Equal(t, Position{Seq: 4}, last, "the last event with a replay id")
	b.Release(2)
	b.Release(0)
	assert.Equal(t, 2, released)
	assert.False(t, b.Keepalive())

	opaque := Batch{Events: []Event{{Opaque: &OpaqueEvent{ReplayID: []byte{1, 2}}}}}
	last, ok = opaque.Last()
	assert.True(t, ok)
	assert.Equal(t, Position{Opaque: "\x01\x02"}, last, "an opaque id is left for the tracker to number")
	(&Batch{}).Release(3) // no handle: nothing to do

	_, ok = (&Batch{Events: []Event{{}}}).Last()
	assert.False(t, ok)
	assert.True(t, (&Batch{Latest: []byte{1}}).Keepalive())
}

func TestBackoffDefaults(t *testing.T) {
	b := BackoffConfig{}.WithDefaults()
	assert.Equal(t, BackoffConfig{Initial: DefaultBackoffInitial, Max: DefaultBackoffMax, Long: DefaultBackoffLong}, b)
	b = BackoffConfig{Initial: 5 * time.Second, Max: time.Second}.WithDefaults()
	assert.Equal(t, 5*time.Second, b.Max, "Max is never below Initial")
	for attempt := 1; attempt < 10; attempt++ {
		d := b.Delay(attempt)
		assert.Greater(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, b.Max)
	}
	assert.GreaterOrEqual(t, b.LongDelay(), b.Long/2)
}

type classed struct{ c Class }

func (e classed) Error() string { return "classed" }
func (e classed) Class() Class  { return e.c }

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"plain", errors.New("EOF"), Retryable},
		{"limit", fmt.Errorf("x: %w", classed{Limit}), Limit},
		{"refused token", &AuthError{Err: classed{Limit}}, Retryable},
		{"refused login inside a refused token", &AuthError{Err: &LoginRejectedError{Err: errors.New("invalid_grant")}}, Permanent},
		{"outermost classed decides", classedWrap{classed{Permanent}, classed{Limit}}, Permanent},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Classify(tt.err), tt.name)
	}
	ch, ok := InvalidReplayChannel(fmt.Errorf("subscribing: %w", &InvalidReplayError{Channel: "/e/E", Err: errors.New("x")}))
	assert.True(t, ok)
	assert.Equal(t, "/e/E", ch)
	_, ok = InvalidReplayChannel(errors.New("x"))
	assert.False(t, ok)
	assert.Equal(t, "fail", ReplayFallbackFail.String())
	assert.Equal(t, "earliest", Earliest.String())
}

type classedWrap struct {
	classed
	inner error
}

func (e classedWrap) Unwrap() error { return e.inner }

// TestRefusals: the refusals both clients report, their texts and classes; an opaque replay id is shown in hex
// and bounded, CometD's in decimal.
func TestRefusals(t *testing.T) {
	server := errors.New("403::Restricted channel")
	pe := &PermissionError{Channel: "/topic/X", Err: server}
	assert.Equal(t, "Salesforce refused the subscription to /topic/X: 403::Restricted channel", pe.Error())
	assert.ErrorIs(t, pe, server)
	assert.Equal(t, Permanent, Classify(fmt.Errorf("subscribing: %w", pe)))

	assert.Equal(t, "Salesforce is too busy: 403::Restricted channel", (&LimitError{Busy: true, Err: server}).Error())
	assert.Equal(t, "Salesforce limit reached: 403::Restricted channel", (&LimitError{Err: server}).Error())
	assert.Equal(t, Limit, Classify(&LimitError{Err: server}))

	cometd := &InvalidReplayError{Channel: "/e/E", ReplayID: Position{Seq: 5}, Err: server}
	assert.Equal(t, "replay id 5 of /e/E is not valid any more: 403::Restricted channel", cometd.Error())
	assert.Equal(t, Permanent, Classify(cometd))
	short := &InvalidReplayError{Channel: "/e/E", ReplayID: Position{Opaque: "\x00\x01\xff"}, Err: server}
	assert.Contains(t, short.Error(), "replay id 0001ff of /e/E")
	huge := &InvalidReplayError{Channel: "/e/E", ReplayID: Position{Opaque: string(make([]byte, 768<<10))}, Err: server}
	assert.Less(t, len(huge.Error()), 300, "a 768 KB replay id makes a short error")
	assert.Contains(t, huge.Error(), "... (786432 bytes) of /e/E")
}

func TestSleep(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		d    time.Duration
		stop <-chan struct{}
		want bool
	}{
		{"the full wait", context.Background(), time.Millisecond, nil, true},
		{"no wait", context.Background(), 0, nil, true},
		{"ctx ended", done, time.Hour, nil, false},
		{"stop closed", context.Background(), time.Hour, closed, false},
		{"no wait, ctx ended", done, 0, nil, false},
		{"no wait, stop closed", context.Background(), -time.Second, closed, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.want, Sleep(c.ctx, c.d, c.stop))
		})
	}
}
