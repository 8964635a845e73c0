package logsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Pattern is a compiled filterPattern of CloudWatch Logs: terms, quoted
// phrases, ?alternatives, -exclusions and %regular expressions% over the
// message, or a JSON pattern such as { $.level = "ERROR" && $.ms > 100 }
// over a message that is a JSON object. Matching is case-sensitive. The
// space-delimited form ([a, b=1]) is not supported.
type Pattern struct {
	all        bool
	any, must  []term // ?alternatives; plain terms
	not        []term // -exclusions
	expression node   // a JSON pattern
}

// term is one word, phrase or regular expression of a text pattern.
type term struct {
	text string
	re   *regexp.Regexp
}

func (t term) in(msg string) bool {
	if t.re != nil {
		return t.re.MatchString(msg)
	}
	return strings.Contains(msg, t.text)
}

var errPattern = errors.New("Invalid filter pattern")

// ParsePattern compiles a filterPattern; "" matches every event.
func ParsePattern(s string) (*Pattern, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return &Pattern{all: true}, nil
	case s[0] == '{':
		p := &jsonParser{s: s[1:]}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.s != "}" {
			return nil, errPattern
		}
		return &Pattern{expression: n}, nil
	case s[0] == '[':
		return nil, errors.New("Space-delimited filter patterns are not supported by Lambada")
	}
	p := &Pattern{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		kind := byte(0)
		if s[0] == '?' || s[0] == '-' {
			kind, s = s[0], s[1:]
		}
		var t term
		switch {
		case strings.HasPrefix(s, `"`):
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, errPattern
			}
			t.text, s = s[1:1+end], s[2+end:]
		case strings.HasPrefix(s, "%"):
			end := strings.IndexByte(s[1:], '%')
			if end < 0 {
				return nil, errPattern
			}
			re, err := regexp.Compile(s[1 : 1+end])
			if err != nil {
				return nil, errPattern
			}
			t.re, s = re, s[2+end:]
		default:
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			t.text, s = s[:end], s[end:]
		}
		switch kind {
		case '?':
			p.any = append(p.any, t)
		case '-':
			p.not = append(p.not, t)
		default:
			p.must = append(p.must, t)
		}
	}
	return p, nil
}

// Match reports whether msg matches p.
func (p *Pattern) Match(msg string) bool {
	switch {
	case p.all:
		return true
	case p.expression != nil:
		msg = strings.TrimSpace(msg)
		if !strings.HasPrefix(msg, "{") {
			return false
		}
		var v any
		if json.Unmarshal([]byte(msg), &v) != nil {
			return false
		}
		return p.expression.eval(v)
	}
	for _, t := range p.not {
		if t.in(msg) {
			return false
		}
	}
	if len(p.any) > 0 {
		for _, t := range p.any {
			if t.in(msg) {
				return true
			}
		}
		return false
	}
	for _, t := range p.must {
		if !t.in(msg) {
			return false
		}
	}
	return true
}

// node is a JSON pattern's expression.
type node interface{ eval(doc any) bool }

type andNode struct{ a, b node }
type orNode struct{ a, b node }

func (n andNode) eval(doc any) bool { return n.a.eval(doc) && n.b.eval(doc) }
func (n orNode) eval(doc any) bool  { return n.a.eval(doc) || n.b.eval(doc) }

// comparison is selector op value, or selector IS TRUE|FALSE|NULL, or
// selector [NOT] EXISTS.
type comparison struct {
	path  []any // string keys and int indexes
	op    string
	str   *string // a string value (may hold * wildcards)
	num   *float64
	is    string // TRUE, FALSE, NULL, EXISTS, NOT EXISTS
	match *regexp.Regexp
}

func (c comparison) eval(doc any) bool {
	v, ok := lookup(doc, c.path)
	switch c.is {
	case "EXISTS":
		return ok
	case "NOT EXISTS":
		return !ok
	case "NULL":
		return ok && v == nil
	case "TRUE", "FALSE":
		b, isBool := v.(bool)
		return ok && isBool && b == (c.is == "TRUE")
	}
	if !ok {
		return false
	}
	if c.num != nil {
		f, isNum := v.(float64)
		if !isNum {
			return false
		}
		switch c.op {
		case "=":
			return f == *c.num
		case "!=":
			return f != *c.num
		case "<":
			return f < *c.num
		case "<=":
			return f <= *c.num
		case ">":
			return f > *c.num
		case ">=":
			return f >= *c.num
		}
		return false
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	default:
		return false
	}
	eq := c.match.MatchString(s)
	if c.op == "!=" {
		return !eq
	}
	return eq
}

// lookup follows path ($.a.b[0]) into doc.
func lookup(doc any, path []any) (any, bool) {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := doc.(map[string]any)
			if !ok {
				return nil, false
			}
			if doc, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			a, ok := doc.([]any)
			if !ok || k >= len(a) {
				return nil, false
			}
			doc = a[k]
		}
	}
	return doc, true
}

// jsonParser parses the inside of { … }.
type jsonParser struct{ s string }

func (p *jsonParser) space() { p.s = strings.TrimLeft(p.s, " \t") }

func (p *jsonParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s, tok) {
		p.s = p.s[len(tok):]
		return true
	}
	return false
}

func (p *jsonParser) or() (node, error) {
	n, err := p.and()
	for err == nil && p.eat("||") {
		var m node
		if m, err = p.and(); err == nil {
			n = orNode{n, m}
		}
	}
	return n, err
}

func (p *jsonParser) and() (node, error) {
	n, err := p.primary()
	for err == nil && p.eat("&&") {
		var m node
		if m, err = p.primary(); err == nil {
			n = andNode{n, m}
		}
	}
	return n, err
}

func (p *jsonParser) primary() (node, error) {
	if p.eat("(") {
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, errPattern
		}
		return n, nil
	}
	return p.comparison()
}

var selectorRE = regexp.MustCompile(`^\$((?:\.[A-Za-z0-9_@$-]+|\[\d+\])+)`)
var segmentRE = regexp.MustCompile(`\.([A-Za-z0-9_@$-]+)|\[(\d+)\]`)

func (p *jsonParser) comparison() (node, error) {
	p.space()
	m := selectorRE.FindStringSubmatch(p.s)
	if m == nil {
		return nil, errPattern
	}
	p.s = p.s[len(m[0]):]
	c := comparison{}
	for _, seg := range segmentRE.FindAllStringSubmatch(m[1], -1) {
		if seg[1] != "" {
			c.path = append(c.path, seg[1])
		} else {
			i, _ := strconv.Atoi(seg[2])
			c.path = append(c.path, i)
		}
	}
	for _, is := range []string{"IS TRUE", "IS FALSE", "IS NULL", "NOT EXISTS", "EXISTS"} {
		if p.eat(is) {
			c.is = strings.TrimPrefix(is, "IS ")
			return c, nil
		}
	}
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if p.eat(op) {
			c.op = op
			break
		}
	}
	if c.op == "" {
		return nil, errPattern
	}
	p.space()
	var value string
	quoted := strings.HasPrefix(p.s, `"`)
	if quoted {
		end := strings.IndexByte(p.s[1:], '"')
		if end < 0 {
			return nil, errPattern
		}
		value, p.s = p.s[1:1+end], p.s[2+end:]
	} else {
		end := strings.IndexAny(p.s, " \t)&|}")
		if end < 0 {
			end = len(p.s)
		}
		value, p.s = p.s[:end], p.s[end:]
	}
	if value == "" {
		return nil, errPattern
	}
	if f, err := strconv.ParseFloat(value, 64); err == nil && !quoted {
		c.num = &f
		return c, nil
	}
	if c.op != "=" && c.op != "!=" {
		return nil, fmt.Errorf("%w: strings compare with = and != only", errPattern)
	}
	c.str = &value
	c.match = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(value), `\*`, ".*") + "$")
	return c, nil
}
