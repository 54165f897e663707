package fakekit

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Product is a generated catalogue entry, before a fake renders it.
type Product struct {
	SKU     string
	Name    string
	Price   int64 // minor units (cents)
	OnHand  int64
	Created time.Time
	Updated time.Time
}

// Address is a generated shipping address.
type Address struct {
	Name, Line1, City, Region, PostalCode, Country string
}

// Line is one order line.
type Line struct {
	SKU   string
	Name  string
	Qty   int64
	Price int64 // unit price, minor units
}

// Order is a generated order.
type Order struct {
	Number  string
	Email   string
	Ship    Address
	Lines   []Line
	Created time.Time
	Updated time.Time
}

// Total is the sum of the lines, minor units.
func (o Order) Total() int64 {
	var t int64
	for _, l := range o.Lines {
		t += l.Qty * l.Price
	}
	return t
}

// Shop is a generated data set.
type Shop struct {
	Products []Product
	Orders   []Order
}

var (
	adjectives = []string{"Blue", "Heavy", "Compact", "Steel", "Oak", "Spare", "Large", "Quiet", "Waxed", "Folding"}
	nouns      = []string{"Crate", "Hinge", "Pallet Wrap", "Lamp", "Bracket", "Hook", "Tape", "Stool", "Bin", "Strap"}
	people     = []string{"Ada Byron", "Max Planck", "Rosa Parks", "Alan Kay", "Mira Lane", "Ivo Stern", "Lena Horn"}
	cities     = [][3]string{{"Leeds", "WYK", "GB"}, {"Austin", "TX", "US"}, {"Lyon", "ARA", "FR"}, {"Graz", "6", "AT"}, {"Utrecht", "UT", "NL"}}
	streets    = []string{"Mill Lane", "Station Road", "Harbour St", "Elm Row", "Quay Side"}
)

// Generate makes products and orders from seed, deterministically. Product i
// has SKU "SKU-%05d" (from 1) and was last updated at base + i minutes; order
// i was last updated at base + i minutes plus 30 seconds, so an incremental
// cursor walks both in generation order. Orders have one to three lines
// over the generated products.
func Generate(seed uint64, products, orders int, base time.Time) Shop {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	base = base.UTC().Truncate(time.Second)
	var s Shop
	for i := 1; i <= products; i++ {
		at := base.Add(time.Duration(i) * time.Minute)
		s.Products = append(s.Products, Product{
			SKU:     fmt.Sprintf("SKU-%05d", i),
			Name:    adjectives[r.IntN(len(adjectives))] + " " + nouns[r.IntN(len(nouns))],
			Price:   int64(100 + r.IntN(20000)),
			OnHand:  int64(r.IntN(500)),
			Created: at.Add(-time.Duration(r.IntN(1000)+1) * time.Hour),
			Updated: at,
		})
	}
	for i := 1; i <= orders && len(s.Products) > 0; i++ {
		at := base.Add(time.Duration(i)*time.Minute + 30*time.Second)
		who := people[r.IntN(len(people))]
		c := cities[r.IntN(len(cities))]
		o := Order{
			Number:  fmt.Sprintf("%d", 1000+i),
			Email:   fmt.Sprintf("buyer%d@example.com", i),
			Ship:    Address{Name: who, Line1: fmt.Sprintf("%d %s", 1+r.IntN(200), streets[r.IntN(len(streets))]), City: c[0], Region: c[1], PostalCode: fmt.Sprintf("%05d", r.IntN(99999)), Country: c[2]},
			Created: at.Add(-time.Duration(r.IntN(48)+1) * time.Hour),
			Updated: at,
		}
		for range 1 + r.IntN(3) {
			p := s.Products[r.IntN(len(s.Products))]
			o.Lines = append(o.Lines, Line{SKU: p.SKU, Name: p.Name, Qty: int64(1 + r.IntN(5)), Price: p.Price})
		}
		s.Orders = append(s.Orders, o)
	}
	return s
}
