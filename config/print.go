package config

import (
	"net/url"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// mask replaces a secret's value in printed configuration.
const mask = "********"

// MaskedYAML renders the effective configuration with every secret replaced by a mask, so
// it can be printed or logged. A field is secret when its struct tag says secret:"true".
// Credentials written inside a URL of any other field are masked too (see maskURLs), as
// operators put them there: nats://user:password@host.
func (c *Config) MaskedYAML() ([]byte, error) {
	return yaml.Marshal(masked(reflect.ValueOf(*c), false))
}

func masked(v reflect.Value, secret bool) any {
	if v.Type() == durationType {
		return v.Interface().(interface{ String() string }).String()
	}
	switch v.Kind() {
	case reflect.Struct:
		out := yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			val := masked(v.Field(i), f.Tag.Get("secret") == "true")
			var vn yaml.Node
			_ = vn.Encode(val)
			out.Content = append(out.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: name}, &vn)
		}
		return &out
	case reflect.Slice:
		if v.IsNil() {
			return []any{}
		}
		items := make([]any, v.Len())
		for i := range items {
			items[i] = masked(v.Index(i), secret)
		}
		return items
	case reflect.Map:
		m := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			m[iter.Key().String()] = masked(iter.Value(), secret)
		}
		return m
	case reflect.String:
		if secret && v.String() != "" {
			return mask
		}
		return maskURLs(v.String())
	}
	return v.Interface()
}

// maskURLs masks the credentials in each URL of a comma-separated list (nats.url takes
// several): the userinfo's password, and query values whose name says they are secret.
// A userinfo without a password is masked whole, because NATS reads a lone user name as a
// token. The rest is kept byte for byte, not re-encoded, so templates such as
// lookup.http.url still read as written. Strings that hold no URL are returned unchanged.
func maskURLs(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = maskURL(p)
	}
	return strings.Join(parts, ",")
}

func maskURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	// The last @ ends the userinfo: a password with a bare @ in it is still masked whole.
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		info := mask
		if user, _, ok := strings.Cut(authority[:at], ":"); ok {
			info = user + ":" + mask
		}
		authority = info + authority[at:]
	}
	return scheme + "://" + authority + maskQuery(tail)
}

// maskQuery masks the secret values in the query of tail, the part of a URL after its
// host.
func maskQuery(tail string) string {
	start := strings.Index(tail, "?")
	if start < 0 {
		return tail
	}
	query, fragment := tail[start+1:], ""
	if i := strings.Index(query, "#"); i >= 0 {
		query, fragment = query[:i], query[i:]
	}
	pairs := strings.Split(query, "&")
	for i, pair := range pairs {
		name, value, ok := strings.Cut(pair, "=")
		if ok && value != "" && secretParam(name) && !isPlaceholder(value) {
			pairs[i] = name + "=" + mask
		}
	}
	return tail[:start+1] + strings.Join(pairs, "&") + fragment
}

// secretParam reports a query parameter whose name says it carries a credential:
// password=, token=, access_token=, api_key=, client_secret=, sig= and the like.
func secretParam(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	switch name {
	case "key", "sig", "auth", "pwd":
		return true
	}
	for _, word := range []string{"pass", "token", "secret", "apikey", "api_key", "api-key",
		"signature", "credential"} {
		if strings.Contains(name, word) {
			return true
		}
	}
	return false
}

// isPlaceholder reports a value that is only a template placeholder, such as {{key}} in
// lookup.http.url: it names where a value goes, and hiding it would hide the template.
func isPlaceholder(value string) bool {
	return strings.HasPrefix(value, "{{") && strings.HasSuffix(value, "}}") &&
		strings.Count(value, "{{") == 1
}
