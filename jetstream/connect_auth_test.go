package jetstream_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/stretchr/testify/require"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
)

// pki is a test certificate authority and the files it issued.
type pki struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	CA   string // the CA certificate file
}

// newPKI creates a CA valid for an hour, its certificate in a temp dir.
func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	p := &pki{t: t, dir: t.TempDir(), cert: cert, key: key}
	p.CA = p.write(name+"-ca.pem", "CERTIFICATE", der)
	return p
}

// issue returns the files of a certificate for name (server: for
// 127.0.0.1 and localhost; else a client certificate) and its key.
func (p *pki) issue(name string, serverCert bool) (certFile, keyFile string) {
	p.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(p.t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(p.t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if serverCert {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	require.NoError(p.t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(p.t, err)
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

func (p *pki) write(name, kind string, der []byte) string {
	path := filepath.Join(p.dir, name)
	require.NoError(p.t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600))
	return path
}

// startTLSServer starts a server with a certificate of ca; verify: it
// requires client certificates of ca (mutual TLS).
func startTLSServer(t *testing.T, ca *pki, verify bool) string {
	t.Helper()
	cert, key := ca.issue("server", true)
	tlsConfig, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert, KeyFile: key, CaFile: ca.CA, Verify: verify})
	require.NoError(t, err)
	srv := newServer(t, &server.Options{TLS: true, TLSConfig: tlsConfig, TLSVerify: verify, TLSTimeout: 5})
	return fmt.Sprintf("tls://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
}

// connectLogged connects with o, logging to a buffer it returns.
func connectLogged(t *testing.T, o jhjs.ConnOptions) (*nats.Conn, *jstest.LogBuffer, error) {
	t.Helper()
	var log jstest.LogBuffer
	ctx := testContext(t)
	nc, err := jhjs.Connect(ctx, o, slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if nc != nil {
		t.Cleanup(nc.Close)
	}
	return nc, &log, err
}

func TestConnectTLSServerVerified(t *testing.T) {
	ca := newPKI(t, "jobhooks-test")
	url := startTLSServer(t, ca, false)

	nc, _, err := connectLogged(t, jhjs.ConnOptions{URLs: []string{url}, TLSCA: ca.CA})
	require.NoError(t, err)
	state, err := nc.TLSConnectionState()
	require.NoError(t, err)
	require.Equal(t, "server", state.PeerCertificates[0].Subject.CommonName)

	// nats:// is upgraded when the server requires TLS: still verified.
	_, _, err = connectLogged(t, jhjs.ConnOptions{URLs: []string{"nats" + url[len("tls"):]}, TLSCA: ca.CA})
	require.NoError(t, err)

	other := newPKI(t, "other")
	for _, tc := range []struct {
		name string
		opts jhjs.ConnOptions
		want string
	}{
		{"another CA", jhjs.ConnOptions{URLs: []string{url}, TLSCA: other.CA}, "certificate signed by unknown authority"},
		{"the system's CAs", jhjs.ConnOptions{URLs: []string{url}}, "certificate signed by unknown authority"},
		{"a missing CA file", jhjs.ConnOptions{URLs: []string{url}, TLSCA: filepath.Join(t.TempDir(), "nope.pem")}, "nope.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := connectLogged(t, tc.opts)
			require.ErrorContains(t, err, "connect to NATS at "+url)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestConnectMutualTLS(t *testing.T) {
	ca := newPKI(t, "jobhooks-test")
	url := startTLSServer(t, ca, true)
	cert, key := ca.issue("router", false)

	nc, _, err := connectLogged(t, jhjs.ConnOptions{URLs: []string{url}, TLSCA: ca.CA, TLSCert: cert, TLSKey: key})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())

	other := newPKI(t, "other")
	otherCert, otherKey := other.issue("intruder", false)
	for _, tc := range []struct {
		name string
		opts jhjs.ConnOptions
		want string
	}{
		// The server refuses the handshake or hangs up after it: which
		// one the client sees first is a race.
		{"no client certificate", jhjs.ConnOptions{URLs: []string{url}, TLSCA: ca.CA}, "tls"},
		{"a client certificate of another CA", jhjs.ConnOptions{URLs: []string{url}, TLSCA: ca.CA, TLSCert: otherCert, TLSKey: otherKey}, "tls"},
		{"a key that is not the certificate's", jhjs.ConnOptions{URLs: []string{url}, TLSCA: ca.CA, TLSCert: cert, TLSKey: otherKey}, "private key does not match public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := connectLogged(t, tc.opts)
			require.ErrorContains(t, err, "connect to NATS at "+url)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestConnectNKey(t *testing.T) {
	user, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, err := user.PublicKey()
	require.NoError(t, err)
	seed, err := user.Seed()
	require.NoError(t, err)
	url := startServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	dir := t.TempDir()
	seedFile := filepath.Join(dir, "router.nk")
	require.NoError(t, os.WriteFile(seedFile, seed, 0o600))

	nc, log, err := connectLogged(t, jhjs.ConnOptions{URLs: []string{url}, NKeyFile: seedFile})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	require.NotContains(t, log.String(), string(seed))

	stranger, err := nkeys.CreateUser()
	require.NoError(t, err)
	strangerSeed, err := stranger.Seed()
	require.NoError(t, err)
	strangerFile := filepath.Join(dir, "stranger.nk")
	require.NoError(t, os.WriteFile(strangerFile, strangerSeed, 0o600))
	// A seed with a broken checksum: the last characters changed.
	badSeed := append([]byte(nil), seed...)
	copy(badSeed[len(badSeed)-4:], "AAAA")
	badFile := filepath.Join(dir, "bad.nk")
	require.NoError(t, os.WriteFile(badFile, badSeed, 0o600))
	for _, tc := range []struct {
		name, file, want string
		secret           []byte
	}{
		{"an unknown user's seed", strangerFile, "Authorization Violation", strangerSeed},
		{"a corrupt seed", badFile, "--nkey " + badFile, badSeed},
		{"a missing file", filepath.Join(dir, "missing.nk"), "missing.nk", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, log, err := connectLogged(t, jhjs.ConnOptions{URLs: []string{url}, NKeyFile: tc.file})
			require.ErrorContains(t, err, tc.want)
			if tc.secret != nil {
				require.NotContains(t, err.Error(), string(tc.secret), "the seed is never in an error")
				require.NotContains(t, err.Error(), string(tc.secret[:20]))
				require.NotContains(t, log.String(), string(tc.secret[:20]), "nor in the log")
			}
		})
	}
}

// operatorMode is a server trusting an operator, with one account in a
// memory resolver, and the means to issue that account's users.
type operatorMode struct {
	url     string
	account nkeys.KeyPair
}

func startOperatorMode(t *testing.T) *operatorMode {
	t.Helper()
	operator, err := nkeys.CreateOperator()
	require.NoError(t, err)
	opPub, err := operator.PublicKey()
	require.NoError(t, err)
	opClaims := jwt.NewOperatorClaims(opPub)
	opClaims.Name = "jobhooks-test"
	_, err = opClaims.Encode(operator)
	require.NoError(t, err)

	account, err := nkeys.CreateAccount()
	require.NoError(t, err)
	accPub, err := account.PublicKey()
	require.NoError(t, err)
	accClaims := jwt.NewAccountClaims(accPub)
	accClaims.Name = "jobhooks"
	accJWT, err := accClaims.Encode(operator)
	require.NoError(t, err)

	resolver := &server.MemAccResolver{}
	require.NoError(t, resolver.Store(accPub, accJWT))
	url := startServer(t, &server.Options{TrustedOperators: []*jwt.OperatorClaims{opClaims}, AccountResolver: resolver})
	return &operatorMode{url: url, account: account}
}

// creds writes a creds file of a user that signer signs, and returns it
// with the user's seed.
func (m *operatorMode) creds(t *testing.T, signer nkeys.KeyPair, name string) (string, []byte) {
	t.Helper()
	user, err := nkeys.CreateUser()
	require.NoError(t, err)
	pub, err := user.PublicKey()
	require.NoError(t, err)
	seed, err := user.Seed()
	require.NoError(t, err)
	uc := jwt.NewUserClaims(pub)
	uc.Name = name
	uc.Expires = time.Now().Add(time.Hour).Unix()
	userJWT, err := uc.Encode(signer)
	require.NoError(t, err)
	text, err := jwt.FormatUserConfig(userJWT, seed)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), name+".creds")
	require.NoError(t, os.WriteFile(path, text, 0o600))
	return path, seed
}

func TestConnectCreds(t *testing.T) {
	m := startOperatorMode(t)
	file, seed := m.creds(t, m.account, "router")
	nc, log, err := connectLogged(t, jhjs.ConnOptions{URLs: []string{m.url}, CredsFile: file})
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	require.NotContains(t, log.String(), string(seed))

	unknown, err := nkeys.CreateAccount()
	require.NoError(t, err)
	strangerFile, strangerSeed := m.creds(t, unknown, "stranger")
	garbage := filepath.Join(t.TempDir(), "garbage.creds")
	require.NoError(t, os.WriteFile(garbage, []byte("not a creds file\n"), 0o600))
	for _, tc := range []struct {
		name, file, want string
		secret           []byte
	}{
		{"a user of an account the operator does not know", strangerFile, "Authorization Violation", strangerSeed},
		{"a file without a JWT", garbage, "connect to NATS at " + m.url, nil},
		{"a missing file", filepath.Join(t.TempDir(), "missing.creds"), "missing.creds", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, log, err := connectLogged(t, jhjs.ConnOptions{URLs: []string{m.url}, CredsFile: tc.file})
			require.ErrorContains(t, err, tc.want)
			if tc.secret != nil {
				require.NotContains(t, err.Error(), string(tc.secret[:20]))
				require.NotContains(t, log.String(), string(tc.secret[:20]))
			}
		})
	}
}

func TestConnectUserPasswordOverMutualTLSNeverLogsThePassword(t *testing.T) {
	ca := newPKI(t, "jobhooks-test")
	cert, key := ca.issue("server", true)
	tlsConfig, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert, KeyFile: key, CaFile: ca.CA, Verify: true})
	require.NoError(t, err)
	srv := newServer(t, &server.Options{TLS: true, TLSConfig: tlsConfig, TLSVerify: true, TLSTimeout: 5, Username: "router", Password: "pa55-w0rd-xyz"})
	url := fmt.Sprintf("tls://127.0.0.1:%d", srv.Addr().(*net.TCPAddr).Port)
	clientCert, clientKey := ca.issue("router", false)
	base := jhjs.ConnOptions{URLs: []string{url}, TLSCA: ca.CA, TLSCert: clientCert, TLSKey: clientKey, User: "router"}

	ok := base
	ok.Password = "pa55-w0rd-xyz"
	nc, log, err := connectLogged(t, ok)
	require.NoError(t, err)
	require.NoError(t, nc.Flush())
	require.NotContains(t, log.String(), ok.Password)

	wrong := base
	wrong.Password = "wr0ng-pa55-abc"
	_, log, err = connectLogged(t, wrong)
	require.ErrorIs(t, err, nats.ErrAuthorization)
	require.NotContains(t, err.Error(), wrong.Password)
	require.NotContains(t, log.String(), wrong.Password)
}
