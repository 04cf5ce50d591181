package web

import (
	"io/fs"
	"net/http"
	"strings"
)

// Static serves fsys's files like http.FileServerFS, except that a path no
// file could have (invalid UTF-8, a NUL, ".." left after cleaning) is a
// 404: the file server answers those 500, which says "our fault" to a
// client that sent nonsense.
func Static(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		name = strings.TrimSuffix(name, "/")
		if name != "" && !fs.ValidPath(name) || strings.ContainsRune(name, 0) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
