package ssrf

import (
	"net/netip"
)

// rangeRule is one special-purpose range. When embedded is set, the range
// carries IPv4 addresses inside it (NAT64, 6to4, Teredo): the address is
// allowed only if every embedded IPv4 address is itself allowed, because the
// packet ends up there.
type rangeRule struct {
	prefix   netip.Prefix
	reason   string
	embedded func(netip.Addr) []netip.Addr
}

func rule(cidr, reason string) rangeRule {
	return rangeRule{prefix: netip.MustParsePrefix(cidr), reason: reason}
}

// ipv4Rules lists the IANA IPv4 special-purpose ranges that are not globally
// reachable, plus multicast and the reserved class E space. 192.0.0.0/24 is
// blocked whole although two /32s in it (PCP and TURN anycast) are global:
// nobody delivers webhooks there. The order matters only for the reason
// text: the more specific entries come first.
var ipv4Rules = []rangeRule{
	rule("0.0.0.0/32", "unspecified address"),
	rule("0.0.0.0/8", `"this network" (0.0.0.0/8)`),
	rule("10.0.0.0/8", "private (RFC 1918)"),
	rule("100.64.0.0/10", "shared address space (CGNAT, RFC 6598)"),
	rule("127.0.0.0/8", "loopback"),
	rule("169.254.169.254/32", "link-local (cloud metadata endpoint)"),
	rule("169.254.0.0/16", "link-local"),
	rule("172.16.0.0/12", "private (RFC 1918)"),
	rule("192.0.0.0/24", "IETF protocol assignments (192.0.0.0/24)"),
	rule("192.0.2.0/24", "documentation (TEST-NET-1)"),
	rule("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
	rule("192.168.0.0/16", "private (RFC 1918)"),
	rule("198.18.0.0/15", "benchmarking (RFC 2544)"),
	rule("198.51.100.0/24", "documentation (TEST-NET-2)"),
	rule("203.0.113.0/24", "documentation (TEST-NET-3)"),
	rule("224.0.0.0/4", "multicast"),
	rule("255.255.255.255/32", "broadcast"),
	rule("240.0.0.0/4", "reserved (240.0.0.0/4)"),
}

// ipv6Rules is checked in order; an IPv6 address matching none of them must
// still be inside 2000::/3, the only space IANA allocates as global unicast.
// Blocking everything else by default (rather than listing each reserved
// block) means a newly designated special range outside 2000::/3 is refused
// without a code change.
//
// Judgment calls:
//   - ::ffff:0:0/96 (IPv4-mapped) never reaches this table: it is the IPv4
//     address itself and is unmapped first (Go's resolver returns A records in
//     that form).
//   - 64:ff9b::/96 (NAT64), 2002::/16 (6to4) and 2001::/32 (Teredo) are
//     allowed only if the embedded IPv4 addresses pass; a translator or relay
//     would deliver the packet to that IPv4 address.
//   - 64:ff9b:1::/48 (local-use NAT64, RFC 8215) is blocked whole: the
//     position of the embedded address depends on the operator's prefix
//     length and the range is not globally reachable.
//   - The rest of 2001::/23 is blocked whole although a few of its blocks
//     (AMT, AS112, ORCHIDv2) are global: none is a webhook or API endpoint.
var ipv6Rules = []rangeRule{
	rule("::/128", "unspecified address"),
	rule("::1/128", "loopback"),
	rule("::ffff:0:0:0/96", "IPv4-translated address (SIIT, deprecated)"),
	rule("::/96", "IPv4-compatible address (deprecated)"),
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), reason: "NAT64 address", embedded: nat64IPv4},
	rule("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
	rule("100::/64", "discard-only (RFC 6666)"),
	rule("100:0:0:1::/64", "dummy IPv6 prefix (100:0:0:1::/64)"),
	{prefix: netip.MustParsePrefix("2001::/32"), reason: "Teredo address", embedded: teredoIPv4},
	rule("2001::/23", "IETF protocol assignments (2001::/23)"),
	rule("2001:db8::/32", "documentation"),
	{prefix: netip.MustParsePrefix("2002::/16"), reason: "6to4 address", embedded: sixToFourIPv4},
	rule("3fff::/20", "documentation"),
	rule("fc00::/7", "private (unique local, fc00::/7)"),
	rule("fe80::/10", "link-local"),
	rule("fec0::/10", "site-local (deprecated)"),
	rule("ff00::/8", "multicast"),
}

var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// blockedReason returns why a is not a public destination, or "" if it is.
// It knows nothing about the allow-list; see Guard.addrReason.
func blockedReason(a netip.Addr) string {
	if !a.IsValid() {
		return "invalid address"
	}
	a = a.WithZone("").Unmap()
	if a.Is4() {
		for _, r := range ipv4Rules {
			if r.prefix.Contains(a) {
				return r.reason
			}
		}
		return ""
	}
	for _, r := range ipv6Rules {
		if !r.prefix.Contains(a) {
			continue
		}
		if r.embedded == nil {
			return r.reason
		}
		for _, v4 := range r.embedded(a) {
			if why := blockedReason(v4); why != "" {
				return r.reason + " embedding " + v4.String() + ": " + why
			}
		}
		return ""
	}
	if !globalUnicast6.Contains(a) {
		return "not global unicast (outside 2000::/3)"
	}
	return ""
}

// nat64IPv4 returns the IPv4 address in the low 32 bits of 64:ff9b::/96.
func nat64IPv4(a netip.Addr) []netip.Addr {
	b := a.As16()
	return []netip.Addr{netip.AddrFrom4([4]byte(b[12:16]))}
}

// sixToFourIPv4 returns the IPv4 address in bits 16-47 of 2002::/16.
func sixToFourIPv4(a netip.Addr) []netip.Addr {
	b := a.As16()
	return []netip.Addr{netip.AddrFrom4([4]byte(b[2:6]))}
}

// teredoIPv4 returns the Teredo server (bits 32-63) and the client's
// public address (the low 32 bits, stored inverted) of 2001::/32 (RFC 4380).
func teredoIPv4(a netip.Addr) []netip.Addr {
	b := a.As16()
	client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}
	return []netip.Addr{netip.AddrFrom4([4]byte(b[4:8])), netip.AddrFrom4(client)}
}
