package lambada

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Variables are the environment variables a request sets, in the order the
// request gave them: AWS measures the 4 KB limit over them, and prints what
// it measured, in that order (docs/aws-behaviour.md §7.3). A key given twice
// keeps its first place and its last value. The zero value has no variables.
type Variables struct {
	keys   []string
	values map[string]string
}

// VariablesOf returns the variables of m in the order of their keys.
func VariablesOf(m map[string]string) Variables {
	return Variables{keys: slices.Sorted(maps.Keys(m)), values: maps.Clone(m)}
}

// UnmarshalJSON decodes a JSON object of strings, keeping its order; null
// decodes as no variables.
func (v *Variables) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*v = Variables{values: m}
	if m == nil {
		return nil
	}
	// The object is valid: walk it again for the order of its keys.
	dec := json.NewDecoder(bytes.NewReader(b))
	_, _ = dec.Token() // {
	seen := make(map[string]bool, len(m))
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
		if k := t.(string); !seen[k] {
			seen[k] = true
			v.keys = append(v.keys, k)
		}
	}
	return nil
}

// Len returns how many variables v holds.
func (v Variables) Len() int { return len(v.keys) }

// Keys returns the keys in the request's order.
func (v Variables) Keys() []string { return slices.Clone(v.keys) }

// Map returns the variables as a map, nil when there are none.
func (v Variables) Map() map[string]string {
	if len(v.keys) == 0 {
		return nil
	}
	return maps.Clone(v.values)
}

// JSON renders v as the compact JSON object AWS measures, in order.
func (v Variables) JSON() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for i, k := range v.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		_ = enc.Encode(k) // strings always encode
		b.Truncate(b.Len() - 1)
		b.WriteByte(':')
		_ = enc.Encode(v.values[k])
		b.Truncate(b.Len() - 1)
	}
	b.WriteByte('}')
	return b.String()
}

// reservedEnvironmentKeys are the variables Lambda sets itself and refuses
// to take from a function's configuration (AWS's "reserved" list).
var reservedEnvironmentKeys = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true,
	"AWS_REGION": true, "AWS_DEFAULT_REGION": true, "AWS_EXECUTION_ENV": true,
	"AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true,
	"AWS_LAMBDA_LOG_GROUP_NAME": true, "AWS_LAMBDA_LOG_STREAM_NAME": true,
	"AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
	"AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true, "TZ": true,
}

// CheckEnvironment returns AWS's error for reserved keys (listed sorted) or
// for variables over MaxEnvironmentSize bytes as compact JSON, which AWS
// prints in the request's order.
func CheckEnvironment(env Variables) error {
	var reserved []string
	for _, k := range env.keys {
		if reservedEnvironmentKeys[k] {
			reserved = append(reserved, k)
		}
	}
	if len(reserved) > 0 {
		slices.Sort(reserved)
		return Errorf(EINVALID, "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", strings.Join(reserved, ", "))
	}
	if s := env.JSON(); len(s) > MaxEnvironmentSize {
		return Errorf(EINVALID, "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: %s", s)
	}
	return nil
}
