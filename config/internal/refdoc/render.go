package refdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// RenderValue writes a default as YAML that decodes back to the same value: durations in
// Go's syntax (90s is 1m30s), strings bare when YAML reads them back unchanged and
// quoted otherwise, lists in flow style. Empty strings and lists are "" and [].
func RenderValue(v reflect.Value) (string, error) {
	if v.Type() == durationType {
		return FormatDuration(time.Duration(v.Int())), nil
	}
	switch v.Kind() {
	case reflect.String:
		return renderString(v.String()), nil
	case reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case reflect.Int, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), nil
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64), nil
	case reflect.Slice:
		if v.Len() == 0 {
			return "[]", nil
		}
		if v.Type().Elem().Kind() != reflect.String {
			return "", fmt.Errorf("a non-empty default list of %s cannot be rendered",
				v.Type().Elem())
		}
		items := make([]string, v.Len())
		for i := range items {
			items[i] = quote(v.Index(i).String())
		}
		return "[" + strings.Join(items, ", ") + "]", nil
	}
	return "", fmt.Errorf("a default of kind %s cannot be rendered", v.Kind())
}

// FormatDuration is time.Duration's String without the zero units it appends: 1m, 72h.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func renderString(s string) string {
	if s == "" {
		return `""`
	}
	var back string
	if err := yaml.Unmarshal([]byte(s), &back); err == nil && back == s &&
		!strings.ContainsAny(s, "|`") {
		return s
	}
	return quote(s)
}

// quote writes s as a JSON string, which YAML reads as a double-quoted scalar.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Render writes the reference document.
func Render(sections []Section) []byte {
	var b bytes.Buffer
	// The intro is written with ~ for backticks, which a raw string cannot hold.
	b.WriteString(strings.ReplaceAll(intro, "~", "`"))
	for _, s := range sections {
		if s.Path == "" {
			continue
		}
		level := "##"
		if strings.Contains(s.Path, ".") {
			level = "###"
		}
		fmt.Fprintf(&b, "\n%s `%s`\n\n", level, s.Path)
		if s.Comment != "" {
			fmt.Fprintf(&b, "%s\n\n", escape(s.Comment))
		}
		if len(s.Settings) == 0 {
			continue
		}
		b.WriteString("| Setting | Environment variable | Type | Default | Description |\n")
		b.WriteString("| --- | --- | --- | --- | --- |\n")
		for _, st := range s.Settings {
			b.WriteString(Row(st))
		}
	}
	return b.Bytes()
}

// Row is the table row of one setting.
func Row(s Setting) string {
	env := "file only"
	if s.Env != "" {
		env = "`" + s.Env + "`"
	}
	typ := s.Type
	if s.Secret {
		typ += ", secret"
	}
	def := "-"
	if !strings.Contains(s.Path, "[]") {
		def = "`" + s.Default + "`"
	}
	return fmt.Sprintf("| `%s` | %s | %s | %s | %s |\n", s.Path, env, typ, def,
		escape(s.Comment))
}

// escape keeps a comment's text literal in a Markdown table cell.
func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`).Replace(s)
}

const intro = "# Configuration reference\n" + `
Every scriptsync process reads one configuration: the defaults, then the YAML file named
by ~--config~ or ~SCRIPTSYNC_CONFIG~, then the environment. Unknown keys in the file are
an error, so a misspelt setting stops the process at start-up instead of keeping its
default. ~scriptsync config check~ prints the effective configuration with secrets masked
and says whether it is valid for the processes named by ~--for~ (default
~ingest,worker~), with the checks each runs at start-up.

- **Environment.** A setting's variable is ~SCRIPTSYNC_~ followed by its YAML path in upper
  case with dots replaced by underscores. Durations use Go's syntax (~500ms~, ~90s~,
  ~72h~); lists of strings are comma-separated. Settings marked *file only* (lists of
  objects) can be set only in the file.
- **Files.** Any setting that has a variable can instead be read from a file: append
  ~_FILE~ to the variable's name and give the file's path
  (~SCRIPTSYNC_GENESYS_CLIENT_SECRET_FILE=/run/secrets/genesys~). Trailing newlines are
  dropped; a list read from a file takes one item per line. Setting both forms is an
  error.
- **Secrets.** Settings marked *secret* are masked wherever the configuration is printed,
  and so are passwords and tokens written inside URLs (~nats://user:password@host~).
  Prefer the ~_FILE~ form or a secret store for them.
- **Validation.** Every process validates every section, also those it does not use, and
  reports all bad settings at once, each by its YAML path.
- **Defaults.** The Default column is ~config.Default()~. ~scriptsync dev~ and
  ~scriptsync sim~ start from other defaults for local runs (an embedded NATS, the
  simulator as Genesys, no ingest authentication); ~scriptsync config check --dev~ shows
  them.

This file is generated from the comments of the configuration struct by
~go run ./config/gendoc~; ~go test ./config~ fails when it no longer matches the struct.
`
