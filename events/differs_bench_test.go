package events_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
)

// BenchmarkDiffers is what a router pays per update for skip_noop and
// changed_fields on a 1 KB change: the head decode alone (no filter),
// with Differs (skip_noop: the first difference ends it), with
// Differs(keys) on unchanged keys (the whole objects scanned), and the
// naive way, a full decode and Snapshots. Compare ratios within one run.
func BenchmarkDiffers(b *testing.B) {
	msg, err := events.NewMsg(kilobyteChange(b), events.EventOptions{ID: "chg-1", Source: "nautobot://prod"})
	require.NoError(b, err)
	subject := "changes.dcim.device.update"
	for _, bc := range []struct {
		name string
		run  func(*events.ChangeHead) error
	}{
		{"head-only", func(*events.ChangeHead) error { return nil }},
		{"skip_noop", func(h *events.ChangeHead) error { _, err := h.Differs(); return err }},
		{"changed_fields-unchanged", func(h *events.ChangeHead) error { _, err := h.Differs("status", "comments"); return err }},
		{"full-decode-snapshots", func(h *events.ChangeHead) error {
			c, err := h.Change()
			if err == nil {
				_ = c.Snapshots()
			}
			return err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h, err := events.DecodeHead(subject, msg.Header, msg.Data)
				if err != nil {
					b.Fatal(err)
				}
				if err := bc.run(h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
