package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ListDeadLetters returns the messages of the DEADLETTER stream on subject
// (a subject filter), oldest first. A missing DEADLETTER stream is an empty
// list. The router's dead-lettered changes and the receivers' job dead
// letters share the stream; each reads its own subjects.
func ListDeadLetters(ctx context.Context, js jetstream.JetStream, subject string) ([]*jetstream.RawStreamMsg, error) {
	stream, err := js.Stream(ctx, StreamDeadLetter)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list dead letters on %s: %w", subject, err)
	}
	var out []*jetstream.RawStreamMsg
	// Each get returns the next message on subject at or after seq: one
	// request a dead letter, no consumer (which a read-only user may lack).
	for seq := uint64(1); ; {
		raw, err := stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list dead letters on %s: %w", subject, err)
		}
		out = append(out, raw)
		seq = raw.Sequence + 1
	}
}

// GetDeadLetter returns the message at seq in the DEADLETTER stream when
// is accepts its subject. When it does not, or there is no message or no
// stream, the error wraps notFound (the caller's sentinel).
func GetDeadLetter(ctx context.Context, js jetstream.JetStream, seq uint64, is func(subject string) bool, notFound error) (*jetstream.RawStreamMsg, error) {
	stream, err := js.Stream(ctx, StreamDeadLetter)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("%w: sequence %d (no %s stream)", notFound, seq, StreamDeadLetter)
	}
	if err != nil {
		return nil, fmt.Errorf("get dead letter %d: %w", seq, err)
	}
	raw, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && !is(raw.Subject)) {
		return nil, fmt.Errorf("%w: sequence %d", notFound, seq)
	}
	if err != nil {
		return nil, fmt.Errorf("get dead letter %d: %w", seq, err)
	}
	return raw, nil
}
