package siptest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/callbrief/callbrief/media"
)

// Baresip is a real SIP user agent (Debian baresip-core) placing one call:
// its microphone is a WAV file (the aufile module), it is driven over its
// ctrl_tcp socket (dial, hangup; its call events come back there) and
// keys are "typed" on its UDP console (the cons module), which sends them
// as RFC 4733 telephone-events, as a phone's keypad does.
type Baresip struct {
	// Number is the caller's number, the user part of its account (the
	// From header of its calls).
	Number string

	dir  string
	cmd  *exec.Cmd
	out  lockedBuf
	done chan struct{}
	err  error

	ctrl    net.Conn
	cons    string // host:port of the UDP console
	events  chan Event
	mu      sync.Mutex
	pending []chan ctrlResponse
}

// Event is one of baresip's call events ("CALL_ESTABLISHED",
// "CALL_CLOSED", ...) with its parameter (the peer, or why it closed).
type Event struct {
	Type  string `json:"type"`
	Param string `json:"param"`
}

type ctrlResponse struct {
	OK   bool
	Data string
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// BaresipBin returns the baresip binary, or an error saying what to
// install.
func BaresipBin() (string, error) {
	p, err := exec.LookPath("baresip")
	if err != nil {
		return "", errors.New("baresip (Debian baresip-core) is not installed: scripts/setup.sh test installs it")
	}
	for _, m := range []string{"aufile", "g711", "g722", "opus", "ctrl_tcp", "cons", "account", "menu"} {
		if _, err := os.Stat(filepath.Join(BaresipModules, m+".so")); err != nil {
			return "", fmt.Errorf("baresip's %s module is missing from %s", m, BaresipModules)
		}
	}
	return p, nil
}

// BaresipModules is where Debian installs baresip's modules.
const BaresipModules = "/usr/lib/baresip/modules"

// WriteWAV writes pcm (mono, at rate) to path as 16-bit PCM at 8 kHz,
// with lead of silence before it (a caller listening to the greeting)
// and tail after it: baresip's file source reads at the codec's rate.
func WriteWAV(path string, pcm []int16, rate int, lead, tail time.Duration) (time.Duration, error) {
	return WriteWAVAt(path, pcm, rate, media.Rate8k, lead, tail)
}

// WriteWAVAt is WriteWAV at out Hz: a phone's file source takes the
// rate of the codec it sends (Codec.Rate).
func WriteWAVAt(path string, pcm []int16, rate, out int, lead, tail time.Duration) (time.Duration, error) {
	pcm8, err := media.ResampleInt16(pcm, rate, out)
	if err != nil {
		return 0, err
	}
	n := func(d time.Duration) int { return int(d.Seconds() * float64(out)) }
	all := make([]float32, 0, n(lead)+len(pcm8)+n(tail))
	all = append(all, make([]float32, n(lead))...)
	for _, v := range pcm8 {
		all = append(all, float32(v)/32768)
	}
	all = append(all, make([]float32, n(tail))...)
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	a := &media.Audio{Format: media.Format{Encoding: media.PCM, SampleRate: out, Channels: 1, BitsPerSample: 16}, Data: all}
	if err := media.WriteWAV(f, a, 16); err != nil {
		f.Close()
		return 0, err
	}
	return time.Duration(len(pcm8)) * time.Second / time.Duration(out), f.Close()
}

// PhoneCodec is the one codec a phone offers.
type PhoneCodec struct {
	Name    string // as callbrief logs it: PCMU, G722, opus
	Module  string // baresip's module
	Account string // the account's audio_codecs
	Rate    int    // its audio rate, which the file source must have
}

// The codecs a baresip phone can be limited to.
var (
	PhonePCMU = PhoneCodec{"PCMU", "g711", "PCMU/8000/1", media.Rate8k}
	PhoneG722 = PhoneCodec{"G722", "g722", "G722", 16000}
	// baresip's Opus runs at 48 kHz, and its file source with it.
	PhoneOpus = PhoneCodec{"opus", "opus", "opus", media.Rate48k}
)

// PhoneOptions are how a Baresip phone differs from the default (G.711
// mu-law over UDP).
type PhoneOptions struct {
	Codec PhoneCodec // zero: PhonePCMU
	// CAFile, when set, is the PEM file of the authority that signed the
	// service's TLS certificate: the phone verifies the service with it
	// and can dial sip:...;transport=tls.
	CAFile string
}

// StartBaresip starts baresip in dir (its config, accounts and log go
// there) on loopback with the account sip:number@127.0.0.1 (G.711 mu-law
// only, keys as RFC 4733 events) and wav as its microphone, and returns
// once its control socket answers (or ctx ends). It is stopped by Close.
func StartBaresip(ctx context.Context, dir, number, wav string) (*Baresip, error) {
	return StartPhone(ctx, dir, number, wav, PhoneOptions{})
}

// StartPhone is StartBaresip with options: the one codec the phone
// offers (wav must be at its Rate) and TLS.
func StartPhone(ctx context.Context, dir, number, wav string, o PhoneOptions) (*Baresip, error) {
	if o.Codec.Name == "" {
		o.Codec = PhonePCMU
	}
	bin, err := BaresipBin()
	if err != nil {
		return nil, err
	}
	sipPort, err := FreeUDPPort(false)
	if err != nil {
		return nil, err
	}
	consPort, err := FreeUDPPort(false)
	if err != nil {
		return nil, err
	}
	rtp, err := FreeUDPPort(true)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctrlAddr := l.Addr().String()
	l.Close()
	// net_interface 127.0.0.1 keeps every address in its SDP on
	// loopback; no audio player: what the service says is not played.
	tlsConf := ""
	if o.CAFile != "" {
		tlsConf = "sip_cafile " + o.CAFile + "\n"
	}
	config := fmt.Sprintf(`poll_method epoll
net_interface 127.0.0.1
sip_listen 127.0.0.1:%d
%saudio_source aufile,%s
ausrc_srate %d
ausrc_channels 1
auplay_channels 1
rtp_ports %d-%d
module_path %s
module %s.so
module aufile.so
module account.so
module cons.so
module ctrl_tcp.so
module_app menu.so
cons_listen 127.0.0.1:%d
ctrl_tcp_listen %s
`, sipPort, tlsConf, wav, o.Codec.Rate, rtp, rtp+9, BaresipModules, o.Codec.Module, consPort, ctrlAddr)
	account := fmt.Sprintf("<sip:%s@127.0.0.1>;regint=0;audio_codecs=%s;dtmfmode=rtpevent\n", number, o.Codec.Account)
	for name, body := range map[string]string{"config": config, "accounts": account, "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return nil, err
		}
	}
	b := &Baresip{Number: number, dir: dir, done: make(chan struct{}), cons: fmt.Sprintf("127.0.0.1:%d", consPort), events: make(chan Event, 64)}
	b.cmd = exec.Command(bin, "-f", dir, "-v")
	b.cmd.Dir = dir
	// A test binary killed by its timeout runs no cleanup: the phone
	// must not outlive it.
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.out
	if err := b.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.Dial("tcp", ctrlAddr)
		if err == nil {
			b.ctrl = c
			go b.read()
			return b, nil
		}
		select {
		case <-b.done:
			return nil, fmt.Errorf("baresip exited before its control socket answered: %v\n%s", b.err, b.out.String())
		case <-ctx.Done():
			b.Close()
			return nil, fmt.Errorf("baresip's control socket: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// read reads ctrl_tcp's netstrings: responses go to the waiting command,
// events to Events.
func (b *Baresip) read() {
	r := bufio.NewReader(b.ctrl)
	for {
		msg, err := readNetstring(r)
		if err != nil {
			close(b.events)
			return
		}
		var m struct {
			Event       bool   `json:"event"`
			Response    bool   `json:"response"`
			Type, Param string `json:",omitempty"`
			OK          bool   `json:"ok"`
			Data        string `json:"data"`
		}
		if json.Unmarshal(msg, &m) != nil {
			continue
		}
		switch {
		case m.Event:
			select {
			case b.events <- Event{Type: m.Type, Param: m.Param}:
			default: // nobody reads them: drop, as a full log would
			}
		case m.Response:
			b.mu.Lock()
			if len(b.pending) > 0 {
				ch := b.pending[0]
				b.pending = b.pending[1:]
				ch <- ctrlResponse{OK: m.OK, Data: m.Data}
			}
			b.mu.Unlock()
		}
	}
}

// readNetstring reads "<len>:<bytes>,".
func readNetstring(r *bufio.Reader) ([]byte, error) {
	head, err := r.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[:len(head)-1]))
	if err != nil || n < 0 || n > 1<<20 {
		return nil, fmt.Errorf("netstring length %q", head)
	}
	buf := make([]byte, n+1)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	if buf[n] != ',' {
		return nil, errors.New("netstring not ended by a comma")
	}
	return buf[:n], nil
}

// Command runs a baresip command ("dial", "hangup", ...) and returns its
// answer, or an error when baresip refused it.
func (b *Baresip) Command(ctx context.Context, command, params string) (string, error) {
	msg, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": command})
	ch := make(chan ctrlResponse, 1)
	b.mu.Lock()
	b.pending = append(b.pending, ch)
	_, err := fmt.Fprintf(b.ctrl, "%d:%s,", len(msg), msg)
	b.mu.Unlock()
	if err != nil {
		return "", fmt.Errorf("baresip %s: %w", command, err)
	}
	select {
	case r := <-ch:
		if !r.OK {
			return r.Data, fmt.Errorf("baresip %s %s: %s", command, params, strings.TrimSpace(r.Data))
		}
		return r.Data, nil
	case <-b.done:
		return "", fmt.Errorf("baresip exited: %v", b.err)
	case <-ctx.Done():
		return "", fmt.Errorf("baresip %s: %w", command, ctx.Err())
	}
}

// Await waits for the call event typ and returns it; a CALL_CLOSED
// awaited for something else is an error saying why the call closed.
func (b *Baresip) Await(ctx context.Context, typ string) (Event, error) {
	for {
		select {
		case e, ok := <-b.events:
			if !ok {
				return Event{}, fmt.Errorf("baresip's control socket closed before %s", typ)
			}
			if e.Type == typ {
				return e, nil
			}
			if e.Type == "CALL_CLOSED" {
				return e, fmt.Errorf("the call closed (%s) before %s", e.Param, typ)
			}
		case <-ctx.Done():
			return Event{}, fmt.Errorf("waiting for %s: %w", typ, ctx.Err())
		}
	}
}

// Keys presses keys on the console, one at a time, gap apart: baresip
// sends each as an RFC 4733 event of its own.
func (b *Baresip) Keys(ctx context.Context, keys string, gap time.Duration) error {
	c, err := net.Dial("udp", b.cons)
	if err != nil {
		return err
	}
	defer c.Close()
	for i, k := range keys {
		if i > 0 {
			t := time.NewTimer(gap)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		if _, err := c.Write([]byte(string(k))); err != nil {
			return err
		}
	}
	return nil
}

// Output is what baresip logged.
func (b *Baresip) Output() string { return b.out.String() }

// Close stops baresip (quit, then kill if it lingers) and waits for it.
func (b *Baresip) Close() {
	if b.ctrl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _ = b.Command(ctx, "quit", "")
		cancel()
		b.ctrl.Close()
	}
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
}
