package sip

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media"
)

// speechPCAP writes the recorded speech as a pcap of G.711 RTP packets
// (Ethernet, IPv4, UDP; 20 ms each, payload type pt) for sipp's
// play_pcap_audio, which replays them to the far end's media address from
// its own media port, keeping their timing. It returns the path and the
// recording's length.
func speechPCAP(t *testing.T, law string) (string, time.Duration) {
	t.Helper()
	f, err := os.Open(speechWAV)
	if err != nil {
		t.Skip("pocketsphinx test recordings are not installed")
	}
	defer f.Close()
	a, err := media.ReadWAV(f)
	if err != nil {
		t.Fatal(err)
	}
	if a.Format.Channels != 1 {
		t.Fatalf("%d channels", a.Format.Channels)
	}
	pcm := media.Float32ToInt16(nil, a.Data)
	pcm8, err := media.ResampleInt16(pcm, a.Format.SampleRate, media.Rate8k)
	if err != nil {
		t.Fatal(err)
	}
	pt := byte(0)
	if law == "PCMA" {
		pt = 8
	}
	var out []byte
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // Ethernet
	out = append(out, hdr...)
	payload := make([]byte, 160)
	start := time.Unix(1700000000, 0)
	for i := 0; (i+1)*160 <= len(pcm8); i++ {
		frame := pcm8[i*160 : (i+1)*160]
		if pt == 8 {
			media.EncodeALaw(payload, frame)
		} else {
			media.EncodeMuLaw(payload, frame)
		}
		rtp := make([]byte, 12, 12+160)
		rtp[0] = 0x80
		rtp[1] = pt
		if i == 0 {
			rtp[1] |= 0x80
		}
		binary.BigEndian.PutUint16(rtp[2:], uint16(1000+i))
		binary.BigEndian.PutUint32(rtp[4:], uint32(i*160))
		binary.BigEndian.PutUint32(rtp[8:], 0x5eed1234)
		rtp = append(rtp, payload...)
		udp := make([]byte, 8, 8+len(rtp))
		binary.BigEndian.PutUint16(udp[0:], 10000)
		binary.BigEndian.PutUint16(udp[2:], 20000)
		binary.BigEndian.PutUint16(udp[4:], uint16(8+len(rtp)))
		udp = append(udp, rtp...)
		ip := make([]byte, 20, 20+len(udp))
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
		ip[8] = 64
		ip[9] = 17
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		ip = append(ip, udp...)
		eth := make([]byte, 14, 14+len(ip))
		binary.BigEndian.PutUint16(eth[12:], 0x0800)
		eth = append(eth, ip...)
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(at.Unix()))
		le.PutUint32(rec[4:], uint32(at.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(len(eth)))
		le.PutUint32(rec[12:], uint32(len(eth)))
		out = append(out, rec...)
		out = append(out, eth...)
	}
	p := filepath.Join(t.TempDir(), "speech-"+law+".pcap")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, time.Duration(len(pcm8)) * time.Second / media.Rate8k
}
