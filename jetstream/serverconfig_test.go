package jetstream_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// writeConfig writes a nats-server configuration file for the test.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats-server.conf")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func startEmbedded(t *testing.T, opts jhjs.EmbeddedOptions) *jhjs.EmbeddedServer {
	t.Helper()
	srv, err := jhjs.StartEmbedded(opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	return srv
}

func TestEmbeddedServerConfigFileRequiresAuth(t *testing.T) {
	t.Setenv("TEST_JOBHOOKS_PASSWORD", "pw-from-env")
	store := t.TempDir()
	// No jetstream block: JetStream is enabled all the same.
	conf := writeConfig(t, `
listen: 127.0.0.1:-1
server_name: from-file
authorization { users: [ {user: app, password: $TEST_JOBHOOKS_PASSWORD} ] }
`)
	srv := startEmbedded(t, jhjs.EmbeddedOptions{ConfigFile: conf, StoreDir: store})
	require.NotEmpty(t, srv.ClientURL(), "the file's listen address")
	require.Equal(t, "from-file", srv.Server().Name())
	require.Equal(t, store, srv.StoreDir())
	ctx := testContext(t)

	_, err := jhjs.Connect(ctx, jhjs.ConnOptions{URLs: []string{srv.ClientURL()}}, nil)
	require.ErrorIs(t, err, nats.ErrAuthorization, "the file's users are required")

	nc, err := jhjs.Connect(ctx, jhjs.ConnOptions{URLs: []string{srv.ClientURL()}, User: "app", Password: "pw-from-env"}, nil)
	require.NoError(t, err, "the password comes from the environment")
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.AccountInfo(ctx)
	require.NoError(t, err, "JetStream is enabled")

	inproc, err := srv.ConnectWith(jhjs.ConnOptions{User: "app", Password: "pw-from-env", TLSCA: "ignored.pem"}, nil)
	require.NoError(t, err, "ConnectWith authenticates the in-process connection")
	inproc.Close()
}

func TestEmbeddedServerFlagsWinOverTheConfigFile(t *testing.T) {
	fileStore, flagStore := t.TempDir(), t.TempDir()
	conf := writeConfig(t, `
listen: 127.0.0.1:1
jetstream { store_dir: "`+fileStore+`" }
`)
	srv := startEmbedded(t, jhjs.EmbeddedOptions{ConfigFile: conf, Listen: "127.0.0.1:0", StoreDir: flagStore})
	require.Equal(t, flagStore, srv.StoreDir())
	require.NotContains(t, srv.ClientURL(), "127.0.0.1:1", "Listen wins over the file's port 1")
	require.FileExists(t, filepath.Join(flagStore, jhjs.LockFileName))
	require.NoFileExists(t, filepath.Join(fileStore, jhjs.LockFileName))
}

func TestEmbeddedServerConfigFileStoreDir(t *testing.T) {
	fileStore := t.TempDir()
	conf := writeConfig(t, `jetstream { store_dir: "`+fileStore+`" }`)
	// No listen in the file and no Listen: loopback, not nats-server's
	// every interface. The default port may be taken: pick one.
	srv := startEmbedded(t, jhjs.EmbeddedOptions{ConfigFile: conf, Listen: "127.0.0.1:0"})
	require.Equal(t, fileStore, srv.StoreDir())
}

func TestEmbeddedServerBadConfigFile(t *testing.T) {
	t.Setenv("TEST_JOBHOOKS_SECRET", "s3cret-value")
	for _, tc := range []struct {
		name, text, want string
	}{
		{"syntax", "listen: 127.0.0.1:4222\nauthorization {\n users: [\n", "line 4"},
		{"unset variable", "authorization { users: [ {user: a, password: $NOT_SET_ANYWHERE_PASSWORD} ] }", "NOT_SET_ANYWHERE_PASSWORD"},
		{"bad permissions", "authorization { users: [ {user: a, password: $TEST_JOBHOOKS_SECRET, permissions: {publish: 42}} ] }", "subject permissions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{ConfigFile: writeConfig(t, tc.text), Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
			require.ErrorIs(t, err, jhjs.ErrEmbeddedStart)
			require.ErrorIs(t, err, jhjs.ErrServerConfig)
			require.ErrorContains(t, err, "nats-server.conf: ", "names the file")
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), "s3cret-value")
		})
	}
	_, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{ConfigFile: filepath.Join(t.TempDir(), "missing.conf"), StoreDir: t.TempDir()})
	require.ErrorIs(t, err, jhjs.ErrServerConfig)
	require.ErrorContains(t, err, "missing.conf")
}

func TestEmbeddedServerWarnsWhenExposedWithoutAuth(t *testing.T) {
	var exposedLog, loopbackLog jstest.LogBuffer
	// Every interface, no users: the warning.
	startEmbedded(t, jhjs.EmbeddedOptions{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&exposedLog, nil))})
	require.Contains(t, exposedLog.String(), "level=WARN")
	require.Contains(t, exposedLog.String(), "listens beyond loopback without authentication")
	// Loopback: none.
	startEmbedded(t, jhjs.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&loopbackLog, nil))})
	require.NotContains(t, loopbackLog.String(), "beyond loopback")
}

func TestExposure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    server.Options
		exposed bool
	}{
		{"loopback", server.Options{Host: "127.0.0.1"}, false},
		{"loopback v6", server.Options{Host: "::1"}, false},
		{"localhost", server.Options{Host: "localhost"}, false},
		{"every interface", server.Options{Host: "0.0.0.0"}, true},
		{"nats-server's default host", server.Options{}, true},
		{"every v6 interface", server.Options{Host: "::"}, true},
		{"a name", server.Options{Host: "nats.example.com"}, true},
		{"an address", server.Options{Host: "192.0.2.10"}, true},
		{"users", server.Options{Host: "0.0.0.0", Users: []*server.User{{Username: "a", Password: "b"}}}, false},
		{"single user", server.Options{Host: "0.0.0.0", Username: "a", Password: "b"}, false},
		{"token", server.Options{Host: "0.0.0.0", Authorization: "t"}, false},
		{"nkeys", server.Options{Host: "0.0.0.0", Nkeys: []*server.NkeyUser{{Nkey: "UABC"}}}, false},
		{"operator", server.Options{Host: "0.0.0.0", TrustedKeys: []string{"OABC"}}, false},
		{"client certificates", server.Options{Host: "0.0.0.0", TLSVerify: true}, false},
		{"TLS without client verification", server.Options{Host: "0.0.0.0", TLS: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warning := jhjs.Exposure(&tc.opts)
			require.Equal(t, tc.exposed, warning != "", warning)
			if tc.exposed {
				require.True(t, strings.Contains(warning, "--server-config"), "the warning says what to do")
			}
		})
	}
}

func TestEmbeddedServerConnectWithoutCredentials(t *testing.T) {
	t.Setenv("TEST_JOBHOOKS_PASSWORD", "pw")
	conf := writeConfig(t, "listen: 127.0.0.1:-1\nauthorization { users: [ {user: app, password: $TEST_JOBHOOKS_PASSWORD} ] }\n")
	srv := startEmbedded(t, jhjs.EmbeddedOptions{ConfigFile: conf, StoreDir: t.TempDir()})
	_, err := srv.ConnectWith(jhjs.ConnOptions{}, nil)
	require.ErrorIs(t, err, jhjs.ErrAuthRequired)
	require.ErrorContains(t, err, "--user and --password")
}

// TestExposureOfConfigFiles checks the warning on what nats-server makes of
// real files: account users, TLS with and without client verification.
func TestExposureOfConfigFiles(t *testing.T) {
	ca := newPKI(t, "jobhooks-test")
	cert, key := ca.issue("server", true)
	tls := `tls { cert_file: "` + cert + `", key_file: "` + key + `", ca_file: "` + ca.CA + `"`
	for _, tc := range []struct {
		name, text string
		exposed    bool
	}{
		{"nothing", `listen: 0.0.0.0:4222`, true},
		{"loopback", `listen: 127.0.0.1:4222`, false},
		{"the shipped file, listening everywhere", "", false},
		{"users of an account", `listen: 0.0.0.0:4222
accounts { APP: { jetstream: enabled, users: [ {user: a, password: b} ] } }`, false},
		{"an account without users", `listen: 0.0.0.0:4222
accounts { APP: { jetstream: enabled } }`, true},
		{"nkey users", `listen: 0.0.0.0:4222
authorization { users: [ {nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4} ] }`, false},
		{"a token", `listen: 0.0.0.0:4222
authorization { token: s3cret }`, false},
		{"TLS, no client verification", "listen: 0.0.0.0:4222\n" + tls + " }", true},
		{"mutual TLS", "listen: 0.0.0.0:4222\n" + tls + ", verify: true }", false},
		{"users, and a no_auth_user", `listen: 0.0.0.0:4222
no_auth_user: a
authorization { users: [ {user: a, password: b} ] }`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "../examples/nats-server.conf"
			if tc.text != "" {
				path = writeConfig(t, tc.text)
			} else {
				for _, role := range []string{"PUBLISHER", "ROUTER", "RECEIVER", "OPERATOR", "ADMIN", "BACKUP"} {
					t.Setenv("JOBHOOKS_"+role+"_PASSWORD", "pw")
				}
			}
			opts, err := server.ProcessConfigFile(path)
			require.NoError(t, err)
			if tc.text == "" {
				opts.Host = "0.0.0.0"
			}
			warning := jhjs.Exposure(opts)
			require.Equal(t, tc.exposed, warning != "", warning)
		})
	}
}
