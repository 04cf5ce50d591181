package handoff

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/callbrief/callbrief/call"
	"github.com/callbrief/callbrief/data/routing"
	"github.com/callbrief/callbrief/data/taxonomy"
	"github.com/callbrief/callbrief/handoff/queue"
)

// RoutingConfig is data/routing/default.yaml.
type RoutingConfig struct {
	Timezone string  `yaml:"timezone"`
	Groups   []Group `yaml:"groups"`
	Levels   struct {
		Default int            `yaml:"default"`
		Intents map[string]int `yaml:"intents"`
		Urgency map[string]int `yaml:"urgency"`
	} `yaml:"levels"`
	DialectLine struct {
		Name         string   `yaml:"name"`
		Languages    []string `yaml:"languages"`
		AccountFlags []string `yaml:"account_flags"`
	} `yaml:"dialect_line"`
	Languages map[string]string `yaml:"languages"`
	Priority  struct {
		Emergency  int            `yaml:"emergency"`
		Urgency    map[string]int `yaml:"urgency"`
		WantsHuman int            `yaml:"wants_human"`
	} `yaml:"priority"`
	Rules         []Rule            `yaml:"rules"`
	NumberRegions map[string]string `yaml:"number_regions"`
}

// Group is a skill group and the intents it handles.
type Group struct {
	ID      string   `yaml:"id"`
	Intents []string `yaml:"intents"`
}

// Rule changes routing when all its conditions hold: a time window
// (from/to), daily hours, regions, account flags, intents, a minimum
// urgency. Its effects: raise priority, send to another group, require a
// higher level.
type Rule struct {
	Name         string   `yaml:"name"`
	From         string   `yaml:"from"`
	To           string   `yaml:"to"`
	Hours        string   `yaml:"hours"` // "22:00-06:00", local to the timezone
	Regions      []string `yaml:"regions"`
	AccountFlags []string `yaml:"account_flags"`
	Intents      []string `yaml:"intents"`
	MinUrgency   string   `yaml:"min_urgency"`
	Raise        int      `yaml:"raise"`
	Group        string   `yaml:"group"`
	MinLevel     int      `yaml:"min_level"`

	from, to         time.Time
	startMin, endMin int
	hasHours         bool
	minUrgency       call.UrgencyLevel
	hasMinUrgency    bool
}

// Decision is where a call goes and why.
type Decision struct {
	Group    string   `json:"group"`
	MinLevel int      `json:"min_level"`
	Language string   `json:"language,omitempty"`
	Line     string   `json:"line,omitempty"`
	Priority int      `json:"priority"`
	Region   string   `json:"region,omitempty"`
	Rules    []string `json:"rules,omitempty"`
	// Reasons explain the decision to the agent and in logs.
	Reasons []string `json:"reasons,omitempty"`
}

// Entry turns the decision into the queue's entry.
func (d Decision) Entry(callID string, at time.Time) queue.Entry {
	return queue.Entry{CallID: callID, Group: d.Group, MinLevel: d.MinLevel, Language: d.Language,
		Line: d.Line, Priority: d.Priority, Enqueued: at}
}

// Router decides routing from a RoutingConfig. Safe for concurrent use.
type Router struct {
	cfg     RoutingConfig
	loc     *time.Location
	byGroup map[string]string // intent -> group
	groups  []string
}

var urgencyNames = map[string]call.UrgencyLevel{
	"normal": call.UrgencyNormal, "elevated": call.UrgencyElevated, "high": call.UrgencyHigh, "emergency": call.UrgencyEmergency,
}

// DefaultRouter parses the embedded default routing.
func DefaultRouter(tax *taxonomy.Taxonomy) (*Router, error) {
	return ParseRouting(routing.DefaultName, routing.Default, tax)
}

// ParseRouting reads a routing file strictly. Each intent of tax goes to
// the group its taxonomy skill names, unless a group of the file lists it
// (an operator's override); a skill naming no group, an intent in two
// groups or a group naming an intent tax does not know is an error. With
// tax nil only the file's own lists count (tests of the file alone).
func ParseRouting(name string, data []byte, tax *taxonomy.Taxonomy) (*Router, error) {
	var knownIntents []string
	if tax != nil {
		knownIntents = tax.IDs()
	}
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s: %s", ErrConfig, name, field, fmt.Sprintf(format, a...))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c RoutingConfig
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	r := &Router{cfg: c, byGroup: map[string]string{}}
	var err error
	if r.loc, err = time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		return nil, bad("timezone", "%q is not a time zone", c.Timezone)
	}
	if len(c.Groups) == 0 {
		return nil, bad("groups", "no skill group")
	}
	for i, g := range c.Groups {
		if g.ID == "" {
			return nil, bad(fmt.Sprintf("groups[%d].id", i), "is empty")
		}
		r.groups = append(r.groups, g.ID)
		for _, in := range g.Intents {
			if knownIntents != nil && !slices.Contains(knownIntents, in) {
				return nil, bad("groups."+g.ID, "unknown intent %q", in)
			}
			if prev, ok := r.byGroup[in]; ok {
				return nil, bad("groups."+g.ID, "intent %q already in group %s", in, prev)
			}
			r.byGroup[in] = g.ID
		}
	}
	if tax != nil {
		for _, in := range tax.Intents() {
			if _, ok := r.byGroup[in.ID]; ok {
				continue
			}
			if !slices.Contains(r.groups, in.Skill) {
				return nil, bad("groups", "intent %q: its taxonomy skill %q is no group of this file (groups: %v)", in.ID, in.Skill, r.groups)
			}
			r.byGroup[in.ID] = in.Skill
		}
	}
	if _, ok := r.byGroup[string(call.IntentOutOfScope)]; !ok {
		return nil, bad("groups", "no group handles %s", call.IntentOutOfScope)
	}
	checkLevel := func(field string, l int) error {
		if l < 1 || l > 5 {
			return bad(field, "level %d is not between 1 and 5", l)
		}
		return nil
	}
	if err := checkLevel("levels.default", c.Levels.Default); err != nil {
		return nil, err
	}
	for k, l := range c.Levels.Intents {
		if _, ok := r.byGroup[k]; !ok {
			return nil, bad("levels.intents."+k, "unknown intent")
		}
		if err := checkLevel("levels.intents."+k, l); err != nil {
			return nil, err
		}
	}
	for k, l := range c.Levels.Urgency {
		if _, ok := urgencyNames[k]; !ok {
			return nil, bad("levels.urgency."+k, "not an urgency (normal, elevated, high, emergency)")
		}
		if err := checkLevel("levels.urgency."+k, l); err != nil {
			return nil, err
		}
	}
	for k := range c.Priority.Urgency {
		if _, ok := urgencyNames[k]; !ok {
			return nil, bad("priority.urgency."+k, "not an urgency")
		}
	}
	if c.Priority.Emergency <= 0 || c.Priority.Emergency > queue.MaxPriority {
		return nil, bad("priority.emergency", "must be between 1 and %d", queue.MaxPriority)
	}
	for i := range c.Rules {
		ru := &r.cfg.Rules[i]
		f := fmt.Sprintf("rules[%d]", i)
		if ru.Name == "" {
			return nil, bad(f+".name", "is empty")
		}
		f = "rules." + ru.Name
		if ru.From != "" {
			if ru.from, err = time.Parse(time.RFC3339, ru.From); err != nil {
				return nil, bad(f+".from", "%q is not RFC 3339", ru.From)
			}
		}
		if ru.To != "" {
			if ru.to, err = time.Parse(time.RFC3339, ru.To); err != nil {
				return nil, bad(f+".to", "%q is not RFC 3339", ru.To)
			}
		}
		if ru.Hours != "" {
			a, b, ok := strings.Cut(ru.Hours, "-")
			s, err1 := clock(a)
			e, err2 := clock(b)
			if !ok || err1 != nil || err2 != nil {
				return nil, bad(f+".hours", "%q is not HH:MM-HH:MM", ru.Hours)
			}
			ru.startMin, ru.endMin, ru.hasHours = s, e, true
		}
		if ru.MinUrgency != "" {
			u, ok := urgencyNames[ru.MinUrgency]
			if !ok {
				return nil, bad(f+".min_urgency", "%q is not an urgency", ru.MinUrgency)
			}
			ru.minUrgency, ru.hasMinUrgency = u, true
		}
		for _, in := range ru.Intents {
			if _, ok := r.byGroup[in]; !ok {
				return nil, bad(f+".intents", "unknown intent %q", in)
			}
		}
		if ru.MinLevel != 0 {
			if err := checkLevel(f+".min_level", ru.MinLevel); err != nil {
				return nil, err
			}
		}
		if ru.Group != "" && !slices.Contains(r.groups, ru.Group) {
			r.groups = append(r.groups, ru.Group) // a group only rules send to
		}
	}
	return r, nil
}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("bad clock %q", s)
	}
	return hh*60 + mm, nil
}

// Groups lists every skill group, including those only rules send to.
func (r *Router) Groups() []string { return slices.Clone(r.groups) }

// Region returns the caller's region: the one given, else the longest
// matching number prefix.
func (r *Router) Region(given, e164 string) string {
	if given != "" {
		return given
	}
	best, reg := 0, ""
	for p, rg := range r.cfg.NumberRegions {
		if strings.HasPrefix(e164, p) && len(p) > best {
			best, reg = len(p), rg
		}
	}
	return reg
}

// Route decides where a call goes.
func (r *Router) Route(req Request) Decision {
	c := r.cfg
	intent := string(req.Intent.Intent)
	if req.WantsHuman && (intent == "" || intent == string(call.IntentOutOfScope)) {
		intent = "human_agent"
	}
	d := Decision{Group: r.byGroup[intent], MinLevel: c.Levels.Default}
	if d.Group == "" {
		d.Group = r.byGroup[string(call.IntentOutOfScope)]
		d.Reasons = append(d.Reasons, fmt.Sprintf("intent %q has no group: general queue", intent))
	} else {
		d.Reasons = append(d.Reasons, fmt.Sprintf("intent %s: group %s", intent, d.Group))
	}
	if l, ok := c.Levels.Intents[intent]; ok && l > d.MinLevel {
		d.MinLevel = l
		d.Reasons = append(d.Reasons, fmt.Sprintf("intent %s needs level %d", intent, l))
	}
	for _, name := range sortedKeys(c.Levels.Urgency) {
		l := c.Levels.Urgency[name]
		if req.Urgency.Level >= urgencyNames[name] && l > d.MinLevel {
			d.MinLevel = l
			d.Reasons = append(d.Reasons, fmt.Sprintf("urgency %s needs level %d", req.Urgency.Level, l))
		}
	}

	lang := string(req.Language.Language)
	if lang == "" {
		lang = string(call.LangUndetermined)
	}
	if req.Account != nil && req.Verification.Verified() && req.Language.Language == call.LangUndetermined && req.Account.Language != "" {
		lang = req.Account.Language // the account's language when speech did not tell
	}
	d.Language = c.Languages[lang]
	if slices.Contains(c.DialectLine.Languages, lang) {
		d.Line = c.DialectLine.Name
		d.Reasons = append(d.Reasons, fmt.Sprintf("speaks %s: %s line", lang, d.Line))
	}
	if req.Account != nil {
		for _, f := range req.Account.Flags {
			if slices.Contains(c.DialectLine.AccountFlags, f) {
				d.Line = c.DialectLine.Name
				d.Reasons = append(d.Reasons, fmt.Sprintf("%s caller: %s line", f, d.Line))
				break
			}
		}
	}

	emergency := req.Verification.Emergency || req.Urgency.Level >= call.UrgencyEmergency
	switch {
	case emergency:
		d.Priority = c.Priority.Emergency
		d.Reasons = append(d.Reasons, "emergency: first in every queue")
	default:
		d.Priority = c.Priority.Urgency[req.Urgency.Level.String()]
		if req.WantsHuman {
			d.Priority += c.Priority.WantsHuman
		}
	}

	d.Region = r.Region(req.Region, req.Caller)
	at := req.At.In(r.loc)
	for _, ru := range c.Rules {
		if !r.applies(ru, req, intent, d.Region, at) {
			continue
		}
		d.Rules = append(d.Rules, ru.Name)
		if ru.Raise != 0 && !emergency {
			d.Priority += ru.Raise
			d.Reasons = append(d.Reasons, fmt.Sprintf("rule %s: priority +%d", ru.Name, ru.Raise))
		}
		if ru.Group != "" {
			d.Group = ru.Group
			d.Reasons = append(d.Reasons, fmt.Sprintf("rule %s: group %s", ru.Name, ru.Group))
		}
		if ru.MinLevel > d.MinLevel {
			d.MinLevel = ru.MinLevel
		}
	}
	if !emergency {
		// Nothing but an emergency may reach the emergency class.
		d.Priority = min(d.Priority, c.Priority.Emergency-1)
	}
	return d
}

func (r *Router) applies(ru Rule, req Request, intent, region string, at time.Time) bool {
	if !ru.from.IsZero() && at.Before(ru.from) || !ru.to.IsZero() && !at.Before(ru.to) {
		return false
	}
	if ru.hasHours {
		m := at.Hour()*60 + at.Minute()
		in := ru.startMin <= m && m < ru.endMin
		if ru.startMin > ru.endMin { // crosses midnight
			in = m >= ru.startMin || m < ru.endMin
		}
		if !in {
			return false
		}
	}
	if len(ru.Regions) > 0 && !slices.Contains(ru.Regions, region) {
		return false
	}
	if len(ru.Intents) > 0 && !slices.Contains(ru.Intents, intent) {
		return false
	}
	if ru.hasMinUrgency && req.Urgency.Level < ru.minUrgency {
		return false
	}
	if len(ru.AccountFlags) > 0 {
		if req.Account == nil || !slices.ContainsFunc(req.Account.Flags, func(f string) bool { return slices.Contains(ru.AccountFlags, f) }) {
			return false
		}
	}
	return true
}

// sortedKeys is for deterministic messages.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
