package bayeux

import (
	"context"

	"github.com/salesforce-streaming/salesforce_streaming/internal/bayeux/wire"
)

// stage lets fetching and decoding overlap. The session splits each answer (its grammar, its replies, where its
// data messages are: what the session's state machine needs) and hands its data messages to the stage's
// goroutine, which completes them into batches (reading the events' replay ids and metadata) and queues them,
// in the order the answers arrived, while the session already waits for the next answer. At most stageDepth
// answers are in the stage; their data messages count against MaxBufferedEvents. Before any (re)subscribe the
// session waits until the stage is empty, so the replay ids it subscribes from include every event of every
// answer received. The Assembler is used by the stage's goroutine alone.
type stage struct {
	in   chan *wire.Answer
	asm  *wire.Assembler
	buf  *buffer
	hook func() // tests: runs before each staged answer is completed
}

// stageDepth bounds the answers handed to the decode stage and not yet queued: one being decoded, one waiting.
const stageDepth = 2

func newStage(asm *wire.Assembler, buf *buffer) *stage {
	return &stage{in: make(chan *wire.Answer, stageDepth-1), asm: asm, buf: buf}
}

// handOn passes an answer's data messages to the stage, leaving ans with its replies. It returns false if ctx
// ended first.
func (s *stage) handOn(ctx context.Context, ans *wire.Answer) bool {
	if !ans.HasData() {
		return true
	}
	job := ans.TakeData()
	s.buf.staging(job.Events)
	select {
	case s.in <- job:
		return true
	case <-ctx.Done():
		return false
	}
}

// run is the stage's goroutine; it ends with ctx.
func (s *stage) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ans := <-s.in:
			if s.hook != nil {
				s.hook()
			}
			staged := ans.Events
			s.asm.Complete(ans)
			s.buf.deliver(ans, staged)
		}
	}
}
