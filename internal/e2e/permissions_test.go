package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/internal/cli"
	jhjs "github.com/jobhooks/jobhooks/jetstream"
	"github.com/jobhooks/jobhooks/jetstream/jstest"
	"github.com/jobhooks/jobhooks/receiver"
	"github.com/jobhooks/jobhooks/receiver/builtin"
)

// serverConfig is the permissions file the docs ship.
const serverConfig = "../../examples/nats-server.conf"

// roles are the users of examples/nats-server.conf.
var roles = []string{"publisher", "router", "receiver", "operator", "admin", "backup"}

// secured is a server started from examples/nats-server.conf, with a
// password per role.
type secured struct {
	url       string
	passwords map[string]string
}

// startSecured starts an embedded server from the shipped file, its store
// and port replaced by temporary ones, the passwords in the environment.
func startSecured(t *testing.T) *secured {
	t.Helper()
	s := &secured{passwords: map[string]string{}}
	for _, role := range roles {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		s.passwords[role] = "pw-" + role + "-" + hex.EncodeToString(b)
		t.Setenv("JOBHOOKS_"+strings.ToUpper(role)+"_PASSWORD", s.passwords[role])
	}
	srv, err := jhjs.StartEmbedded(jhjs.EmbeddedOptions{ConfigFile: serverConfig, Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Shutdown(context.Background())) })
	s.url = srv.ClientURL()
	return s
}

// flags are a role's connection flags for jobhooks' commands.
func (s *secured) flags(role string) []string {
	return []string{"--nats-url", s.url, "--user", role, "--password", s.passwords[role], "--inbox-prefix", "_INBOX_" + role}
}

// connect connects as role through jobhooks' connection code; what the
// connection reports asynchronously (permission violations) goes to log.
func (s *secured) connect(t *testing.T, role string, log *jstest.LogBuffer) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := jhjs.Connect(ctx, jhjs.ConnOptions{URLs: []string{s.url}, User: role, Password: s.passwords[role],
		InboxPrefix: "_INBOX_" + role, Name: "test " + role}, slog.New(slog.NewTextHandler(log, nil)))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return nc, js
}

// runCommand runs a long-running command until the test ends, and waits
// until its log says ready.
func runCommand(t *testing.T, ctx context.Context, name, ready string, run func(context.Context, *jstest.LogBuffer) int) *jstest.LogBuffer {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	log := &jstest.LogBuffer{}
	code := make(chan int, 1)
	go func() { code <- run(ctx, log) }()
	t.Cleanup(func() {
		cancel()
		require.Equal(t, cli.ExitOK, <-code, "%s log:\n%s", name, log.String())
	})
	// A refusal fails the test at once, not when the wait ends.
	require.Eventually(t, func() bool {
		return strings.Contains(log.String(), ready) || strings.Contains(log.String(), "Permissions Violation")
	}, time.Minute, 10*time.Millisecond, "%s log:\n%s", name, log.String())
	require.NotContains(t, log.String(), "Permissions Violation", name)
	return log
}

// TestPermissionsFileRolesWorkEndToEnd runs the whole pipeline, each part
// as its role of examples/nats-server.conf: admin writes a hook, the
// publisher publishes a change, the router routes it, the receiver runs
// the job and records it, the operator reads it all back.
func TestPermissionsFileRolesWorkEndToEnd(t *testing.T) {
	s := startSecured(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	routerLog := runCommand(t, ctx, "router", "router ready", func(ctx context.Context, log *jstest.LogBuffer) int {
		return cli.Router(ctx, s.flags("router"), strings.NewReader(""), log, log)
	})
	receiverLog := runCommand(t, ctx, "receiver", "receiver ready", func(ctx context.Context, log *jstest.LogBuffer) int {
		return cli.Receiver(ctx, append(s.flags("receiver"), "--jobs", builtin.JobLog+","+builtin.JobWebhook+","+builtin.JobSerialValidator, "--enable"), log, log)
	})
	// An endpoint that refuses everything: the webhook job fails for good
	// and dead-letters, for the admin to replay.
	var refused atomic.Int32
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refused.Add(1)
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer endpoint.Close()

	admin := func(cmd func(stdout, stderr *jstest.LogBuffer) int) string {
		t.Helper()
		var stdout, stderr jstest.LogBuffer
		require.Equal(t, cli.ExitOK, cmd(&stdout, &stderr), "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		require.NotContains(t, stderr.String(), "Permissions Violation")
		return stdout.String()
	}
	for name, hook := range map[string]string{
		"log-devices": `{"name":"log-devices","job":"log","enabled":true,"content_types":["dcim.device"],"events":["create","update","delete"]}`,
		"to-endpoint": `{"name":"to-endpoint","job":"webhook","enabled":true,"content_types":["dcim.device"],"events":["update"],
			"params":{"url":"` + endpoint.URL + `"}}`,
		"serials": `{"name":"serials","job":"serial-validator","enabled":true,"content_types":["dcim.module"],"events":["update"]}`,
	} {
		hookFile := filepath.Join(t.TempDir(), name+".json")
		require.NoError(t, os.WriteFile(hookFile, []byte(hook), 0o600))
		admin(func(o, e *jstest.LogBuffer) int {
			return cli.Router(ctx, append([]string{"hooks", "put"}, append(s.flags("admin"), hookFile)...), strings.NewReader(""), o, e)
		})
	}
	require.Contains(t, admin(func(o, e *jstest.LogBuffer) int {
		return cli.Router(ctx, append([]string{"hooks", "list"}, s.flags("admin")...), strings.NewReader(""), o, e)
	}), "log-devices")
	admin(func(o, e *jstest.LogBuffer) int {
		return cli.Receiver(ctx, append([]string{"jobs", "enable", builtin.JobLog}, s.flags("admin")...), o, e)
	})
	require.Contains(t, admin(func(o, e *jstest.LogBuffer) int {
		return cli.Receiver(ctx, append([]string{"jobs", "list"}, s.flags("admin")...), o, e)
	}), builtin.JobLog)

	var pubLog jstest.LogBuffer
	_, pubJS := s.connect(t, "publisher", &pubLog)
	_, err := events.NewPublisher(pubJS, "test://permissions").Publish(ctx, deviceUpdate("dev-1", "A", "B"), events.EventOptions{ID: "c1"})
	require.NoError(t, err, "the publisher publishes changes, acks included")

	// The operator reads everything back.
	var opLog jstest.LogBuffer
	_, opJS := s.connect(t, "operator", &opLog)
	results, err := opJS.KeyValue(ctx, jhjs.BucketJobResults)
	require.NoError(t, err)
	key := receiver.ResultKey("log-devices", events.ChangeKey("test://permissions", "c1"))
	require.Eventually(t, func() bool {
		r, err := receiver.NewResults(results).Get(ctx, key)
		return err == nil && r.Status == receiver.StatusCompleted
	}, time.Minute, 10*time.Millisecond, "the job's result, read by the operator\nrouter:\n%s\nreceiver:\n%s", routerLog.String(), receiverLog.String())
	require.Eventually(t, func() bool {
		r, err := receiver.NewResults(results).Get(ctx, receiver.ResultKey("to-endpoint", events.ChangeKey("test://permissions", "c1")))
		return err == nil && r.Status == receiver.StatusFailed
	}, time.Minute, 10*time.Millisecond, "the failed webhook's result\nreceiver:\n%s", receiverLog.String())

	// An invalid change: the router dead-letters it.
	_, err = pubJS.Publish(ctx, "changes.dcim.device.update", []byte("not a change"))
	require.NoError(t, err)
	deadLetters, err := opJS.Stream(ctx, jhjs.StreamDeadLetter)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := deadLetters.GetLastMsgForSubject(ctx, "deadletter.changes")
		return err == nil
	}, time.Minute, 10*time.Millisecond, "the invalid change's dead letter\nrouter:\n%s", routerLog.String())

	// The admin sees the job's dead letter and replays it: the job runs again.
	require.Eventually(t, func() bool {
		var stdout, stderr jstest.LogBuffer
		code := cli.Receiver(ctx, append([]string{"deadletter", "list", "--job", builtin.JobWebhook}, s.flags("admin")...), &stdout, &stderr)
		require.NotContains(t, stderr.String(), "Permissions Violation")
		return code == cli.ExitOK && strings.Contains(stdout.String(), "to-endpoint")
	}, time.Minute, 10*time.Millisecond, "receiver deadletter list")
	admin(func(o, e *jstest.LogBuffer) int {
		return cli.Receiver(ctx, append([]string{"deadletter", "replay", "--all", "--job", builtin.JobWebhook}, s.flags("admin")...), o, e)
	})
	require.Eventually(t, func() bool { return refused.Load() == 2 }, time.Minute, 10*time.Millisecond, "the replayed job ran")

	for _, name := range []string{jhjs.StreamChanges, jhjs.StreamJobs, jhjs.StreamDeadLetter} {
		stream, err := opJS.Stream(ctx, name)
		require.NoError(t, err, "stream info %s", name)
		// The replayed job is dead-lettered again once it has run.
		require.Eventually(t, func() bool {
			info, err := stream.Info(ctx)
			return err == nil && info.State.Msgs > 0
		}, time.Minute, 10*time.Millisecond, name)
		msg, err := stream.GetMsg(ctx, stream.CachedInfo().State.FirstSeq)
		require.NoError(t, err, "message get on %s", name)
		require.NotEmpty(t, msg.Data)
	}
	for stream, consumer := range map[string]string{jhjs.StreamChanges: jhjs.ConsumerRouter, jhjs.StreamJobs: jhjs.ReceiverConsumer(builtin.JobLog)} {
		cons, err := opJS.Consumer(ctx, stream, consumer)
		require.NoError(t, err, "consumer info %s", consumer)
		require.Zero(t, cons.CachedInfo().NumAckPending)
		st, err := opJS.Stream(ctx, stream)
		require.NoError(t, err)
		names := st.ConsumerNames(ctx)
		var all []string
		for n := range names.Name() {
			all = append(all, n)
		}
		require.NoError(t, names.Err())
		require.Contains(t, all, consumer)
	}
	// nats stream view: a consumer of its own, pulled and acked, deleted.
	dl, err := opJS.Stream(ctx, jhjs.StreamDeadLetter)
	require.NoError(t, err)
	pager, err := dl.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "stream_pager_1", AckPolicy: jetstream.AckExplicitPolicy,
		InactiveThreshold: time.Hour, MemoryStorage: true})
	require.NoError(t, err, "nats stream view DEADLETTER")
	batch, err := pager.FetchNoWait(1)
	require.NoError(t, err)
	for msg := range batch.Messages() {
		require.NoError(t, msg.DoubleAck(ctx))
	}
	require.NoError(t, batch.Error())
	require.NoError(t, dl.DeleteConsumer(ctx, "stream_pager_1"))

	var buckets []string
	lister := opJS.KeyValueStoreNames(ctx)
	for name := range lister.Name() {
		buckets = append(buckets, name)
	}
	require.ElementsMatch(t, []string{jhjs.BucketJobHooks, jhjs.BucketJobs, jhjs.BucketJobResults}, buckets, "nats kv ls")
	hooks, err := opJS.KeyValue(ctx, jhjs.BucketJobHooks)
	require.NoError(t, err)
	_, err = hooks.Get(ctx, "log-devices")
	require.NoError(t, err, "nats kv get job_hooks log-devices")
	// Keys without a consumer: nats stream subjects KV_job_hooks.
	hookStream, err := opJS.Stream(ctx, "KV_"+jhjs.BucketJobHooks)
	require.NoError(t, err)
	info, err := hookStream.Info(ctx, jetstream.WithSubjectFilter("$KV."+jhjs.BucketJobHooks+".>"))
	require.NoError(t, err)
	require.Len(t, info.State.Subjects, 3, "the hooks' keys")
	require.Contains(t, info.State.Subjects, "$KV."+jhjs.BucketJobHooks+".log-devices")
	resultKeys, err := results.ListKeys(ctx)
	require.NoError(t, err, "nats kv ls job_results")
	var resultNames []string
	for k := range resultKeys.Keys() {
		resultNames = append(resultNames, k)
	}
	require.Contains(t, resultNames, key)

	// A job publishes a change (the serial-validator reverts a bad serial):
	// the receiver may publish changes.
	module := &events.Change{Action: events.ActionUpdate, ContentType: "dcim.module", ObjectID: "m1",
		PreChange: map[string]any{"serial": "SN-1234"}, PostChange: map[string]any{"serial": "bad serial"}}
	_, err = events.NewPublisher(pubJS, "test://permissions").Publish(ctx, module, events.EventOptions{ID: "m1"})
	require.NoError(t, err)
	changes, err := opJS.Stream(ctx, jhjs.StreamChanges)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		msg, err := changes.GetLastMsgForSubject(ctx, "changes.dcim.module.update")
		return err == nil && msg.Header.Get(events.HeaderPrefix+"source") != "test://permissions"
	}, time.Minute, 10*time.Millisecond, "the serial-validator's fix\nreceiver:\n%s", receiverLog.String())

	// jobhooks' read-only commands work for the operator.
	operator := func(args ...string) string {
		t.Helper()
		var stdout, stderr jstest.LogBuffer
		var code int
		if args[0] == "router" {
			code = cli.Router(ctx, append(args[1:], s.flags("operator")...), strings.NewReader(""), &stdout, &stderr)
		} else {
			code = cli.Receiver(ctx, append(args[1:], s.flags("operator")...), &stdout, &stderr)
		}
		require.Equal(t, cli.ExitOK, code, "%v\nstdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
		require.NotContains(t, stderr.String(), "Permissions Violation")
		return stdout.String()
	}
	require.Contains(t, operator("router", "hooks", "get", "to-endpoint"), "to-endpoint")
	require.Contains(t, operator("router", "deadletter", "list"), "invalid change")
	require.Contains(t, operator("receiver", "results", "list"), "to-endpoint")
	require.Contains(t, operator("receiver", "deadletter", "list"), "to-endpoint")

	// Nobody was refused anything along the way, and no password was
	// written anywhere.
	for name, log := range map[string]*jstest.LogBuffer{"router": routerLog, "receiver": receiverLog, "publisher": &pubLog, "operator": &opLog} {
		require.NotContains(t, strings.ToLower(log.String()), "permissions violation", name)
		for _, pw := range s.passwords {
			require.NotContains(t, log.String(), pw, name)
		}
	}
}

// TestPermissionsFileDenies checks that each role is refused what is not
// its own: the server answers each attempt with a permissions violation,
// and nothing changes.
func TestPermissionsFileDenies(t *testing.T) {
	s := startSecured(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCommand(t, ctx, "router", "router ready", func(ctx context.Context, log *jstest.LogBuffer) int {
		return cli.Router(ctx, s.flags("router"), strings.NewReader(""), log, log)
	})
	runCommand(t, ctx, "receiver", "receiver ready", func(ctx context.Context, log *jstest.LogBuffer) int {
		return cli.Receiver(ctx, append(s.flags("receiver"), "--jobs", builtin.JobLog, "--enable"), log, log)
	})
	var opLog jstest.LogBuffer
	_, opJS := s.connect(t, "operator", &opLog)
	receiverConsumer := jhjs.ReceiverConsumer(builtin.JobLog)
	resultKey := "log-devices.c1"

	for _, tc := range []struct {
		role, what string
		sub        bool // a subscription, not a publish
		subject    string
	}{
		{"publisher", "forge a job message", false, "jobs.log"},
		{"publisher", "write a hook", false, "$KV.job_hooks.evil"},
		{"publisher", "register a job", false, "$KV.jobs.evil"},
		{"publisher", "forge a dead letter", false, "deadletter.jobs.log"},
		{"publisher", "read a job result", false, "$JS.API.DIRECT.GET.KV_job_results.$KV.job_results." + resultKey},
		{"publisher", "read a job result by message get", false, "$JS.API.STREAM.MSG.GET.KV_job_results"},
		{"publisher", "watch job results", false, "$JS.API.CONSUMER.CREATE.KV_job_results.spy.$KV.job_results.>"},
		{"publisher", "steal job messages", false, "$JS.API.CONSUMER.MSG.NEXT.JOBS." + receiverConsumer},
		{"publisher", "create a stream", false, "$JS.API.STREAM.CREATE.EVIL"},
		{"publisher", "look at streams", false, "$JS.API.STREAM.INFO.JOBS"},
		{"publisher", "listen to job results as they are written", true, "$KV.job_results.>"},
		{"publisher", "listen to job messages", true, "jobs.>"},
		{"publisher", "read everyone's replies", true, "_INBOX.>"},
		{"publisher", "read the receiver's replies", true, "_INBOX_receiver.>"},
		{"operator", "write a hook", false, "$KV.job_hooks.evil"},
		{"operator", "delete a hook", false, "$KV.job_hooks.log-devices"},
		{"operator", "enable a job", false, "$KV.jobs.log"},
		{"operator", "publish a change", false, "changes.dcim.device.update"},
		{"operator", "forge a job message", false, "jobs.log"},
		{"operator", "delete a stream", false, "$JS.API.STREAM.DELETE.JOBS"},
		{"operator", "purge a stream", false, "$JS.API.STREAM.PURGE.CHANGES"},
		{"operator", "update a stream", false, "$JS.API.STREAM.UPDATE.CHANGES"},
		{"operator", "delete a message", false, "$JS.API.STREAM.MSG.DELETE.CHANGES"},
		{"operator", "delete a consumer", false, "$JS.API.CONSUMER.DELETE.JOBS." + receiverConsumer},
		{"operator", "update the receiver's consumer", false, "$JS.API.CONSUMER.CREATE.JOBS." + receiverConsumer + ".jobs.log"},
		{"operator", "update the router's consumer the legacy way", false, "$JS.API.CONSUMER.CREATE.CHANGES"},
		{"operator", "pull the receiver's work", false, "$JS.API.CONSUMER.MSG.NEXT.JOBS." + receiverConsumer},
		{"operator", "update the router's watch of the hooks", false, "$JS.API.CONSUMER.CREATE.KV_job_hooks.W1.$KV.job_hooks.>"},
		{"operator", "delete the router's watch of the hooks", false, "$JS.API.CONSUMER.DELETE.KV_job_hooks.W1"},
		{"operator", "update a receiver's watch of the jobs", false, "$JS.API.CONSUMER.CREATE.KV_jobs.W2.$KV.jobs.log"},
		{"operator", "ack the receiver's work", false, "$JS.ACK.JOBS." + receiverConsumer + ".1.1.1.0.0"},
		{"operator", "listen to job messages", true, "jobs.>"},
		{"operator", "read everyone's replies", true, "_INBOX.>"},
		{"receiver", "forge a job message", false, "jobs.log"},
		{"receiver", "write a hook", false, "$KV.job_hooks.evil"},
		{"receiver", "delete a stream", false, "$JS.API.STREAM.DELETE.CHANGES"},
		{"router", "write a hook", false, "$KV.job_hooks.evil"},
		{"router", "write a job result", false, "$KV.job_results.evil"},
		{"admin", "delete a stream", false, "$JS.API.STREAM.DELETE.CHANGES"},
		{"admin", "consume the receiver's work", false, "$JS.API.CONSUMER.MSG.NEXT.JOBS." + receiverConsumer},
		{"operator", "snapshot the hooks", false, "$JS.API.STREAM.SNAPSHOT.KV_job_hooks"},
		{"backup", "read a hook", false, "$JS.API.DIRECT.GET.KV_job_hooks.$KV.job_hooks.log-devices"},
		{"backup", "write a hook", false, "$KV.job_hooks.evil"},
		{"backup", "snapshot the changes", false, "$JS.API.STREAM.SNAPSHOT.CHANGES"},
		{"backup", "restore over the job messages", false, "$JS.API.STREAM.RESTORE.JOBS"},
		{"backup", "delete a bucket", false, "$JS.API.STREAM.DELETE.KV_job_hooks"},
		{"backup", "read everyone's replies", true, "_INBOX.>"},
	} {
		t.Run(tc.role+" may not "+tc.what, func(t *testing.T) {
			errs := make(chan error, 10)
			nc, err := nats.Connect(s.url, nats.UserInfo(tc.role, s.passwords[tc.role]), nats.CustomInboxPrefix("_INBOX_"+tc.role),
				nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
			require.NoError(t, err)
			defer nc.Close()
			kind := "Publish"
			if tc.sub {
				kind = "Subscription"
				_, err = nc.SubscribeSync(tc.subject)
			} else {
				err = nc.PublishRequest(tc.subject, nc.NewRespInbox(), []byte(`{}`))
			}
			require.NoError(t, err)
			require.NoError(t, nc.Flush())
			select {
			case err := <-errs:
				require.ErrorIs(t, err, nats.ErrPermissionViolation)
				require.ErrorContains(t, err, fmt.Sprintf("Permissions Violation for %s to %q", kind, tc.subject))
				require.NotContains(t, err.Error(), s.passwords[tc.role])
			case <-time.After(10 * time.Second):
				// The violation comes before the flush's PONG: long past.
				t.Fatal("no permissions violation")
			}
		})
	}

	// Nothing got through.
	for stream, want := range map[string]uint64{jhjs.StreamJobs: 0, jhjs.StreamDeadLetter: 0, jhjs.StreamChanges: 0} {
		st, err := opJS.Stream(ctx, stream)
		require.NoError(t, err)
		require.Equal(t, want, st.CachedInfo().State.Msgs, stream)
	}
	for _, bucket := range []string{jhjs.BucketJobHooks, jhjs.BucketJobResults} {
		kv, err := opJS.KeyValue(ctx, bucket)
		require.NoError(t, err)
		_, err = kv.Get(ctx, "evil")
		require.ErrorIs(t, err, jetstream.ErrKeyNotFound, bucket)
	}
	cons, err := opJS.Consumer(ctx, jhjs.StreamJobs, receiverConsumer)
	require.NoError(t, err, "the receiver's consumer is still there")
	require.Equal(t, "jobs.log", cons.CachedInfo().Config.FilterSubject)
}

// TestPermissionsFileReceiverBeforeRouter: a receiver may not create the
// streams, so one started before the router stops, saying so, instead of
// waiting forever for an answer that never comes.
func TestPermissionsFileReceiverBeforeRouter(t *testing.T) {
	s := startSecured(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var log jstest.LogBuffer
	code := cli.Receiver(ctx, append(s.flags("receiver"), "--jobs", builtin.JobLog), &log, &log)
	require.NotEqual(t, cli.ExitOK, code)
	require.Contains(t, log.String(), `Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.CHANGES\"`)
	require.Contains(t, log.String(), "start the router first")
	require.NoError(t, ctx.Err(), "it stopped on its own")
}

// TestPermissionsFileBackupRestoresTheBuckets: the backup user snapshots
// job_hooks on one server and restores it into a new one (the JetStream
// API calls behind nats backup stream / nats backup restore stream), where
// the router then finds the hook.
func TestPermissionsFileBackupRestoresTheBuckets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Random params, so that the snapshot is several chunks, each acknowledged.
	blob := make([]byte, 8<<10)
	_, _ = rand.Read(blob)
	hook := []byte(`{"name":"log-devices","job":"log","enabled":true,"content_types":["dcim.device"],"events":["create"],"params":{"blob":"` +
		hex.EncodeToString(blob) + `"}}`)

	s := startSecured(t)
	runCommand(t, ctx, "router", "router ready", func(ctx context.Context, log *jstest.LogBuffer) int {
		return cli.Router(ctx, s.flags("router"), strings.NewReader(""), log, log)
	})
	var adminLog jstest.LogBuffer
	_, adminJS := s.connect(t, "admin", &adminLog)
	hooks, err := adminJS.KeyValue(ctx, jhjs.BucketJobHooks)
	require.NoError(t, err)
	_, err = hooks.Put(ctx, "log-devices", hook)
	require.NoError(t, err)

	var backupLog jstest.LogBuffer
	nc, _ := s.connect(t, "backup", &backupLog)
	snap := snapshotStream(t, nc, "KV_job_hooks")
	require.Greater(t, len(snap.chunks), 2)

	// A new server, restored before its router starts.
	s2 := startSecured(t)
	nc2, _ := s2.connect(t, "backup", &backupLog)
	restoreStream(t, nc2, "KV_job_hooks", snap)
	require.NotContains(t, backupLog.String(), "Permissions Violation")

	var opLog jstest.LogBuffer
	_, opJS := s2.connect(t, "operator", &opLog)
	restored, err := opJS.KeyValue(ctx, jhjs.BucketJobHooks)
	require.NoError(t, err)
	e, err := restored.Get(ctx, "log-devices")
	require.NoError(t, err)
	require.Equal(t, hook, e.Value())
	log := runCommand(t, ctx, "router on the restored server", "router ready", func(ctx context.Context, log *jstest.LogBuffer) int {
		return cli.Router(ctx, s2.flags("router"), strings.NewReader(""), log, log)
	})
	require.Contains(t, log.String(), "hooks=1")
}

// snapshot is a stream's snapshot as the server sends it: its config and
// state, and the archive's chunks.
type snapshot struct {
	Config json.RawMessage `json:"config"`
	State  json.RawMessage `json:"state"`
	chunks [][]byte
}

// snapshotStream takes a snapshot of stream: $JS.API.STREAM.SNAPSHOT, then
// the chunks on a deliver subject of the user's inbox, each acknowledged
// on its reply subject ($JS.SNAPSHOT.ACK...), until an empty one.
func snapshotStream(t *testing.T, nc *nats.Conn, stream string) *snapshot {
	t.Helper()
	deliver := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(deliver)
	require.NoError(t, err)
	defer sub.Unsubscribe()
	req, err := json.Marshal(map[string]any{"deliver_subject": deliver, "chunk_size": 1024})
	require.NoError(t, err)
	resp, err := nc.Request("$JS.API.STREAM.SNAPSHOT."+stream, req, 10*time.Second)
	require.NoError(t, err)
	var snap snapshot
	require.NoError(t, json.Unmarshal(resp.Data, &snap), string(resp.Data))
	require.NotEmpty(t, snap.Config, string(resp.Data))
	for {
		m, err := sub.NextMsg(10 * time.Second)
		require.NoError(t, err)
		if len(m.Data) == 0 { // the end: status 204, or why it failed
			require.Contains(t, []string{"", "204"}, m.Header.Get("Status"), "the snapshot failed: %v", m.Header)
			return &snap
		}
		snap.chunks = append(snap.chunks, m.Data)
		if m.Reply != "" { // the last chunk has none
			require.NoError(t, m.Respond(nil))
		}
	}
}

// restoreStream restores snap as stream: $JS.API.STREAM.RESTORE, then
// each chunk, and an empty one, as requests to the subject it answered
// ($JS.SNAPSHOT.RESTORE...).
func restoreStream(t *testing.T, nc *nats.Conn, stream string, snap *snapshot) {
	t.Helper()
	req, err := json.Marshal(snap)
	require.NoError(t, err)
	resp, err := nc.Request("$JS.API.STREAM.RESTORE."+stream, req, 10*time.Second)
	require.NoError(t, err)
	var restore struct {
		DeliverSubject string `json:"deliver_subject"`
	}
	require.NoError(t, json.Unmarshal(resp.Data, &restore))
	require.NotEmpty(t, restore.DeliverSubject, string(resp.Data))
	for _, chunk := range append(snap.chunks, nil) {
		resp, err := nc.Request(restore.DeliverSubject, chunk, 10*time.Second)
		require.NoError(t, err)
		require.NotContains(t, string(resp.Data), `"error"`)
	}
}
