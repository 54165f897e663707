// Package integrations makes external services first-class actors of the
// hub: integrations with their own permissions, tokens, OAuth install flow,
// webhooks (through the dispatcher, on a subscription the integration owns),
// alert rules that notify them and UI components they declare.
//
// The package holds the rules (permission levels, input validation, alert
// conditions, UI component documents, URI templates) and the Service that
// runs them over the store, the vault and the dispatcher; HTTP lives in
// package web and SQL in package store.
package integrations
