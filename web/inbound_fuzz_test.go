package web

import (
	"errors"
	"testing"

	"sentryhub/mapping"
)

// FuzzParsePushBody holds the push body parser to its contract on any
// input: a 400 *Error or documents that are each one JSON object, at most
// maxPushDocs of them, and a single document only for a non-batch.
func FuzzParsePushBody(f *testing.F) {
	for _, s := range []string{`{}`, `[{}]`, `[{"a":1},{"b":[1,2]}]`, `[]`, `[1]`, `{"a":1,"a":2}`, `{} x`,
		`[{},]`, `  [ { "k" : "v" } ]  `, "{\"\xff\":1}", `[{"n":1e400}]`, `{"x":"\ud800"}`, `[[]]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pb, err := parsePushBody(body)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) || we.Status != 400 || we.Message == "" {
				t.Fatalf("error %v is not a 400 naming the problem", err)
			}
			return
		}
		if len(pb.docs) == 0 || len(pb.docs) > maxPushDocs || (!pb.batch && len(pb.docs) != 1) {
			t.Fatalf("%d documents (batch %v)", len(pb.docs), pb.batch)
		}
		for i, d := range pb.docs {
			v, err := mapping.Decode(d)
			if err != nil {
				t.Fatalf("document %d %q does not decode: %v", i, d, err)
			}
			if _, ok := v.(map[string]any); !ok {
				t.Fatalf("document %d %q is not an object", i, d)
			}
		}
	})
}
