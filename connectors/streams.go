package connectors

import (
	"context"
	"slices"
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
