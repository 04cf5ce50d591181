// Package web serves the agent desk: static pages embedded in the binary,
// a JSON API, and a WebSocket that pushes the agent's queue live.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/callbrief/callbrief/handoff"
	"github.com/callbrief/callbrief/media/webrtc"
	"github.com/callbrief/callbrief/store"
	"github.com/callbrief/callbrief/store/memory"
)

//go:embed static
var static embed.FS

// Errors of the desk's own checks.
var (
	ErrUnauthorized = errors.New("desk: sign in required")
	ErrExpired      = errors.New("desk: access token expired")
	ErrTooLarge     = errors.New("desk: request body too large")
	ErrMalformed    = errors.New("desk: malformed JSON")
	// ErrSignIn: sign-in failed. One error for an unknown agent and a
	// wrong token alike, so that sign-in does not tell which agents exist.
	ErrSignIn = errors.New("desk: sign-in failed")
	// ErrTooMany: too many sign-in attempts for this agent or address.
	ErrTooMany = errors.New("desk: too many sign-in attempts; try again later")
)

// Sign-in limits: attempts per agent and per client address within
// SignInWindow. An attacker gets a handful of guesses per window, not
// thousands a second; a desk behind one office address still has room.
const (
	SignInPerAgent = 5
	SignInPerAddr  = 100
	SignInWindow   = 15 * time.Minute
	// TicketTTL bounds a WebSocket ticket: fetched just before the
	// connection opens, used once.
	TicketTTL = 30 * time.Second
)

// MaxBody bounds every request body.
const MaxBody = 64 << 10

// Desk serves the agent desk.
type Desk struct {
	eng    *handoff.Engine
	secret []byte
	ttl    time.Duration
	log    *slog.Logger
	media  Media // nil: no live audio on this node
	// st keeps sign-in counts and WebSocket tickets: the shared store when
	// there is one, so limits and tickets hold across nodes.
	st store.Store

	presence // desks connected, and agents whose desks went (presence.go)
}

// WithMedia lets agents join live calls' audio from the desk.
func (d *Desk) WithMedia(m Media) *Desk {
	d.media = m
	return d
}

// NewDesk returns the desk. secret signs access tokens (random when
// empty: tokens then last for this process only); ttl bounds them
// (default 12h, a shift).
func NewDesk(eng *handoff.Engine, secret []byte, ttl time.Duration, log *slog.Logger) *Desk {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Desk{eng: eng, secret: secret, ttl: ttl, log: log, st: memory.New()}
	d.feedsCtx, d.endFeeds = context.WithCancel(context.Background())
	return d
}

// WithStore keeps sign-in counts and WebSocket tickets in st (the nodes'
// shared store); the default is in process.
func (d *Desk) WithStore(st store.Store) *Desk {
	if st != nil {
		d.st = st
	}
	return d
}

// Mount adds the desk's routes under /desk/.
func (d *Desk) Mount(mux *http.ServeMux) {
	sub, _ := fs.Sub(static, "static")
	mux.Handle("GET /desk/", http.StripPrefix("/desk/", Static(sub)))
	mux.HandleFunc("POST /desk/api/login", d.login)
	mux.HandleFunc("GET /desk/api/queue", d.auth(d.queue))
	mux.HandleFunc("GET /desk/api/calls/{id}/brief", d.auth(d.brief))
	mux.HandleFunc("POST /desk/api/calls/{id}/accept", d.auth(d.accept))
	mux.HandleFunc("POST /desk/api/calls/{id}/decline", d.auth(d.decline))
	mux.HandleFunc("POST /desk/api/calls/{id}/kb-feedback", d.auth(d.feedback))
	mux.HandleFunc("POST /desk/api/calls/{id}/outcome", d.auth(d.outcome))
	mux.HandleFunc("GET /desk/api/drafts", d.auth(d.drafts))
	mux.HandleFunc("POST /desk/api/ready", d.auth(d.ready))
	mux.HandleFunc("POST /desk/api/calls/{id}/called-back", d.auth(d.calledBack))
	mux.HandleFunc("GET /desk/api/wallboard", d.auth(d.wallboard))
	mux.HandleFunc("POST /desk/api/live-ticket", d.auth(d.ticket))
	mux.HandleFunc("GET /desk/api/live", d.live)
	mux.HandleFunc("GET /desk/api/calls/{id}/media", d.auth(d.mediaStatus))
	mux.HandleFunc("POST /desk/api/calls/{id}/media", d.auth(d.mediaJoin))
	mux.HandleFunc("DELETE /desk/api/calls/{id}/media", d.auth(d.mediaHangup))
}

// status is the one place errors become HTTP status codes.
func status(err error) int {
	switch {
	case errors.Is(err, ErrTooLarge), errors.Is(err, webrtc.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrNoMedia), errors.Is(err, webrtc.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, webrtc.ErrContentType), errors.Is(err, webrtc.ErrUnsupportedCodec):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, webrtc.ErrMalformedSDP), errors.Is(err, webrtc.ErrNoAudio):
		return http.StatusBadRequest
	case errors.Is(err, webrtc.ErrBusy):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrMalformed), errors.Is(err, handoff.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrExpired), errors.Is(err, handoff.ErrUnknownAgent), errors.Is(err, ErrSignIn):
		return http.StatusUnauthorized
	case errors.Is(err, ErrTooMany):
		return http.StatusTooManyRequests
	case errors.Is(err, handoff.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, handoff.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, handoff.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, handoff.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (d *Desk) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := status(err)
	msg := err.Error()
	switch {
	case code == http.StatusInternalServerError:
		d.log.Error("desk request failed", "path", r.URL.Path, "err", err)
		msg = "internal error"
	case code == http.StatusServiceUnavailable:
		// The cause (a Redis address, a timeout) is for the log, not for
		// whoever sent the request.
		d.log.Warn("desk request failed: unavailable", "path", r.URL.Path, "err", err)
		msg = "temporarily unavailable; try again"
	case code == http.StatusUnauthorized && !errors.Is(err, ErrSignIn):
		msg = "sign in required" // expired, forged or an agent removed: the same answer
	}
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a bounded, strict JSON body.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, MaxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxBody)
		}
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxBody)
	}
	return nil
}

// Token issues an access token: agent, expiry and an HMAC over both.
func (d *Desk) Token(agent string, exp time.Time) string {
	payload := agent + "." + strconv.FormatInt(exp.Unix(), 10)
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte(payload))
	return payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (d *Desk) check(tok string) (string, error) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return "", fmt.Errorf("%w: malformed token", ErrUnauthorized)
	}
	payload, sig := tok[:i], tok[i+1:]
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte(payload))
	want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "", fmt.Errorf("%w: invalid token", ErrUnauthorized)
	}
	j := strings.LastIndexByte(payload, '.')
	exp, err := strconv.ParseInt(payload[j+1:], 10, 64)
	if j < 0 || err != nil {
		return "", fmt.Errorf("%w: malformed token", ErrUnauthorized)
	}
	if d.eng.Now().Unix() >= exp {
		return "", ErrExpired
	}
	agent := payload[:j]
	if _, err := d.eng.Roster().Agent(agent); err != nil {
		return "", err
	}
	return agent, nil
}

type agentHandler func(w http.ResponseWriter, r *http.Request, agent string)

func (d *Desk) auth(h agentHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// The header only: a token in the query string ends up in access
		// logs and browser history. The WebSocket, which browsers open
		// without headers, takes a one-time ticket instead (ticket).
		tok, ok := bearer(r)
		if !ok {
			d.fail(w, r, ErrUnauthorized)
			return
		}
		agent, err := d.check(tok)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		h(w, r, agent)
	}
}

func (d *Desk) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Agent string `json:"agent"`
		Token string `json:"token"`
	}
	if err := decode(w, r, &in); err != nil {
		d.fail(w, r, err)
		return
	}
	if wait, err := d.signInAllowed(r, in.Agent); err != nil {
		if errors.Is(err, ErrTooMany) {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		}
		d.fail(w, r, err)
		return
	}
	a, err := d.eng.Roster().CheckToken(in.Agent, in.Token)
	if err != nil {
		// Unknown agent or wrong token: one answer.
		d.log.Info("desk sign-in failed", "agent_known", !errors.Is(err, handoff.ErrUnknownAgent))
		d.fail(w, r, ErrSignIn)
		return
	}
	// The agent's own count starts again; the address's does not, so one
	// valid account cannot be used to reset it.
	_ = d.st.Delete(r.Context(), signInKey("agent", in.Agent))
	exp := d.eng.Now().Add(d.ttl)
	writeJSON(w, http.StatusOK, map[string]any{"access_token": d.Token(a.ID, exp), "expires_at": exp, "agent": a})
}

func (d *Desk) queue(w http.ResponseWriter, r *http.Request, agent string) {
	v, err := d.eng.View(r.Context(), agent)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (d *Desk) brief(w http.ResponseWriter, r *http.Request, agent string) {
	b, err := d.eng.BriefFor(r.Context(), agent, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (d *Desk) accept(w http.ResponseWriter, r *http.Request, agent string) {
	if err := d.eng.Accept(r.Context(), agent, r.PathValue("id")); err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "accepted"})
}

func (d *Desk) decline(w http.ResponseWriter, r *http.Request, agent string) {
	if err := d.eng.Decline(r.Context(), agent, r.PathValue("id")); err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "declined"})
}

func (d *Desk) feedback(w http.ResponseWriter, r *http.Request, agent string) {
	var in struct {
		ArticleID string `json:"article_id"`
		Helpful   *bool  `json:"helpful"`
	}
	if err := decode(w, r, &in); err != nil {
		d.fail(w, r, err)
		return
	}
	if in.Helpful == nil {
		d.fail(w, r, fmt.Errorf("%w: helpful is required", handoff.ErrInvalid))
		return
	}
	if err := d.eng.Feedback(r.Context(), agent, r.PathValue("id"), in.ArticleID, *in.Helpful); err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "recorded"})
}

func (d *Desk) outcome(w http.ResponseWriter, r *http.Request, agent string) {
	var in handoff.Outcome
	if err := decode(w, r, &in); err != nil {
		d.fail(w, r, err)
		return
	}
	dr, err := d.eng.RecordOutcome(r.Context(), agent, r.PathValue("id"), in)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "closed", "draft": dr})
}

func (d *Desk) ready(w http.ResponseWriter, r *http.Request, agent string) {
	if err := d.eng.Ready(r.Context(), agent); err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (d *Desk) calledBack(w http.ResponseWriter, r *http.Request, agent string) {
	var in handoff.Outcome
	if err := decode(w, r, &in); err != nil {
		d.fail(w, r, err)
		return
	}
	if err := d.eng.CalledBack(r.Context(), agent, r.PathValue("id"), in); err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "closed"})
}

// wallboard is the floor for a supervisor; every read is audited.
func (d *Desk) wallboard(w http.ResponseWriter, r *http.Request, agent string) {
	wb, err := d.eng.Wallboard(r.Context(), agent)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wb)
}

func (d *Desk) drafts(w http.ResponseWriter, r *http.Request, agent string) {
	ds, err := d.eng.Drafts(r.Context(), 50)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"drafts": ds})
}

// DeskResync is about how often an open desk's view is read whole and
// compared with what the desk shows (each desk at its own time, within
// 20% of it, so that desks opened together do not read together). A last
// resort only: every change reaches the desk by push, and a lost message
// (a gap in the channel's numbers, a subscription re-established, a
// number ahead of the last received) makes the desks resync at once.
const DeskResync = 10 * time.Minute

// WallboardEvery bounds how often a supervisor's wallboard is recomputed
// and pushed: at most once per interval, and only after a change.
const WallboardEvery = time.Second

// live sends the agent's desk view once, then only what changes for this
// desk ("delta": calls added, updated or removed, readiness, media), as
// changes made on any node arrive through the store's publish/subscribe.
// The agent is online while the socket is open (and seen, every few
// seconds); when it closes and no desk of theirs reconnects within the
// grace, their calls are requeued.
func (d *Desk) live(w http.ResponseWriter, r *http.Request) {
	agent, err := d.redeem(r.Context(), r.URL.Query().Get("ticket"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	conn := c.CloseRead(r.Context()) // the desk sends nothing; reads detect the close
	// The feed also ends when the node shuts down (EndFeeds). Reads of the
	// store and writes to the desk use the connection's context, not this
	// one: a write cancelled mid-frame closes the WebSocket without a close
	// frame, and the desk would see a dropped connection instead of "going
	// away, reconnect".
	ctx, stopFeed := context.WithCancel(conn)
	defer stopFeed()
	defer context.AfterFunc(d.feedsCtx, stopFeed)()
	defer func() {
		if d.feedsCtx.Err() != nil && conn.Err() == nil {
			// The node is shutting down: the desk reconnects, to another
			// node behind the load balancer.
			c.Close(websocket.StatusGoingAway, "node shutting down; reconnect")
		}
	}()
	log := d.log.With("agent", agent)
	// Subscribed before the first read: a change made meanwhile is
	// applied on top of it (applying one twice changes nothing).
	feed, stop := d.eng.Updates()
	defer stop()
	var mediaChanged <-chan struct{}
	if d.media != nil {
		ch, stopMedia := d.media.Subscribe()
		defer stopMedia()
		mediaChanged = ch
	}
	if err := d.eng.Online(ctx, agent); err != nil {
		log.Warn("agent could not go online", "err", err)
		// Partly online, perhaps: the check puts that right.
		d.disconnected(agent, d.eng.Now())
		c.Close(websocket.StatusInternalError, "unavailable")
		return
	}
	d.mu.Lock()
	d.feeds++
	d.mu.Unlock()
	defer func() {
		d.disconnected(agent, d.eng.Now())
		d.mu.Lock()
		d.feeds--
		d.mu.Unlock()
	}()
	send := func(msg map[string]any) bool {
		b, _ := json.Marshal(msg)
		wctx, cancel := context.WithTimeout(conn, 5*time.Second)
		defer cancel()
		return c.Write(wctx, websocket.MessageText, b) == nil
	}
	var (
		ds    *handoff.DeskState
		role  string
		media map[string]MediaStatus
	)
	// The audio of the agent's own calls: holding or bridged.
	mediaOf := func(mine []string) map[string]MediaStatus {
		m := map[string]MediaStatus{}
		for _, id := range mine {
			if d.media != nil {
				if st := d.media.Status(id); st.State != MediaNone {
					m[id] = st
				}
			}
		}
		return m
	}
	// open reads the whole view: the first message, and again after a
	// read failed.
	open := func() bool {
		v, st, err := d.eng.OpenDesk(conn, agent)
		if err != nil {
			log.Warn("desk view not read; retried at the next change or resync", "err", err)
			return true
		}
		ds, role = st, v.Role
		var mine []string
		for _, it := range v.Mine {
			mine = append(mine, it.CallID)
		}
		media = mediaOf(mine)
		msg := map[string]any{"type": "view", "view": v, "media": media}
		if role == handoff.RoleSupervisor {
			if wb, err := d.eng.Wallboard(conn, agent); err == nil {
				msg["wallboard"] = wb
			}
		}
		return send(msg)
	}
	if !open() {
		return
	}
	presence := time.NewTicker(PresenceRefresh)
	defer presence.Stop()
	resync := time.NewTicker(DeskResync*4/5 + mrand.N(DeskResync*2/5))
	defer resync.Stop()
	// A supervisor's wallboard: recomputed after changes, at most once per
	// WallboardEvery (each read is audited).
	var wallDue <-chan time.Time
	wallDirty, lastWall := false, time.Now()
	for {
		var delta handoff.DeskDelta
		full := false
		select {
		case <-ctx.Done():
			return
		case <-feed.C():
			ups, again := feed.Take()
			if ds == nil || again {
				full = true
				break
			}
			for _, u := range ups {
				dd := d.eng.ApplyDesk(conn, ds, u)
				delta.Ops = append(delta.Ops, dd.Ops...)
				if dd.OthersTotal != nil {
					delta.OthersTotal = dd.OthersTotal
				}
				if dd.NotReady != nil {
					delta.NotReady = dd.NotReady
				}
			}
			wallDirty = wallDirty || len(ups) > 0
		case <-resync.C:
			full = true
		case <-mediaChanged:
		case <-wallDue:
			wallDue = nil
		case <-presence.C:
			if err := d.eng.Seen(ctx, agent); err != nil && ctx.Err() == nil {
				log.Warn("agent's presence not refreshed", "err", err)
			}
			continue
		}
		if ds == nil {
			// The first read failed: read whole again.
			if !open() {
				return
			}
			continue
		}
		if full {
			dd, err := d.eng.ResyncDesk(conn, ds)
			if err != nil {
				log.Warn("desk resync failed", "err", err)
				continue
			}
			delta, wallDirty = dd, true
		}
		msg := map[string]any{"type": "delta"}
		if !delta.Empty() {
			msg["delta"] = delta
		}
		if m := mediaOf(ds.Mine()); !maps.EqualFunc(m, media, func(a, b MediaStatus) bool { return a == b }) {
			media = m
			msg["media"] = m
		}
		if role == handoff.RoleSupervisor && wallDirty {
			if wait := WallboardEvery - time.Since(lastWall); wait > 0 {
				if wallDue == nil {
					wallDue = time.After(wait)
				}
			} else if wb, err := d.eng.Wallboard(conn, agent); err == nil {
				msg["wallboard"], wallDirty, lastWall = wb, false, time.Now()
			} else {
				log.Warn("wallboard not pushed", "err", err)
			}
		}
		if len(msg) > 1 && !send(msg) {
			return
		}
	}
}

// signInKey names a sign-in counter; the value is hashed so that the store
// holds no agent ids or addresses in key names.
func signInKey(kind, v string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + v))
	return "desk:signin:" + kind + ":" + hex.EncodeToString(h[:12])
}

// clientAddr is the request's remote host. Behind a load balancer this is
// the balancer's address unless it preserves the client's (PROXY protocol,
// or a trusted X-Forwarded-For set by the operator's proxy: not read here,
// since a client can forge it).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// signInAllowed counts this attempt against the agent named and the
// client's address, and refuses it when either is over its limit. Every
// attempt counts, right or wrong, so that concurrent guesses cannot slip
// past a check made before the count. A store failure refuses sign-in
// (fail closed).
func (d *Desk) signInAllowed(r *http.Request, agent string) (time.Duration, error) {
	ctx := r.Context()
	for _, lim := range []struct {
		key string
		max int64
	}{{signInKey("agent", agent), SignInPerAgent}, {signInKey("addr", clientAddr(r)), SignInPerAddr}} {
		n, err := d.st.Incr(ctx, lim.key, SignInWindow)
		// A count the primary has applied but no replica confirmed in
		// time (store.replica_acks during a failover) still counts, and
		// lets the sign-in go on: failing it left the count raised with
		// no successful sign-in to reset it, and five retries in the two
		// seconds of a failover locked the agent out for the window.
		if errors.Is(err, store.ErrNotReplicated) {
			err = nil
		}
		if err != nil {
			return 0, fmt.Errorf("%w: sign-in limit: %w", handoff.ErrUnavailable, err)
		}
		if n > lim.max {
			wait, err := d.st.TTL(ctx, lim.key)
			if err != nil || wait <= 0 {
				wait = SignInWindow
			}
			d.log.Warn("desk sign-in refused: too many attempts", "limit", lim.max, "window", SignInWindow)
			return wait, ErrTooMany
		}
	}
	return 0, nil
}

func ticketKey(t string) string {
	h := sha256.Sum256([]byte(t))
	return "desk:ticket:" + hex.EncodeToString(h[:])
}

// ticket issues a one-time ticket for the agent's WebSocket: browsers
// cannot set headers on one, and the access token must not go in a URL.
// The ticket is kept (hashed) in the store for TicketTTL, so the socket
// may open on any node.
func (d *Desk) ticket(w http.ResponseWriter, r *http.Request, agent string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	t := base64.RawURLEncoding.EncodeToString(b)
	if err := d.st.Set(r.Context(), ticketKey(t), agent, TicketTTL); err != nil {
		d.fail(w, r, fmt.Errorf("%w: %w", handoff.ErrUnavailable, err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ticket": t, "expires_in_s": int(TicketTTL.Seconds())})
}

// redeem consumes a ticket (GETDEL: a second use finds nothing) and
// returns its agent, who must still be on the roster.
func (d *Desk) redeem(ctx context.Context, t string) (string, error) {
	if t == "" {
		return "", ErrUnauthorized
	}
	agent, err := d.st.GetDel(ctx, ticketKey(t))
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrUnauthorized
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", handoff.ErrUnavailable, err)
	}
	if _, err := d.eng.Roster().Agent(agent); err != nil {
		return "", err
	}
	return agent, nil
}
