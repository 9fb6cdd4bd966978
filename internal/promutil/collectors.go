package promutil

import "github.com/prometheus/client_golang/prometheus"

// Collectors are registered and unregistered together.
type Collectors []prometheus.Collector

// Register registers every collector with reg; on failure none stays
// registered, so a caller may try again with another registry.
func (cs Collectors) Register(reg prometheus.Registerer) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}

// Unregister unregisters every collector from reg.
func (cs Collectors) Unregister(reg prometheus.Registerer) {
	for _, c := range cs {
		reg.Unregister(c)
	}
}
