package jetstream

// Streams of the contract.
const (
	StreamChanges    = "CHANGES"
	StreamJobs       = "JOBS"
	StreamDeadLetter = "DEADLETTER"
)

// KV buckets of the contract.
const (
	BucketJobHooks   = "job_hooks"
	BucketJobs       = "jobs"
	BucketJobResults = "job_results"
)

// Durable consumers of the contract.
const (
	ConsumerRouter         = "router"
	ConsumerReceiverPrefix = "receiver-"
)

// ReceiverConsumer returns the durable consumer name of a job's receivers,
// receiver-<job>.
func ReceiverConsumer(job string) string { return ConsumerReceiverPrefix + job }
