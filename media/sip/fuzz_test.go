package sip

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode"
)

// FuzzParseSDPOffer: any body is refused with an error or yields a usable
// offer (a codec we decode, a port, an answer that parses back).
func FuzzParseSDPOffer(f *testing.F) {
	f.Add(strings.ReplaceAll(offerPCMU, "%d", "4000"))
	f.Add("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n")
	f.Add("v=0\r\nm=audio 0 RTP/AVP 0\r\n")
	f.Add("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n")
	f.Add("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5004 RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
	f.Add("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5004 RTP/AVP 96 0\r\na=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n")
	f.Fuzz(func(t *testing.T, body string) {
		o, err := parseOffer([]byte(body), nil)
		if err != nil {
			return
		}
		if _, ok := codecs[o.codec]; !ok || o.addr.Port() == 0 || !o.addr.Addr().IsValid() {
			t.Fatalf("offer %+v from %q", o, body)
		}
		ans := answerSDP(o, netip.MustParseAddr("127.0.0.1"), 20000, 1, 1)
		back, err := parseOffer(ans, nil)
		if err != nil || back.codec != o.codec || back.pt != o.pt {
			t.Fatalf("our answer %q does not parse back: %v %+v", ans, err, back)
		}
	})
}

// FuzzNumberOf: only digits with an optional leading + come out.
func FuzzNumberOf(f *testing.F) {
	for _, s := range []string{`"A" <sip:+8613812345678@h;user=phone>`, "<tel:+852-2345-6789>", "sip:100@pbx", `"Anonymous" <sip:anonymous@anonymous.invalid>`,
		"<sip:%2B123@h>", "sip:+1(555)0100@h;tag=x", "<sip:a@b", `"x,y" <sip:123@h>, <tel:456>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n := NumberOf(v)
		for i, r := range n {
			if !unicode.IsDigit(r) && !(r == '+' && i == 0) || r > unicode.MaxASCII {
				t.Fatalf("NumberOf(%q) = %q", v, n)
			}
		}
		for _, a := range splitAddresses(v) {
			_ = NumberOf(a)
			_ = paramOf(a, "party")
		}
	})
}

// FuzzInfoKey: an INFO body is a key or an error, never a panic.
func FuzzInfoKey(f *testing.F) {
	f.Add("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n")
	f.Add("application/dtmf", "#")
	f.Add("application/dtmf-relay", "Signal=11")
	f.Add("text/plain", "5")
	f.Fuzz(func(t *testing.T, ct, body string) {
		k, err := parseInfoKey(ct, []byte(body))
		if err == nil && !strings.ContainsRune("0123456789*#ABCD", k) {
			t.Fatalf("key %q from %q %q", k, ct, body)
		}
	})
}

// FuzzSIPDatagram: whatever arrives on the UDP port, the guard and sipgo's
// parser neither panic nor pass on what is not SIP.
func FuzzSIPDatagram(f *testing.F) {
	f.Add([]byte("OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999\r\n\r\nv=0"))
	f.Add([]byte("\x80\x00\x00\x01garbage"))
	f.Add([]byte("\r\n\r\n"))
	s, err := NewServer(Config{MediaIP: netip.MustParseAddr("127.0.0.1"), RTPPortMin: 20000, RTPPortMax: 20010, OnCall: func(*Call) {},
		Trunks: []Trunk{{Name: "t", Sources: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}}})
	if err != nil {
		f.Fatal(err)
	}
	from := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = s.admit(from, data)
		_, _ = s.allowSource(netip.MustParseAddr("127.0.0.9"), time.Now()), 0
	})
}
