package checkpointfmt

// Checkpoints of `api: pubsub`. A Pub/Sub replay id is opaque bytes: it
// cannot be compared, converted to a CometD replay id, or derived from one.
// So a Pub/Sub checkpoint lives under its own key (PubSub.Key: the
// CometD key plus PubSubKeySuffix), which a CometD input never reads, and
// its value is `<base64 replay id>@<epoch>` (standard base64 with padding;
// the epoch always written, 0 included).
//
// The shadow rule is the CometD one: every write goes to the shadow first
// (WriteOrder), a read takes the newer valid value of the two. Since opaque
// ids do not order, "newer" is decided by what a crash can leave:
//   - a value cut short either lacks its `@<epoch>` (refused: the `@` is
//     required) or lost trailing epoch digits (a lower epoch);
//   - both valid and equal: the steady state;
//   - both valid, same epoch, different ids: the crash fell between the
//     shadow's write and the key's, so the shadow holds the newer one;
//   - different epochs: the higher one is newer.

// PubSubKeySuffix ends every Pub/Sub checkpoint key. `@` is neither in
// checkpoint_cache_key's alphabet nor in a path-escaped channel, so no
// CometD key can end with it.
const PubSubKeySuffix = "@pubsub"
