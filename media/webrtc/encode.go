package webrtc

import (
	"fmt"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/opus"
)

// frameEncoder encodes 20 ms frames for one codec's outgoing stream:
// prompts, and a bridge's audio when the two legs' codecs differ.
type frameEncoder struct {
	codec Codec
	opus  *opus.Encoder
}

func newFrameEncoder(codec Codec) (*frameEncoder, error) {
	e := &frameEncoder{codec: codec}
	if codec == CodecOpus {
		enc, err := opus.NewEncoder(media.Rate16k, 1, opus.AppVoIP)
		if err != nil {
			return nil, fmt.Errorf("webrtc: opus encoder: %w", err)
		}
		e.opus = enc
	}
	return e, nil
}

// rate is the rate frames are encoded from: Opus takes 16 kHz input
// directly (its RTP clock stays 48 kHz); PCMU is 8 kHz.
func (e *frameEncoder) rate() int {
	if e.codec == CodecPCMU {
		return media.Rate8k
	}
	return media.Rate16k
}

// samples is the length of one frame at rate.
func (e *frameEncoder) samples() int { return media.SamplesPerFrame(e.rate()) }

// encode encodes one frame of samples() samples into out.
func (e *frameEncoder) encode(frame []int16, out []byte) ([]byte, error) {
	if e.opus == nil {
		n := media.EncodeMuLaw(out, frame)
		return out[:n], nil
	}
	n, err := e.opus.Encode(frame, out)
	if err != nil {
		return nil, fmt.Errorf("webrtc: opus encode: %w", err)
	}
	return out[:n], nil
}

func (e *frameEncoder) close() {
	if e.opus != nil {
		e.opus.Close()
		e.opus = nil
	}
}
