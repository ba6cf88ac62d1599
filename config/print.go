package config

import (
	"reflect"

	"gopkg.in/yaml.v3"
)

// mask replaces a secret's value in printed configuration.
const mask = "********"

// MaskedYAML renders the effective configuration with every secret replaced by a mask, so
// it can be printed or logged. A field is secret when its struct tag says secret:"true".
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
	}
	return v.Interface()
}
