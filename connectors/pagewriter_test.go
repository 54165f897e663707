package connectors

import (
	"context"
	"errors"
	"testing"
)

// TestPageWriter merges the outcomes of pages written in the background
// into the sync's result and hands back the error that ends the sync.
func TestPageWriter(t *testing.T) {
	t.Parallel()
	boom := errors.New("database gone")
	write := func(_ context.Context, r *SyncResult, page []string) error {
		for _, id := range page {
			switch id {
			case "bad":
				if err := r.Track(id, &RecordError{SourceID: id, Message: "refused"}); err != nil {
					return err
				}
			case "fatal":
				return boom
			default:
				if err := r.Track(id, nil); err != nil {
					return err
				}
			}
		}
		return nil
	}
	tests := []struct {
		name           string
		pages          [][]string
		synced, failed int
		wantErr        error
	}{
		{"pages", [][]string{{"a", "b"}, {"c"}, nil, {"bad", "d"}}, 4, 1, nil},
		{"fatal page", [][]string{{"a"}, {"fatal"}, {"b"}}, 1, 0, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var res SyncResult
			res.Skip() // the connector's own counts stay
			w := NewPageWriter(context.Background(), &res, write)
			var err error
			for _, p := range tt.pages {
				if err = w.Write(p); err != nil {
					break
				}
			}
			if werr := w.Wait(); err == nil {
				err = werr
			}
			if !errors.Is(err, tt.wantErr) || res.RecordsSynced != tt.synced || res.RecordsFailed != tt.failed ||
				res.RecordsSkipped != 1 || len(res.Failures) != tt.failed {
				t.Fatalf("result %+v, error %v", res, err)
			}
			if w.Wait() != nil {
				t.Fatal("a second Wait returned an error")
			}
		})
	}
}
