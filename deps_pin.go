//go:build pin

// Package main pins modules that packages in progress will import, so
// parallel work never edits go.mod at the same time. Removed once used.
package main

import (
	_ "github.com/chromedp/chromedp"
	_ "github.com/fernet/fernet-go"
	_ "github.com/google/uuid"
	_ "github.com/gorilla/sessions"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "golang.org/x/time/rate"
	_ "github.com/a-h/templ"
)
