package bayeux

// The defaults a zero Config field takes, exported so that the input's
// configuration spec documents and applies the very values the client uses.
const (
	DefaultAPIVersion        = defaultAPIVersion
	DefaultMaxBufferedEvents = defaultMaxBufferedEvents
	DefaultBackoffInitial    = defaultBackoffInitial
	DefaultBackoffMax        = defaultBackoffMax
	DefaultBackoffLong       = defaultBackoffLong
)
