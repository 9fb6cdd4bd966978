package jetstream_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

func TestConnOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts jhjs.ConnOptions
		want string // "" means valid
	}{
		{"empty", jhjs.ConnOptions{}, ""},
		{"full user/password over TLS", jhjs.ConnOptions{
			URLs: []string{"tls://a:4222", "nats://u:p@b:4222", "ws://c:8080", "wss://d", "e:4222"},
			User: "u", Password: "p", TLSCert: "c.pem", TLSKey: "k.pem", TLSCA: "ca.pem",
		}, ""},
		{"creds", jhjs.ConnOptions{CredsFile: "u.creds"}, ""},
		{"nkey", jhjs.ConnOptions{NKeyFile: "u.nk"}, ""},
		{"token", jhjs.ConnOptions{User: "s3cret-token"}, ""},
		{"CA alone", jhjs.ConnOptions{TLSCA: "ca.pem"}, ""},
		{"cert without key", jhjs.ConnOptions{TLSCert: "c.pem"}, "invalid NATS connection options: --tls-cert needs --tls-key"},
		{"key without cert", jhjs.ConnOptions{TLSKey: "k.pem"}, "invalid NATS connection options: --tls-key needs --tls-cert"},
		{"creds and nkey", jhjs.ConnOptions{CredsFile: "u.creds", NKeyFile: "u.nk"}, "invalid NATS connection options: --creds and --nkey are alternatives: give one"},
		{"creds and user", jhjs.ConnOptions{CredsFile: "u.creds", User: "u", Password: "p"}, "invalid NATS connection options: --creds and --user/--password are alternatives: give one"},
		{"nkey and user", jhjs.ConnOptions{NKeyFile: "u.nk", User: "u"}, "invalid NATS connection options: --nkey and --user/--password are alternatives: give one"},
		{"password without user", jhjs.ConnOptions{Password: "p"}, "invalid NATS connection options: --password needs --user"},
		{"http scheme", jhjs.ConnOptions{URLs: []string{"http://a:4222"}}, `invalid NATS connection options: --nats-url "http://a:4222": scheme "http" is not one of nats, tls, ws, wss`},
		{"unparseable", jhjs.ConnOptions{URLs: []string{"nats://u:pw@a:port"}}, `invalid NATS connection options: --nats-url "nats://***@a:port": invalid port ":port" after host`},
		{"no host", jhjs.ConnOptions{URLs: []string{"nats://"}}, `invalid NATS connection options: --nats-url "nats://": no host`},
		{"two problems", jhjs.ConnOptions{Password: "p", TLSCert: "c.pem"}, "invalid NATS connection options: --password needs --user\n--tls-cert needs --tls-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, jhjs.ErrConnOptions)
			require.EqualError(t, err, tc.want)
			require.NotContains(t, err.Error(), "pw", "a password must never be in an error")
		})
	}
}

func TestConnOptionsFlagsAndEnv(t *testing.T) {
	env := map[string]string{
		"NATS_URL":      "nats://env-a:4222, nats://env-b:4222",
		"NATS_USER":     "env-user",
		"NATS_PASSWORD": "env-password",
		"NATS_CA":       "env-ca.pem",
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want jhjs.ConnOptions
	}{
		{
			name: "built-in defaults",
			want: jhjs.ConnOptions{URLs: []string{"nats://default:4222"}, Name: "test"},
		},
		{
			name: "environment beats defaults",
			env:  env,
			want: jhjs.ConnOptions{
				URLs: []string{"nats://env-a:4222", "nats://env-b:4222"},
				User: "env-user", Password: "env-password", TLSCA: "env-ca.pem", Name: "test",
			},
		},
		{
			name: "flags beat environment",
			env:  env,
			args: []string{"--nats-url", "nats://flag-a:4222,tls://flag-b:4443", "--user", "flag-user", "--password", "flag-password",
				"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-ca", "flag-ca.pem"},
			want: jhjs.ConnOptions{
				URLs: []string{"nats://flag-a:4222", "tls://flag-b:4443"},
				User: "flag-user", Password: "flag-password", TLSCert: "c.pem", TLSKey: "k.pem", TLSCA: "flag-ca.pem", Name: "test",
			},
		},
		{
			name: "creds and nkey",
			env:  map[string]string{"NATS_CREDS": "env.creds", "NATS_NKEY": "env.nk"},
			args: []string{"--nkey", "flag.nk"},
			want: jhjs.ConnOptions{URLs: []string{"nats://default:4222"}, CredsFile: "env.creds", NKeyFile: "flag.nk", Name: "test"},
		},
		{
			name: "env cert and key",
			env:  map[string]string{"NATS_CERT": "env-c.pem", "NATS_KEY": "env-k.pem"},
			want: jhjs.ConnOptions{URLs: []string{"nats://default:4222"}, TLSCert: "env-c.pem", TLSKey: "env-k.pem", Name: "test"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			o := jhjs.ConnOptions{URLs: []string{"nats://default:4222"}, Name: "test"}
			o.RegisterFlagsWithEnv(fs, func(k string) string { return tc.env[k] })
			require.NoError(t, fs.Parse(tc.args))
			require.Equal(t, tc.want, o)
		})
	}
}

func TestConnOptionsHelpHidesSecrets(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var help bytes.Buffer
	fs.SetOutput(&help)
	var o jhjs.ConnOptions
	o.RegisterFlagsWithEnv(fs, envMap{
		"NATS_URL":      "nats://user:hunter2@host:4222",
		"NATS_PASSWORD": "hunter2",
	}.get)
	fs.PrintDefaults()
	require.NotContains(t, help.String(), "hunter2")
	require.Contains(t, help.String(), "nats://user:***@host:4222")
	for _, name := range []string{"nats-url", "creds", "nkey", "user", "password", "tls-cert", "tls-key", "tls-ca"} {
		require.NotNil(t, fs.Lookup(name), "--%s", name)
	}
	require.Equal(t, "hunter2", o.Password, "hidden in help, but still the value")
}

type envMap map[string]string

func TestConnOptionsFromEnv(t *testing.T) {
	o := jhjs.ConnOptionsFromEnv(envMap{"NATS_URL": " a:4222 ,,b:4222", "NATS_KEY": "k"}.get)
	require.Equal(t, jhjs.ConnOptions{URLs: []string{"a:4222", "b:4222"}, TLSKey: "k"}, o)
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://host:4222", "nats://host:4222"},
		{"nats://user:pass@host:4222", "nats://user:***@host:4222"},
		{"tls://user:p%40ss@host", "tls://user:***@host"},
		{"nats://token@host:4222", "nats://***@host:4222"},
		{"user:pass@host:4222", "user:***@host:4222"},
		{"nats://user:pass@host:port", "nats://***@host:port"},
		{"nats://u:a@b@host", "nats://u:***@host"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			require.Equal(t, tc.want, jhjs.RedactURL(tc.in))
		})
	}
	require.Equal(t, []string{"nats://a", "nats://u:***@b"}, jhjs.RedactURLs([]string{"nats://a", "nats://u:p@b"}))
}

func TestConnectUserPassword(t *testing.T) {
	url := startServer(t, &server.Options{Username: "u", Password: "p"})
	ctx := testContext(t)

	nc, err := jhjs.Connect(ctx, jhjs.ConnOptions{URLs: []string{url}, User: "u", Password: "p"}, nil)
	require.NoError(t, err)
	nc.Close()

	_, err = jhjs.Connect(ctx, jhjs.ConnOptions{URLs: []string{url}, User: "u", Password: "wrong"}, nil)
	require.ErrorIs(t, err, nats.ErrAuthorization)
	require.EqualError(t, err, "connect to NATS at "+url+": nats: Authorization Violation")

	withPassword := strings.Replace(url, "nats://", "nats://u:wrong@", 1)
	_, err = jhjs.Connect(ctx, jhjs.ConnOptions{URLs: []string{withPassword}}, nil)
	require.ErrorIs(t, err, nats.ErrAuthorization)
	require.ErrorContains(t, err, strings.Replace(url, "nats://", "nats://u:***@", 1))
	require.NotContains(t, err.Error(), "wrong")
}

func TestConnectToken(t *testing.T) {
	url := startServer(t, &server.Options{Authorization: "s3cret"})
	nc, err := jhjs.Connect(testContext(t), jhjs.ConnOptions{URLs: []string{url}, User: "s3cret"}, nil)
	require.NoError(t, err, "--user without --password is a token, as in the nats CLI")
	nc.Close()
}

func TestConnectName(t *testing.T) {
	s := jstest.Start(t)
	nc, err := jhjs.Connect(testContext(t), jhjs.ConnOptions{URLs: []string{s.URL}, Name: "jobhooks-test"}, nil)
	require.NoError(t, err)
	defer nc.Close()
	require.NoError(t, nc.Flush())
	connz, err := s.Server().Connz(&server.ConnzOptions{})
	require.NoError(t, err)
	var names []string
	for _, c := range connz.Conns {
		names = append(names, c.Name)
	}
	require.Contains(t, names, "jobhooks-test")
}

func TestConnectFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "nats://u:secret@" + l.Addr().String()
	require.NoError(t, l.Close())

	_, err = jhjs.Connect(testContext(t), jhjs.ConnOptions{URLs: []string{url, "nats://" + l.Addr().String()}}, nil)
	require.ErrorIs(t, err, nats.ErrNoServers)
	require.ErrorContains(t, err, "connect to NATS at nats://u:***@"+l.Addr().String()+",nats://"+l.Addr().String()+": ")
	require.NotContains(t, err.Error(), "secret")
}

func TestConnectInvalidOptions(t *testing.T) {
	_, err := jhjs.Connect(testContext(t), jhjs.ConnOptions{Password: "p"}, nil)
	require.ErrorIs(t, err, jhjs.ErrConnOptions)

	_, err = jhjs.Connect(testContext(t), jhjs.ConnOptions{NKeyFile: t.TempDir() + "/missing.nk"}, nil)
	require.ErrorIs(t, err, jhjs.ErrConnOptions)
	require.ErrorContains(t, err, "--nkey")
}

func TestConnectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := jhjs.Connect(ctx, jhjs.ConnOptions{}, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "connect to NATS at "+nats.DefaultURL)
}

func TestConnectReconnectsForever(t *testing.T) {
	dir := t.TempDir()
	srv := newServer(t, &server.Options{StoreDir: dir, JetStream: true})
	port := srv.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("nats://u:p@127.0.0.1:%d", port)
	ctx := testContext(t)

	logs := newLogRecorder()
	o := jhjs.ConnOptions{URLs: []string{url}}
	opts, err := o.NatsOptions(slog.New(logs))
	require.NoError(t, err)
	// Same options as Connect, with a short wait so the test is quick.
	opts = append(opts, nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(0, 0))
	nc, err := nats.Connect(url, opts...)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}})
	require.NoError(t, err)

	srv.Shutdown()
	srv.WaitForShutdown()
	logs.waitFor(t, "disconnected from NATS")
	require.NotEqual(t, nats.CONNECTED, nc.Status())

	newServer(t, &server.Options{StoreDir: dir, JetStream: true, Port: port})
	rec := logs.waitFor(t, "reconnected to NATS")
	require.Equal(t, nats.CONNECTED, nc.Status())
	require.Equal(t, fmt.Sprintf("nats://u:***@127.0.0.1:%d", port), attr(rec, "server"))

	_, err = js.Stream(ctx, "KEEP")
	require.NoError(t, err, "JetStream works again after the reconnect")

	nc.Close()
	logs.waitFor(t, "NATS connection closed")
	require.NotContains(t, logs.text(), ":p@", "the password must never be logged")
}

// startServer starts a NATS server with opts (auth) on a random port and
// returns its URL.
func startServer(t *testing.T, opts *server.Options) string {
	t.Helper()
	srv := newServer(t, opts)
	return fmt.Sprintf("nats://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
}

// newServer starts a nats-server on 127.0.0.1 (a random port unless
// opts.Port is set) and shuts it down when the test ends.
func newServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host = "127.0.0.1"
	if opts.Port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	require.NoError(t, err)
	go srv.Start()
	require.True(t, srv.ReadyForConnections(10*time.Second), "server did not start")
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (m envMap) get(k string) string { return m[k] }

// logRecorder is a slog.Handler that keeps records and signals each one.
type logRecorder struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	records chan slog.Record
	inner   slog.Handler
}

func newLogRecorder() *logRecorder {
	l := &logRecorder{records: make(chan slog.Record, 1000)}
	l.inner = slog.NewTextHandler(&l.buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	return l
}

func (l *logRecorder) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(ctx context.Context, r slog.Record) error {
	l.mu.Lock()
	err := l.inner.Handle(ctx, r)
	l.mu.Unlock()
	select {
	case l.records <- r.Clone():
	default:
	}
	return err
}

// waitFor returns the next record with message msg, skipping others.
func (l *logRecorder) waitFor(t *testing.T, msg string) slog.Record {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r := <-l.records:
			if r.Message == msg {
				return r
			}
		case <-timeout:
			t.Fatalf("no %q log record; logs:\n%s", msg, l.text())
		}
	}
}

func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

func TestConnOptionsInboxPrefix(t *testing.T) {
	o := jhjs.ConnOptionsFromEnv(envMap{jhjs.EnvInboxPrefix: "_INBOX_env"}.get)
	require.Equal(t, "_INBOX_env", o.InboxPrefix)

	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var flagged jhjs.ConnOptions
	flagged.RegisterFlagsWithEnv(fs, envMap{jhjs.EnvInboxPrefix: "_INBOX_env"}.get)
	require.NoError(t, fs.Parse([]string{"--inbox-prefix", "_INBOX_flag"}))
	require.Equal(t, "_INBOX_flag", flagged.InboxPrefix, "the flag beats the environment")

	for _, bad := range []string{"_INBOX.>", "_INBOX_*", "_INBOX.", ".x", "a..b", "a b"} {
		err := jhjs.ConnOptions{InboxPrefix: bad}.Validate()
		require.ErrorIs(t, err, jhjs.ErrConnOptions, bad)
		require.ErrorContains(t, err, "--inbox-prefix", bad)
	}
	require.NoError(t, jhjs.ConnOptions{InboxPrefix: "_INBOX_router.jobhooks"}.Validate())

	// A server that lets the user subscribe to its own inboxes only: the
	// prefix is what makes requests work.
	url := startServer(t, &server.Options{Users: []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_u.>", "svc"}},
		Publish:   &server.SubjectPermission{Allow: []string{"svc"}},
		Response:  &server.ResponsePermission{MaxMsgs: 1}, // the responder's reply
	}}}})
	ctx := testContext(t)
	nc, err := jhjs.Connect(ctx, jhjs.ConnOptions{URLs: []string{url}, User: "u", Password: "p", InboxPrefix: "_INBOX_u"}, nil)
	require.NoError(t, err)
	defer nc.Close()
	require.True(t, strings.HasPrefix(nc.NewInbox(), "_INBOX_u."))
	sub, err := nc.Subscribe("svc", func(m *nats.Msg) { _ = m.Respond([]byte("pong")) })
	require.NoError(t, err)
	defer func() { _ = sub.Unsubscribe() }()
	reqCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	reply, err := nc.RequestWithContext(reqCtx, "svc", nil)
	require.NoError(t, err)
	require.Equal(t, "pong", string(reply.Data))
}

func TestConnectExplainsRefusedInboxes(t *testing.T) {
	url := startServer(t, &server.Options{Users: []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
		Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_u.>"}},
		Publish:   &server.SubjectPermission{Allow: []string{"svc"}},
	}}}})
	var log jstest.LogBuffer
	// No --inbox-prefix: the client's _INBOX.> is refused.
	nc, err := jhjs.Connect(testContext(t), jhjs.ConnOptions{URLs: []string{url}, User: "u", Password: "p"}, slog.New(slog.NewTextHandler(&log, nil)))
	require.NoError(t, err)
	defer nc.Close()
	_, err = nc.SubscribeSync(nc.NewInbox())
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "hint=") }, 10*time.Second, 5*time.Millisecond, log.String())
	require.Contains(t, log.String(), `give --inbox-prefix (env NATS_INBOX_PREFIX)`)
	require.NotContains(t, log.String(), "password=p")

	// Another refusal gets no such hint.
	var other jstest.LogBuffer
	nc2, err := jhjs.Connect(testContext(t), jhjs.ConnOptions{URLs: []string{url}, User: "u", Password: "p", InboxPrefix: "_INBOX_u"}, slog.New(slog.NewTextHandler(&other, nil)))
	require.NoError(t, err)
	defer nc2.Close()
	_, err = nc2.SubscribeSync("elsewhere")
	require.NoError(t, err)
	require.NoError(t, nc2.Flush())
	require.Eventually(t, func() bool { return strings.Contains(other.String(), "Permissions Violation") }, 10*time.Second, 5*time.Millisecond)
	require.NotContains(t, other.String(), "hint=")
}
