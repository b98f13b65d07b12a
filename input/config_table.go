package input

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// The machinery of the configuration table (config_fields.go): one entry per
// field gives the spec's field, the Go parsing into ssiConfig with its
// checks, and the lint rule's checks of the same value. Checks that span
// fields are the rules of config_rules.go. Every error text is a message of
// config_messages.go, written once and used by both Go and Bloblang (whose
// .format is Go's fmt).

// fieldKind is a field's type in the spec.
type fieldKind int

const (
	kindString fieldKind = iota
	kindEnum
	kindAny
	kindStringList
	kindBool
	kindDuration
	kindObject
	kindTLS            // Benthos' own tls object (service.NewTLSToggledField)
	kindAutoRetryNacks // Benthos' own auto_replay_nacks (service.NewAutoRetryNacksToggleField)
)

// field is one entry of the table.
type field struct {
	name     string
	kind     fieldKind
	options  []string // kindEnum
	desc     string
	def      any // nil: no default
	examples []any
	children []field // kindObject

	optional, advanced, secret bool

	// check reads and checks the value; nil leaves it to a rule.
	check check
	// set stores a value check accepted (its type is the check's).
	set func(c *ssiConfig, v any)
}

// check is the checks of one field's value, in Go and in Bloblang.
type check interface {
	// parse reads the field from ns and checks it; the value goes to set.
	parse(ns *service.ParsedConfig, f *field, path string) (any, []error)
	// lint writes `let` statements that leave the field's messages in
	// $e_<id>; raw is the Bloblang expression of the value, default applied.
	lint(f *field, path, id, raw string) string
}

// spec is the field as the Benthos spec documents it.
func (f *field) spec() *service.ConfigField {
	var c *service.ConfigField
	switch f.kind {
	case kindString:
		c = service.NewStringField(f.name)
	case kindEnum:
		c = service.NewStringEnumField(f.name, f.options...)
	case kindAny:
		c = service.NewAnyField(f.name)
	case kindStringList:
		c = service.NewStringListField(f.name)
	case kindBool:
		c = service.NewBoolField(f.name)
	case kindDuration:
		c = service.NewDurationField(f.name)
	case kindObject:
		children := make([]*service.ConfigField, len(f.children))
		for k := range f.children {
			children[k] = f.children[k].spec()
		}
		c = service.NewObjectField(f.name, children...)
	case kindTLS:
		return service.NewTLSToggledField(f.name)
	case kindAutoRetryNacks:
		return service.NewAutoRetryNacksToggleField()
	default:
		panic(fmt.Sprintf("field %s: unknown kind %d", f.name, f.kind))
	}
	if f.desc != "" {
		c = c.Description(f.desc)
	}
	for _, ex := range f.examples {
		c = c.Example(ex)
	}
	if f.def != nil {
		c = c.Default(f.def)
	}
	if f.optional {
		c = c.Optional()
	}
	if f.advanced {
		c = c.Advanced()
	}
	if f.secret {
		c = c.Secret()
	}
	return c
}

// specFields is the table as spec fields.
func specFields(fields []field) []*service.ConfigField {
	out := make([]*service.ConfigField, len(fields))
	for k := range fields {
		out[k] = fields[k].spec()
	}
	return out
}

// parseFields runs the checks of every field of the table that has one and
// stores the accepted values; failed collects the paths refused.
func parseFields(ns *service.ParsedConfig, fields []field, prefix string, conf *ssiConfig, failed map[string]bool) (errs []error) {
	for k := range fields {
		f := &fields[k]
		path := prefix + f.name
		if f.kind == kindObject {
			errs = append(errs, parseFields(ns.Namespace(f.name), f.children, path+".", conf, failed)...)
			continue
		}
		if f.check == nil {
			continue
		}
		v, ferrs := f.check.parse(ns, f, path)
		if len(ferrs) > 0 {
			failed[path] = true
			errs = append(errs, ferrs...)
			continue
		}
		f.set(conf, v)
	}
	return errs
}

// lintFields writes the lint statements of the fields' checks and returns
// them with the names of their message lists ($e_<id>), in table order.
// Objects are read as $o_<id>, {} when absent or not an object.
func lintFields(fields []field, prefix, parent string) (lets string, lists []string) {
	var b strings.Builder
	for k := range fields {
		f := &fields[k]
		path := prefix + f.name
		id := lintID(path)
		if f.kind == kindObject {
			fmt.Fprintf(&b, "let o_%s = if %s.%s.type() == \"object\" { %s.%s } else { {} }\n", id, parent, f.name, parent, f.name)
			childLets, childLists := lintFields(f.children, path+".", "$o_"+id)
			b.WriteString(childLets)
			lists = append(lists, childLists...)
			continue
		}
		if f.check == nil {
			continue
		}
		raw := parent + "." + f.name
		if f.def != nil {
			raw += ".or(" + blobl(f.def) + ")"
		}
		b.WriteString(f.check.lint(f, path, id, raw))
		lists = append(lists, "$e_"+id)
	}
	return b.String(), lists
}

// lintID is a field path as a Bloblang variable name: backoff.max_interval
// is backoff_max_interval ($v_backoff_max_interval holds its value).
func lintID(path string) string { return strings.ReplaceAll(path, ".", "_") }

// readText reads a string field trimmed; a Benthos error (a missing field
// without a default, a value of another type) is returned wrapped.
func readText(ns *service.ParsedConfig, name, path string) (string, error) {
	v, err := ns.FieldString(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return strings.TrimSpace(v), nil
}

// enumCheck accepts one of the field's options.
type enumCheck struct{}

func (enumCheck) parse(ns *service.ParsedConfig, f *field, path string) (any, []error) {
	v, err := readText(ns, f.name, path)
	if err != nil {
		return nil, []error{err}
	}
	if !slices.Contains(f.options, v) {
		return nil, []error{msgNotSupported.err(path, v, orList(f.options))}
	}
	return v, nil
}

func (enumCheck) lint(f *field, path, id, raw string) string {
	return fmt.Sprintf("let v_%[1]s = %[2]s.string().trim()\nlet e_%[1]s = if %[3]s.contains($v_%[1]s) { [] } else { [%[4]s.format(%[5]s, $v_%[1]s, %[6]s)] }\n",
		id, raw, blobl(f.options), blobl(msgNotSupported.text), blobl(path), blobl(orList(f.options)))
}

// orList writes options for messages: "a, b or c".
func orList(options []string) string {
	if len(options) < 2 {
		return strings.Join(options, "")
	}
	return strings.Join(options[:len(options)-1], ", ") + " or " + options[len(options)-1]
}

// wholeCheck accepts a whole number of at least 1, written as a number. The
// field is an Any field: Benthos skips every lint rule of a config with a
// non-number in an Int field, so the rule checks the type itself.
type wholeCheck struct{}

func (wholeCheck) parse(ns *service.ParsedConfig, f *field, path string) (any, []error) {
	raw, err := ns.FieldAny(f.name)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", path, err)}
	}
	n, whole := intValue(raw) // false for text: a number must be written as one
	if !whole || n != int64(int(n)) {
		return nil, []error{msgWholeNumber.err(path, raw, f.def)}
	}
	if n < 1 {
		return nil, []error{msgAtLeastOne.err(path, n, f.def)}
	}
	return int(n), nil
}

// lint compares the numbers' text, so that no comparison runs on a value of
// another type (a rule that fails to evaluate reports nothing).
func (wholeCheck) lint(f *field, path, id, raw string) string {
	return fmt.Sprintf(`let r_%[1]s = %[2]s
let v_%[1]s = if $r_%[1]s.type() == "number" { $r_%[1]s.string() } else { "not a number" }
let e_%[1]s = if !$v_%[1]s.re_match(%[3]s) {
  [%[4]s.format(%[6]s, $r_%[1]s, %[7]s)]
} else if $v_%[1]s.number() < 1 {
  [%[5]s.format(%[6]s, $v_%[1]s, %[7]s)]
} else { [] }
`, id, raw, blobl(wholeRE.String()), blobl(msgWholeNumber.text), blobl(msgAtLeastOne.text), blobl(path), blobl(f.def))
}

// wholeRE: a whole number's text that fits Go's int (18 digits do).
var wholeRE = regexp.MustCompile(`^-?[0-9]{1,18}$`)

// durationCheck accepts a positive duration of at least floor, or with
// zeroOff 0 (off) too. liveFloor, when set, is the floor Go checks (tests
// lower it); the lint rule and the messages of production use floor.
type durationCheck struct {
	floor     time.Duration
	liveFloor func() time.Duration
	why       string // why the floor exists, after the floor message
	zeroOff   bool
}

func (d durationCheck) parse(ns *service.ParsedConfig, f *field, path string) (any, []error) {
	text := f.def
	if raw, err := ns.FieldAny(f.name); err == nil {
		text = raw
	}
	v, err := ns.FieldDuration(f.name)
	floor := d.floor
	if d.liveFloor != nil {
		floor = d.liveFloor()
	}
	switch {
	case d.zeroOff && (err != nil || v < 0):
		return nil, []error{msgOffOrAtLeast.err(path, fmt.Sprint(text), durationText(floor), f.def)}
	case !d.zeroOff && (err != nil || v <= 0):
		return nil, []error{msgPositiveDuration.err(path, f.def)}
	case v > 0 && v < floor:
		return nil, []error{msgBelowFloor.err(path, fmt.Sprint(text), durationText(floor), d.why)}
	}
	return v, nil
}

func (d durationCheck) lint(f *field, path, id, raw string) string {
	bad, msg := fmt.Sprintf("$n_%s <= 0", id), fmt.Sprintf("%s.format(%s, %s)", blobl(msgPositiveDuration.text), blobl(path), blobl(f.def))
	if d.zeroOff {
		bad = fmt.Sprintf("$n_%s < 0", id)
		msg = fmt.Sprintf("%s.format(%s, $v_%s, %s, %s)", blobl(msgOffOrAtLeast.text), blobl(path), id, blobl(durationText(d.floor)), blobl(f.def))
	}
	return fmt.Sprintf(`let v_%[1]s = %[2]s.string()
let n_%[1]s = $v_%[1]s.parse_duration().catch(-1)
let e_%[1]s = if %[3]s { [%[4]s] } else if $n_%[1]s > 0 && $n_%[1]s < %[5]d {
  [%[6]s.format(%[7]s, $v_%[1]s, %[8]s, %[9]s)]
} else { [] }
`, id, raw, bad, msg, int64(d.floor), blobl(msgBelowFloor.text), blobl(path), blobl(durationText(d.floor)), blobl(d.why))
}

// boolCheck reads a bool. Its lint is empty: Benthos skips the rule of a
// config with a wrong type in a bool field, and checks the type itself.
type boolCheck struct{}

func (boolCheck) parse(ns *service.ParsedConfig, f *field, path string) (any, []error) {
	v, err := ns.FieldBool(f.name)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", path, err)}
	}
	return v, nil
}

func (boolCheck) lint(_ *field, _, id, _ string) string { return "let e_" + id + " = []\n" }

// textCheck checks a trimmed string with steps, the first failing one
// reporting; a step's message gets the value when it has a verb.
type textCheck struct{ steps []textStep }

// textStep is one test of a text: refused when bad says so.
type textStep struct {
	bad   textTest
	msg   message
	lint  string // bad as a Bloblang condition on $v ($v is replaced)
	empty bool   // the step refuses an empty value
}

type textTest func(v string) bool

// Steps of textCheck, each a Go test and its Bloblang twin.
func stepEmpty(m message) textStep {
	return textStep{bad: func(v string) bool { return v == "" }, msg: m, lint: `$v == ""`, empty: true}
}

func stepNoMatch(re *regexp.Regexp, m message) textStep {
	return textStep{bad: func(v string) bool { return !re.MatchString(v) }, msg: m, lint: "!$v.re_match(" + blobl(re.String()) + ")"}
}

func stepMatch(re *regexp.Regexp, m message) textStep {
	return textStep{bad: re.MatchString, msg: m, lint: "$v.re_match(" + blobl(re.String()) + ")"}
}

func stepContains(s string, m message) textStep {
	return textStep{bad: func(v string) bool { return strings.Contains(v, s) }, msg: m, lint: "$v.contains(" + blobl(s) + ")"}
}

// stepBadEscape refuses white space and a % not followed by two hex digits,
// which url.Parse refuses.
func stepBadEscape(m message) textStep {
	return textStep{bad: func(v string) bool {
		return whiteSpaceRE.MatchString(v) || strings.Contains(escapeRE.ReplaceAllString(v, ""), "%")
	}, msg: m, lint: `$v.re_match(` + blobl(whiteSpaceRE.String()) + `) || $v.re_replace_all(` + blobl(escapeRE.String()) + `, "").contains("%")`}
}

// stepMajorBelow refuses a version text whose major number (before the
// first dot) is below min; it follows a step that checked the form.
func stepMajorBelow(min int, m message) textStep {
	return textStep{bad: func(v string) bool {
		major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		return err != nil || major < min
	}, msg: m, lint: "$v.number() < " + strconv.Itoa(min)}
}

var (
	whiteSpaceRE = regexp.MustCompile(`\s`)
	escapeRE     = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
)

// validate runs the steps on a trimmed value.
func (c textCheck) validate(v string) error {
	for _, s := range c.steps {
		if s.bad(v) {
			return s.msg.err(v)
		}
	}
	return nil
}

func (c textCheck) parse(ns *service.ParsedConfig, f *field, path string) (any, []error) {
	v, err := readText(ns, f.name, path)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if verr := c.validate(v); verr != nil {
		errs = append(errs, verr)
	}
	return v, errs
}

// lint reads the value as text, "" when absent. An empty value of a field
// without a default may be an environment variable that is not set where
// lint runs: stepEmpty's message then says that lint reads it as empty.
func (c textCheck) lint(f *field, path, id, raw string) string {
	var b strings.Builder
	if f.def == nil {
		raw += `.or("")`
	}
	fmt.Fprintf(&b, "let v_%s = %s.string().trim()\nlet e_%s = ", id, raw, id)
	v := "$v_" + id
	for _, s := range c.steps {
		text := blobl(s.msg.text)
		if s.msg.arity() > 0 {
			text += ".format(" + v + ")"
		}
		if s.empty && f.def == nil {
			text = fmt.Sprintf(`if this.exists(%s) { %s + %s } else { %s }`, blobl(path), text, blobl(msgLintEmptyNote.text), text)
		}
		fmt.Fprintf(&b, "if %s {\n  [%s]\n} else ", strings.ReplaceAll(s.lint, "$v", v), text)
	}
	b.WriteString("{ [] }\n")
	return b.String()
}
