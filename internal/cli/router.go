package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
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
	config    string // --server-config
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
(--listen, --data-dir; --server-config for users, permissions and TLS, see
docs/security.md). It creates or updates the streams and buckets first, with
the retention and replica flags. With --http ADDR it also serves the NetBox,
Nautobot and CloudEvents ingest, /healthz and /readyz.

It runs until SIGINT or SIGTERM and then exits 0; it exits 1 when it fails and 2
on bad flags.`,
		Example: `  router                                   # embedded server on 127.0.0.1:4222, data in ./data
  router --nats-url nats://nats-1:4222 --replicas 3
  router --http 127.0.0.1:8080 --ingest-secret-file ingest.secret
  router --server-config examples/nats-server.conf --user router --password "$JOBHOOKS_ROUTER_PASSWORD" --inbox-prefix _INBOX_router`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return r.run(cmd.Context(), cmd.Flags(), cmd.ErrOrStderr())
		},
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
	fs.StringVar(&r.config, "server-config", "", "embedded server: a nats-server configuration file (users and permissions, accounts, TLS; see examples/nats-server.conf); --listen and --data-dir, when given, win over its values, and the router connects with --user/--password, --nkey or --creds")
	goFlags(fs, r.provision.RegisterFlags)
	goFlags(fs, r.http.register)
	logLevelFlag(fs, &r.logLevel)
}

func (r *routerRun) run(ctx context.Context, fs *pflag.FlagSet, stderr io.Writer) error {
	ingestOpts, err := r.http.ingestOptions(os.Getenv)
	if err != nil {
		return usageError{err}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: r.logLevel}))
	ingestOpts.Logger = log
	embedded := embeddedOptions(r.config, r.listen, fs.Changed("listen"), r.dataDir, fs.Changed("data-dir"))
	err = runRouter(ctx, log, r.conn, r.provision, embedded, r.http.addr, ingestOpts)
	if err != nil && !errors.As(err, &errLogged{}) {
		log.Error("router stopped", "error", err)
		err = errLogged{err}
	}
	return err
}

// embeddedOptions combines --server-config with --listen and --data-dir:
// the file's listen address and store_dir win unless the flag was given
// (set); without a file, the flags' values (defaults included) apply.
func embeddedOptions(configFile, listen string, listenSet bool, dataDir string, dataDirSet bool) jhjs.EmbeddedOptions {
	o := jhjs.EmbeddedOptions{ConfigFile: configFile, Listen: listen, StoreDir: dataDir}
	if configFile != "" {
		if !listenSet {
			o.Listen = ""
		}
		if !dataDirSet {
			o.StoreDir = ""
		}
	}
	return o
}

func runRouter(ctx context.Context, log *slog.Logger, conn jhjs.ConnOptions, provision jhjs.Config, embedded jhjs.EmbeddedOptions, httpAddr string, ingestOpts ingest.Options) error {
	if err := provision.Validate(); err != nil {
		return err
	}
	var nc *nats.Conn
	if len(conn.URLs) == 0 {
		srv, err := startEmbedded(log, embedded)
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
		conn.Name = "jobhooks router"
		if nc, err = srv.ConnectWith(conn, log); err != nil {
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
	// One line for the stop, with the counts and, when it failed, why.
	attrs := []any{"changes", stats.Changes, "job_messages", stats.Routed, "dead_lettered", stats.DeadLettered,
		"skipped_loop", stats.SkippedLoop, "skipped_job_not_enabled", stats.SkippedJob}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("router stopped", append(attrs, "error", err)...)
		return errLogged{err}
	}
	log.Info("router stopped", attrs...)
	return nil
}

// routerReady is nil once the router is connected and routes.
func routerReady(nc *nats.Conn, r *router.Router) error {
	return ready(nc, r.Ready(), "loading the hook and job tables")
}

// ready is nil once nc is connected and done is closed; until then it
// says what is missing (waiting: what the command is still doing).
func ready(nc *nats.Conn, done <-chan struct{}, waiting string) error {
	if !nc.IsConnected() {
		return fmt.Errorf("not connected to NATS (%s)", nc.Status())
	}
	select {
	case <-done:
		return nil
	default:
		return errors.New(waiting)
	}
}

// startEmbedded starts the default-run server and tells a newcomer what it
// is and what to try next.
func startEmbedded(log *slog.Logger, opts jhjs.EmbeddedOptions) (*jhjs.EmbeddedServer, error) {
	opts.Logger = log
	srv, err := jhjs.StartEmbedded(opts)
	if errors.Is(err, jhjs.ErrStoreDirInUse) {
		return nil, fmt.Errorf("%w (stop it, give --data-dir another directory, or --nats-url to use the running server)", err)
	}
	if errors.Is(err, jhjs.ErrServerConfig) {
		return nil, fmt.Errorf("--server-config: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (give --listen another address, or --nats-url to use a running server)", err)
	}
	url := srv.ClientURL()
	log.Info("no NATS URL given (--nats-url or NATS_URL): started an embedded JetStream server", "url", url, "data_dir", srv.StoreDir())
	flag := ""
	if opts.Listen != jhjs.DefaultListen {
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
