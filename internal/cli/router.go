package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jobhooks/jobhooks/ingest"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/router"
)

// Router runs the router command with args (the arguments after the
// program name) and returns its exit code: without a subcommand it runs
// the router until ctx ends; `router hooks ...` manages hooks and `router
// deadletter ...` shows dead-lettered changes.
func Router(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return execute(ctx, newRouterCmd(), args, stdin, stdout, stderr)
}

// routerRun is what running the router takes from its flags.
type routerRun struct {
	conn      jhjs.ConnOptions
	provision jhjs.Config
	listen    string
	dataDir   string
	logLevel  slog.Level
	http      httpFlags
}

func newRouterCmd() *cobra.Command {
	r := routerRun{provision: jhjs.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "router [flags]",
		Short: "Route NetBox/Nautobot object changes to jobs",
		Long: `Run the router: consume the CHANGES stream, match each change against the hooks in
the job_hooks bucket and publish one job message per matching hook to jobs.<job>.
Invalid changes go to deadletter.changes (see "router deadletter list").

With no NATS URL (--nats-url, NATS_URL) it starts an embedded JetStream server
(--listen, --data-dir). It creates or updates the streams and buckets first, with
the retention and replica flags. With --http ADDR it also serves the NetBox,
Nautobot and CloudEvents ingest, /healthz and /readyz.

It runs until SIGINT or SIGTERM and then exits 0; it exits 1 when it fails and 2
on bad flags.`,
		Example: `  router                                   # embedded server on 127.0.0.1:4222, data in ./data
  router --nats-url nats://nats-1:4222 --replicas 3
  router --http 127.0.0.1:8080 --ingest-secret-file ingest.secret`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return r.run(cmd.Context(), cmd.ErrOrStderr()) },
	}
	r.flags(cmd.Flags())
	cmd.AddCommand(newHooksCmd(), newRouterDeadLetterCmd())
	return cmd
}

// flags registers the router's flags, a group at a time.
func (r *routerRun) flags(fs *pflag.FlagSet) {
	connFlags(fs, &r.conn)
	fs.Lookup("nats-url").Usage = "NATS server URL(s), comma-separated (env " + jhjs.EnvURL + "); none: start an embedded JetStream server (--listen, --data-dir)"
	fs.StringVar(&r.listen, "listen", jhjs.DefaultListen, "embedded server: address to listen on (used when no NATS URL is given)")
	fs.StringVar(&r.dataDir, "data-dir", jhjs.DefaultDataDir, "embedded server: JetStream store directory")
	goFlags(fs, r.provision.RegisterFlags)
	goFlags(fs, r.http.register)
	logLevelFlag(fs, &r.logLevel)
}

func (r *routerRun) run(ctx context.Context, stderr io.Writer) error {
	ingestOpts, err := r.http.ingestOptions(os.Getenv)
	if err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: r.logLevel}))
	ingestOpts.Logger = log
	if err := runRouter(ctx, log, r.conn, r.provision, r.listen, r.dataDir, r.http.addr, ingestOpts); err != nil {
		log.Error("router stopped", "error", err)
		return errLogged{err}
	}
	return nil
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
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	if _, err := jhjs.Provision(ctx, js, provision, log); err != nil {
		return err
	}
	ropts := router.Options{Logger: log}
	var reg *prometheus.Registry
	if httpAddr != "" {
		reg = newRegistry(js, []consumerRef{{jhjs.StreamChanges, jhjs.ConsumerRouter}})
		ropts.Registerer = reg
	}
	r := router.New(js, ropts)
	if httpAddr != "" {
		mux := http.NewServeMux()
		ingest.New(js, ingestOpts).Register(mux)
		mux.Handle("GET "+PathMetrics, metricsHandler(reg, log))
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
