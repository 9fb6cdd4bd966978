package jetstream

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Environment variables read for connection defaults; the names the stock
// nats CLI uses, so one environment serves both.
const (
	EnvURL      = "NATS_URL"
	EnvCreds    = "NATS_CREDS"
	EnvNKey     = "NATS_NKEY"
	EnvUser     = "NATS_USER"
	EnvPassword = "NATS_PASSWORD"
	EnvTLSCert  = "NATS_CERT"
	EnvTLSKey   = "NATS_KEY"
	EnvTLSCA    = "NATS_CA"
	// EnvInboxPrefix is jobhooks' own: the nats CLI takes --inbox-prefix
	// only as a flag or in a context.
	EnvInboxPrefix = "NATS_INBOX_PREFIX"
)

// Reconnect pacing. nats.go's defaults (2s, 100ms jitter) make every client
// of a restarted server come back in the same instant; a wider jitter
// spreads them out.
const (
	reconnectWait      = 2 * time.Second
	reconnectJitter    = 500 * time.Millisecond
	reconnectJitterTLS = 2 * time.Second
)

// ErrConnOptions is returned (wrapped) for inconsistent connection options.
var ErrConnOptions = errors.New("invalid NATS connection options")

// ConnOptions says how to reach and authenticate to a NATS server.
type ConnOptions struct {
	// URLs of the servers (cluster seeds). Empty means nats.DefaultURL.
	URLs []string
	// CredsFile is a user JWT + seed file (decentralised auth).
	CredsFile string
	// NKeyFile is a file holding an NKey seed.
	NKeyFile string
	// User and Password authenticate with a user name; a User without
	// Password is sent as a token, as the nats CLI does.
	User, Password string
	// TLSCert and TLSKey are a client certificate and its key (mutual TLS);
	// TLSCA verifies the server. TLSCA alone is allowed.
	TLSCert, TLSKey, TLSCA string
	// InboxPrefix replaces "_INBOX" as the prefix of the reply subjects the
	// client subscribes to (request replies, JetStream API responses,
	// publish acks, KV watches), so that a server can give each user its own
	// inboxes (subscribe "_INBOX_router.>") instead of everyone's
	// ("_INBOX.>", where one user reads another's replies).
	InboxPrefix string
	// Name is the client connection name shown in
	// `nats server report connections`.
	Name string
}

// ConnOptionsFromEnv reads the NATS_* environment variables through getenv
// (os.Getenv when nil), so tests can pass a map instead of the process
// environment.
func ConnOptionsFromEnv(getenv func(string) string) ConnOptions {
	if getenv == nil {
		getenv = os.Getenv
	}
	return ConnOptions{
		URLs:      splitURLs(getenv(EnvURL)),
		CredsFile: getenv(EnvCreds),
		NKeyFile:  getenv(EnvNKey),
		User:      getenv(EnvUser),
		Password:  getenv(EnvPassword),
		TLSCert:   getenv(EnvTLSCert),
		TLSKey:    getenv(EnvTLSKey),
		TLSCA:     getenv(EnvTLSCA),

		InboxPrefix: getenv(EnvInboxPrefix),
	}
}

// RegisterFlags registers --nats-url, --creds, --nkey, --user, --password,
// --tls-cert, --tls-key and --tls-ca on fs. Their defaults come from the
// NATS_* environment variables and, where one is unset, from o's current
// values; so a flag beats the environment, which beats the caller's default.
func (o *ConnOptions) RegisterFlags(fs *flag.FlagSet) {
	o.RegisterFlagsWithEnv(fs, os.Getenv)
}

// RegisterFlagsWithEnv is RegisterFlags reading the environment through
// getenv.
func (o *ConnOptions) RegisterFlagsWithEnv(fs *flag.FlagSet, getenv func(string) string) {
	env := ConnOptionsFromEnv(getenv)
	if len(env.URLs) > 0 {
		o.URLs = env.URLs
	}
	pick := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	pick(&o.CredsFile, env.CredsFile)
	pick(&o.NKeyFile, env.NKeyFile)
	pick(&o.User, env.User)
	pick(&o.Password, env.Password)
	pick(&o.TLSCert, env.TLSCert)
	pick(&o.TLSKey, env.TLSKey)
	pick(&o.TLSCA, env.TLSCA)
	pick(&o.InboxPrefix, env.InboxPrefix)

	fs.Var((*urlList)(&o.URLs), "nats-url", "NATS server URL(s), comma-separated (env "+EnvURL+"; none: "+nats.DefaultURL+")")
	fs.StringVar(&o.CredsFile, "creds", o.CredsFile, "user credentials (JWT + seed) file (env "+EnvCreds+")")
	fs.StringVar(&o.NKeyFile, "nkey", o.NKeyFile, "NKey seed file (env "+EnvNKey+")")
	fs.StringVar(&o.User, "user", o.User, "user name, or a token when --password is empty (env "+EnvUser+")")
	fs.Var((*secret)(&o.Password), "password", "password (env "+EnvPassword+")")
	fs.StringVar(&o.TLSCert, "tls-cert", o.TLSCert, "client certificate file for mutual TLS (env "+EnvTLSCert+")")
	fs.StringVar(&o.TLSKey, "tls-key", o.TLSKey, "client private key file for mutual TLS (env "+EnvTLSKey+")")
	fs.StringVar(&o.TLSCA, "tls-ca", o.TLSCA, "CA file to verify the server (env "+EnvTLSCA+")")
	fs.StringVar(&o.InboxPrefix, "inbox-prefix", o.InboxPrefix, "prefix of the client's reply subjects instead of _INBOX, e.g. _INBOX_router for a server that gives each user its own inboxes (env "+EnvInboxPrefix+")")
}

// Validate reports options that cannot work together, in the flags' terms.
func (o ConnOptions) Validate() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	for _, u := range o.URLs {
		if err := checkURL(u); err != nil {
			errs = append(errs, err)
		}
	}
	if o.CredsFile != "" && o.NKeyFile != "" {
		fail("--creds and --nkey are alternatives: give one")
	}
	if o.CredsFile != "" && (o.User != "" || o.Password != "") {
		fail("--creds and --user/--password are alternatives: give one")
	}
	if o.NKeyFile != "" && (o.User != "" || o.Password != "") {
		fail("--nkey and --user/--password are alternatives: give one")
	}
	if o.Password != "" && o.User == "" {
		fail("--password needs --user")
	}
	if o.TLSCert != "" && o.TLSKey == "" {
		fail("--tls-cert needs --tls-key")
	}
	if o.TLSKey != "" && o.TLSCert == "" {
		fail("--tls-key needs --tls-cert")
	}
	if p := o.InboxPrefix; p != "" && (strings.ContainsAny(p, "*> \t") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..")) {
		fail("--inbox-prefix %q: want subject tokens without wildcards, e.g. _INBOX_router", p)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConnOptions, err)
	}
	return nil
}

// NatsOptions builds the nats.go options: authentication, TLS, the
// connection name, reconnecting forever, and handlers that log connection
// events to logger (nil discards them). Secrets are never logged.
func (o ConnOptions) NatsOptions(logger *slog.Logger) ([]nats.Option, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.ReconnectJitter(reconnectJitter, reconnectJitterTLS),
	}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	switch {
	case o.CredsFile != "":
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	case o.NKeyFile != "":
		opt, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --nkey %s: %w", ErrConnOptions, o.NKeyFile, err)
		}
		opts = append(opts, opt)
	case o.User != "" && o.Password == "":
		opts = append(opts, nats.Token(o.User))
	case o.User != "":
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	opts = append(opts,
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err == nil {
				// A deliberate Close; the closed handler reports it.
				return
			}
			logger.Warn("disconnected from NATS", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			logger.Info("reconnected to NATS", "server", RedactURL(nc.ConnectedUrl()))
		}),
		nats.ReconnectErrHandler(func(nc *nats.Conn, err error) {
			// Every failed attempt, forever, while a server is down: debug only.
			logger.Debug("NATS reconnect attempt failed", "error", err)
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			if err := nc.LastError(); err != nil {
				logger.Info("NATS connection closed", "error", err)
				return
			}
			logger.Info("NATS connection closed")
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			if hint := inboxHint(err, o.InboxPrefix); hint != "" {
				logger.Error("NATS asynchronous error", "error", err, "hint", hint)
				return
			}
			if sub != nil {
				logger.Error("NATS asynchronous error", "subject", sub.Subject, "error", err)
				return
			}
			logger.Error("NATS asynchronous error", "error", err)
		}),
		nats.DiscoveredServersHandler(func(nc *nats.Conn) {
			logger.Debug("discovered NATS servers", "servers", RedactURLs(nc.DiscoveredServers()))
		}),
	)
	return opts, nil
}

// inboxHint explains a refused subscription to the client's own inboxes:
// every request then waits for a reply that cannot come.
func inboxHint(err error, prefix string) string {
	if prefix == "" {
		prefix = nats.InboxPrefix[:len(nats.InboxPrefix)-1] // "_INBOX"
	}
	if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), `Subscription to "`+prefix+".") {
		return ""
	}
	return "the server does not let this user subscribe to its replies (" + prefix + ".>), so requests get no answer: " +
		"give --inbox-prefix (env " + EnvInboxPrefix + ") the prefix its permissions allow, e.g. _INBOX_<user>"
}

// Connect validates o and connects to its URLs (nats.DefaultURL when none).
// The first connection fails fast, naming the URLs and the cause; once
// connected, the connection reconnects forever.
func Connect(ctx context.Context, o ConnOptions, logger *slog.Logger) (*nats.Conn, error) {
	opts, err := o.NatsOptions(logger)
	if err != nil {
		return nil, err
	}
	urls := o.URLs
	if len(urls) == 0 {
		urls = []string{nats.DefaultURL}
	}
	where := strings.Join(RedactURLs(urls), ",")
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", where, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		// Keep each server's dial within the caller's deadline.
		if left := time.Until(deadline); left > 0 && left < nats.DefaultTimeout {
			opts = append(opts, nats.Timeout(left))
		}
	}

	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(strings.Join(urls, ","), opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w", where, r.err)
		}
		if logger != nil {
			logger.Info("connected to NATS", "server", RedactURL(r.nc.ConnectedUrl()), "name", o.Name)
		}
		return r.nc, nil
	case <-ctx.Done():
		// nats.Connect takes no context; drop its connection when it comes.
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to NATS at %s: %w", where, ctx.Err())
	}
}

// RedactURL hides the secret in a URL's user info: the password of
// nats://user:pass@host becomes ***, and a token (nats://token@host) is
// replaced whole. Text that does not parse is redacted up to its last '@'.
func RedactURL(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	parseable := s
	if !strings.Contains(s, "://") {
		parseable = "nats://" + s
	}
	u, err := url.Parse(parseable)
	if err != nil || u.User == nil {
		return redactRaw(s, at)
	}
	// Built by hand: url.URL.String would escape the asterisks.
	userinfo := "***"
	if _, ok := u.User.Password(); ok {
		userinfo = url.User(u.User.Username()).String() + ":***"
	}
	u.User = nil
	out := u.String()
	i := strings.Index(out, "://") + len("://")
	out = out[:i] + userinfo + "@" + out[i:]
	if parseable != s {
		out = strings.TrimPrefix(out, "nats://")
	}
	return out
}

// RedactURLs applies RedactURL to each URL.
func RedactURLs(urls []string) []string {
	out := make([]string, len(urls))
	for i, u := range urls {
		out[i] = RedactURL(u)
	}
	return out
}

// redactRaw keeps the scheme and the host of an unparseable URL and hides
// everything between them.
func redactRaw(s string, at int) string {
	start := 0
	if i := strings.Index(s, "://"); i >= 0 && i < at {
		start = i + len("://")
	}
	return s[:start] + "***" + s[at:]
}

// checkURL accepts what nats.go connects to: nats, tls, ws and wss URLs,
// and a bare host:port (nats.go adds nats://).
func checkURL(raw string) error {
	parseable := raw
	if !strings.Contains(raw, "://") {
		parseable = "nats://" + raw
	}
	u, err := url.Parse(parseable)
	if err != nil {
		// url.Parse quotes the whole URL; keep its reason, not the secret.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("--nats-url %q: %w", RedactURL(raw), err)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("--nats-url %q: scheme %q is not one of nats, tls, ws, wss", RedactURL(raw), u.Scheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("--nats-url %q: no host", RedactURL(raw))
	}
	return nil
}

// splitURLs splits a comma-separated URL list, dropping empty entries.
func splitURLs(s string) []string {
	var urls []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

// urlList is the flag.Value of --nats-url.
type urlList []string

func (l *urlList) String() string {
	if l == nil {
		return ""
	}
	// Shown by -help as the default: never with a password.
	return strings.Join(RedactURLs(*l), ",")
}

func (l *urlList) Set(s string) error {
	*l = splitURLs(s)
	return nil
}

// secret is a string flag whose value -help does not print.
type secret string

func (s *secret) String() string {
	if s == nil || *s == "" {
		return ""
	}
	return "***"
}

func (s *secret) Set(v string) error {
	*s = secret(v)
	return nil
}
