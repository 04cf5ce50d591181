package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callbrief/callbrief/store/redistest"
)

// TestServeRedisPersistence: a node on a Redis without the append-only
// file says so loudly at start and in readyz; on a durable one readyz
// says its writes survive a crash.
func TestServeRedisPersistence(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts redistest.Options
		want string
		loud bool
	}{
		{"appendonly no", redistest.Options{NoAppendOnly: true}, `"appendonly":"no"`, true},
		{"appendonly yes", redistest.Options{}, `"appendfsync":"always"`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := redistest.StartWith(t, tc.opts)
			ls := startLive(t, "--set", "store.redis_addr="+rd.Addr, "--set", "store.secret=node-shared-store-secret",
				"--set", "desk.secret=node-shared-desk-secret", "--set", "log.level=info")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var body map[string]any
			code, err := ls.do(ctx, http.MethodGet, "/readyz", "", nil, &body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(body["store_persistence"])
			if code != http.StatusOK || !strings.Contains(string(b), tc.want) {
				t.Errorf("readyz %d: store_persistence %s, want %s", code, b, tc.want)
			}
			if loud := strings.Contains(ls.stderr.String(), "REDIS PERSISTENCE IS OFF"); loud != tc.loud {
				t.Errorf("loud warning logged: %v, want %v", loud, tc.loud)
			}
		})
	}
}
