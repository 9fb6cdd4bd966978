// Package e2e holds the end-to-end tests: a real embedded JetStream server,
// the real router and the real receiver runner, wired as in production.
package e2e
