package router

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobhooks/jobhooks/conditions"
	"github.com/jobhooks/jobhooks/events"
	"github.com/jobhooks/jobhooks/hookconfig"
)

// Filter reasons: the reason label of jobhooks_router_hook_filtered_total,
// why a hook that matched a change's object type and action did not fire.
const (
	FilterNoop          = "noop"           // an update without differences, and the hook skips no-ops
	FilterChangedFields = "changed_fields" // an update that changed none of the hook's changed_fields
	FilterCondition     = "condition"      // the hook's conditions are not met (or cannot be evaluated)
)

// filterReason indexes a hook's filter counters; filterNone: it fires.
type filterReason uint8

const (
	filterNoop filterReason = iota
	filterChangedFields
	filterCondition
	numFilters
	filterNone = numFilters
)

func (f filterReason) label() string {
	switch f {
	case filterNoop:
		return FilterNoop
	case filterChangedFields:
		return FilterChangedFields
	default:
		return FilterCondition
	}
}

// FilterCounts counts the changes a hook matched by object type and action
// but did not fire for, by the filter that stopped it.
type FilterCounts struct {
	Noop          uint64 // skip_noop: an update without differences
	ChangedFields uint64 // changed_fields: none of them changed
	Condition     uint64 // conditions: not met, or one could not be evaluated
}

// hookFilters are one hook's filter counters and their metric children,
// resolved once per hook, and when a condition that could not be evaluated was last
// logged.
type hookFilters struct {
	counts  [numFilters]atomic.Uint64
	metrics [numFilters]prometheus.Counter // nil: no metrics
	warned  atomic.Int64                   // unix nanoseconds of the last warning
}

// filterTable holds the hookFilters of every hook that filtered a change.
type filterTable struct {
	byHook sync.Map // hook name → *hookFilters
	vec    *prometheus.CounterVec
}

func (t *filterTable) of(hook string) *hookFilters {
	if f, ok := t.byHook.Load(hook); ok {
		return f.(*hookFilters)
	}
	f := &hookFilters{}
	if t.vec != nil {
		for r := range numFilters {
			f.metrics[r] = t.vec.WithLabelValues(hook, r.label())
		}
	}
	actual, _ := t.byHook.LoadOrStore(hook, f)
	return actual.(*hookFilters)
}

func (t *filterTable) counts() map[string]FilterCounts {
	out := map[string]FilterCounts{}
	t.byHook.Range(func(k, v any) bool {
		f := v.(*hookFilters)
		out[k.(string)] = FilterCounts{Noop: f.counts[filterNoop].Load(),
			ChangedFields: f.counts[filterChangedFields].Load(), Condition: f.counts[filterCondition].Load()}
		return true
	})
	return out
}

// changeView is what the filters of a change's hooks read, each part
// worked out once per change, by the first hook that needs it: whether the
// update has differences, the change decoded in full (for conditions, or
// for differences its snapshots as they arrived cannot tell), and its
// Snapshots differences. changed_fields are compared per hook, from the
// snapshots as they arrived (no allocation) or from those differences.
type changeView struct {
	head    *events.ChangeHead
	differs int8 // 0: not known yet, 1: no differences, 2: differences
	change  *events.Change
	diff    *events.Differences
}

func (v *changeView) hasDifferences() (bool, error) {
	if v.differs == 0 {
		d, err := v.differsIn()
		if err != nil {
			return false, err
		}
		v.differs = 1
		if d {
			v.differs = 2
		}
	}
	return v.differs == 2, nil
}

// differsIn is head.Differs(keys...), the change decoded and its
// differences worked out at most once.
func (v *changeView) differsIn(keys ...string) (bool, error) {
	if v.diff == nil {
		if d, ok := v.head.DiffersRaw(keys...); ok {
			return d, nil
		}
		c, err := v.decoded()
		if err != nil {
			return false, err
		}
		d := c.Snapshots().Differences
		v.diff = &d
	}
	return events.DiffersIn(*v.diff, keys...), nil
}

func (v *changeView) decoded() (*events.Change, error) {
	if v.change == nil {
		c, err := v.head.Change()
		if err != nil {
			return nil, err
		}
		v.change = c
	}
	return v.change, nil
}

// Evaluate says whether the change of head fires hook h as its filters
// (skip_noop, changed_fields, conditions) decide, and, when not, which
// one stopped it and, for conditions, the Failure. It is what the router
// does for each hook a change matches, for `router hooks test`.
func Evaluate(h *hookconfig.Hook, head *events.ChangeHead) (fires bool, reason string, failure conditions.Failure, err error) {
	r, f, err := evaluate(h, &changeView{head: head})
	if err != nil || r == filterNone {
		return err == nil, "", conditions.Failure{}, err
	}
	return false, r.label(), f, nil
}

// evaluate applies h's filters to the change of v: filterNone when the hook
// fires. An update is checked for differences first (skip_noop), then for
// changed_fields; conditions apply to every action.
func evaluate(h *hookconfig.Hook, v *changeView) (filterReason, conditions.Failure, error) {
	if v.head.Action == events.ActionUpdate {
		if h.SkipsNoop() {
			d, err := v.hasDifferences()
			if err != nil {
				return filterNone, conditions.Failure{}, fmt.Errorf("compare the snapshots for hook %s: %w", h.Name, err)
			}
			if !d {
				return filterNoop, conditions.Failure{}, nil
			}
		}
		if h.ChangedFields != nil {
			d, err := v.differsIn(h.ChangedFields...)
			if err != nil {
				return filterNone, conditions.Failure{}, fmt.Errorf("compare the snapshots for hook %s: %w", h.Name, err)
			}
			if !d {
				return filterChangedFields, conditions.Failure{}, nil
			}
		}
	}
	if len(h.Conditions) == 0 {
		return filterNone, conditions.Failure{}, nil
	}
	set := h.ConditionSet()
	if set == nil {
		// Conditions not compiled (a hook not validated; the watcher
		// validates every hook it loads): fail closed, never fire on
		// every change.
		return filterCondition, conditions.Failure{}, nil
	}
	if set.Empty() {
		return filterNone, conditions.Failure{}, nil // "conditions": {} or null: no decode
	}
	c, err := v.decoded()
	if err != nil {
		return filterNone, conditions.Failure{}, fmt.Errorf("decode the change for the conditions of hook %s: %w", h.Name, err)
	}
	if ok, f := set.Eval(conditions.Input{Data: c.Data, Pre: c.PreChange, Post: c.PostChange}); !ok {
		return filterCondition, f, nil
	}
	return filterNone, conditions.Failure{}, nil
}

// filtered counts hook h's filter reason for a change and logs, at most once
// a minute per hook, a condition that could not be evaluated (Invalid: its
// attr did not resolve, or its value had the wrong type for its op).
func (r *Router) filtered(h *hookconfig.Hook, reason filterReason, f conditions.Failure, changeID, subject string) {
	hf := r.filters.of(h.Name)
	hf.counts[reason].Add(1)
	if m := hf.metrics[reason]; m != nil {
		m.Inc()
	}
	if reason != filterCondition || !f.Invalid() {
		if r.log.Enabled(context.Background(), slog.LevelDebug) {
			r.log.Debug("hook filtered the change out", "change_id", changeID, "subject", subject, "hook", h.Name, "filter", reason.label())
		}
		return
	}
	now := time.Now().UnixNano()
	last := hf.warned.Load()
	if (last != 0 && now-last < int64(time.Minute)) || !hf.warned.CompareAndSwap(last, now) {
		return
	}
	r.log.Warn("hook condition cannot be evaluated: the hook does not fire (logged once a minute per hook)",
		"change_id", changeID, "subject", subject, "hook", h.Name, "failure", f.String())
}
