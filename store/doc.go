// Package store owns the hub's SQLite database: opening it (one writer
// connection plus a pool of readers), applying the embedded goose migrations,
// and the typed queries and transactions every other package goes through.
//
// Domain types and sentinel errors live here so dependencies point one way:
// web -> connectors, dispatcher -> store.
package store
