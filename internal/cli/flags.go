package cli

import (
	"flag"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	jhjs "github.com/jobhooks/jobhooks/jetstream"
)

// The flags every command shares, one function per group, so that each
// command registers the same names, defaults and help text.

// connFlags registers the connection flags (--nats-url, --creds, --nkey,
// --user, --password, --tls-cert, --tls-key, --tls-ca; NATS_* environment
// variables), defaulting to conn's current values.
func connFlags(fs *pflag.FlagSet, conn *jhjs.ConnOptions) {
	goFlags(fs, conn.RegisterFlags)
	if len(conn.URLs) > 0 { // help shows the default
		fs.Lookup("nats-url").Usage = "NATS server URL(s), comma-separated (env " + jhjs.EnvURL + ")"
	}
}

// jsonFlag registers --json.
func jsonFlag(fs *pflag.FlagSet, asJSON *bool) {
	fs.BoolVar(asJSON, "json", false, "print JSON, for scripts")
}

// logLevelFlag registers --log-level, defaulting to info.
func logLevelFlag(fs *pflag.FlagSet, level *slog.Level) {
	*level = slog.LevelInfo
	fs.Var((*levelValue)(level), "log-level", "log level: debug, info, warn or error")
}

// goFlags adds to fs the flags register puts on a standard library flag
// set: the jetstream package's flags and the HTTP flags are registered
// that way, and a flag added there shows up here as it is.
func goFlags(fs *pflag.FlagSet, register func(*flag.FlagSet)) {
	gfs := flag.NewFlagSet("", flag.ContinueOnError)
	register(gfs)
	gfs.VisitAll(func(f *flag.Flag) {
		pf := pflag.PFlagFromGoFlag(f)
		pf.Shorthand = "" // a one-letter name stays a long flag
		kind := pf.Value.Type()
		if kind == "secret" {
			pf.DefValue = "" // not even "***" from the environment
		}
		pf.Value = typedValue{pf.Value, goFlagType(kind)}
		fs.AddFlag(pf)
	})
}

// goFlagType names, in help, the value of a flag registered by goFlags,
// from its Go type's name; "" keeps that name.
func goFlagType(kind string) string {
	switch kind {
	case "urlList":
		return "urls"
	case "secret", "text":
		return "string"
	case "days":
		return "age"
	case "byteSize":
		return "size"
	case "uint64":
		return "uint"
	}
	return ""
}

// typedValue is a flag value with the type name help shows.
type typedValue struct {
	pflag.Value
	kind string
}

func (v typedValue) Type() string {
	if v.kind == "" {
		return v.Value.Type()
	}
	return v.kind
}

// levelValue is a slog.Level flag.
type levelValue slog.Level

func (l *levelValue) String() string { return strings.ToLower((*slog.Level)(l).String()) }
func (l *levelValue) Set(s string) error {
	return (*slog.Level)(l).UnmarshalText([]byte(s))
}
func (l *levelValue) Type() string { return "level" }
