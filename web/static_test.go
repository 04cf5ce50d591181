package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

// TestStaticNonsensePaths: a path no file could have is a 404, not the
// file server's 500; real files are still served.
func TestStaticNonsensePaths(t *testing.T) {
	h := Static(fstest.MapFS{"app.js": {Data: []byte("x")}})
	for path, want := range map[string]int{
		"/app.js": http.StatusOK, "/%93": http.StatusNotFound, "/api/calls/%93/x": http.StatusNotFound,
		"/a%00b": http.StatusNotFound, "/nope": http.StatusNotFound,
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}
