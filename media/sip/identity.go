package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/callbrief/callbrief/call"
)

// callerOf reads who is calling from the trunk's configured header. A
// P-Asserted-Identity or Remote-Party-ID is believed only from a trusted
// trunk (RFC 3325: anyone upstream can write one); from any other the
// From number is taken, as the caller's claim.
func (s *Server) callerOf(req *sip.Request, t *Trunk, dialled string, line call.Language) Caller {
	c := Caller{Trunk: t.Name, Trusted: t.Trusted, Dialled: dialled, Line: line, Header: "From"}
	want := strings.ToLower(t.NumberHeader)
	if t.Trusted {
		switch want {
		case "p-asserted-identity":
			for _, h := range req.GetHeaders("P-Asserted-Identity") {
				// Several may be given (a sip: and a tel: URI); the first
				// with a number wins.
				for _, v := range splitAddresses(h.Value()) {
					if n := NumberOf(v); n != "" {
						c.Number, c.Header = n, "P-Asserted-Identity"
						return c
					}
				}
			}
		case "remote-party-id":
			for _, h := range req.GetHeaders("Remote-Party-ID") {
				for _, v := range splitAddresses(h.Value()) {
					if p := paramOf(v, "party"); p != "" && !strings.EqualFold(p, "calling") {
						continue
					}
					if n := NumberOf(v); n != "" {
						c.Number, c.Header = n, "Remote-Party-ID"
						return c
					}
				}
			}
		}
	}
	if want != "" && want != "from" && t.Trusted {
		// The configured header was missing: the From number is no
		// better than a claim even on a trusted trunk.
		c.Trusted = false
	}
	if f := req.From(); f != nil {
		c.Number = NumberOf(f.Value())
	}
	return c
}

// splitAddresses splits a header value holding several comma-separated
// name-addrs, leaving commas inside quotes and <> alone.
func splitAddresses(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch ch := v[i]; {
		case ch == '"' && (i == 0 || v[i-1] != '\\'):
			quoted = !quoted
		case quoted:
		case ch == '<':
			depth++
		case ch == '>':
			depth--
		case ch == ',' && depth <= 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// paramOf returns a header parameter (after the URI's >) of a name-addr.
func paramOf(v, name string) string {
	if i := strings.LastIndexByte(v, '>'); i >= 0 {
		v = v[i+1:]
	}
	for _, p := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.Trim(strings.TrimSpace(val), `"`)
		}
	}
	return ""
}

// NumberOf extracts the telephone number of a From, P-Asserted-Identity
// or Remote-Party-ID value ("Name" <sip:+8613812345678@host;user=phone>,
// <tel:+852-2345-6789>, sip:100@pbx): the user part of a sip or sips URI
// or the number of a tel URI, visual separators removed. It is empty for
// anonymous callers and anything that is not a number (a name, a
// hostile string): only digits, with an optional leading +, come out.
func NumberOf(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return ""
		}
		v = v[i+1 : i+j]
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i] // addr-spec without <>: header params follow
	}
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok {
		return ""
	}
	switch strings.ToLower(strings.TrimSpace(scheme)) {
	case "sip", "sips":
		user, _, ok := strings.Cut(rest, "@")
		if !ok {
			return ""
		}
		rest = user
	case "tel":
	default:
		return ""
	}
	if i := strings.IndexAny(rest, ";?"); i >= 0 {
		rest = rest[:i]
	}
	var b strings.Builder
	for i, r := range rest {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '(' || r == ')' || r == ' ':
		default:
			return "" // a name or an escape: not a number
		}
	}
	n := b.String()
	if len(strings.TrimPrefix(n, "+")) < 3 || len(n) > 20 {
		return ""
	}
	return n
}
