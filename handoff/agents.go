package handoff

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/callbrief/callbrief/data/agents"
	"github.com/callbrief/callbrief/handoff/queue"
)

// AgentRecord is one agent of the agents file: the routing profile and
// the desk sign-in token.
type AgentRecord struct {
	ID        string   `yaml:"id"`
	Name      string   `yaml:"name"`
	Level     int      `yaml:"level"`
	Groups    []string `yaml:"groups"`
	Languages []string `yaml:"languages"`
	Lines     []string `yaml:"lines"`
	Token     string   `yaml:"token"`
	// Role is "agent" (the default) or "supervisor": a supervisor sees
	// the wallboard, and takes calls only if given groups.
	Role string `yaml:"role"`
}

// Roles.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
)

// Roster is the agents who may sign in to the desk.
type Roster struct {
	byID map[string]AgentRecord
	ids  []string
}

// MinTokenLen bounds desk tokens from below: short tokens can be guessed.
const MinTokenLen = 16

// DemoRoster parses the embedded demo agents.
func DemoRoster(groups []string) (*Roster, error) {
	return ParseRoster(agents.DemoName, agents.Demo, groups)
}

// LoadRoster reads an agents file.
func LoadRoster(path string, groups []string) (*Roster, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return ParseRoster(path, b, groups)
}

// ParseRoster reads an agents file strictly. groups, when given, are the
// skill groups routing knows; an agent staffing another is an error.
func ParseRoster(name string, data []byte, groups []string) (*Roster, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f struct {
		Agents []AgentRecord `yaml:"agents"`
	}
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	r := &Roster{byID: map[string]AgentRecord{}}
	for i, a := range f.Agents {
		at := fmt.Sprintf("%s: agents[%d]", name, i)
		switch {
		case a.ID == "":
			return nil, fmt.Errorf("%w: %s.id: is empty", ErrConfig, at)
		case a.Level < 1 || a.Level > 5:
			return nil, fmt.Errorf("%w: %s.level: %d is not between 1 and 5", ErrConfig, at, a.Level)
		case len(a.Token) < MinTokenLen:
			return nil, fmt.Errorf("%w: %s.token: shorter than %d characters", ErrConfig, at, MinTokenLen)
		case a.Role != "" && a.Role != RoleAgent && a.Role != RoleSupervisor:
			return nil, fmt.Errorf("%w: %s.role: %q is not agent or supervisor", ErrConfig, at, a.Role)
		case a.Role != RoleSupervisor && (len(a.Groups) == 0 || len(a.Languages) == 0):
			return nil, fmt.Errorf("%w: %s: needs groups and languages", ErrConfig, at)
		}
		if a.Role == "" {
			a.Role = RoleAgent
		}
		if _, dup := r.byID[a.ID]; dup {
			return nil, fmt.Errorf("%w: %s.id: %q listed twice", ErrConfig, at, a.ID)
		}
		for _, g := range a.Groups {
			if groups != nil && !contains(groups, g) {
				return nil, fmt.Errorf("%w: %s.groups: unknown group %q", ErrConfig, at, g)
			}
		}
		r.byID[a.ID] = a
		r.ids = append(r.ids, a.ID)
	}
	if len(r.ids) == 0 {
		return nil, fmt.Errorf("%w: %s: no agents", ErrConfig, name)
	}
	return r, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Agent returns an agent's routing profile.
func (r *Roster) Agent(id string) (queue.Agent, error) {
	a, ok := r.byID[id]
	if !ok {
		return queue.Agent{}, fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	return queue.Agent{ID: a.ID, Name: a.Name, Level: a.Level, Groups: a.Groups, Languages: a.Languages, Lines: a.Lines}, nil
}

// Record returns an agent's entry without the token.
func (r *Roster) Record(id string) (AgentRecord, error) {
	a, ok := r.byID[id]
	if !ok {
		return AgentRecord{}, fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	a.Token = ""
	return a, nil
}

// IDs lists the agents in file order.
func (r *Roster) IDs() []string { return append([]string(nil), r.ids...) }

// CheckToken verifies an agent's desk token in constant time (hashes of
// equal length are compared, so the token length does not leak either).
func (r *Roster) CheckToken(id, token string) (queue.Agent, error) {
	a, ok := r.byID[id]
	if !ok {
		return queue.Agent{}, fmt.Errorf("%w: %q", ErrUnknownAgent, id)
	}
	h1, h2 := sha256.Sum256([]byte(a.Token)), sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(h1[:], h2[:]) != 1 {
		return queue.Agent{}, fmt.Errorf("%w: wrong token for %q", ErrForbidden, id)
	}
	return r.Agent(id)
}
