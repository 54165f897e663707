package app

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"sentryhub/connectors/shopify"
)

// TestBrowserConnectorTypedValues: on the Shopify form the settings of the
// auth mode not chosen are hidden and follow the Authentication select as
// it changes; "Test these values" tests what is typed and saves nothing.
func TestBrowserConnectorTypedValues(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	const token = "shpat_typed_values_7c1d"
	const loc = "gid://shopify/Location/77"
	fake := shopify.NewFake(shopify.FakeConfig{AccessToken: token})
	fake.AddLocation(loc, "Dock T")
	shop := httptest.NewServer(fake)
	t.Cleanup(shop.Close)

	getenv := adminHub(t)
	base := startServeWithShop(t, getenv, shop.URL)

	hidden := func(id string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("`+id+`").hidden`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// pick chooses an auth mode as a user would: the select changes.
	pick := func(mode string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.SetValue("#field-auth_mode", mode)); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("field-auth_mode").dispatchEvent(new Event("change", {bubbles: true}))`)); err != nil {
			t.Fatal(err)
		}
	}
	loginAt(t, ctx, base, "/connectors/shopify", "#credentials-form")
	// Default mode access_token: the client credentials rows are hidden.
	if hidden("row-access_token") || !hidden("row-client_id") || !hidden("row-client_secret") {
		t.Fatal("access_token mode: wrong rows hidden")
	}
	pick(shopify.AuthClientCredentials)
	if !hidden("row-access_token") || hidden("row-client_id") || hidden("row-client_secret") {
		t.Fatal("client_credentials mode: wrong rows hidden")
	}
	pick(shopify.AuthAccessToken)
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible("#field-access_token"),
		typeText("#field-shop_domain", "acme.myshopify.com"),
		typeText("#field-access_token", token),
		typeText("#field-location_id", loc),
		chromedp.Click("#test-typed"),
		chromedp.WaitVisible("#test-result"),
	); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("test-result").dataset.ok + " " + document.getElementById("test-result").textContent`))
	if err != nil || !strings.HasPrefix(res, "true ") {
		t.Fatalf("test result %q %v", res, err)
	}
	page, err := chromedp.Run(ctx, chromedp.OuterHTML("html"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(page, token) {
		t.Fatal("typed token sent back to the browser")
	}
	if s, err := chromedp.Run(ctx, chromedp.Text("#credentials-state")); err != nil || !strings.Contains(s, "not configured") {
		t.Fatalf("testing saved the values: %q %v", s, err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#field-shop_domain").value`)); err != nil || v != "acme.myshopify.com" {
		t.Fatalf("typed shop domain not kept: %q %v", v, err)
	}
}
