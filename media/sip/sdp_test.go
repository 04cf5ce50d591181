package sip

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/callbrief/callbrief/media/webrtc"
)

func sdpWith(formats string, attrs ...string) string {
	s := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 5004 RTP/AVP " + formats + "\r\n"
	for _, a := range attrs {
		s += "a=" + a + "\r\n"
	}
	return s
}

// TestNegotiation: the caller's first codec we take wins, whatever our
// own order; G722 is known by its static payload type or its rtpmap at
// 8000; Opus only as opus/48000; a server configured without a codec
// does not take it and says what it takes.
func TestNegotiation(t *testing.T) {
	cases := []struct {
		name  string
		sdp   string
		take  []webrtc.Codec
		codec webrtc.Codec
		pt    uint8
	}{
		{"G.711 first", sdpWith("0 9 8"), nil, webrtc.CodecPCMU, 0},
		{"G.722 by its static type", sdpWith("9 0 8"), nil, webrtc.CodecG722, 9},
		{"G.722 by rtpmap", sdpWith("98 0", "rtpmap:98 G722/8000"), nil, webrtc.CodecG722, 98},
		{"Opus first", sdpWith("111 9 0 101", "rtpmap:111 opus/48000/2", "fmtp:111 useinbandfec=1", "rtpmap:101 telephone-event/8000"), nil, webrtc.CodecOpus, 111},
		{"G.722 at 16000 is not G.722", sdpWith("98 8", "rtpmap:98 G722/16000"), nil, webrtc.CodecPCMA, 8},
		{"Opus not taken here", sdpWith("111 9 0", "rtpmap:111 opus/48000/2"), []webrtc.Codec{webrtc.CodecPCMU, webrtc.CodecG722}, webrtc.CodecG722, 9},
		{"G.722 not taken here", sdpWith("9 8"), []webrtc.Codec{webrtc.CodecPCMA}, webrtc.CodecPCMA, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseOffer([]byte(c.sdp), c.take)
			if err != nil {
				t.Fatal(err)
			}
			if o.codec != c.codec || o.pt != c.pt {
				t.Fatalf("chose %s/%d, want %s/%d", o.codec, o.pt, c.codec, c.pt)
			}
			ans := string(answerSDP(o, netip.MustParseAddr("192.0.2.9"), 20000, 1, 1))
			want := map[webrtc.Codec]string{webrtc.CodecPCMU: "PCMU/8000", webrtc.CodecPCMA: "PCMA/8000", webrtc.CodecG722: "G722/8000", webrtc.CodecOpus: "opus/48000/2"}[c.codec]
			if !strings.Contains(ans, "m=audio 20000 RTP/AVP "+strconv.Itoa(int(c.pt))) || !strings.Contains(ans, "a=rtpmap:"+strconv.Itoa(int(c.pt))+" "+want+"\r\n") {
				t.Errorf("answer:\n%s", ans)
			}
			if strings.Count(ans, "a=rtpmap:") > 2 {
				t.Errorf("answer offers more than one codec:\n%s", ans)
			}
		})
	}
	_, err := parseOffer([]byte(sdpWith("111 9", "rtpmap:111 opus/48000/2")), []webrtc.Codec{webrtc.CodecPCMU, webrtc.CodecPCMA})
	if !errors.Is(err, ErrNoCodec) || !strings.Contains(err.Error(), "offered opus/48000/2, G722/8000; taken: PCMU/8000, PCMA/8000") {
		t.Errorf("refusal: %v", err)
	}
}
