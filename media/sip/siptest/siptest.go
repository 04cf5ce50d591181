// Package siptest helps tests place calls on a SIP server with sipp
// (Debian sip-tester): a caller scenario, and recorded speech written as
// a pcap of G.711 RTP for sipp's play_pcap_audio.
package siptest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/callbrief/callbrief/media"
)

// CallerScenario is a sipp scenario of a caller on a trusted trunk: its
// P-Asserted-Identity is +8613812345678; it listens @LISTEN@ ms (the
// greeting), plays @WAV@ (a pcap of
// payload type @PT@, codec @CODEC@) then waits @PAUSE@ ms, presses 1 and 2
// as RFC 4733 events, 9 as SIP INFO, then # as an event, and waits up to
// 60 s for the service to hang up.
//
//go:embed caller.xml
var CallerScenario []byte

// TransfereeScenario is the caller's side of a blind transfer (the
// trunk or PBX): it places a call like CallerScenario (without keys),
// runs @PLAY@ (a sipp element, or nothing), waits up to @REFER_WAIT@ ms for
// the service's REFER, accepts it and calls the Refer-To target with the
// User-to-User and X-Callbrief-Case headers the URI carries, reporting
// by NOTIFY to the service at @SERVICE_HOST@:@SERVICE_PORT@.
//
//go:embed transferee.xml
var TransfereeScenario []byte

// ACDScenario is an ACD queue (a sipp UAS) that takes one call and fails
// unless it carries User-to-User and X-Callbrief-Case as callbrief sends
// them; it logs what it read ("ACD uui=... case=... brief=...").
//
//go:embed acd.xml
var ACDScenario []byte

// RefuserScenario is a trunk that places a call like TransfereeScenario
// (with @PLAY@), answers the REFER 603 and then waits for the service to
// hang up.
//
//go:embed refuser.xml
var RefuserScenario []byte

// BridgeCallerScenario is a caller (PCMU) who plays @WAV@ and stays on
// the line until the service hangs up; with -rtp_echo it returns the
// audio it receives, so a test hears what the caller heard.
//
//go:embed bridgecaller.xml
var BridgeCallerScenario []byte

// Tone is a sine of freq Hz at rate, amplitude amp, lasting d.
func Tone(freq float64, rate int, amp float64, d time.Duration) []int16 {
	n := int(d.Seconds() * float64(rate))
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// ToneShare is the share of pcm's power at freq Hz (Goertzel), 0 to 1:
// near 1 for a clean tone at freq, near 0 for another tone or silence.
func ToneShare(pcm []int16, freq float64, rate int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2, total float64
	for _, v := range pcm {
		x := float64(v)
		total += x * x
		s0 := x + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if total == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	// A pure tone of N samples gives power = total * N / 2.
	return min(1, power/(total*float64(len(pcm))/2))
}

// ShortCallScenario is a call that is up @HOLD@ ms and hung up by the
// caller, for load and scale-out tests (sipp -m N -r R).
//
//go:embed shortcall.xml
var ShortCallScenario []byte

// LoadCallScenario is ShortCallScenario for load: a 503 is ACKed and the
// call ends there, so that sipp counts as failed only calls the node left
// unanswered or answered wrong.
//
//go:embed loadcall.xml
var LoadCallScenario []byte

// SpeechPCAP is where sip-tester keeps its key pcaps.
const KeyPCAPs = "/usr/share/sip-tester"

// Sipp returns the sipp binary, or an error saying what to install.
func Sipp() (string, error) {
	p, err := exec.LookPath("sipp")
	if err != nil {
		return "", fmt.Errorf("sipp (Debian sip-tester) is not installed: scripts/setup.sh test installs it")
	}
	if _, err := os.Stat(filepath.Join(KeyPCAPs, "dtmf_2833_1.pcap")); err != nil {
		return "", fmt.Errorf("sip-tester's key pcaps are missing")
	}
	return p, nil
}

// WritePCAP writes pcm (mono, at rate) as 20 ms G.711 RTP packets
// (law "PCMU" or "PCMA"; Ethernet, IPv4, UDP) to path, and returns the
// audio's length. sipp replays them to the far end's media address from
// its own media port, keeping their timing.
func WritePCAP(path string, pcm []int16, rate int, law string) (time.Duration, error) {
	pcm8, err := media.ResampleInt16(pcm, rate, media.Rate8k)
	if err != nil {
		return 0, err
	}
	pt := byte(0)
	if law == "PCMA" {
		pt = 8
	}
	var out bytes.Buffer
	le := binary.LittleEndian
	hdr := make([]byte, 24)
	le.PutUint32(hdr[0:], 0xa1b2c3d4)
	le.PutUint16(hdr[4:], 2)
	le.PutUint16(hdr[6:], 4)
	le.PutUint32(hdr[16:], 65535)
	le.PutUint32(hdr[20:], 1) // Ethernet
	out.Write(hdr)
	payload := make([]byte, 160)
	start := time.Unix(1700000000, 0)
	be := binary.BigEndian
	for i := 0; (i+1)*160 <= len(pcm8); i++ {
		frame := pcm8[i*160 : (i+1)*160]
		if pt == 8 {
			media.EncodeALaw(payload, frame)
		} else {
			media.EncodeMuLaw(payload, frame)
		}
		pkt := make([]byte, 14+20+8+12+160)
		be.PutUint16(pkt[12:], 0x0800)
		ip := pkt[14:]
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		be.PutUint16(ip[2:], uint16(len(ip)))
		copy(ip[12:], net.IPv4(127, 0, 0, 1).To4())
		copy(ip[16:], net.IPv4(127, 0, 0, 1).To4())
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(be.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum&0xffff + sum>>16
		}
		be.PutUint16(ip[10:], ^uint16(sum))
		udp := ip[20:]
		be.PutUint16(udp[0:], 10000)
		be.PutUint16(udp[2:], 20000)
		be.PutUint16(udp[4:], uint16(len(udp)))
		rtp := udp[8:]
		rtp[0], rtp[1] = 0x80, pt
		if i == 0 {
			rtp[1] |= 0x80
		}
		be.PutUint16(rtp[2:], uint16(1000+i))
		be.PutUint32(rtp[4:], uint32(i*160))
		be.PutUint32(rtp[8:], 0x5eed1234)
		copy(rtp[12:], payload)
		at := start.Add(time.Duration(i) * 20 * time.Millisecond)
		rec := make([]byte, 16)
		le.PutUint32(rec[0:], uint32(at.Unix()))
		le.PutUint32(rec[4:], uint32(at.Nanosecond()/1000))
		le.PutUint32(rec[8:], uint32(len(pkt)))
		le.PutUint32(rec[12:], uint32(len(pkt)))
		out.Write(rec)
		out.Write(pkt)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		return 0, err
	}
	return time.Duration(len(pcm8)) * time.Second / media.Rate8k, nil
}

// FreeUDPPort returns a loopback UDP port free now (even, with the next
// one free too, when even: sipp binds RTP and RTCP pairs).
func FreeUDPPort(even bool) (int, error) {
	for range 50 {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if !even || p%2 == 0 {
			if c2, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p+1)); err == nil {
				c2.Close()
				return p, nil
			}
		}
	}
	return 0, fmt.Errorf("no free UDP port")
}

// FreeSIPPort returns a loopback port free now for both UDP and TCP: a
// SIP server listens on both with one number, and a port free for UDP
// may be taken for TCP by another test's server.
func FreeSIPPort() (int, error) {
	for range 50 {
		p, err := FreeUDPPort(false)
		if err != nil {
			return 0, err
		}
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no port free for both UDP and TCP")
}

// Run runs scenario (each @KEY@ replaced by vars[KEY]: sipp does not
// substitute its own fields in play_pcap_audio) once against target
// (host:port) from 127.0.0.1, in dir, and returns what sipp said.
func Run(ctx context.Context, dir string, scenario []byte, vars map[string]string, target string, extra ...string) (string, error) {
	bin, err := Sipp()
	if err != nil {
		return "", err
	}
	for k, v := range vars {
		scenario = bytes.ReplaceAll(scenario, []byte("@"+k+"@"), []byte(v))
	}
	sf := filepath.Join(dir, "scenario.xml")
	if err := os.WriteFile(sf, scenario, 0o600); err != nil {
		return "", err
	}
	sp, err := FreeUDPPort(false)
	if err != nil {
		return "", err
	}
	mp, err := FreeUDPPort(true)
	if err != nil {
		return "", err
	}
	errFile := filepath.Join(dir, "errors.log")
	args := []string{"-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(sp), "-mp", fmt.Sprint(mp), "-s", "2000",
		"-timeout", "80s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", errFile}
	args = append(append(args, extra...), target)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	errs, _ := os.ReadFile(errFile)
	return out.String() + string(errs), err
}

// UAS is a sipp running a server scenario (the ACD) in the background.
type UAS struct {
	Addr string // host:port it listens on (UDP)
	dir  string
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// StartUAS starts sipp with scenario (vars substituted) as a server on a
// free loopback port, taking one call, and returns once its port is
// bound (or ctx ends).
func StartUAS(ctx context.Context, dir string, scenario []byte, vars map[string]string) (*UAS, error) {
	bin, err := Sipp()
	if err != nil {
		return nil, err
	}
	for k, v := range vars {
		scenario = bytes.ReplaceAll(scenario, []byte("@"+k+"@"), []byte(v))
	}
	sf := filepath.Join(dir, "uas.xml")
	if err := os.WriteFile(sf, scenario, 0o600); err != nil {
		return nil, err
	}
	sp, err := FreeUDPPort(false)
	if err != nil {
		return nil, err
	}
	mp, err := FreeUDPPort(true)
	if err != nil {
		return nil, err
	}
	u := &UAS{Addr: fmt.Sprintf("127.0.0.1:%d", sp), dir: dir, done: make(chan struct{})}
	u.cmd = exec.CommandContext(ctx, bin, "-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", fmt.Sprint(sp), "-mp", fmt.Sprint(mp),
		"-timeout", "80s", "-timeout_error", "-nostdin", "-trace_err", "-error_file", filepath.Join(dir, "uas-errors.log"),
		"-trace_logs", "-log_file", filepath.Join(dir, "uas.log"))
	u.cmd.Dir = dir
	u.cmd.Stdout, u.cmd.Stderr = &u.out, &u.out
	if err := u.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { u.err = u.cmd.Wait(); close(u.done) }()
	// Bound: binding the port ourselves fails.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.ListenPacket("udp", u.Addr)
		if err != nil {
			return u, nil
		}
		c.Close()
		select {
		case <-u.done:
			return nil, fmt.Errorf("sipp UAS exited: %v\n%s", u.err, u.out.String())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// Wait waits for the UAS to end and returns what it said and logged, and
// its error (non-nil when the call failed a check).
func (u *UAS) Wait(ctx context.Context) (string, error) {
	select {
	case <-u.done:
	case <-ctx.Done():
		return u.out.String(), ctx.Err()
	}
	logs, _ := os.ReadFile(filepath.Join(u.dir, "uas.log"))
	errs, _ := os.ReadFile(filepath.Join(u.dir, "uas-errors.log"))
	return u.out.String() + string(logs) + string(errs), u.err
}

// Field returns the value of key=... in the UAS's log line (the ACD's
// "ACD uui=... case=..."), or "".
func Field(log, key string) string {
	for _, line := range strings.Split(log, "\n") {
		i := strings.Index(line, "ACD ")
		if i < 0 {
			continue
		}
		for _, f := range strings.Fields(line[i+4:]) {
			if k, v, ok := strings.Cut(f, "="); ok && k == key {
				return v
			}
		}
	}
	return ""
}

// RefusedCallScenario is a call the service must refuse: an INVITE
// (G.711) with the header lines @HEADERS@ (at least one), whose answer
// must be @CODE@ with its @HDR@ header matching the regular expression
// @RE@; the refusal is ACKed.
//
//go:embed refusedcall.xml
var RefusedCallScenario []byte

// Session timer (RFC 4028) callers: @SE@ is the session interval asked
// for, in seconds.
var (
	// TimerKeepScenario refreshes every @HALF@ ms (UPDATE, re-INVITE,
	// UPDATE) as the refresher it asked to be, and hangs up after
	// 4 × @HALF@ ms; a BYE from the service fails it.
	//
	//go:embed timerkeep.xml
	TimerKeepScenario []byte
	// TimerIdleScenario asks to refresh and never does: it runs @PLAY@
	// (sipp elements that do not wait for the service: a pause, a
	// play_pcap_audio; or nothing) and waits up to @BYEWAIT@ ms for the
	// service's BYE.
	//
	//go:embed timeridle.xml
	TimerIdleScenario []byte
	// TimerServiceScenario asks the service to refresh and allows
	// UPDATE: it waits up to @WAIT@ ms for each of two UPDATEs, then
	// hangs up.
	//
	//go:embed timerservice.xml
	TimerServiceScenario []byte
	// TimerServiceInviteScenario is TimerServiceScenario from a caller
	// that does not allow UPDATE: the refreshes are re-INVITEs.
	//
	//go:embed timerserviceinvite.xml
	TimerServiceInviteScenario []byte
)

// TimerRefusedScenario asks the service to refresh (@SE@ s), answers
// its first UPDATE 481 and waits up to @WAIT@ ms for the service's BYE.
//
//go:embed timerrefused.xml
var TimerRefusedScenario []byte
