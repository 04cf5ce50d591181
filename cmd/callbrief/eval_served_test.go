package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestEvalServedErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"eval", "served", "--mode", "text", "--out", dir}, 2, "not upload, live or both"},
		{[]string{"eval", "served", "--data", filepath.Join(dir, "none"), "--out", dir}, 1, "no such file"},
		{[]string{"eval", "served", "--data", "../../data/evals/served", "--tags", "no-such-tag", "--out", dir}, 1, "no scenarios"},
		{[]string{"eval", "served", "--data", "../../data/evals/served", "--tags", "ci", "--bin", filepath.Join(dir, "callbrief"), "--out", dir}, 1, "make build"},
	} {
		// Every case writes its report to the test's folder, never into
		// the source tree.
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}
