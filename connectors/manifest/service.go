package manifest

import (
	"context"

	"sentryhub/connectors"
)

// Service answers the admin UI's questions about manifest connectors and
// runs their OAuth consent.
type Service struct {
	reg  *connectors.Registry
	inst Instancer
	flow *OAuthFlow
}

// NewService returns the service over reg (for manifests), inst (for
// configured instances) and flow (for Connect).
func NewService(reg *connectors.Registry, inst Instancer, flow *OAuthFlow) *Service {
	return &Service{reg: reg, inst: inst, flow: flow}
}

// Manifest returns the manifest of connector name, or false when it is not
// a manifest connector.
func (s *Service) Manifest(name string) (*Manifest, bool) {
	_, f, ok := s.reg.Lookup(name)
	if !ok {
		return nil, false
	}
	c, ok := f(connectors.Env{Connector: name}).(*Conn)
	if !ok {
		return nil, false
	}
	return c.m, true
}

// OAuthStatus reads the OAuth state of connector name in warehouseID; the
// zero status when the connection is not configured.
func (s *Service) OAuthStatus(ctx context.Context, name string, warehouseID int64) OAuthStatus {
	_, c, err := s.inst.Instance(ctx, name, warehouseID)
	if err != nil {
		return OAuthStatus{}
	}
	if mc, ok := c.(*Conn); ok {
		return mc.OAuthStatus()
	}
	return OAuthStatus{}
}

// BeginOAuth is OAuthFlow.Begin.
func (s *Service) BeginOAuth(ctx context.Context, name string, warehouseID, sessionID int64, redirectURL string) (string, error) {
	return s.flow.Begin(ctx, name, warehouseID, sessionID, redirectURL)
}

// CompleteOAuth is OAuthFlow.Complete.
func (s *Service) CompleteOAuth(ctx context.Context, sessionID int64, state, code, providerErr, redirectURL string) (string, int64, error) {
	return s.flow.Complete(ctx, sessionID, state, code, providerErr, redirectURL)
}
