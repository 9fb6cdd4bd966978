package receiver

import "sync"

// gate is the job's enabled flag as its messages see it: workers wait at
// the gate while the job is disabled.
type gate struct {
	mu   sync.Mutex
	open bool
	ch   chan struct{} // closed while open
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) set(open bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case open && !g.open:
		close(g.ch)
	case !open && g.open:
		g.ch = make(chan struct{})
	}
	g.open = open
}

func (g *gate) isOpen() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.open
}

// wait returns true once the gate is open, false if stop is closed first.
func (g *gate) wait(stop <-chan struct{}) bool {
	g.mu.Lock()
	ch := g.ch
	g.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-stop:
		return false
	}
}
