package org

import (
	"fmt"
	"strconv"
	"strings"
)

// Realistic field values for generated records: -records at start-up and the random changes of mutations.

var (
	companyWords = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Hooli", "Vandelay", "Cyberdyne", "Tyrell", "Soylent", "Massive", "Pied Piper", "Gringotts", "Oscorp"}
	companyKinds = []string{"Industrial Supply", "Logistics", "Holdings", "Foods", "Energy", "Software", "Consulting", "Manufacturing", "Health", "Partners"}
	firstNames   = []string{"Ava", "Ben", "Chloe", "Daniel", "Emma", "Felix", "Grace", "Hugo", "Isla", "Jack", "Lena", "Mateo", "Nora", "Omar", "Priya", "Sofia"}
	lastNames    = []string{"Anderson", "Brown", "Chen", "Dubois", "Evans", "Garcia", "Hughes", "Ivanova", "Jones", "Kim", "Lopez", "Müller", "Nakamura", "Okafor", "Patel", "Rossi"}
	cities       = []struct{ city, state, zip, country string }{
		{"San Francisco", "CA", "94105", "United States"}, {"New York", "NY", "10001", "United States"},
		{"Chicago", "IL", "60601", "United States"}, {"Austin", "TX", "73301", "United States"},
		{"London", "", "EC1A 1BB", "United Kingdom"}, {"Paris", "", "75001", "France"},
		{"Berlin", "", "10115", "Germany"}, {"Toronto", "ON", "M5H 2N2", "Canada"},
	}
	streets      = []string{"415 Mission Street", "1 Market Plaza", "200 Park Avenue", "350 Fifth Avenue", "10 Downing Lane", "42 Harbour Road"}
	titles       = []string{"CEO", "CFO", "VP Sales", "Director of Operations", "Procurement Manager", "IT Manager", "Buyer"}
	subjects     = []string{"Cannot log in", "Invoice discrepancy", "Shipment delayed", "Feature request", "Password reset", "Integration error"}
	descriptions = []string{"Key account in the western region; renewal due next quarter.", "Referred by an existing customer.",
		"Evaluating a multi-year agreement.", "Prefers contact by email.", "Expansion opportunity in EMEA."}
)

// fakeValue returns a realistic value for field f of record n, "" when the field is left empty.
func (o *Org) fakeValue(obj *Object, f *Field, n uint64) string {
	r := o.rng
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	city := cities[n%uint64(len(cities))]
	switch f.Name {
	case "Name":
		switch obj.Name {
		case "Opportunity":
			return fmt.Sprintf("%s %s - %d Units", pick(companyWords), pick(companyKinds), 10+r.IntN(990))
		default:
			return fmt.Sprintf("%s %s %d", pick(companyWords), pick(companyKinds), n)
		}
	case "FirstName":
		return pick(firstNames)
	case "LastName":
		return pick(lastNames)
	case "Company":
		return pick(companyWords) + " " + pick(companyKinds)
	case "Title":
		return pick(titles)
	case "Subject":
		return pick(subjects)
	case "AccountNumber":
		return fmt.Sprintf("CD%06d", n%1000000)
	case "Phone":
		return fmt.Sprintf("(415) 555-%04d", n%10000)
	case "Website":
		return "www." + strings.ToLower(strings.ReplaceAll(pick(companyWords), " ", "")) + ".example.com"
	case "Email", "Username":
		return fmt.Sprintf("%s.%d@example.com", strings.ToLower(pick(firstNames)), n)
	case "BillingStreet":
		return pick(streets)
	case "BillingCity", "MailingCity":
		return city.city
	case "BillingState":
		return city.state
	case "BillingPostalCode":
		return city.zip
	case "BillingCountry", "MailingCountry":
		return city.country
	case "Description":
		if r.IntN(3) == 0 {
			return ""
		}
		return pick(descriptions)
	case "Alias":
		return fmt.Sprintf("u%d", n%10000000)
	case "ParentId", "AccountId", "ContactId":
		return ""
	}
	switch f.Type {
	case TypePicklist:
		if len(f.Picklist) == 0 {
			return ""
		}
		return pick(f.Picklist)
	case TypeCurrency:
		return strconv.Itoa(1000 * (1 + r.IntN(90000)))
	case TypeDouble:
		return strconv.FormatFloat(float64(r.IntN(1000000))/100, 'f', -1, 64)
	case TypePercent:
		return strconv.Itoa(10 * r.IntN(11))
	case TypeInt:
		return strconv.Itoa(10 + r.IntN(20000))
	case TypeBoolean:
		return strconv.FormatBool(r.IntN(2) == 0)
	case TypeDate:
		return o.cfg.Now().UTC().AddDate(0, 0, r.IntN(180)).Format("2006-01-02")
	case TypeDateTime:
		return o.cfg.Now().UTC().Truncate(1e9).Format(DateTimeLayout)
	case TypeString, TypeTextArea:
		return fmt.Sprintf("%s %d", f.Label, n)
	case TypeEmail:
		return fmt.Sprintf("contact%d@example.com", n)
	case TypePhone:
		return fmt.Sprintf("(212) 555-%04d", n%10000)
	case TypeURL:
		return "https://example.com/" + strconv.FormatUint(n, 10)
	}
	return ""
}

// Populate creates n records of an object with realistic values, as data already in the org before the
// emulator started: no transaction, no change events.
func (o *Org) Populate(object string, n int) error {
	obj, ok := o.Object(object)
	if !ok {
		return fmt.Errorf("populating %s: no such object", object)
	}
	if !obj.CDC || obj.Name == "User" {
		return fmt.Errorf("populating %s: only Account, Contact, Opportunity, Lead, Case and custom objects take generated records", object)
	}
	if n < 0 || n > 10_000_000 {
		return fmt.Errorf("populating %s: count %d outside 0..10000000", object, n)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.cfg.Now()
	t := o.tables[obj]
	t.rows = append(make([]*record, 0, len(t.rows)+n), t.rows...)
	for range n {
		vals := make([]string, len(obj.Fields))
		o.setSystem(vals, o.newIDLocked(obj), now)
		serial := o.serial[obj.KeyPrefix]
		for i := systemFieldCount; i < len(obj.Fields); i++ {
			f := obj.Fields[i]
			switch {
			case f.Name == "OwnerId":
				vals[i] = o.cfg.UserID
			case f.AutoNumber:
				o.serial[obj.Name+"."+f.Name]++
				vals[i] = fmt.Sprintf("%08d", 1000+o.serial[obj.Name+"."+f.Name])
			default:
				vals[i] = o.fakeValue(obj, f, serial)
			}
		}
		fillPersonName(obj, vals)
		o.insert(&record{obj: obj, vals: vals})
	}
	return nil
}

// FakeFields returns realistic values for a new record of obj (every createable field, required ones always).
func (o *Org) FakeFields(obj *Object) map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := o.serial[obj.KeyPrefix] + 1
	out := map[string]any{}
	for _, f := range obj.Fields[systemFieldCount:] {
		if !f.Createable || f.Type == TypeReference {
			continue
		}
		if v := o.fakeValue(obj, f, n); v != "" {
			out[f.Name] = typedValue(f, v)
		}
	}
	return out
}

// FakeUpdate returns new values for one or two updateable fields of obj.
func (o *Org) FakeUpdate(obj *Object) map[string]any {
	o.mu.Lock()
	defer o.mu.Unlock()
	var candidates []*Field
	for _, f := range obj.Fields[systemFieldCount:] {
		if f.Updateable && f.Type != TypeReference && f.Type != TypeBoolean && !f.Unique {
			candidates = append(candidates, f)
		}
	}
	out := map[string]any{}
	if len(candidates) == 0 {
		return out
	}
	for range 1 + o.rng.IntN(2) {
		f := candidates[o.rng.IntN(len(candidates))]
		v := o.fakeValue(obj, f, uint64(o.rng.IntN(1_000_000)))
		if v == "" {
			out[f.Name] = nil
		} else {
			out[f.Name] = typedValue(f, v)
		}
	}
	return out
}

// Intn returns a random number in [0, n) from the org's seeded source (for choosing what to mutate).
func (o *Org) Intn(n int) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rng.IntN(n)
}

// typedValue turns stored text into the JSON value a client would send.
func typedValue(f *Field, v string) any {
	switch {
	case f.Type.Numeric():
		n, _ := strconv.ParseFloat(v, 64)
		return n
	case f.Type == TypeBoolean:
		return v == "true"
	}
	return v
}

// RandomID picks a random record of obj in the recycle bin (deleted) or not, "" when there is none.
func (o *Org) RandomID(obj *Object, deleted bool) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.tables[obj]
	if len(t.rows) == 0 || (!deleted && t.live == 0) || (deleted && t.live == len(t.rows)) {
		return ""
	}
	if deleted {
		return t.bin[o.rng.IntN(len(t.bin))].id()
	}
	for range 64 {
		if r := t.rows[o.rng.IntN(len(t.rows))]; !r.deleted() {
			return r.id()
		}
	}
	for _, r := range t.rows {
		if r.deleted() == deleted {
			return r.id()
		}
	}
	return ""
}
