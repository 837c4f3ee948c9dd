package scoring

import (
	"encoding/json"
	"math"
	"strings"
)

// validJSONAnswer reports whether an answer asked to be JSON is: the text,
// or the content of one Markdown code fence around it, parses.
func validJSONAnswer(text string) bool {
	if json.Valid([]byte(text)) {
		return true
	}
	if t, ok := strings.CutPrefix(text, "```"); ok {
		if i := strings.IndexByte(t, '\n'); i >= 0 {
			t = t[i+1:]
		}
		if t, ok = strings.CutSuffix(strings.TrimSpace(t), "```"); ok {
			return json.Valid([]byte(t))
		}
	}
	return false
}

// badToolCalls reports whether any call names a tool that was not offered
// (when req names its tools), has arguments that are not a JSON object, or
// arguments that break the tool's schema (see schemaViolation).
func badToolCalls(req *Request, calls []ToolCall) bool {
	for _, c := range calls {
		if len(req.Tools) > 0 && !offered(req.Tools, c.Name) {
			return true
		}
		args := strings.TrimSpace(c.Arguments)
		if args == "" {
			args = "{}"
		}
		var v map[string]json.RawMessage
		if json.Unmarshal([]byte(args), &v) != nil {
			return true
		}
		if schema := req.ToolSchemas[c.Name]; schema != "" && schemaViolation(schema, v) {
			return true
		}
	}
	return false
}

func offered(tools []string, name string) bool {
	for _, t := range tools {
		if t == name {
			return true
		}
	}
	return false
}

// toolSchema is the part of a JSON schema the checks read: the properties'
// types and the required names, at the top level.
type toolSchema struct {
	Properties map[string]struct {
		Type json.RawMessage `json:"type"`
	} `json:"properties"`
	Required []string `json:"required"`
}

// schemaViolation reports whether args break the basic rules of a tool's
// JSON schema: a required property missing, or a property whose value has
// another JSON type than the schema's "type" (a name or a list of names).
// A schema that does not parse is not held against the call.
func schemaViolation(schema string, args map[string]json.RawMessage) bool {
	var s toolSchema
	if json.Unmarshal([]byte(schema), &s) != nil {
		return false
	}
	for _, r := range s.Required {
		if _, ok := args[r]; !ok {
			return true
		}
	}
	for name, val := range args {
		p, ok := s.Properties[name]
		if !ok || len(p.Type) == 0 {
			continue
		}
		var types []string
		var one string
		if json.Unmarshal(p.Type, &one) == nil {
			types = []string{one}
		} else if json.Unmarshal(p.Type, &types) != nil {
			continue
		}
		if !matchesType(val, types) {
			return true
		}
	}
	return false
}

// matchesType reports whether the JSON value v has one of the JSON schema
// types ("integer" accepts a number with no fractional part).
func matchesType(v json.RawMessage, types []string) bool {
	t := strings.TrimSpace(string(v))
	if t == "" {
		return false
	}
	var kind string
	switch t[0] {
	case '"':
		kind = "string"
	case '{':
		kind = "object"
	case '[':
		kind = "array"
	case 't', 'f':
		kind = "boolean"
	case 'n':
		kind = "null"
	default:
		kind = "number"
	}
	for _, want := range types {
		switch {
		case want == kind:
			return true
		case want == "integer" && kind == "number":
			var f float64
			if json.Unmarshal(v, &f) == nil && f == math.Trunc(f) {
				return true
			}
		}
	}
	return false
}
