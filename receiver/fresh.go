package receiver

import (
	"context"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// An attempt reads its message's result record first, for the attempts
// before it: a round trip per job. A message that is surely new to its
// consumer has none, and its attempt skips the read. Should a record exist
// after all, the attempt's first write, a compare-and-set, finds it and
// writes on top of it.

// recordSkew is how far the clocks of a cluster's servers may be apart: a
// message stored less than this after its consumer was created may be
// older than the consumer.
const recordSkew = time.Second

// since says which messages of a consumer are surely new to it: those
// stored after it was created. A consumer created after a message (deleted
// and created again: it delivers all of JOBS again) may deliver what an
// earlier one ran already; then the record says whether it is settled.
//
// A server that restarts may also have lost its record of deliveries (a
// kill before it stored them) and deliver again, as first deliveries,
// messages that ran already: so since holds for one connection life, and
// after a reconnect it is taken again (current).
type since struct {
	seq        uint64    // stream sequences after this, when known
	time       time.Time // else stream timestamps after this
	reconnects uint64    // the connection's reconnects when it was taken
	retry      time.Time // when taken after a reconnect failed: not before this again
}

// sinceRetry paces the JOBS lookups of since.current while they fail:
// each may take up to fetchWait, and holds up the fetching goroutine.
const sinceRetry = time.Second

// consumerSince returns the since of cons; created: the caller has just
// created it, and the stream's last sequence now bounds what it may have
// had before.
func consumerSince(ctx context.Context, js jetstream.JetStream, cons jetstream.Consumer, created bool) since {
	reconnects := js.Conn().Stats().Reconnects
	if created {
		if s, ok := streamSince(ctx, js, reconnects); ok {
			return s
		}
	}
	if info := cons.CachedInfo(); info != nil {
		return since{time: info.Created.Add(recordSkew), reconnects: reconnects}
	}
	return since{seq: ^uint64(0), reconnects: reconnects} // nothing is surely new
}

// streamSince says that messages stored after now are surely new.
func streamSince(ctx context.Context, js jetstream.JetStream, reconnects uint64) (since, bool) {
	stream, err := js.Stream(ctx, jhjs.StreamJobs)
	if err != nil {
		return since{}, false
	}
	return since{seq: stream.CachedInfo().State.LastSeq, reconnects: reconnects}, true
}

// current returns s while the connection has not reconnected since s was
// taken (reconnects: the count now); after a reconnect, only messages
// stored from then on are surely new. Until JOBS answers, none is: the
// lookup is tried again a second later at the soonest.
func (s since) current(ctx context.Context, js jetstream.JetStream, reconnects uint64) since {
	if reconnects == s.reconnects {
		return s
	}
	now := time.Now()
	if now.Before(s.retry) {
		return s
	}
	if taken, ok := streamSince(ctx, js, reconnects); ok {
		return taken
	}
	return since{seq: ^uint64(0), reconnects: s.reconnects, retry: now.Add(sinceRetry)}
}

// fresh reports whether msg surely has no result record: its first
// delivery, of a message newer than its consumer, and not a replay of a
// dead letter (whose record holds the earlier attempts).
func (s since) fresh(msg jetstream.Msg, meta *jetstream.MsgMetadata) bool {
	if meta.NumDelivered != 1 || strings.Contains(msg.Headers().Get(nats.MsgIdHdr), replayMarker) {
		return false
	}
	if s.seq > 0 {
		return meta.Sequence.Stream > s.seq
	}
	return meta.Timestamp.After(s.time)
}
