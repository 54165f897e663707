// Package web is the hub's HTTP surface: the JSON API, the server-rendered
// admin UI (templ), authentication (session cookies for people, X-WMS-Token
// for programs) and the middleware every request passes through.
//
// Handlers return errors; one function, writeError, maps them to the JSON
// error envelope {"error":{"code","message","fields"}} and is the only place
// that logs them (5xx only).
package web
