package config

import (
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var durationType = reflect.TypeFor[time.Duration]()

// overlayEnv sets every field whose environment variable is present. Lists of strings are
// comma-separated (one per line when read from a _FILE). Lists of structures and maps can
// be set only in the YAML file.
func overlayEnv(cfg *Config, environ []string) error {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix+"_") {
			env[k] = v
		}
	}
	if len(env) == 0 {
		return nil
	}
	return walkEnv(reflect.ValueOf(cfg).Elem(), EnvPrefix, env)
}

func walkEnv(v reflect.Value, prefix string, env map[string]string) error {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		key := prefix + "_" + strings.ToUpper(name)
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			if err := walkEnv(fv, key, env); err != nil {
				return err
			}
			continue
		}
		raw, fromFile, ok, err := lookupEnv(env, key)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := setFromString(fv, raw, fromFile); err != nil {
			return fmt.Errorf("environment %s: %w", key, err)
		}
	}
	return nil
}

// lookupEnv returns KEY's value, or the content of the file KEY_FILE names. Setting both is
// an error: which one wins would be a guess.
func lookupEnv(env map[string]string, key string) (string, bool, bool, error) {
	val, direct := env[key]
	path, viaFile := env[key+"_FILE"]
	switch {
	case direct && viaFile:
		return "", false, false, fmt.Errorf("environment: both %s and %s_FILE are set", key, key)
	case direct:
		return val, false, true, nil
	case viaFile:
		data, err := os.ReadFile(path)
		if err != nil {
			return "", false, false, fmt.Errorf("environment %s_FILE: %w", key, err)
		}
		return strings.TrimRight(string(data), "\r\n"), true, true, nil
	}
	return "", false, false, nil
}

func setFromString(fv reflect.Value, raw string, fromFile bool) error {
	if fv.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		fv.SetInt(int64(d))
		return nil
	}
	switch fv.Kind() {
	case reflect.String:
		fv.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		fv.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
		}
		fv.SetInt(n)
	case reflect.Float64:
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return err
		}
		fv.SetFloat(n)
	case reflect.Slice:
		if fv.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("this setting can be set only in the configuration file")
		}
		fv.Set(reflect.ValueOf(splitList(raw, fromFile)))
	default:
		return fmt.Errorf("this setting can be set only in the configuration file")
	}
	return nil
}

func splitList(raw string, fromFile bool) []string {
	sep := ","
	if fromFile {
		sep = "\n"
	}
	var out []string
	for part := range strings.SplitSeq(raw, sep) {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
