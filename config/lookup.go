package config

// Lookup sets where attribute values come from and how they are named.
type Lookup struct {
	// Source is file or redis. Default file.
	Source string `yaml:"source"`
}

func (l Lookup) validate() []error {
	if l.Source != "file" && l.Source != "redis" {
		return []error{invalid("lookup.source", "%q is not file or redis", l.Source)}
	}
	return nil
}
