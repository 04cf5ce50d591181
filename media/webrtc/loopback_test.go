package webrtc

import (
	"context"
	"errors"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/callbrief/callbrief/media"
	"github.com/callbrief/callbrief/media/opus"
)

func tone16k(d time.Duration, hz float64) []int16 {
	n := int(d.Seconds() * media.Rate16k)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(10000 * math.Sin(2*math.Pi*hz*float64(i)/media.Rate16k))
	}
	return s
}

// TestLoopbackCall places a call from a Go client on loopback for each
// codec: the WAV's audio arrives as frames of the right total duration,
// keys arrive once each in order, a prompt reaches the client, and DELETE
// ends everything.
func TestLoopbackCall(t *testing.T) {
	for _, codec := range []Codec{CodecOpus, CodecPCMU} {
		t.Run(string(codec), func(t *testing.T) {
			checkLeaks(t)
			pcm := speechPCM(t)
			prompt := tone16k(time.Second, 440)
			spoke := make(chan error, 1)
			ts := newTestServer(t, Config{QueueFrames: 2000}, func(c Call) {
				spoke <- c.Speak(context.Background(), prompt, media.Rate16k)
			})
			cl := newClient(t, codec)
			loc := cl.dial(t, ts)
			call := ts.nextCall(t)
			if call.Codec() != codec {
				t.Fatalf("negotiated %s, want %s", call.Codec(), codec)
			}

			cl.sendAudio(t, pcm)
			for _, ev := range []uint8{1, 2, 11, 10, 9} {
				cl.sendDigit(t, ev)
			}
			// Audio after the keys shows they are over and pushes the
			// last packets through the reorder window.
			cl.sendAudio(t, make([]int16, media.Rate16k/5))

			// The prompt: 50 packets of a tone decoded at the client.
			tr := <-cl.prompts
			var got []int16
			dec, err := opus.NewDecoder(media.Rate16k, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer dec.Close()
			buf := make([]int16, 1920)
			for len(got) < len(prompt) {
				p, _, err := tr.ReadRTP()
				if err != nil {
					t.Fatalf("reading prompt after %d samples: %v", len(got), err)
				}
				if codec == CodecOpus {
					n, err := dec.Decode(p.Payload, buf)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, buf[:n]...)
				} else {
					for _, b := range p.Payload {
						s := media.MuLawDecode(b)
						got = append(got, s, s) // 8 kHz: count at 16 kHz
					}
				}
			}
			if err := <-spoke; err != nil {
				t.Fatalf("Speak: %v", err)
			}
			if r := rmsOf(got[len(got)/4:]); r < 3000 {
				t.Fatalf("prompt arrived with RMS %.0f, want the tone (about 7000)", r)
			}

			// Keys come first (control before data) even though the
			// audio before them is still queued.
			var keys []rune
			var audio time.Duration
			var last time.Duration = -1
			checkFrame := func(f media.Frame) {
				t.Helper()
				if f.Rate != media.Rate16k || len(f.Samples) != 320 {
					t.Fatalf("frame rate %d, %d samples; want 16 kHz, 320", f.Rate, len(f.Samples))
				}
				if f.Offset <= last {
					t.Fatalf("frame offset %v after %v", f.Offset, last)
				}
				last = f.Offset
				audio += f.Duration()
			}
			ctx, cancel := context.WithTimeout(context.Background(), guard)
			defer cancel()
			for len(keys) < 5 {
				ev, err := call.Next(ctx)
				if err != nil {
					t.Fatalf("Next after %d keys: %v; stats %+v", len(keys), err, call.Stats())
				}
				switch ev.Kind {
				case EventDTMF:
					keys = append(keys, ev.Digit)
				case EventAudio:
					checkFrame(ev.Frame)
				}
			}
			if string(keys) != "12#*9" {
				t.Fatalf("keys %q, want %q", string(keys), "12#*9")
			}

			if code := ts.delete(t, loc); code != http.StatusOK {
				t.Fatalf("DELETE: %d", code)
			}
			waitDone(t, call)
			if !errors.Is(call.Err(), ErrHangup) {
				t.Fatalf("call ended with %v, want ErrHangup", call.Err())
			}
			// Audio queued before the hang-up can still be drained.
			for {
				f, err := call.Frames().Pop(ctx)
				if err != nil {
					if !errors.Is(err, media.ErrClosed) {
						t.Fatal(err)
					}
					break
				}
				checkFrame(f)
			}
			// Sent: the clip, five 100 ms keys (filled with silence), 200 ms.
			want := time.Duration(len(pcm))*time.Second/media.Rate16k + 700*time.Millisecond
			if diff := math.Abs(float64(audio-want)) / float64(want); diff > 0.03 {
				t.Fatalf("received %v of audio, sent %v (%.1f%% off)", audio, want, 100*diff)
			}
			st := call.Stats()
			if st.Keys != 5 || st.PacketsReceived == 0 || st.FramesDropped != 0 || st.SpokenFrames != 50 || st.PacketsLost != 0 {
				t.Fatalf("stats %+v", st)
			}
			if _, err := call.Next(ctx); !errors.Is(err, ErrHangup) {
				t.Fatalf("Next after hang-up: %v", err)
			}
			if err := call.Speak(ctx, prompt, media.Rate16k); !errors.Is(err, ErrHangup) {
				t.Fatalf("Speak after hang-up: %v", err)
			}
			if ts.srv.Active() != 0 {
				t.Fatalf("%d calls still registered", ts.srv.Active())
			}
			if code := ts.delete(t, loc); code != http.StatusNotFound {
				t.Fatalf("second DELETE: %d, want 404", code)
			}
		})
	}
}

func rmsOf(s []int16) float64 {
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(max(len(s), 1)))
}
