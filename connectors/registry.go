package connectors

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Info describes a registered connector: what GET /api/admin/connectors
// lists.
type Info struct {
	Name         string       `json:"name"`
	Capabilities []Capability `json:"capabilities"`
	SyncTypes    []string     `json:"sync_types"`
	Schema       Schema       `json:"config_schema"`
	// Streams are the poll streams of a connector made of streams (a
	// StreamLister); empty for the others.
	Streams []StreamInfo `json:"streams,omitempty"`
}

// Supports reports whether the connector declares c.
func (i Info) Supports(c Capability) bool { return slices.Contains(i.Capabilities, c) }

// WebhookReceiver is a connector that only receives provider webhooks: it
// may declare no capability (nothing to poll, nothing to push), since the
// webhook receiver, not the runner, drives it.
type WebhookReceiver interface {
	ReceivesWebhooks() bool
}

// Registry holds the connectors the hub knows. The app builds one at
// startup, registers every first-party connector explicitly, and refuses to
// start when a registration fails; after that it is only read. There is no
// package-level registry.
type Registry struct {
	mu    sync.RWMutex
	names []string
	defs  map[string]registration
}

type registration struct {
	info    Info
	factory Factory
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{defs: map[string]registration{}} }

var connectorNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{1,31}$`)

// RegistrationError lists why a connector was refused.
type RegistrationError struct {
	Name     string
	Problems []string
}

func (e *RegistrationError) Error() string {
	return fmt.Sprintf("connector %q refused: %s", e.Name, strings.Join(e.Problems, "; "))
}

// Register adds the connector built by f under name. It refuses, with a
// *RegistrationError listing every problem, a name that is taken or not a
// lowercase identifier (2-32 of a-z, 0-9, _), a nil factory, a connector
// declaring no capabilities or unknown or repeated ones, and a malformed
// config schema. It calls f once with a zero Env to read the schema and
// capabilities; a factory that panics on that is refused too.
func (r *Registry) Register(name string, f Factory) (err error) {
	var problems []string
	if !connectorNameRE.MatchString(name) {
		problems = append(problems, "name must match "+connectorNameRE.String())
	}
	if f == nil {
		return &RegistrationError{Name: name, Problems: append(problems, "factory is nil")}
	}
	var c Connector
	func() {
		defer func() {
			if v := recover(); v != nil {
				problems = append(problems, fmt.Sprintf("factory panicked on a zero Env: %v", v))
			}
		}()
		c = f(Env{Connector: name})
	}()
	if c == nil {
		if len(problems) == 0 {
			problems = append(problems, "factory returned nil")
		}
		return &RegistrationError{Name: name, Problems: problems}
	}
	caps := slices.Clone(c.Capabilities())
	if wr, ok := c.(WebhookReceiver); len(caps) == 0 && (!ok || !wr.ReceivesWebhooks()) {
		problems = append(problems, "declares no capabilities")
	}
	for i, cp := range caps {
		if !slices.Contains(KnownCapabilities(), cp) {
			problems = append(problems, fmt.Sprintf("unknown capability %q", cp))
		} else if slices.Index(caps, cp) != i {
			problems = append(problems, fmt.Sprintf("capability %q repeated", cp))
		}
	}
	schema := c.ConfigSchema()
	for _, p := range schema.Validate() {
		problems = append(problems, "config schema: "+p)
	}
	var streams []StreamInfo
	if sl, ok := c.(StreamLister); ok {
		streams = slices.Clone(sl.Streams())
		problems = append(problems, streamProblems(streams, caps)...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.defs[name]; dup {
		problems = append(problems, "name already registered")
	}
	if len(problems) > 0 {
		return &RegistrationError{Name: name, Problems: problems}
	}
	info := Info{Name: name, Schema: schema, Capabilities: []Capability{}, SyncTypes: []string{}, Streams: streams}
	for _, k := range KnownCapabilities() { // canonical order
		if slices.Contains(caps, k) {
			info.Capabilities = append(info.Capabilities, k)
			info.SyncTypes = append(info.SyncTypes, SyncTypeOf(k))
			if k == CapPushFulfillment {
				info.SyncTypes = append(info.SyncTypes, SyncFulfillmentHealth)
			}
		}
	}
	r.defs[name] = registration{info: info, factory: f}
	r.names = append(r.names, name)
	slices.Sort(r.names)
	return nil
}

// Lookup returns the connector registered as name.
func (r *Registry) Lookup(name string) (Info, Factory, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.defs[name]
	return d.info, d.factory, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.names)
}

// Infos describes every registered connector, sorted by name.
func (r *Registry) Infos() []Info {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Info, 0, len(r.names))
	for _, n := range r.names {
		out = append(out, r.defs[n].info)
	}
	return out
}

// streamProblems checks declared streams: unique keys, a sync type the
// connector has the capability for, a schedule that parses.
func streamProblems(streams []StreamInfo, caps []Capability) []string {
	var problems []string
	seen := map[string]bool{}
	for _, st := range streams {
		if seen[st.Key] || st.Key == "" {
			problems = append(problems, fmt.Sprintf("stream %q: key empty or repeated", st.Key))
		}
		seen[st.Key] = true
		if c, ok := CapabilityOf(st.SyncType); !ok || !slices.Contains(caps, c) || st.SyncType == SyncFulfillment {
			problems = append(problems, fmt.Sprintf("stream %q: sync type %q is not one this connector syncs", st.Key, st.SyncType))
		}
		if st.Schedule != "" {
			if _, err := ParseScheduleText(st.Schedule); err != nil {
				problems = append(problems, fmt.Sprintf("stream %q: schedule %q: %v", st.Key, st.Schedule, err))
			}
		}
	}
	return problems
}
