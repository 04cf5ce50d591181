// Package caller serves the caller's web page (microphone, call button,
// live captions, DTMF keypad, hang-up) from assets embedded in the binary,
// and the captions stream the page listens to.
//
// The page talks to two endpoints, given to New:
//
//	POST {WHIP}            SDP offer -> 201 + answer + Location (media/webrtc)
//	DELETE {Location}      hang up
//	GET  {Captions}{id}    text/event-stream of Caption JSON, id = last
//	                       segment of Location
package caller

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/callbrief/callbrief/web"
)

//go:embed static
var static embed.FS

// Caption is one line of the live transcript shown to the caller, or
// (Queue set) where the caller stands on hold.
type Caption struct {
	Text  string `json:"text,omitempty"`
	Final bool   `json:"final"` // a partial is replaced by the next caption
	Queue *Queue `json:"queue,omitempty"`
}

// Queue is the caller's place on hold, shown in their language.
type Queue struct {
	// State: waiting (at Position, 1 being next), agent (an agent has
	// the call), gone (no longer waiting).
	State    string `json:"state"`
	Position int    `json:"position,omitempty"`
	// Lang is the page's language for it: zh, yue or en.
	Lang string `json:"lang"`
}

// PageLang is the caller page's language for a call's language tag (as
// the brief has it: cmn, yue, en...): Cantonese and English callers read
// their own, every other Chinese variety written Chinese.
func PageLang(tag string) string {
	switch tag {
	case "yue", "en":
		return tag
	}
	return "zh"
}

// Config names the endpoints the page uses.
type Config struct {
	WHIP     string // default "/v1/whip"
	Captions string // prefix of the captions stream, default "/call/captions/"
	// Resolve turns the call's resource (ID.SECRET, from its WHIP
	// Location, which only the caller's page has) into the call id whose
	// captions it may read; nil serves captions by bare call id (tests of
	// the page alone).
	Resolve func(resource string) (callID string, ok bool)
}

// Handler serves the page and its assets at "/" and the captions stream.
// Mount it with http.StripPrefix at the parent of Config.Captions
// ("/call/" by default), so /call/ is the page.
type Handler struct {
	cfg  Config
	hub  *Hub
	page *template.Template
	mux  *http.ServeMux
}

// New returns the page handler; hub feeds its captions.
func New(cfg Config, hub *Hub) (*Handler, error) {
	if cfg.WHIP == "" {
		cfg.WHIP = "/v1/whip"
	}
	if cfg.Captions == "" {
		cfg.Captions = "/call/captions/"
	}
	page, err := template.ParseFS(static, "static/index.html")
	if err != nil {
		return nil, fmt.Errorf("caller: page template: %w", err)
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, hub: hub, page: page, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", web.Static(sub)))
	h.mux.HandleFunc("GET /captions/{id}", h.captions)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.page.Execute(w, h.cfg); err != nil {
		http.Error(w, "page: "+err.Error(), http.StatusInternalServerError)
	}
}

// captions streams a call's captions as server-sent events until the
// client goes away or the call's captions end (Hub.End).
func (h *Handler) captions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	fl, ok := w.(http.Flusher)
	if !ok || id == "" || strings.ContainsAny(id, "/?") {
		http.Error(w, "bad captions request", http.StatusBadRequest)
		return
	}
	if h.cfg.Resolve != nil {
		// The captions are the caller's words: only the page that placed
		// the call (it holds the resource's secret) reads them.
		if id, ok = h.cfg.Resolve(id); !ok {
			http.Error(w, "no such call", http.StatusNotFound)
			return
		}
	}
	ch, cancel := h.hub.Subscribe(id)
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		// A HEAD has no body to stream: returning frees the connection,
		// which the client may reuse as soon as it has the headers.
		return
	}
	fl.Flush()
	keep := time.NewTicker(15 * time.Second) // proxies close idle streams
	defer keep.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case c, ok := <-ch:
			if !ok {
				fmt.Fprint(w, "event: end\ndata: {}\n\n")
				fl.Flush()
				return
			}
			b, _ := json.Marshal(c)
			fmt.Fprintf(w, "data: %s\n\n", b)
			fl.Flush()
		}
	}
}

// Hub fans captions out to the pages watching each call. Publishing never
// blocks the pipeline: a page that falls behind misses partials, which
// the next caption supersedes anyway.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[chan Caption]struct{}
	// hold is each call's last place on hold: a page that (re)connects
	// is told it at once, not at the queue's next move.
	hold map[string]Caption
}

// NewHub returns an empty hub.
func NewHub() *Hub {
	return &Hub{subs: map[string]map[chan Caption]struct{}{}, hold: map[string]Caption{}}
}

// Subscribe returns a channel of callID's captions and a function that
// unsubscribes. The channel is closed by End or by the function.
func (h *Hub) Subscribe(callID string) (<-chan Caption, func()) {
	ch := make(chan Caption, 16)
	h.mu.Lock()
	if h.subs[callID] == nil {
		h.subs[callID] = map[chan Caption]struct{}{}
	}
	h.subs[callID][ch] = struct{}{}
	if c, ok := h.hold[callID]; ok {
		ch <- c
	}
	h.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if _, ok := h.subs[callID][ch]; ok {
				delete(h.subs[callID], ch)
				close(ch)
			}
		})
	}
}

// Publish sends c to every page watching callID.
func (h *Hub) Publish(_ context.Context, callID string, c Caption) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.Queue != nil {
		h.hold[callID] = c
	}
	for ch := range h.subs[callID] {
		select {
		case ch <- c:
		default: // a slow page misses a caption rather than stall the call
		}
	}
}

// End closes callID's streams: the call is over.
func (h *Hub) End(callID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.subs[callID] {
		close(ch)
	}
	delete(h.subs, callID)
	delete(h.hold, callID)
}
