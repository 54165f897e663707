package connectors

import (
	"context"
	"slices"
	"time"

	"sentryhub/store"
)

// StreamInfo is one poll stream of a connector that declares its streams
// (manifest connectors do): the sync type it feeds and its own schedule.
type StreamInfo struct {
	Key      string `json:"key"`
	SyncType string `json:"sync_type"`
	// Schedule is an interval ("15m") or a cron expression; empty means the
	// stream runs on the connection's schedule of its sync type.
	Schedule string `json:"schedule,omitempty"`
}

// StreamLister is a connector whose syncs are made of named streams. The
// scheduler runs a stream with a schedule of its own when it is due, as a
// run of its sync type limited to the due streams (see RunOptions.Streams).
type StreamLister interface {
	Streams() []StreamInfo
}

type streamsKey struct{}

// WithStreams limits the sync run in ctx to the named streams; nil means
// every stream of the sync type.
func WithStreams(ctx context.Context, streams []string) context.Context {
	if len(streams) == 0 {
		return ctx
	}
	return context.WithValue(ctx, streamsKey{}, slices.Clone(streams))
}

// StreamWanted reports whether the sync run in ctx includes stream key: a
// connector made of streams skips the others.
func StreamWanted(ctx context.Context, key string) bool {
	only, ok := ctx.Value(streamsKey{}).([]string)
	return !ok || slices.Contains(only, key)
}

// StreamStatus is one stream of a connection: its own schedule's next and
// last scheduled run (none until the scheduler first sees the connection,
// or when it follows the connection's schedule), and whether a disabled
// connection schedule of its type pauses it.
type StreamStatus struct {
	StreamInfo
	NextRunAt *time.Time `json:"next_run_at,omitempty"`
	LastRunAt *time.Time `json:"last_run_at,omitempty"`
	Paused    bool       `json:"paused,omitempty"`
}

func streamStatus(ctx context.Context, db *store.DB, info Info, warehouseID int64, schedules []store.ConnectorSchedule) ([]StreamStatus, error) {
	if len(info.Streams) == 0 {
		return nil, nil
	}
	rows, err := db.ListStreamSchedules(ctx, info.Name, warehouseID)
	if err != nil {
		return nil, err
	}
	out := make([]StreamStatus, 0, len(info.Streams))
	for _, st := range info.Streams {
		ss := StreamStatus{StreamInfo: st}
		for _, sc := range schedules {
			if sc.SyncType == st.SyncType && !sc.Enabled && st.Schedule != "" {
				ss.Paused = true
			}
		}
		for _, r := range rows {
			if r.Connector == info.Name && r.WarehouseID == warehouseID && r.Stream == st.Key && r.Schedule == st.Schedule && st.Schedule != "" {
				next := r.NextRunAt
				ss.NextRunAt, ss.LastRunAt = &next, r.LastRunAt
			}
		}
		out = append(out, ss)
	}
	return out, nil
}
