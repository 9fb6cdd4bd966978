package cli_test

import (
	"bytes"
	"sync"
)

// lockedBuffer is a bytes.Buffer safe for concurrent use: a command's
// connection may still log (its closed handler runs asynchronously) after
// the command returns.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
