package integrations

import (
	"fmt"
	"slices"
	"strings"
)

// Resources an integration holds permissions over.
const (
	ResourceWarehouses = "warehouses"
	ResourceItems      = "items"
	ResourceOrders     = "orders"
	ResourceInventory  = "inventory"
	ResourceEvents     = "events"
	ResourceWebhooks   = "webhooks"
	ResourceConnectors = "connectors"
)

// Resources lists every resource, in the order the UI shows them.
var Resources = []string{ResourceWarehouses, ResourceItems, ResourceOrders, ResourceInventory,
	ResourceEvents, ResourceWebhooks, ResourceConnectors}

// Level is a permission level; each includes the ones below it.
type Level int

// The levels, lowest first.
const (
	LevelNone Level = iota
	LevelRead
	LevelWrite
	LevelAdmin
)

var levelNames = []string{"none", "read", "write", "admin"}

func (l Level) String() string {
	if l < LevelNone || l > LevelAdmin {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads a level name.
func ParseLevel(s string) (Level, bool) {
	i := slices.Index(levelNames, s)
	return Level(i), i >= 0
}

// Permissions maps each resource to its level name. A missing resource is
// none.
type Permissions map[string]string

// Level returns the level held on resource.
func (p Permissions) Level(resource string) Level {
	l, _ := ParseLevel(p[resource])
	return l
}

// Allows reports whether p holds at least level on resource.
func (p Permissions) Allows(resource string, level Level) bool {
	return p.Level(resource) >= level
}

// NormalizePermissions checks in (unknown resources or levels are named in
// fields under "permissions.<resource>") and returns it with every
// resource present.
func NormalizePermissions(in map[string]string, fields map[string]string) Permissions {
	out := Permissions{}
	for r, l := range in {
		if !slices.Contains(Resources, r) {
			fields["permissions."+r] = "unknown resource (valid: " + strings.Join(Resources, ", ") + ")"
			continue
		}
		if _, ok := ParseLevel(l); !ok {
			fields["permissions."+r] = `must be "none", "read", "write" or "admin"`
			continue
		}
		out[r] = l
	}
	for _, r := range Resources {
		if out[r] == "" {
			out[r] = "none"
		}
	}
	return out
}

// Requirement is what a route needs of an integration token: a level on a
// resource. A zero Requirement (no resource) means integrations may never
// use the route (people's business: tokens, sessions, audit, integrations).
type Requirement struct {
	Resource string
	Level    Level
}

// Never is the requirement of routes closed to integrations.
var Never = Requirement{}

// Self is the requirement of routes about the calling integration itself
// (confirming its own installation): every integration may call them, and
// the handler keeps each to its own.
var Self = Requirement{Resource: "(self)"}

// Describe says what the requirement is, for a 403 message.
func (r Requirement) Describe() string {
	switch r {
	case Never:
		return "no integration may use this endpoint"
	case Self:
		return "an integration, about itself"
	}
	return r.Resource + ":" + r.Level.String()
}
