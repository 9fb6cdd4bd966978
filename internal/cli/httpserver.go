package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jobhooks/jobhooks/ingest"
)

// EnvIngestSecret holds the ingest secret itself, for deployments that pass
// secrets in the environment rather than in a file.
const EnvIngestSecret = "JOBHOOKS_INGEST_SECRET"

// httpFlags are the router's HTTP server flags.
type httpFlags struct {
	addr       string
	maxBody    byteSize
	secretFile string
	insecure   bool
}

func (f *httpFlags) register(fs *flag.FlagSet) {
	f.maxBody = ingest.DefaultMaxBody
	fs.StringVar(&f.addr, "http", "", "serve HTTP ingest (/ingest/netbox, /ingest/nautobot, /changes), /metrics, /healthz and /readyz on this address, e.g. 127.0.0.1:8080; off when empty")
	fs.Var(&f.maxBody, "http-max-body", "largest ingest body accepted: bytes, or with KiB or MiB")
	fs.StringVar(&f.secretFile, "ingest-secret-file", "", "file holding the secret every ingest request must be signed with (X-Hook-Signature, HMAC-SHA512, as NetBox and Nautobot sign; env "+EnvIngestSecret+" holds the secret itself)")
	fs.BoolVar(&f.insecure, "http-insecure", false, "allow ingest beyond loopback without a secret")
}

// ingestOptions reads the secret and checks that an unsigned ingest is not
// reachable from other hosts unless the operator said so.
func (f *httpFlags) ingestOptions(getenv func(string) string) (ingest.Options, error) {
	opts := ingest.Options{MaxBody: int64(f.maxBody)}
	if f.addr == "" {
		if f.secretFile != "" || f.insecure {
			return opts, errors.New("--ingest-secret-file and --http-insecure need --http ADDR")
		}
		return opts, nil
	}
	envSecret := getenv(EnvIngestSecret)
	switch {
	case f.secretFile != "" && envSecret != "":
		return opts, fmt.Errorf("both --ingest-secret-file and %s are set: give one", EnvIngestSecret)
	case f.secretFile != "":
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return opts, fmt.Errorf("--ingest-secret-file: %w", err)
		}
		opts.Secret = []byte(strings.TrimRight(string(b), "\r\n"))
		if len(opts.Secret) == 0 {
			return opts, fmt.Errorf("--ingest-secret-file %s is empty", f.secretFile)
		}
	case envSecret != "":
		opts.Secret = []byte(strings.TrimRight(envSecret, "\r\n"))
	}
	if len(opts.Secret) == 0 && !f.insecure && !isLoopback(f.addr) {
		return opts, fmt.Errorf("--http %s listens beyond loopback and no ingest secret is set, so anyone who reaches it could inject changes: "+
			"give --ingest-secret-file FILE (or %s), listen on 127.0.0.1, or pass --http-insecure", f.addr, EnvIngestSecret)
	}
	return opts, nil
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readiness reports nil when a command is ready, else what it waits for.
type readiness func() error

// healthHandlers adds GET /healthz (the process is up) and GET /readyz
// (ready says it is ready) to mux.
func healthHandlers(mux *http.ServeMux, ready readiness) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeHealth(w, http.StatusOK, "ok", "")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			writeHealth(w, http.StatusServiceUnavailable, "not ready", err.Error())
			return
		}
		writeHealth(w, http.StatusOK, "ready", "")
	})
}

func writeHealth(w http.ResponseWriter, code int, status, reason string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Status string `json:"status"`
		Reason string `json:"reason,omitempty"`
	}{status, reason})
}

// serveHTTP listens on addr and serves handler until ctx ends; stop shuts
// the server down, letting requests in flight finish (at most 10s).
func serveHTTP(ctx context.Context, log *slog.Logger, addr string, handler http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		// Requests outlive ctx by the shutdown grace, so that a change being
		// published when the router stops is answered truthfully.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:    slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "error", err)
		}
	}()
	log.Info("HTTP server listening", "addr", ln.Addr().String())
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Warn("HTTP server shutdown", "error", err)
		}
		<-done
	}, nil
}

// byteSize is a flag value in bytes, written as 1048576, 512KiB or 4MiB.
type byteSize int64

func (b *byteSize) String() string {
	switch n := int64(*b); {
	case n > 0 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n > 0 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	default:
		return strconv.FormatInt(n, 10)
	}
}

func (b *byteSize) Set(s string) error {
	num, shift := s, 0
	switch {
	case strings.HasSuffix(s, "MiB"):
		num, shift = strings.TrimSuffix(s, "MiB"), 20
	case strings.HasSuffix(s, "KiB"):
		num, shift = strings.TrimSuffix(s, "KiB"), 10
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)>>shift {
		return fmt.Errorf("%q: want a positive size in bytes, KiB or MiB, e.g. 4MiB", s)
	}
	*b = byteSize(n << shift)
	return nil
}
