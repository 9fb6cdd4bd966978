package jetstream

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// The embedded server's configuration: EmbeddedOptions over a nats-server
// configuration file, and whether the result lets anyone in.

// ErrServerConfig is returned, wrapped in ErrEmbeddedStart, when the
// ConfigFile cannot be read or is not a valid nats-server configuration.
var ErrServerConfig = errors.New("invalid nats-server configuration")

// serverOptions builds the server's options from opts and its ConfigFile.
func serverOptions(opts EmbeddedOptions) (*server.Options, error) {
	sopts := &server.Options{}
	if opts.ConfigFile != "" {
		var err error
		if sopts, err = server.ProcessConfigFile(opts.ConfigFile); err != nil {
			// The server's text gives the line and the reason; it never
			// quotes a variable's (a password's) value.
			if strings.Contains(err.Error(), opts.ConfigFile) {
				return nil, fmt.Errorf("%w: %w", ErrServerConfig, err)
			}
			return nil, fmt.Errorf("%w: %s: %w", ErrServerConfig, opts.ConfigFile, err)
		}
	}
	sopts.JetStream = true
	sopts.NoSigs = true
	if opts.StoreDir != "" {
		sopts.StoreDir = opts.StoreDir
	}
	if sopts.StoreDir == "" && opts.ConfigFile != "" {
		sopts.StoreDir = DefaultDataDir
	}
	if sopts.StoreDir == "" {
		return nil, errors.New("a store directory is required")
	}
	if abs, err := filepath.Abs(sopts.StoreDir); err == nil {
		sopts.StoreDir = abs
	}
	if sopts.ServerName == "" {
		sopts.ServerName = opts.ServerName
	}
	if sopts.ServerName == "" {
		sopts.ServerName = "jobhooks"
	}
	listen := opts.Listen
	if listen == "" && opts.ConfigFile != "" && sopts.Host == "" && sopts.Port == 0 {
		// nats-server's own default would be every interface.
		listen = DefaultListen
	}
	if listen == "" {
		if opts.ConfigFile == "" {
			sopts.DontListen = true
		}
		return sopts, nil
	}
	host, portText, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("listen port %q: %w", portText, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	sopts.Host, sopts.Port = host, port
	return sopts, nil
}

// exposure returns a warning when the server listens beyond loopback and
// lets any client in: no users, token, nkeys or operator, no client
// certificate required, or a no_auth_user; "" otherwise.
func exposure(o *server.Options) string {
	if isLoopback(o.Host) {
		return ""
	}
	if o.NoAuthUser != "" {
		return "the embedded NATS server listens beyond loopback with no_auth_user " + o.NoAuthUser +
			": any client that reaches it, without credentials, gets that user's permissions"
	}
	if authConfigured(o) {
		return ""
	}
	return "the embedded NATS server listens beyond loopback without authentication: any client that reaches it may publish jobs and rewrite hooks; " +
		"give --server-config a nats-server configuration with users (see examples/nats-server.conf) or listen on 127.0.0.1"
}

// authConfigured reports whether o makes clients authenticate. Users of
// accounts are in o.Users and o.Nkeys once the configuration is processed.
func authConfigured(o *server.Options) bool {
	return len(o.Users) > 0 || len(o.Nkeys) > 0 || o.Username != "" || o.Authorization != "" ||
		len(o.TrustedOperators) > 0 || len(o.TrustedKeys) > 0 || clientCertRequired(o) ||
		o.CustomClientAuthentication != nil || (o.AuthCallout != nil && o.AuthCallout.Issuer != "")
}

// clientCertRequired reports whether clients must present a certificate
// the server verifies: TLSVerify from flags, ClientAuth from a file's tls
// block (verify, verify_and_map).
func clientCertRequired(o *server.Options) bool {
	return o.TLSVerify || o.TLSMap || (o.TLSConfig != nil && o.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert)
}

// isLoopback reports whether host only accepts connections from this
// machine. "" and 0.0.0.0 are every interface; names other than localhost
// are not resolved, and count as exposed.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
