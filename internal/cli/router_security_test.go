package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

func writeServerConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nats-server.conf")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

// embeddedURL is the URL the router's log gives its embedded server.
func embeddedURL(t *testing.T, log string) string {
	t.Helper()
	m := regexp.MustCompile(`started an embedded JetStream server" url=(\S+)`).FindStringSubmatch(log)
	require.NotNil(t, m, log)
	return m[1]
}

func TestRouterServerConfig(t *testing.T) {
	t.Setenv(jhjs.EnvURL, "")
	t.Setenv("TEST_ROUTER_PASSWORD", "router-pw-123")
	dir := t.TempDir()
	conf := writeServerConfig(t, `
listen: 127.0.0.1:1
authorization { users: [ {user: router, password: $TEST_ROUTER_PASSWORD} ] }
`)
	// --listen wins over the file's port 1; the router authenticates its
	// own in-process connection with --user/--password.
	code, log := runRouter(t, "--server-config", conf, "--listen", "127.0.0.1:0", "--data-dir", dir,
		"--user", "router", "--password", "router-pw-123")
	require.Equal(t, cli.ExitOK, code, log)
	require.Contains(t, log, "data_dir="+dir)
	require.NotContains(t, log, "router-pw-123")
	require.NotContains(t, log, "beyond loopback", "users are configured")
	url := embeddedURL(t, log)
	require.False(t, strings.HasSuffix(url, ":1"), "not the file's port: %s", url)
	require.FileExists(t, filepath.Join(dir, jhjs.LockFileName), "--data-dir is the store")
}

func TestRouterServerConfigIsEnforced(t *testing.T) {
	t.Setenv(jhjs.EnvURL, "")
	t.Setenv("TEST_ROUTER_PASSWORD", "router-pw-123")
	conf := writeServerConfig(t, `
listen: 127.0.0.1:-1
authorization { users: [ {user: router, password: $TEST_ROUTER_PASSWORD} ] }
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, log jstest.LogBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Router(ctx, []string{"--server-config", conf, "--data-dir", t.TempDir(), "--user", "router", "--password", "router-pw-123"},
			strings.NewReader(""), &out, &log)
	}()
	require.Eventually(t, func() bool { return strings.Contains(log.String(), "router ready") }, 30*time.Second, 5*time.Millisecond, "%s", log.String())
	url := embeddedURL(t, log.String())

	_, err := nats.Connect(url)
	require.ErrorIs(t, err, nats.ErrAuthorization, "the file's users are required of clients")
	nc, err := nats.Connect(url, nats.UserInfo("router", "router-pw-123"))
	require.NoError(t, err)
	nc.Close()
	cancel()
	require.Equal(t, cli.ExitOK, <-code, log.String())
}

func TestRouterServerConfigErrors(t *testing.T) {
	t.Setenv(jhjs.EnvURL, "")
	t.Setenv("TEST_ROUTER_PASSWORD", "router-pw-123")
	auth := writeServerConfig(t, "listen: 127.0.0.1:-1\nauthorization { users: [ {user: router, password: $TEST_ROUTER_PASSWORD} ] }\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--server-config", filepath.Join(t.TempDir(), "nope.conf")}, "--server-config: embedded NATS server did not start: invalid nats-server configuration: open "},
		{"bad file", []string{"--server-config", writeServerConfig(t, "authorization {\n")}, "invalid nats-server configuration"},
		{"no credentials for a file with users", []string{"--server-config", auth}, "requires authentication: give --user and --password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, log bytes.Buffer
			code := cli.Router(context.Background(), append(tc.args, "--data-dir", t.TempDir()), strings.NewReader(""), &out, &log)
			require.Equal(t, cli.ExitError, code, log.String())
			require.Contains(t, log.String(), tc.want)
			require.NotContains(t, log.String(), "router-pw-123")
		})
	}
}

func TestRouterWarnsWhenItsServerIsExposed(t *testing.T) {
	t.Setenv(jhjs.EnvURL, "")
	code, log := runRouter(t, "--listen", "0.0.0.0:0", "--data-dir", t.TempDir())
	require.Equal(t, cli.ExitOK, code, log)
	require.Regexp(t, `level=WARN msg="the embedded NATS server listens beyond loopback without authentication`, log)

	code, log = runRouter(t, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	require.Equal(t, cli.ExitOK, code, log)
	require.NotContains(t, log, "beyond loopback")
}

// TestRouterWithTheShippedPermissionsFile runs the command docs/security.md
// gives: the embedded server from examples/nats-server.conf, the router as
// its user.
func TestRouterWithTheShippedPermissionsFile(t *testing.T) {
	t.Setenv(jhjs.EnvURL, "")
	for _, role := range []string{"PUBLISHER", "ROUTER", "RECEIVER", "OPERATOR", "ADMIN", "BACKUP"} {
		t.Setenv("JOBHOOKS_"+role+"_PASSWORD", "pw-"+strings.ToLower(role)+"-42")
	}
	code, log := runRouter(t, "--server-config", "../../examples/nats-server.conf", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--user", "router", "--password", "pw-router-42", "--inbox-prefix", "_INBOX_router")
	require.Equal(t, cli.ExitOK, code, log)
	require.NotContains(t, log, "Permissions Violation")
	require.NotContains(t, log, "pw-router-42")
	require.Contains(t, log, "JetStream stream created", "the router provisions under its role")
}
