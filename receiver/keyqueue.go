package receiver

import "sync"

// keyQueue keeps the messages of each object in arrival order while one
// worker per object runs them: messages about one object never overtake
// each other, messages about different objects run in parallel.
type keyQueue struct {
	mu     sync.Mutex
	queues map[string][]*delivery // a key is present while its worker runs
}

// push appends d to its key's queue. It reports whether the key had no
// worker, in which case the caller must start one (which then calls next).
func (q *keyQueue) push(d *delivery) (start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queues == nil {
		q.queues = make(map[string][]*delivery)
	}
	pending, active := q.queues[d.key]
	q.queues[d.key] = append(pending, d)
	return !active
}

// next pops the key's oldest message. When there is none it retires the
// key's worker, which must then return.
func (q *keyQueue) next(key string) (*delivery, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	pending := q.queues[key]
	if len(pending) == 0 {
		delete(q.queues, key)
		return nil, false
	}
	d := pending[0]
	pending[0] = nil
	q.queues[key] = pending[1:]
	return d, true
}
