package builtin

import (
	"encoding/json"

	"github.com/jobhooks/jobhooks/receiver"
)

// Job names.
const (
	JobLog             = "log"
	JobSerialValidator = "serial-validator"
	JobWebhook         = "webhook"
)

// Names returns the built-in jobs' names.
func Names() []string { return []string{JobLog, JobSerialValidator, JobWebhook} }

// Register registers every built-in job in reg. They are registered
// disabled, like new jobs in Nautobot: enable them with
// `receiver jobs enable NAME` (or start the receiver with --enable).
func Register(reg *receiver.Registry) {
	reg.Handle(JobLog, receiver.JobInfo{
		Description:  "logs each change and its differences",
		ParamsSchema: LogParamsSchema,
	}, receiver.ReceiverFunc(Log))
	reg.Handle(JobSerialValidator, receiver.JobInfo{
		Description:  "reverts invalid device serials (params: {\"pattern\": REGEXP}, default " + DefaultSerialPattern + ")",
		ParamsSchema: SerialParamsSchema,
		CheckParams:  CheckSerialParams,
	}, SerialValidator{})
	reg.Handle(JobWebhook, receiver.JobInfo{
		Description:  "delivers each change to params.url with NetBox's webhook payload (see docs/webhook-job.md)",
		ParamsSchema: json.RawMessage(WebhookParamsSchema),
		CheckParams:  CheckWebhookParams,
	}, Webhook{})
}
