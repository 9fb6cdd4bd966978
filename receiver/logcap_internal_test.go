package receiver

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg } // panics on a nil *nilErr

// A typed-nil error logged through the capping handler does not panic the
// receiver; long values are still cut.
func TestCapHandlerSurvivesTypedNil(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(capHandler{slog.NewTextHandler(&buf, nil)})
	var err *nilErr
	assert.NotPanics(t, func() { log.Info("typed nil", "error", error(err)) })
	log.Info("long", "value", strings.Repeat("x", maxLogValue+100))
	assert.Less(t, len(buf.String()), 2*maxLogValue)
}
