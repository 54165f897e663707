// Package connectortest is the connector test kit: a fake upstream, a
// recording sink, a fake vault and an injected clock, so a connector's tests
// read like the seed's route tests, plus the conformance suite every
// registered connector must pass (RunConformance).
//
//	kit := connectortest.New(t)
//	up := connectortest.NewUpstream(t)
//	up.Reply("GET", "/orders", 200, map[string]any{"orders": []any{...}})
//	c := kit.Connector(reg, "my_connector", map[string]string{"base_url": up.URL}, map[string]string{"api_key": "k"})
//	res, err := c.SyncOrders(ctx, time.Time{})
//	// kit.Sink.Orders holds what was written; kit.Clock.Sleeps() what was waited.
package connectortest
