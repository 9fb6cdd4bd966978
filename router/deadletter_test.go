package router_test

import (
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/router"
)

func TestDeadLettersReadsChangesOnly(t *testing.T) {
	t.Parallel()
	srv := jstest.StartProvisioned(t)
	ctx := t.Context()
	job := events.NewDeadLetter("deadletter.jobs.log", nats.Header{}, []byte("{}"), "boom", "job-1")
	_, err := srv.JS.PublishMsg(ctx, job)
	require.NoError(t, err)
	change := events.NewDeadLetter(events.DeadLetterChanges, nats.Header{"ce-id": {"c-1"}}, []byte("junk"), "invalid change: no",
		events.ChangeDeadLetterID(7, "changes.dcim.device.update", nil, nil))
	change.Header.Set(events.HeaderSubject, "changes.dcim.device.update")
	change.Header.Set(events.HeaderSequence, "7")
	ack, err := srv.JS.PublishMsg(ctx, change)
	require.NoError(t, err)

	dls, err := router.NewDeadLetters(srv.JS).List(ctx)
	require.NoError(t, err)
	require.Len(t, dls, 1, "the job's dead letter is not listed")
	d := dls[0]
	assert.Equal(t, ack.Sequence, d.Sequence)
	assert.Equal(t, "invalid change: no", d.Reason)
	assert.Equal(t, "changes.dcim.device.update", d.Subject)
	assert.Equal(t, uint64(7), d.ChangeSequence)
	assert.Equal(t, "c-1", d.ChangeID)
	assert.Equal(t, []byte("junk"), d.Data)
	assert.False(t, d.Time.IsZero())

	got, err := router.NewDeadLetters(srv.JS).Get(ctx, ack.Sequence)
	require.NoError(t, err)
	assert.Equal(t, d, got)
	_, err = router.NewDeadLetters(srv.JS).Get(ctx, 1)
	assert.ErrorIs(t, err, router.ErrDeadLetterNotFound, "sequence 1 is the job's")
	_, err = router.NewDeadLetters(srv.JS).Get(ctx, 99)
	assert.ErrorIs(t, err, router.ErrDeadLetterNotFound)
}

func TestDeadLettersWithoutStream(t *testing.T) {
	t.Parallel()
	srv := jstest.Start(t)
	dls, err := router.NewDeadLetters(srv.JS).List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, dls)
	_, err = router.NewDeadLetters(srv.JS).Get(t.Context(), 1)
	assert.ErrorIs(t, err, router.ErrDeadLetterNotFound)
}
