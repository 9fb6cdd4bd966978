package builtin

import "github.com/jobhooks/jobhooks/receiver"

// Job names.
const (
	JobLog             = "log"
	JobSerialValidator = "serial-validator"
)

// Names returns the built-in jobs' names.
func Names() []string { return []string{JobLog, JobSerialValidator} }

// Register registers every built-in job in reg. They are registered
// disabled, like new jobs in Nautobot: enable them with
// `receiver jobs enable NAME` (or start the receiver with --enable).
func Register(reg *receiver.Registry) {
	reg.Handle(JobLog, receiver.JobInfo{
		Description: "logs each change and its differences",
	}, receiver.ReceiverFunc(Log))
	reg.Handle(JobSerialValidator, receiver.JobInfo{
		Description: "reverts invalid device serials (params: {\"pattern\": REGEXP}, default " + DefaultSerialPattern + ")",
	}, SerialValidator{})
}
