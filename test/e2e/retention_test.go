package e2e

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/salesforce-streaming/salesforce_streaming/test/harness"
)

// TestRetentionResumeAndFallback drives the input with the emulator's
// retention set at run time. A pipeline consumes 20 events and stops; 10
// more arrive while it is down. Then:
//   - resume: the channel's retention is shortened but still covers the
//     checkpoint, so the restart delivers exactly the 10 unconsumed events;
//   - fallback: the retention of every channel drops below the events' age,
//     so the checkpoint and the unconsumed events expire (as on Salesforce
//     after 72 hours); with on_invalid_replay_id earliest the restart falls
//     back and delivers every event published since, none skipped, and keeps
//     streaming.
func TestRetentionResumeAndFallback(t *testing.T) {
	const channel = "/event/Retention__e"
	for _, mode := range []string{"resume", "fallback"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, harness.EmulatorConfig{})
			key := "retention_" + mode
			pipeline := func(out string) map[string]any {
				return recordPipeline(e.input(inputOpts{
					channels: []string{channel}, preset: "earliest", onInvalid: "earliest", key: key,
				}), fileOutput(out), nil)
			}
			resources := e.fileCache()

			consumed, err := e.emu.PublishIDs(e.ctx, channel, 20, 3)
			require.NoError(t, err)
			run1Path := e.path("run1.jsonl")
			run1 := e.startBenthos("run1", pipeline(run1Path), resources)
			waitComplete(e.ctx, t, harness.Published{channel: consumed}, nil, run1Path, run1)
			e.stop(run1)
			checkpoint := consumed[len(consumed)-1]

			unconsumed, err := e.emu.PublishIDs(e.ctx, channel, 10, 3)
			require.NoError(t, err)
			var want []int64
			switch mode {
			case "resume":
				resp, err := e.emu.SetRetention(e.ctx, channel, time.Hour)
				require.NoError(t, err)
				require.Equal(t, len(consumed)+len(unconsumed), resp.Channels[channel].Retained, "an hour keeps every event")
				want = unconsumed
			case "fallback":
				time.Sleep(1500 * time.Millisecond) // the events become older than the retention set next
				resp, err := e.emu.SetRetention(e.ctx, "", time.Second)
				require.NoError(t, err)
				require.Zero(t, resp.Channels[channel].Retained, "every event expired, the checkpoint's too")
				_, err = e.emu.SetRetention(e.ctx, "", time.Hour) // what is published next stays
				require.NoError(t, err)
				want, err = e.emu.PublishIDs(e.ctx, channel, 10, 3)
				require.NoError(t, err)
			}

			run2Path := e.path("run2.jsonl")
			run2 := e.startBenthos("run2", pipeline(run2Path), resources)
			waitComplete(e.ctx, t, harness.Published{channel: want}, nil, run2Path, run2)
			live, err := e.emu.PublishIDs(e.ctx, channel, 5, 3)
			require.NoError(t, err)
			all := append(append([]int64{}, want...), live...)
			recs, report := waitComplete(e.ctx, t, harness.Published{channel: all}, nil, run2Path, run2)
			t.Logf("%s: checkpoint %d; %s", mode, checkpoint, report)
			assert.Empty(t, report.Unexpected, "nothing before the resume point is replayed")
			assert.Empty(t, report.Order, "in replay order")
			assert.Len(t, recs, len(all), "each event once")
			refused := logLines(run2.Output(), "error", idText(checkpoint), channel)
			if mode == "fallback" {
				assert.NotEmpty(t, refused, "the expired checkpoint %d is logged as an error", checkpoint)
			} else {
				assert.Empty(t, refused, "a retained checkpoint is not refused")
			}
			e.stop(run2)
		})
	}
}
