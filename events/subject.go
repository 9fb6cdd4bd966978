package events

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidSubject is returned for a subject that does not follow the
// contract's layout.
var ErrInvalidSubject = errors.New("invalid subject")

// Subject prefixes and fixed subjects of the contract.
const (
	ChangesPrefix     = "changes"
	JobsPrefix        = "jobs"
	DeadLetterPrefix  = "deadletter"
	DeadLetterChanges = DeadLetterPrefix + ".changes"
)

// ChangeSubject returns changes.<app_label>.<model>.<action>.
func ChangeSubject(contentType string, action Action) (string, error) {
	if err := ValidateContentType(contentType); err != nil {
		return "", err
	}
	if !action.Valid() {
		_, err := ParseAction(string(action))
		return "", err
	}
	return ChangesPrefix + "." + contentType + "." + string(action), nil
}

// ParseChangeSubject splits changes.<app_label>.<model>.<action> into its
// content type and action. It allocates nothing (the content type is a
// substring of subject): the router parses every change's subject.
func ParseChangeSubject(subject string) (contentType string, action Action, err error) {
	rest, ok := strings.CutPrefix(subject, ChangesPrefix+".")
	last := strings.LastIndexByte(rest, '.')
	if !ok || last < 0 || strings.Count(rest, ".") != 2 {
		return "", "", fmt.Errorf("%w %q: want changes.<app_label>.<model>.<action>", ErrInvalidSubject, subject)
	}
	contentType = rest[:last]
	if err := ValidateContentType(contentType); err != nil {
		return "", "", fmt.Errorf("%w %q: %w", ErrInvalidSubject, subject, err)
	}
	if action, err = ParseAction(rest[last+1:]); err != nil {
		return "", "", fmt.Errorf("%w %q: %w", ErrInvalidSubject, subject, err)
	}
	return contentType, action, nil
}

// JobSubject returns jobs.<job>.
func JobSubject(job string) (string, error) {
	if err := ValidateJobName(job); err != nil {
		return "", err
	}
	return JobsPrefix + "." + job, nil
}

// ParseJobSubject returns the job of jobs.<job>.
func ParseJobSubject(subject string) (string, error) {
	job, ok := strings.CutPrefix(subject, JobsPrefix+".")
	if !ok {
		return "", fmt.Errorf("%w %q: want jobs.<job>", ErrInvalidSubject, subject)
	}
	if err := ValidateJobName(job); err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrInvalidSubject, subject, err)
	}
	return job, nil
}

// DeadLetterJobSubject returns deadletter.jobs.<job>, where a job's messages
// go once they have exhausted their attempts.
func DeadLetterJobSubject(job string) (string, error) {
	if err := ValidateJobName(job); err != nil {
		return "", err
	}
	return DeadLetterPrefix + ".jobs." + job, nil
}
