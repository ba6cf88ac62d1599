package config_test

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scriptsync/scriptsync/config"
	"github.com/scriptsync/scriptsync/config/internal/refdoc"
)

const referencePath = "../docs/configuration.md"

// regenerate is what every failure below tells the reader to do.
const regenerate = "run `go run ./config/gendoc` from the repository root"

// want is what the struct says about one setting.
type want struct {
	env    string // empty when only the file can set it
	typ    reflect.Type
	def    reflect.Value // invalid for fields of list items
	secret bool
}

// row is one setting as the reference documents it.
type row struct {
	path, env, typ, def, desc string
}

// TestReferenceMatchesStruct walks config.Config by reflection and checks every setting
// against the reference's tables: none missing, none that does not exist, and the same
// variable, type and default.
func TestReferenceMatchesStruct(t *testing.T) {
	rows := readReference(t)
	wants := map[string]want{}
	walk(reflect.ValueOf(config.Default()), "", config.EnvPrefix, wants)

	for path := range wants {
		if _, ok := rows[path]; !ok {
			t.Errorf("%s is a setting but docs/configuration.md does not list it; %s",
				path, regenerate)
		}
	}
	for path, r := range rows {
		w, ok := wants[path]
		if !ok {
			t.Errorf("docs/configuration.md lists %s, which is not a setting; %s", path,
				regenerate)
			continue
		}
		checkRow(t, r, w)
	}
}

func checkRow(t *testing.T, r row, w want) {
	t.Helper()
	env := "file only"
	if w.env != "" {
		env = "`" + w.env + "`"
	}
	if r.env != env {
		t.Errorf("%s: documented variable %s, want %s", r.path, r.env, env)
	}
	if secret := strings.HasSuffix(r.typ, ", secret"); secret != w.secret {
		t.Errorf("%s: documented as secret=%v, but its tag says %v", r.path, secret, w.secret)
	}
	if kind := strings.TrimSuffix(r.typ, ", secret"); kind != kindName(w.typ) {
		t.Errorf("%s: documented type %q, want %q", r.path, kind, kindName(w.typ))
	}
	if !w.def.IsValid() {
		if r.def != "-" {
			t.Errorf("%s: a field of list items has no default, documented %s", r.path, r.def)
		}
		return
	}
	got, err := decodeAs(strings.Trim(r.def, "`"), w.typ)
	if err != nil {
		t.Errorf("%s: documented default %s does not read as a %s: %v", r.path, r.def,
			kindName(w.typ), err)
		return
	}
	if !sameValue(got, w.def) {
		t.Errorf("%s: documented default %s, but config.Default() has %v; %s", r.path, r.def,
			w.def.Interface(), regenerate)
	}
}

// TestReferenceIsGenerated compares the whole document with a fresh rendering, so edited
// comments reach it too.
func TestReferenceIsGenerated(t *testing.T) {
	sections, err := refdoc.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	if wantDoc := refdoc.Render(sections); !bytes.Equal(have, wantDoc) {
		t.Errorf("docs/configuration.md differs from the configuration struct's comments (%s)",
			firstDifference(have, wantDoc))
		t.Errorf("%s", regenerate)
	}
}

// TestCommentsStateTheDefaults reads the "Default X." sentence of every field comment
// and checks that X is config.Default()'s value, so the prose cannot drift from the code.
// Sentences that state no value ("Default the host dialled") are skipped.
func TestCommentsStateTheDefaults(t *testing.T) {
	sections, err := refdoc.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	wants := map[string]want{}
	walk(reflect.ValueOf(config.Default()), "", config.EnvPrefix, wants)
	checked := 0
	for _, s := range refdoc.Settings(sections) {
		w := wants[s.Path]
		stated, ok := statedDefault(s)
		if !ok || !w.def.IsValid() {
			continue
		}
		got, err := decodeAs(stated, w.typ)
		if err != nil {
			continue
		}
		checked++
		if !sameValue(got, w.def) {
			t.Errorf("%s: the comment says the default is %q, but config.Default() has %v",
				s.Path, stated, w.def.Interface())
		}
	}
	if checked < 50 {
		t.Errorf("only %d comments stated a default that could be read; the parser is "+
			"probably broken", checked)
	}
}

func TestStatedDefault(t *testing.T) {
	cases := []struct {
		comment string
		group   []string
		field   string
		want    string
		ok      bool
	}{
		{"Level is debug. Default info.", nil, "Level", "info", true},
		{"Body. Default 262144 (256 KiB).", nil, "X", "262144", true},
		{"Slow. Defaults 5s, 15s, 20s and 120s.", []string{"A", "B", "C", "D"}, "C", "20s", true},
		{"Both. Default 500ms each.", []string{"R", "W"}, "W", "500ms", true},
		{"Keys. Default [\"a:{{x}}\", \"b\"].", nil, "K", "[\"a:{{x}}\", \"b\"]", true},
		{"Seed. Default none; dev: examples/x.json.", nil, "S", "none", true},
		{"Life. Default 24h, as Genesys.", nil, "L", "24h", true},
		{"Name. Default the host dialled.", nil, "N", "", false},
		{"Default is written when empty.", nil, "Default", "", false},
		{"Required.", nil, "ID", "", false},
	}
	for _, c := range cases {
		s := refdoc.Setting{Comment: c.comment, Group: c.group, Field: c.field}
		got, ok := statedDefault(s)
		if ok != c.ok || got != c.want {
			t.Errorf("statedDefault(%q, %s) = %q, %v; want %q, %v", c.comment, c.field, got,
				ok, c.want, c.ok)
		}
	}
}

// statedDefault returns the value a comment's closing "Default X." or "Defaults X, Y and
// Z." sentence gives the field, or false when there is none or it is prose.
func statedDefault(s refdoc.Setting) (string, bool) {
	text := strings.TrimSuffix(s.Comment, ".")
	plural := false
	i := strings.LastIndex(text, ". Default ")
	if j := strings.LastIndex(text, ". Defaults "); j > i {
		i, plural = j, true
	}
	if i < 0 {
		return "", false
	}
	text = text[i+len(". Default "):]
	if plural {
		text = text[len("s"):]
		items := strings.Split(strings.ReplaceAll(text, " and ", ", "), ", ")
		idx := indexOf(s.Group, s.Field)
		if len(items) != len(s.Group) || idx < 0 {
			return "", false
		}
		text = items[idx]
	}
	text = clause(text)
	if text == "none" {
		return "none", true
	}
	if strings.Contains(text, " ") && !strings.HasPrefix(text, "[") {
		return "", false
	}
	return text, true
}

// clause cuts a stated value at the first separator outside brackets: "24h, as
// Genesys" is 24h, "262144 (256 KiB)" is 262144, "500ms each" is 500ms.
func clause(s string) string {
	if strings.HasPrefix(s, "[") {
		if end := strings.Index(s, "]"); end > 0 {
			return s[:end+1]
		}
	}
	for _, sep := range []string{"; ", ", ", " (", " each"} {
		if i := strings.Index(s, sep); i >= 0 {
			s = s[:i]
		}
	}
	return s
}

func indexOf(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	if len(names) == 0 {
		return 0
	}
	return -1
}

var durationType = reflect.TypeFor[time.Duration]()

// walk records every leaf under v with its variable and default. This mirrors the
// environment overlay's naming rule on purpose instead of reusing the generator's walk,
// so a mistake in one is caught by the other.
func walk(v reflect.Value, path, env string, out map[string]want) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		e := ""
		if env != "" {
			e = env + "_" + strings.ToUpper(name)
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			walk(fv, p, e, out)
			continue
		}
		w := want{typ: f.Type, def: fv, secret: f.Tag.Get("secret") == "true", env: e}
		if !envSettable(f.Type) {
			w.env = ""
		}
		if env == "" {
			w.def = reflect.Value{}
		}
		out[p] = w
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			walk(reflect.New(f.Type.Elem()).Elem(), p+"[]", "", out)
		}
	}
}

func envSettable(t reflect.Type) bool {
	if t.Kind() == reflect.Slice {
		return t.Elem().Kind() == reflect.String
	}
	return t.Kind() != reflect.Map && t.Kind() != reflect.Struct
}

func kindName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		return "list of objects"
	case t.Kind() == reflect.Slice:
		return "list of " + kindName(t.Elem()) + "s"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	}
	return t.Kind().String()
}

// decodeAs reads a YAML value into a new value of type t; "none" is the zero value.
func decodeAs(text string, t reflect.Type) (reflect.Value, error) {
	v := reflect.New(t)
	if text == "none" {
		return v.Elem(), nil
	}
	if err := yaml.Unmarshal([]byte(text), v.Interface()); err != nil {
		return reflect.Value{}, err
	}
	return v.Elem(), nil
}

// sameValue is DeepEqual, except that a nil list equals an empty one.
func sameValue(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// readReference returns the rows of every settings table, by path.
func readReference(t *testing.T) map[string]row {
	t.Helper()
	data, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]row{}
	for n, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := splitRow(line)
		if len(cells) != 5 {
			t.Errorf("docs/configuration.md:%d: %d cells, want 5", n+1, len(cells))
			continue
		}
		r := row{path: strings.Trim(cells[0], "`"), env: cells[1], typ: cells[2],
			def: cells[3], desc: cells[4]}
		if _, dup := rows[r.path]; dup {
			t.Errorf("docs/configuration.md:%d: %s is listed twice", n+1, r.path)
		}
		rows[r.path] = r
	}
	if len(rows) == 0 {
		t.Fatal("docs/configuration.md has no settings table")
	}
	return rows
}

// splitRow splits a Markdown table row into its cells, keeping escaped pipes.
func splitRow(line string) []string {
	line = strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |")
	const hold = "\x00"
	line = strings.ReplaceAll(line, `\|`, hold)
	cells := strings.Split(line, " | ")
	for i, c := range cells {
		cells[i] = strings.ReplaceAll(c, hold, "|")
	}
	return cells
}

func firstDifference(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d is %q, want %q", i+1, x, y)
		}
	}
	return "no line differs"
}
