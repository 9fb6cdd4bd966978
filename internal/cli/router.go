package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jobhooks/jobhooks/ingest"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/router"
)

const routerUsage = `router [flags]            run the router (--http ADDR: also NetBox, Nautobot and CloudEvents ingest)
       router hooks ...          manage job hooks (router hooks -h)`

// Router runs the router command: `router hooks ...` manages hooks, and
// anything else runs the router until ctx ends. It returns the exit code.
func Router(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "hooks" {
		return Hooks(ctx, args[1:], stdin, stdout, stderr)
	}
	fs := subcommandFlags("router", routerUsage, stderr)
	var conn jhjs.ConnOptions
	conn.RegisterFlags(fs)
	fs.Lookup("nats-url").Usage = "NATS server URL(s), comma-separated (env " + jhjs.EnvURL + "); none: start an embedded JetStream server (--listen, --data-dir)"
	provision := jhjs.DefaultConfig()
	provision.RegisterFlags(fs)
	listen := fs.String("listen", jhjs.DefaultListen, "embedded server: address to listen on (used when no NATS URL is given)")
	dataDir := fs.String("data-dir", jhjs.DefaultDataDir, "embedded server: JetStream store directory")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	var httpf httpFlags
	httpf.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "router: unexpected argument %q\nusage: %s\n", fs.Arg(0), routerUsage)
		return ExitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "router: --log-level: %v\n", err)
		return ExitUsage
	}
	ingestOpts, err := httpf.ingestOptions(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "router: %v\n", err)
		return ExitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ingestOpts.Logger = log
	if err := runRouter(ctx, log, conn, provision, *listen, *dataDir, httpf.addr, ingestOpts); err != nil {
		log.Error("router stopped", "error", err)
		return ExitError
	}
	return ExitOK
}

func runRouter(ctx context.Context, log *slog.Logger, conn jhjs.ConnOptions, provision jhjs.Config, listen, dataDir, httpAddr string, ingestOpts ingest.Options) error {
	if err := provision.Validate(); err != nil {
		return err
	}
	var nc *nats.Conn
	if len(conn.URLs) == 0 {
		srv, err := startEmbedded(log, listen, dataDir)
		if err != nil {
			return err
		}
		defer func() {
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := srv.Shutdown(shutdownCtx); err != nil {
				log.Warn("embedded server shutdown", "error", err)
			}
		}()
		if nc, err = srv.Connect(nats.Name("jobhooks router")); err != nil {
			return err
		}
	} else {
		conn.Name = "jobhooks router"
		var err error
		if nc, err = jhjs.Connect(ctx, conn, log); err != nil {
			return err
		}
		log.Info("connected to NATS", "url", nc.ConnectedUrlRedacted())
	}
	defer nc.Close()
	// Publishes whose confirmations a stream leader lost would otherwise
	// stay pending in the handle for good, and past its limit stall it.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(time.Minute))
	if err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	if _, err := jhjs.Provision(ctx, js, provision, log); err != nil {
		return err
	}
	r := router.New(js, router.Options{Logger: log})
	if httpAddr != "" {
		mux := http.NewServeMux()
		ingest.New(js, ingestOpts).Register(mux)
		healthHandlers(mux, func() error { return routerReady(nc, r) })
		stop, err := serveHTTP(ctx, log, httpAddr, mux)
		if err != nil {
			return err
		}
		defer stop()
		log.Info("HTTP ingest on", "netbox", ingest.PathNetBox, "nautobot", ingest.PathNautobot, "cloudevents", ingest.PathChanges,
			"signed", len(ingestOpts.Secret) > 0, "max_body", ingestOpts.MaxBody)
	}
	err = r.Run(ctx)
	stats := r.Stats()
	log.Info("router stopped", "changes", stats.Changes, "job_messages", stats.Routed, "dead_lettered", stats.DeadLettered,
		"skipped_loop", stats.SkippedLoop, "skipped_job_not_enabled", stats.SkippedJob)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// routerReady is nil once the router is connected and routes.
func routerReady(nc *nats.Conn, r *router.Router) error {
	if !nc.IsConnected() {
		return fmt.Errorf("not connected to NATS (%s)", nc.Status())
	}
	select {
	case <-r.Ready():
		return nil
	default:
		return errors.New("loading the hook and job tables")
	}
}

// startEmbedded starts the default-run server and tells a newcomer what it
// is and what to try next.
func startEmbedded(log *slog.Logger, listen, dataDir string) (*jhjs.EmbeddedServer, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{Listen: listen, StoreDir: abs, Logger: log})
	if errors.Is(err, jhjs.ErrStoreDirInUse) {
		return nil, fmt.Errorf("%w (stop it, give --data-dir another directory, or --nats-url to use the running server)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (give --listen another address, or --nats-url to use a running server)", err)
	}
	url := srv.ClientURL()
	log.Info("no NATS URL given (--nats-url or NATS_URL): started an embedded JetStream server", "url", url, "data_dir", abs)
	flag := ""
	if listen != jhjs.DefaultListen {
		flag = " --nats-url " + url
	}
	for _, cmd := range []string{
		"go run ./cmd/receiver" + flag + " --jobs serial-validator --enable",
		"go run ./cmd/router hooks put" + flag + " examples/serial-check.json",
		"nats --server " + url + " stream ls",
	} {
		log.Info("try next, in another terminal", "cmd", cmd)
	}
	return srv, nil
}
