package stream

// Position is an acknowledged (or acknowledgeable) place in one channel. Positions of a channel order by Epoch,
// then Start (a start marker sorts below every position of its epoch), then Seq.
//
// CometD's replay ids order by themselves: Seq is the replay id and Opaque is empty. The Pub/Sub API's replay
// ids are opaque bytes: Opaque holds them (as a string, so that positions compare with ==) and Seq numbers the
// positions in the order the input tracked them. An epoch starts when a source replaced a refused replay id
// (its ids may restart lower); see the input's checkpoint format.
type Position struct {
	Epoch  int64
	Seq    int64
	Opaque string
	// Start marks a start marker: the channel's first batch began at replay id Seq and nothing was acknowledged
	// since (CometD only: its subscription resumes from the earliest event, skipping those below Seq).
	Start bool
}

// After reports whether p is past q: a later epoch; in the same one, a position past a start marker, else a
// higher sequence.
func (p Position) After(q Position) bool {
	if p.Epoch != q.Epoch {
		return p.Epoch > q.Epoch
	}
	if p.Start != q.Start {
		return q.Start
	}
	return p.Seq > q.Seq
}

// Preset is where a subscription without a position starts.
type Preset int

// Presets. Their values are CometD's replay ids for them (-1, -2), which the input's initial_replay_ids accepts.
const (
	Latest   Preset = -1 // new events only
	Earliest Preset = -2 // every retained event
)

func (p Preset) String() string {
	if p == Earliest {
		return "earliest"
	}
	return "latest"
}

// Start is where one channel's subscription begins: after After when Resume is set, else at Preset.
type Start struct {
	After  Position
	Resume bool
	Preset Preset
}
