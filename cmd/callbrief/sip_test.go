package main

import (
	"testing"

	"github.com/callbrief/callbrief/media/sip"
)

// TestPipelineNumber: a number only the caller claims never reaches the
// pipeline, where it could match an account.
func TestPipelineNumber(t *testing.T) {
	for _, c := range []struct {
		cl   sip.Caller
		want string
	}{
		{sip.Caller{Number: "+8613812345678", Header: "P-Asserted-Identity", Trusted: true}, "+8613812345678"},
		{sip.Caller{Number: "+8613812345678", Header: "From", Trusted: false}, ""},
		{sip.Caller{Number: "", Header: "From", Trusted: true}, ""},
	} {
		if got := pipelineNumber(c.cl); got != c.want {
			t.Errorf("%+v: %q, want %q", c.cl, got, c.want)
		}
	}
}
