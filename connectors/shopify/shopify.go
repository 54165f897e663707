package shopify

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"sentryhub/connectors"
)

// Name is the connector's registry name and its records' source name.
const Name = "shopify"

// DefaultAPIVersion is the pinned Admin API version.
const DefaultAPIVersion = "2025-10"

// SupportedAPIVersions are the versions the queries here are written for.
func SupportedAPIVersions() []string { return []string{"2025-07", "2025-10", "2026-01"} }

// Auth modes.
const (
	AuthAccessToken       = "access_token"
	AuthClientCredentials = "client_credentials"
)

// Runtime credential keys the connector saves in the vault (client
// credentials mode).
const (
	keyOAuthToken   = "oauth_access_token"
	keyOAuthExpires = "oauth_token_expires_at"
)

// Options tune the connector; the zero value is production.
type Options struct {
	// BaseURL maps a shop domain to the origin requests go to; nil means
	// "https://" + shop. Tests point it at a fake server.
	BaseURL func(shop string) string
	// OrdersPerPage and LinesPerOrder size the orders query (25, 30): with
	// Shopify's cost rules that keeps one page near 850 points, under the
	// 1,000-point single query limit. Orders with more lines fetch the rest
	// separately.
	OrdersPerPage int
	LinesPerOrder int
	// VariantsPerPage and LevelsPerPage size the item and inventory queries
	// (100, 100).
	VariantsPerPage int
	LevelsPerPage   int
	// MaxWindowObjects is where Shopify stops paginating a search (25,000):
	// past it the orders sync starts a new date window at the last
	// updated_at it saw.
	MaxWindowObjects int
	// RefreshBefore renews a client-credentials token this long before it
	// expires (5m).
	RefreshBefore time.Duration
}

func (o *Options) defaults() {
	setInt := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	setInt(&o.OrdersPerPage, 25)
	setInt(&o.LinesPerOrder, 30)
	setInt(&o.VariantsPerPage, 100)
	setInt(&o.LevelsPerPage, 100)
	setInt(&o.MaxWindowObjects, 25_000)
	if o.RefreshBefore <= 0 {
		o.RefreshBefore = 5 * time.Minute
	}
	o.OrdersPerPage = min(o.OrdersPerPage, 250)
	o.LinesPerOrder = min(o.LinesPerOrder, 250)
	o.VariantsPerPage = min(o.VariantsPerPage, 250)
	o.LevelsPerPage = min(o.LevelsPerPage, 250)
}

// Register adds the Shopify connector to r.
func Register(r *connectors.Registry, opts Options) error {
	return r.Register(Name, NewDriver(opts).New)
}

// Driver holds what the connector instances of one registration share: the
// options and the client-credentials token state per shop, so concurrent
// runs of one warehouse refresh a token once.
type Driver struct {
	opts   Options
	mu     sync.Mutex
	tokens map[string]*tokenState
}

// NewDriver returns a driver; its New method is the connectors.Factory.
func NewDriver(opts Options) *Driver {
	opts.defaults()
	return &Driver{opts: opts, tokens: map[string]*tokenState{}}
}

func (d *Driver) tokenState(key string) *tokenState {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts, ok := d.tokens[key]
	if !ok {
		ts = &tokenState{lock: make(chan struct{}, 1)}
		d.tokens[key] = ts
	}
	return ts
}

// Connector is the Shopify connector bound to one warehouse.
type Connector struct {
	d      *Driver
	env    connectors.Env
	shop   string
	origin string
	ver    string
	mode   string
	loc    string // location gid, "" when unset
	cfgErr error
	gql    *gqlClient
}

// New is the connectors.Factory.
func (d *Driver) New(env connectors.Env) connectors.Connector {
	c := &Connector{d: d, env: env,
		shop: strings.ToLower(strings.TrimSpace(env.Settings.String("shop_domain"))),
		ver:  env.Settings.String("api_version"), mode: env.Settings.String("auth_mode")}
	if c.ver == "" {
		c.ver = DefaultAPIVersion
	}
	if c.mode == "" {
		c.mode = AuthAccessToken
	}
	secrets := map[string]bool{}
	for k, s := range env.Secrets {
		secrets[k] = !s.IsZero()
	}
	if bad := validate(env.Settings, secrets, c.mode, c.shop); len(bad) > 0 {
		c.cfgErr = &connectors.ConfigError{Connector: Name, Fields: bad}
	}
	c.loc = locationGID(env.Settings.String("location_id"))
	c.origin = "https://" + c.shop
	if d.opts.BaseURL != nil {
		c.origin = strings.TrimRight(d.opts.BaseURL(c.shop), "/")
	}
	if env.HTTP != nil {
		c.gql = &gqlClient{http: env.HTTP.With(provider()), endpoint: c.origin + "/admin/api/" + c.ver + "/graphql.json", token: c.accessToken}
		if c.mode == AuthClientCredentials {
			c.gql.invalidate = c.invalidateToken // a static token cannot be renewed: 401 is final
		}
	}
	return c
}

// ConfigSchema is the admin form.
func (c *Connector) ConfigSchema() connectors.Schema {
	return connectors.Schema{Fields: []connectors.Field{
		{Name: "shop_domain", Type: connectors.TypeString, Required: true, Label: "Shop domain",
			Placeholder: "acme.myshopify.com", Help: "The store's permanent myshopify.com domain.", MaxLength: 255},
		{Name: "auth_mode", Type: connectors.TypeEnum, Label: "Authentication", Default: AuthAccessToken,
			Options: []string{AuthAccessToken, AuthClientCredentials},
			Help:    "access_token: an Admin API access token. client_credentials: the app's client id and secret, exchanged for 24-hour tokens."},
		{Name: "access_token", Type: connectors.TypeString, Secret: true, Label: "Admin API access token",
			Placeholder: "shpat_...", Help: "Required for access_token authentication.", ShowWhen: authIs(AuthAccessToken)},
		{Name: "client_id", Type: connectors.TypeString, Label: "Client ID", Help: "Required for client_credentials authentication.",
			ShowWhen: authIs(AuthClientCredentials)},
		{Name: "client_secret", Type: connectors.TypeString, Secret: true, Label: "Client secret",
			Help: "Required for client_credentials authentication.", ShowWhen: authIs(AuthClientCredentials)},
		{Name: "location_id", Type: connectors.TypeString, Label: "Location ID",
			Placeholder: "gid://shopify/Location/123456789",
			Help:        "The Shopify location this warehouse is; needed for inventory and fulfillments."},
		{Name: "api_version", Type: connectors.TypeEnum, Label: "API version", Default: DefaultAPIVersion,
			Options: SupportedAPIVersions()},
		{Name: "notify_customer", Type: connectors.TypeBoolean, Label: "Notify customers on fulfillment", Default: "false"},
		{Name: "webhook_secret", Type: connectors.TypeString, Secret: true, Label: "Webhook signing secret",
			Help: "The app's API secret key, which Shopify signs webhooks with. Leave empty when it is the client secret above."},
	}}
}

// authIs shows a setting only under one auth mode.
func authIs(mode string) *connectors.FieldCondition {
	return &connectors.FieldCondition{Field: "auth_mode", Values: []string{mode}}
}

// Capabilities: everything.
func (c *Connector) Capabilities() []connectors.Capability {
	return []connectors.Capability{connectors.CapSyncOrders, connectors.CapSyncItems,
		connectors.CapSyncInventory, connectors.CapPushFulfillment}
}

var (
	shopRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com$`)
	locationRE = regexp.MustCompile(`^(gid://shopify/Location/)?[0-9]{1,20}$`)
)

// ValidateSettings checks the combination of settings the schema cannot:
// the shop domain's form, the secrets the auth mode needs, the location id.
func (c *Connector) ValidateSettings(settings connectors.Values, secrets map[string]bool) map[string]string {
	mode := settings.String("auth_mode")
	if mode == "" {
		mode = AuthAccessToken
	}
	return validate(settings, secrets, mode, strings.ToLower(strings.TrimSpace(settings.String("shop_domain"))))
}

func validate(settings connectors.Values, secrets map[string]bool, mode, shop string) map[string]string {
	bad := map[string]string{}
	if !shopRE.MatchString(shop) {
		bad["shop_domain"] = "must be the store's myshopify.com domain, like acme.myshopify.com"
	}
	switch mode {
	case AuthAccessToken:
		if !secrets["access_token"] {
			bad["access_token"] = "is required for access_token authentication"
		}
	case AuthClientCredentials:
		if settings.String("client_id") == "" {
			bad["client_id"] = "is required for client_credentials authentication"
		}
		if !secrets["client_secret"] {
			bad["client_secret"] = "is required for client_credentials authentication"
		}
	default:
		bad["auth_mode"] = "must be access_token or client_credentials"
	}
	if loc := settings.String("location_id"); loc != "" && !locationRE.MatchString(loc) {
		bad["location_id"] = "must be a numeric location id or gid://shopify/Location/<id>"
	}
	if v := settings.String("api_version"); v != "" && !slices.Contains(SupportedAPIVersions(), v) {
		bad["api_version"] = "must be one of " + strings.Join(SupportedAPIVersions(), ", ")
	}
	return bad
}

func locationGID(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || !locationRE.MatchString(s) {
		return ""
	}
	if strings.HasPrefix(s, "gid://") {
		return s
	}
	return "gid://shopify/Location/" + s
}

func (c *Connector) needLocation() error {
	if c.loc == "" {
		return &connectors.ConfigError{Connector: Name, Fields: map[string]string{"location_id": "is required for inventory and fulfillments"}}
	}
	return nil
}

// TestConnection reads the shop's name.
func (c *Connector) TestConnection(ctx context.Context) (connectors.ConnectionResult, error) {
	if c.cfgErr != nil {
		return connectors.NewConnectionResult(false, c.cfgErr.Error()), nil
	}
	var out struct {
		Shop struct {
			Name            string `json:"name"`
			MyshopifyDomain string `json:"myshopifyDomain"`
		} `json:"shop"`
	}
	if err := c.gql.do(ctx, queryShop, nil, true, &out); err != nil {
		return connectors.NewConnectionResult(false, err.Error()), nil
	}
	msg := fmt.Sprintf("connected to %s (%s), Admin API %s", out.Shop.Name, out.Shop.MyshopifyDomain, c.ver)
	if c.loc != "" {
		var loc struct {
			Location *struct {
				Name string `json:"name"`
			} `json:"location"`
		}
		if err := c.gql.do(ctx, queryLocation, map[string]any{"id": c.loc}, true, &loc); err != nil {
			return connectors.NewConnectionResult(false, err.Error()), nil
		}
		if loc.Location == nil {
			return connectors.NewConnectionResult(false, "location "+c.loc+" not found in "+c.shop), nil
		}
		msg += ", location " + loc.Location.Name
	}
	return connectors.NewConnectionResult(true, msg), nil
}
