package web

// integrationUIRoutes registers the Developer settings pages.
func (s *Server) integrationUIRoutes(svc IntegrationService) {}
