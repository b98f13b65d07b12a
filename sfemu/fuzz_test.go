package sfemu

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzCometD feeds arbitrary bodies to the CometD endpoint of a session that exists: every answer must be an
// HTTP answer, never a panic; held long polls end with their request's context. The seeds run as a normal test.
func FuzzCometD(f *testing.F) {
	seeds := []string{
		`[{"channel":"/meta/subscribe","clientId":"CID","subscription":["/a","/b"],"id":{"x":1}}]`,
		`[{"channel":"/meta/subscribe","clientId":"CID","subscription":"/event/E__e","ext":"nope"}]`,
		`[{"channel":"/meta/subscribe","clientId":"CID","subscription":"/event/E__e","ext":{"replay":[1]}}]`,
		`[{"channel":"/meta/subscribe","clientId":"CID","subscription":"/event/E__e","ext":{"replay":{"/event/E__e":1e99}}}]`,
		`[{"channel":"/meta/subscribe","clientId":"CID","subscription":"/topic/T?%zz","ext":{"replay":{"/topic/T":-1}}}]`,
		`[{"channel":"/meta/subscribe","clientId":"CID","subscription":"/topic/T?a=1&a=2&b=\u2028"}]`,
		`[{"channel":"/meta/connect","clientId":"CID","connectionType":"long-polling","advice":{"timeout":1e308}}]`,
		`[{"channel":"/meta/connect","clientId":"CID","connectionType":"long-polling","advice":{"timeout":-1}}]`,
		`[{"channel":"/meta/connect","clientId":"CID","connectionType":"websocket"}]`,
		`[{"channel":"/meta/connect","clientId":"CID","connectionType":"long-polling","advice":{"timeout":0}},{"channel":"/meta/connect","clientId":"CID","connectionType":"long-polling","advice":{"timeout":0}}]`,
		`[{"channel":"/meta/handshake","supportedConnectionTypes":["websocket"]}]`,
		`[{"channel":"/meta/unsubscribe","clientId":"CID"}]`,
		`[{"channel":"/meta/disconnect","clientId":"nope"}]`,
		`[null, 1, "x", []]`,
		`{"channel":"/meta/handshake","id":"\ud800"}`,
		"\xff\xfe",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	s, c, h := benchSession(f)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/cometd/64.0", strings.NewReader(strings.ReplaceAll(body, "CID", c)))
		req.Header = h.Clone()
		ctx, cancel := contextWithTimeout(200 * time.Millisecond)
		defer cancel()
		req = req.WithContext(ctx)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError { // what the last-resort recover answers
			t.Fatalf("handler panicked on %q: %s", body, rec.Body)
		}
	})
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
