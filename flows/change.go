package flows

import (
	"context"

	"fmt"
	"regexp"
	"strings"
)

// changeNode sets message properties (FLOWS.md 4.3). dojot runs only
// "set" rules and silently skips the others; this node also runs
// node-RED's "change" (replace in a string, or a whole equal value),
// "delete" and "move", because the issue asks for them. Like dojot, the
// target is always msg (pt is ignored).
type changeNode struct {
	rules []changeRule
}

type changeRule struct {
	t     string
	p     path
	to    any            // constant value
	toMsg path           // tot "msg" (or move's target): path read per message
	from  string         // change: from as written (node-RED compares it as a string)
	fromt string         // change: str, num, bool or re
	re    *regexp.Regexp // change: what to replace in strings
	repl  string
}

func init() { register("change", newChange) }

func newChange(s *spec) Node {
	var rules []struct {
		T     string `json:"t"`
		P     string `json:"p"`
		To    any    `json:"to"`
		Tot   string `json:"tot"`
		From  any    `json:"from"`
		Fromt string `json:"fromt"`
	}
	if !s.has("rules") {
		s.fail("missing rules")
	}
	s.into("rules", &rules, "an array of rules")
	n := &changeNode{}
	for i, r := range rules {
		if len(splitPath(r.P)) == 0 {
			s.fail("rules[%d]: missing p (the property to %s)", i, r.T)
			continue
		}
		rule := changeRule{t: r.T, p: compilePath(r.P)}
		switch r.T {
		case "set", "change":
			tot := r.Tot
			if str, ok := r.To.(string); ok && tot == "" && strings.HasPrefix(str, "msg.") {
				r.To, tot = str[4:], "msg" // dojot's checkConfig
			}
			v, path, err := changeValue(r.To, tot)
			if err != nil {
				s.fail("rules[%d]: %v", i, err)
			}
			rule.to, rule.toMsg = v, compilePath(path)
			if r.T == "change" {
				if r.From == nil {
					s.fail("rules[%d]: change needs from", i)
					break
				}
				rule.from, rule.fromt = jsString(r.From), r.Fromt
				pattern := regexp.QuoteMeta(jsString(r.From))
				switch r.Fromt {
				case "re":
					pattern = jsString(r.From)
				case "num", "bool", "str", "":
				default:
					s.fail("rules[%d]: fromt %q is not supported (str, num, bool or re)", i, r.Fromt)
				}
				re, err := regexp.Compile(pattern)
				if err != nil {
					s.fail("rules[%d]: bad regex: %v", i, err)
				}
				rule.re = re
				if str, ok := rule.to.(string); ok {
					rule.repl = jsReplacement(str, r.Fromt == "re")
				} else {
					rule.repl = jsReplacement(jsString(rule.to), r.Fromt == "re")
				}
			}
		case "delete":
		case "move":
			to, _ := r.To.(string)
			if len(splitPath(to)) == 0 {
				s.fail("rules[%d]: move needs a msg path in to", i)
			}
			rule.toMsg = compilePath(to)
		default:
			s.fail("rules[%d]: unknown rule type %q", i, r.T)
		}
		n.rules = append(n.rules, rule)
	}
	return n
}

// changeValue types a rule's "to" by "tot", as dojot's handleMessage
// does; the types dojot rejects per message (json, jsonata, flow, global,
// date, env) are refused when the flow is saved, with dojot's message.
func changeValue(to any, tot string) (any, string, error) {
	switch tot {
	case "str", "":
		if s, ok := to.(string); ok {
			return s, "", nil
		}
		return jsString(to), "", nil
	case "num":
		return jsNumber(to), "", nil
	case "bool", "boolean":
		s := strings.ToLower(jsString(to))
		return s == "1" || s == "true", "", nil
	case "msg":
		p, ok := to.(string)
		if !ok || len(splitPath(p)) == 0 {
			return nil, "", fmt.Errorf("to must be a msg path")
		}
		return nil, p, nil
	}
	return nil, "", fmt.Errorf("Invalid value type: %s", tot) //nolint:staticcheck // dojot's text
}

// jsReplacement turns String.prototype.replace's $1 into Go's ${1}; a
// literal replacement escapes $.
func jsReplacement(s string, groups bool) string {
	if !groups {
		return strings.ReplaceAll(s, "$", "$$")
	}
	return regexp.MustCompile(`\$(\d+)`).ReplaceAllString(s, "$${$1}")
}

func (n *changeNode) Process(_ context.Context, _ *Call, msg Msg) ([]Msg, error) {
	for _, r := range n.rules {
		switch r.t {
		case "set":
			v := r.to
			if r.toMsg.raw != "" {
				var err error
				if v, err = r.toMsg.get(msg); err != nil {
					return nil, err
				}
				v = deepCopy(v) // a later rule must not change both places
			}
			if err := r.p.set(msg, v); err != nil {
				return nil, err
			}
		case "change":
			cur, err := r.p.get(msg)
			if err != nil {
				continue // node-RED leaves a missing property alone
			}
			to := r.to
			if r.toMsg.raw != "" {
				if to, err = r.toMsg.get(msg); err != nil {
					return nil, err
				}
			}
			// node-RED: a string equal to a str/num/bool from is replaced by
			// the typed value whole; otherwise its matches are replaced in
			// the text. A number or a boolean changes only when from has its
			// type and the same value.
			var whole bool
			switch c := cur.(type) {
			case string:
				if r.fromt != "re" && c == r.from {
					whole = true
					break
				}
				repl := r.repl
				if r.toMsg.raw != "" {
					repl = jsReplacement(jsString(to), false)
				}
				if err := r.p.set(msg, r.re.ReplaceAllString(c, repl)); err != nil {
					return nil, err
				}
			case float64:
				whole = r.fromt == "num" && c == jsNumber(r.from)
			case bool:
				whole = r.fromt == "bool" && jsString(c) == r.from
			}
			if whole {
				if err := r.p.set(msg, deepCopy(to)); err != nil {
					return nil, err
				}
			}
		case "delete":
			deletePath(msg, r.p.raw)
		case "move":
			v, err := r.p.get(msg)
			if err != nil {
				continue // node-RED: nothing to move
			}
			deletePath(msg, r.p.raw)
			if err := r.toMsg.set(msg, v); err != nil {
				return nil, err
			}
		}
	}
	return []Msg{msg}, nil
}

// deletePath removes the property at path; a missing one is not an error.
func deletePath(msg Msg, path string) {
	segs := splitPath(path)
	if len(segs) == 0 {
		return
	}
	parent, err := Get(msg, strings.Join(segs[:len(segs)-1], "."))
	if len(segs) == 1 {
		parent, err = msg, nil
	}
	if err != nil {
		return
	}
	if m, ok := parent.(map[string]any); ok {
		delete(m, segs[len(segs)-1])
	}
}
