package app

import (
	"strconv"
	"testing"
	"time"

	"sentryhub/connectors"
	"sentryhub/connectors/connectortest"
	"sentryhub/connectors/fakes/bigcommerce"
	"sentryhub/connectors/fakes/businesscentral"
	"sentryhub/connectors/fakes/fakekit"
	"sentryhub/connectors/fakes/netsuite"
	"sentryhub/connectors/fakes/quickbooks"
	"sentryhub/connectors/fakes/stripe"
	"sentryhub/connectors/manifest"
)

// providerFixtures are the conformance fixtures of the catalogue's
// manifest connectors, each against its fake upstream in
// connectors/fakes (their behaviour tests are in connectors/manifests).
func providerFixtures() map[string]func(t *testing.T) connectortest.Fixture {
	now := func() func() time.Time { return connectortest.NewAutoClock(connectortest.Start()).Now }
	registry := func(t *testing.T, key, url string) *connectors.Registry {
		reg := connectors.NewRegistry()
		if err := registerConnectors(reg, connectorOptions{manifest: manifest.Options{BaseURL: map[string]string{key: url}}}); err != nil {
			t.Fatal(err)
		}
		return reg
	}
	return map[string]func(t *testing.T) connectortest.Fixture{
		"bigcommerce": func(t *testing.T) connectortest.Fixture {
			fake := bigcommerce.New(bigcommerce.Config{Seed: 1, Products: 12, Orders: 5, Now: now(), Quota: 10_000})
			srv := fakekit.Serve(t, fake)
			o := fake.Orders()[0]
			push := connectors.FulfillmentRequest{SourceID: strconv.Itoa(o.ID), Carrier: "UPS", Tracking: "1Z0", IdempotencyKey: "k"}
			for _, l := range o.Lines {
				push.Lines = append(push.Lines, connectors.Line{SKU: l.SKU, Qty: l.Qty})
			}
			return connectortest.Fixture{Registry: registry(t, "bigcommerce", srv.URL), Name: "bigcommerce",
				Settings: map[string]string{"store_hash": "abc123"}, Secrets: map[string]string{"access_token": "bc-token"}, Reject: fake.Reject,
				Push: push, Fulfillments: func() int { return len(fake.Shipments()) }}
		},
		"businesscentral": func(t *testing.T) connectortest.Fixture {
			fake := businesscentral.New(businesscentral.Config{Seed: 1, Items: 12, Orders: 5, Now: now()})
			srv := fakekit.Serve(t, fake)
			return connectortest.Fixture{Registry: registry(t, "businesscentral", srv.URL), Name: "businesscentral",
				Settings: map[string]string{"tenant": "contoso.onmicrosoft.com", "company_id": fake.CompanyID(), "client_id": "bc-client"},
				Secrets:  map[string]string{"client_secret": "bc-secret"}, Reject: fake.Reject,
				Push: connectors.FulfillmentRequest{SourceID: fake.Orders()[0].ID, OrderNumber: fake.Orders()[0].Number,
					Carrier: "UPS", Tracking: "1Z6", IdempotencyKey: "k"},
				Fulfillments: func() int { return len(fake.Shipments()) }}
		},
		"netsuite": func(t *testing.T) connectortest.Fixture {
			fake := netsuite.New(netsuite.Config{Seed: 1, Items: 12, Orders: 2, Now: now()})
			srv := fakekit.Serve(t, fake)
			return connectortest.Fixture{Registry: registry(t, "netsuite", srv.URL), Name: "netsuite",
				Settings: map[string]string{"account_id": "1234567_SB1", "account_host": "1234567-sb1"},
				Secrets:  map[string]string{"consumer_key": "ns-ck", "consumer_secret": "ns-cs", "token_id": "ns-tk", "token_secret": "ns-ts"}, Reject: fake.Reject,
				Push:         connectors.FulfillmentRequest{SourceID: strconv.Itoa(fake.Orders()[0].ID), Carrier: "UPS", Tracking: "1Z3", IdempotencyKey: "k"},
				Fulfillments: func() int { return len(fake.Fulfillments()) }}
		},
		"quickbooks": func(t *testing.T) connectortest.Fixture {
			fake := quickbooks.New(quickbooks.Config{Seed: 1, Items: 12, Orders: 6, Now: now()})
			srv := fakekit.Serve(t, fake)
			access, refresh := fake.Grant()
			var receipt string
			for _, s := range fake.Sales() {
				if s.Kind == "SalesReceipt" && receipt == "" {
					receipt = s.ID
				}
			}
			shipped := func() int {
				n := 0
				for _, s := range fake.Sales() {
					if s.TrackingNum != "" {
						n++
					}
				}
				return n
			}
			return connectortest.Fixture{Registry: registry(t, "quickbooks", srv.URL), Name: "quickbooks",
				Settings: map[string]string{"realm_id": "9130350000000000", "client_id": "qb-client"},
				Secrets:  map[string]string{"client_secret": "qb-secret"},
				Connection: map[string]string{manifest.KeyAccessToken: access, manifest.KeyRefreshToken: refresh,
					manifest.KeyExpiry: connectortest.Start().Add(time.Hour).Format(time.RFC3339)},
				Push:         connectors.FulfillmentRequest{SourceID: receipt, Carrier: "UPS", Tracking: "1Z1", IdempotencyKey: "k"},
				Fulfillments: shipped, Reject: fake.Reject}
		},
		"stripe": func(t *testing.T) connectortest.Fixture {
			fake := stripe.New(stripe.Config{Seed: 1, Products: 12, Sessions: 5, Now: now()})
			srv := fakekit.Serve(t, fake)
			shipped := func() int {
				n := 0
				for _, s := range fake.Sessions() {
					if s.Metadata["tracking_number"] != "" {
						n++
					}
				}
				return n
			}
			return connectortest.Fixture{Registry: registry(t, "stripe", srv.URL), Name: "stripe",
				Secrets:      map[string]string{"api_key": "sk_test_fake", "webhook_secret": "whsec_fake"},
				Push:         connectors.FulfillmentRequest{SourceID: fake.Sessions()[0].ID, Carrier: "UPS", Tracking: "1Z2", IdempotencyKey: "k"},
				Fulfillments: shipped, Reject: fake.Reject}
		},
	}
}
