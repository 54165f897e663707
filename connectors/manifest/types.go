package manifest

import (
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"sentryhub/connectors"
	"sentryhub/mapping"
)

// manifestFile is the YAML shape of a manifest, decoded strictly (an unknown key is
// refused with its position). Validation turns it into a Manifest.
type manifestFile struct {
	Key       string       `yaml:"key"`
	Name      string       `yaml:"name"`
	Provider  string       `yaml:"provider"`
	Version   string       `yaml:"version"`
	Docs      string       `yaml:"docs"`
	Setup     string       `yaml:"setup"`
	BaseURL   string       `yaml:"base_url"`
	Hosts     []string     `yaml:"hosts"`
	Settings  settingsFile `yaml:"settings"`
	Auth      Auth         `yaml:"auth"`
	RateLimit *RateLimit   `yaml:"rate_limit"`
	Errors    *ErrorShape  `yaml:"errors"`
	Test      *RequestSpec `yaml:"test"`
	Streams   []streamFile `yaml:"streams"`
	Write     []writeFile  `yaml:"write"`
}

type settingsFile struct {
	Type       string        `yaml:"type"`
	Required   []string      `yaml:"required"`
	Properties yaml.MapSlice `yaml:"properties"`
}

type propertyFile struct {
	Type        string   `yaml:"type"`
	Title       string   `yaml:"title"`
	Description string   `yaml:"description"`
	Format      string   `yaml:"format"`
	Enum        []string `yaml:"enum"`
	Default     any      `yaml:"default"`
	MaxLength   int      `yaml:"maxLength"`
	Secret      bool     `yaml:"x-secret"`
	Placeholder string   `yaml:"x-placeholder"`
}

// Auth is how requests are authenticated. Which keys apply depends on Kind
// (see MANIFEST-FORMAT.md / docs/connectors.md); values are templates.
type Auth struct {
	Kind string `yaml:"kind"`
	// api_key
	In    string `yaml:"in"`
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
	// basic
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// bearer
	Token string `yaml:"token"`
	// oauth2_*
	TokenURL     string            `yaml:"token_url"`
	AuthorizeURL string            `yaml:"authorize_url"`
	ClientID     string            `yaml:"client_id"`
	ClientSecret string            `yaml:"client_secret"`
	Scopes       []string          `yaml:"scopes"`
	AuthStyle    string            `yaml:"auth_style"`
	Params       map[string]string `yaml:"params"`
	// oauth1_tba
	ConsumerKey    string `yaml:"consumer_key"`
	ConsumerSecret string `yaml:"consumer_secret"`
	TokenID        string `yaml:"token_id"`
	TokenSecret    string `yaml:"token_secret"`
	Realm          string `yaml:"realm"`
	// any kind
	Hook string `yaml:"hook"`
}

// Auth kinds.
const (
	AuthNone                    = "none"
	AuthAPIKey                  = "api_key"
	AuthBasic                   = "basic"
	AuthBearer                  = "bearer"
	AuthOAuth2ClientCredentials = "oauth2_client_credentials"
	AuthOAuth2AuthorizationCode = "oauth2_authorization_code"
	AuthOAuth1TBA               = "oauth1_tba"
)

// RateLimit says where an upstream reports its remaining budget.
type RateLimit struct {
	RemainingHeader string `yaml:"remaining_header"`
	LimitHeader     string `yaml:"limit_header"`
	ResetHeader     string `yaml:"reset_header"`
	ResetUnit       string `yaml:"reset_unit"`
	RemainingPath   string `yaml:"remaining_path"`
	RestorePath     string `yaml:"restore_path"`
	Hook            string `yaml:"hook"`
}

// ErrorShape says where a 400/422 body names the fields it rejected.
type ErrorShape struct {
	FieldsPath string `yaml:"fields_path"`
	FieldKey   string `yaml:"field_key"`
	MessageKey string `yaml:"message_key"`
}

// RequestSpec is a request template.
type RequestSpec struct {
	Method  string            `yaml:"method"`
	Path    string            `yaml:"path"`
	Query   yaml.MapSlice     `yaml:"query"`
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
	Expect  map[string]string `yaml:"expect"`
}

type streamFile struct {
	Key         string           `yaml:"key"`
	Mode        string           `yaml:"mode"`
	Record      string           `yaml:"record"`
	Schedule    string           `yaml:"schedule"`
	Request     *RequestSpec     `yaml:"request"`
	Records     string           `yaml:"records"`
	Pagination  *Pagination      `yaml:"pagination"`
	Incremental *incrementalFile `yaml:"incremental"`
	Mapping     string           `yaml:"mapping"`
	Hook        string           `yaml:"hook"`
	Signature   *signatureFile   `yaml:"signature"`
	EventID     string           `yaml:"event_id"`
	EventType   string           `yaml:"event_type"`
	Events      []string         `yaml:"events"`
	Setup       string           `yaml:"setup"`
	// Thin webhook streams (webhook_fetch.go) and handshakes.
	Notifications string             `yaml:"notifications"`
	Match         map[string]string  `yaml:"match"`
	Vars          map[string]varFile `yaml:"vars"`
	Fetch         *RequestSpec       `yaml:"fetch"`
	Handshake     *Handshake         `yaml:"handshake"`
	// SourcePrefix namespaces the stream's upstream ids (see Stream).
	SourcePrefix string     `yaml:"source_prefix"`
	Lines        *linesFile `yaml:"lines"`
}

// linesFile is a poll stream's second request per page, reading the lines
// of the page's records where the upstream keeps them in another table.
type linesFile struct {
	Request *RequestSpec `yaml:"request"`
	Records string       `yaml:"records"`
	Parent  string       `yaml:"parent"`
	ID      string       `yaml:"id"`
	Into    string       `yaml:"into"`
}

// Pagination is how a poll stream walks its pages.
type Pagination struct {
	Kind           string `yaml:"kind"`
	PageSize       any    `yaml:"page_size"`
	CursorPath     string `yaml:"cursor_path"`
	CursorParam    string `yaml:"cursor_param"`
	NextPath       string `yaml:"next_path"`
	OffsetParam    string `yaml:"offset_param"`
	LimitParam     string `yaml:"limit_param"`
	PageParam      string `yaml:"page_param"`
	Start          int    `yaml:"start"`
	TotalPagesPath string `yaml:"total_pages_path"`
	HasMorePath    string `yaml:"has_more_path"`
	MaxPages       int    `yaml:"max_pages"`
}

// Pagination kinds.
const (
	PageNone       = "none"
	PageCursor     = "cursor"
	PageNextLink   = "next_link"
	PageLinkHeader = "link_header"
	PageOffset     = "offset"
	PageNumber     = "page"
)

type incrementalFile struct {
	Field       string `yaml:"field"`
	Format      string `yaml:"format"`
	Zone        string `yaml:"zone"`
	Overlap     string `yaml:"overlap"`
	SinceFormat string `yaml:"since_format"`
}

type signatureFile struct {
	Kind      string `yaml:"kind"`
	Secret    string `yaml:"secret"`
	Tolerance string `yaml:"tolerance"`
	Header    string `yaml:"header"`
	Algorithm string `yaml:"algorithm"`
	Encoding  string `yaml:"encoding"`
	Prefix    string `yaml:"prefix"`
	Field     string `yaml:"field"`
}

type writeFile struct {
	Key               string       `yaml:"key"`
	Object            string       `yaml:"object"`
	Action            string       `yaml:"action"`
	Request           *RequestSpec `yaml:"request"`
	IdempotencyHeader string       `yaml:"idempotency_header"`
	RefPath           string       `yaml:"ref_path"`
	Snapshot          *RequestSpec `yaml:"snapshot"`
	Verify            *RequestSpec `yaml:"verify"`
	Rollback          *RequestSpec `yaml:"rollback"`
	Existing          *Existing    `yaml:"existing"`
	BodyHook          string       `yaml:"body_hook"`
	RefHeader         string       `yaml:"ref_header"`
	SourcePrefix      string       `yaml:"source_prefix"`
	DeltaFrom         string       `yaml:"delta_from"`
}

// Existing is a check-before-create read for an upstream without an
// idempotency key: a listed record whose match fields all equal their
// rendered values is taken as the earlier result of the same write, and
// the write is verified instead of sent again.
type Existing struct {
	RequestSpec `yaml:",inline"`
	Records     string            `yaml:"records"`
	Match       map[string]string `yaml:"match"`
	RefPath     string            `yaml:"ref_path"`
}

// Record kinds a stream produces.
const (
	RecordItem           = "item"
	RecordOrder          = "order"
	RecordInventoryLevel = "inventory_level"
)

// Manifest is a parsed and validated connector manifest. It is immutable.
type Manifest struct {
	File     string // where it was read from, for messages
	Key      string
	Name     string
	Provider string
	Version  string
	Docs     string
	Setup    string
	BaseURL  string
	Hosts    []string
	Schema   connectors.Schema
	Auth     Auth
	Rate     *RateLimit
	Errors   *ErrorShape
	Test     *RequestSpec
	Streams  []*Stream
	Writes   []*Write
	Caps     []connectors.Capability

	ast *ast.File // for positions of problems found at registration
}

// Stream is a validated stream.
type Stream struct {
	Key         string
	Mode        string // poll | webhook
	Record      string
	Schedule    string
	Request     *RequestSpec
	Records     []string // selector path, split
	Pagination  Pagination
	Incremental *Incremental
	MappingFile string
	Mapping     *mapping.Mapping
	Hook        string
	Signature   *Signature
	EventID     string
	EventType   string
	Events      []string
	Setup       string
	// Thin is set when the stream's notifications carry ids, not records.
	Thin *Thin
	// Handshake is the provider's endpoint validation, when it has one.
	Handshake *Handshake
	// SourcePrefix is put before every upstream id the stream reads, so
	// that two streams of one record kind (QuickBooks sales receipts and
	// invoices, each numbered on its own) never share a source id.
	SourcePrefix string
	Lines        *Lines
}

// Lines is a second request per page that reads the lines of the page's
// records ({{ids}}: their ids, comma-separated) and attaches to each record,
// under Into, the lines whose Parent field equals the record's ID field.
type Lines struct {
	Request *RequestSpec
	Records []string
	Parent  []string
	ID      []string
	Into    string
}

// Incremental is a stream's change cursor.
type Incremental struct {
	Field       []string
	Format      string
	Zone        *time.Location
	Overlap     time.Duration
	SinceFormat string
}

// Signature is how a webhook stream's deliveries are verified.
type Signature struct {
	Kind      string
	Secret    string
	Tolerance time.Duration
	Header    string
	Algorithm string
	Encoding  string
	Prefix    string
	// Field is the wildcard path of the secret in the body (body_secret).
	Field []string
}

// Signature kinds.
const (
	SigStripe           = "stripe"
	SigShopify          = "shopify"
	SigHMAC             = "hmac"
	SigStandardWebhooks = "standard_webhooks"
	SigSharedSecret     = "shared_secret" // a header carrying the secret itself
	SigBodySecret       = "body_secret"   // the secret in every notification of the body
)

// Write is a validated write action.
type Write struct {
	Key               string
	Object            string
	Action            string
	Request           *RequestSpec
	IdempotencyHeader string
	RefPath           []string
	Snapshot          *RequestSpec
	Verify            *RequestSpec
	Rollback          *RequestSpec
	Existing          *Existing
	// BodyHook names a Go hook building the request body from the record
	// and the snapshot (a body the templates cannot express).
	BodyHook string
	// RefHeader names a response header holding the new record's URL
	// (NetSuite answers 204 with Location); its last path segment is ref.
	RefHeader string
	// SourcePrefix picks the action for records read by the stream of the
	// same prefix; {{record.source_id}} is rendered without it.
	SourcePrefix string
	// DeltaFrom is where the snapshot holds the current quantity, for an
	// upstream that takes stock changes as adjustments ({{delta}} is
	// record.on_hand minus it).
	DeltaFrom []string
}

// pollStream returns the first poll stream producing record, or nil.
func (m *Manifest) pollStream(record string) *Stream {
	if ss := m.pollStreams(record); len(ss) > 0 {
		return ss[0]
	}
	return nil
}

// pollStreams returns the poll streams producing record, in manifest order.
func (m *Manifest) pollStreams(record string) []*Stream {
	var out []*Stream
	for _, s := range m.Streams {
		if s.Mode == "poll" && s.Record == record {
			out = append(out, s)
		}
	}
	return out
}

// WebhookStreams returns the manifest's webhook streams.
func (m *Manifest) WebhookStreams() []*Stream {
	var out []*Stream
	for _, s := range m.Streams {
		if s.Mode == "webhook" {
			out = append(out, s)
		}
	}
	return out
}

// write returns the first action for object and action, or nil.
func (m *Manifest) write(object, action string) *Write {
	for _, w := range m.Writes {
		if w.Object == object && w.Action == action {
			return w
		}
	}
	return nil
}

// writeFor returns the action for object and action that applies to a
// record whose source id is sourceID: the one whose source_prefix starts
// it, else the one without a prefix.
func (m *Manifest) writeFor(object, action, sourceID string) *Write {
	var plain *Write
	for _, w := range m.Writes {
		if w.Object != object || w.Action != action {
			continue
		}
		if w.SourcePrefix == "" {
			plain = w
		} else if strings.HasPrefix(sourceID, w.SourcePrefix) {
			return w
		}
	}
	return plain
}
