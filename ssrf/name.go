package ssrf

import (
	"strings"
)

// internalSuffixes are name spaces that only mean something inside a site:
// RFC 6761 localhost, RFC 6762 .local and the private-use labels its
// appendix G lists, .internal (ICANN 2024, and cloud metadata such as
// metadata.google.internal), .localdomain, and .arpa (which holds
// home.arpa and the reverse-DNS trees; no webhook or API lives there).
var internalSuffixes = []string{
	"localhost",
	"local",
	"internal",
	"localdomain",
	"arpa",
	"lan",
	"home",
	"corp",
	"intranet",
	"private",
}

// normalizeName lowercases host and drops one trailing dot, so "Redis." and
// "redis" are judged alike.
func normalizeName(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// hostnameReason returns why name (normalized, not an IP literal) is not an
// acceptable DNS name, or "". Only ASCII letters, digits, '-' and '_' are
// allowed in labels: internationalized names must arrive as punycode, so the
// name the guard checks is the name the resolver looks up.
func hostnameReason(name string) string {
	if name == "" || len(name) > 253 {
		return "invalid hostname"
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return "invalid hostname"
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "invalid hostname"
			}
		}
	}
	if endsInNumber(name) {
		return "non-canonical IPv4 literal (only dotted-quad form is accepted)"
	}
	return ""
}

// endsInNumber reports whether the last label of name is a decimal number or
// a 0x-prefixed hex number. That is the WHATWG URL rule for "this host is an
// IPv4 address", and it covers every inet_aton form (2130706433, 0x7f.1,
// 127.1, 0177.0.0.1). No real top-level domain is numeric, so a name like
// this that netip.ParseAddr rejected is one of those alternative spellings,
// and a cgo resolver or an intermediary may well read it as loopback.
func endsInNumber(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		for i := 0; i < len(rest); i++ {
			c := rest[i]
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if c := last[i]; c < '0' || c > '9' {
			return false
		}
	}
	return last != ""
}

// internalNameReason returns why name (normalized and syntactically valid)
// names an internal service, or "". Single-label names are what docker
// compose and Kubernetes use for services (redis, db, api, admin,
// celery-worker, sentry-*), and a resolver's search list can expand them to
// anything, so all of them are refused rather than a list of known ones.
func internalNameReason(name string) string {
	if !strings.Contains(name, ".") {
		return "internal service name (single-label host)"
	}
	for _, s := range internalSuffixes {
		if name == s || strings.HasSuffix(name, "."+s) {
			return "internal name (." + s + ")"
		}
	}
	return ""
}
