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
	serverConfig := fs.String("server-config", "", "embedded server: a nats-server configuration file (users and permissions, accounts, TLS; see examples/nats-server.conf); --listen and --data-dir, when given, win over its values, and the router connects with --user/--password, --nkey or --creds")
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
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	embedded := embeddedOptions(*serverConfig, *listen, set["listen"], *dataDir, set["data-dir"])
	if err := runRouter(ctx, log, conn, provision, embedded, httpf.addr, ingestOpts); err != nil {
		log.Error("router stopped", "error", err)
		return ExitError
	}
	return ExitOK
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
	js, err := jetstream.New(nc)
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
