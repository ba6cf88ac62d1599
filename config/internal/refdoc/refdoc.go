// Package refdoc builds the configuration reference (docs/configuration.md) from the
// config package: the settings come from walking config.Config by reflection, their
// defaults from config.Default, and their descriptions from the field comments in the
// package's source. The generator (config/gendoc) writes the document and the reference
// test in package config checks that the document and the struct agree.
package refdoc

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/scriptsync/scriptsync/config"
)

// Setting is one configuration setting: a leaf of config.Config, or a field of the items
// of a list of structures.
type Setting struct {
	// Path is the YAML path, such as ingest.auth.hmac.secrets; fields of list items read
	// lookup.attributes[].name.
	Path string
	// Env is the environment variable that sets it, or empty when only the file can.
	Env string
	// Type names the value's kind for people: string, integer, duration, ...
	Type string
	// Default is the value in config.Default rendered as YAML, or empty for fields of list
	// items, which have no default of their own.
	Default string
	// Secret reports a field tagged secret:"true", which is masked when printed.
	Secret bool
	// Comment is the field's doc comment on one line. A field without a comment of its
	// own shares the one above it ("User and Password authenticate ...").
	Comment string
	// Group lists the Go names of the fields sharing Comment, in order; Field is this
	// one's Go name.
	Group []string
	Field string
}

// Section is a structure of the configuration: the settings directly in it, and its
// doc comment.
type Section struct {
	// Path is the YAML path of the structure, such as ingest.auth.
	Path string
	// Comment is the doc comment of the field holding the structure.
	Comment string
	// Settings are the structure's own leaves, in declaration order.
	Settings []Setting
}

// Load walks config.Config and returns its sections in declaration order, depth first.
// srcDir is the config package's source directory, read for the field comments.
func Load(srcDir string) ([]Section, error) {
	comments, err := readComments(srcDir)
	if err != nil {
		return nil, err
	}
	w := walker{comments: comments}
	def := config.Default()
	if err := w.walkStruct(reflect.ValueOf(def), "", config.EnvPrefix, ""); err != nil {
		return nil, err
	}
	return w.sections, nil
}

// Settings flattens the sections.
func Settings(sections []Section) []Setting {
	var out []Setting
	for _, s := range sections {
		out = append(out, s.Settings...)
	}
	return out
}

type walker struct {
	comments map[string]map[string]fieldDoc
	sections []Section
}

// typeDocKey holds a struct type's own doc comment among its fields' comments.
const typeDocKey = ""

var durationType = reflect.TypeFor[time.Duration]()

// walkStruct adds the section for v, then the sections of its structure fields. env is
// empty below a list, where no variable can reach.
func (w *walker) walkStruct(v reflect.Value, path, env, comment string) error {
	t := v.Type()
	idx := len(w.sections)
	w.sections = append(w.sections, Section{Path: path, Comment: comment})
	type nested struct {
		v             reflect.Value
		path, env, cm string
	}
	var subs []nested
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		doc, ok := w.comments[t.Name()][f.Name]
		if !ok {
			return fmt.Errorf("%s.%s: no comment found in the config source", t.Name(), f.Name)
		}
		p := join(path, name)
		e := ""
		if env != "" {
			e = env + "_" + strings.ToUpper(name)
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			subs = append(subs, nested{v: fv, path: p, env: e, cm: doc.text})
			continue
		}
		s, err := w.leaf(f, fv, p, e, doc)
		if err != nil {
			return err
		}
		w.sections[idx].Settings = append(w.sections[idx].Settings, s)
		if f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct {
			item := reflect.New(f.Type.Elem()).Elem()
			cm := w.comments[f.Type.Elem().Name()][typeDocKey].text
			subs = append(subs, nested{v: item, path: p + "[]", cm: cm})
		}
	}
	for _, s := range subs {
		if err := w.walkStruct(s.v, s.path, s.env, s.cm); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) leaf(f reflect.StructField, v reflect.Value, path, env string,
	doc fieldDoc) (Setting, error) {
	s := Setting{
		Path: path, Type: typeName(f.Type), Secret: f.Tag.Get("secret") == "true",
		Comment: doc.text, Group: doc.group, Field: f.Name,
	}
	if strings.Contains(path, "[]") {
		return s, nil
	}
	if settableFromEnv(f.Type) {
		s.Env = env
	}
	def, err := RenderValue(v)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	s.Default = def
	return s, nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
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

// settableFromEnv mirrors the environment overlay: scalars and lists of strings.
func settableFromEnv(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int32, reflect.Int64,
		reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return "list of objects"
		}
		return "list of " + typeName(t.Elem()) + "s"
	}
	return t.Kind().String()
}

// fieldDoc is a field's comment and the fields that share it.
type fieldDoc struct {
	text  string
	group []string
}

// readComments reads the doc comment of every field of every struct type declared in the
// package's non-test files, keyed by type name, then field name.
func readComments(dir string) (map[string]map[string]fieldDoc, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	out := map[string]map[string]fieldDoc{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read config source: %w", err)
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse config source: %w", err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				fields := structComments(st)
				doc := ts.Doc
				if doc == nil && len(gd.Specs) == 1 {
					doc = gd.Doc
				}
				if doc != nil {
					fields[typeDocKey] = fieldDoc{text: oneLine(doc.Text())}
				}
				out[ts.Name.Name] = fields
			}
		}
	}
	return out, nil
}

// structComments gives each field its comment. A field without one shares the comment of
// the field above it, as in "ReadTimeout and WriteTimeout bound ...".
func structComments(st *ast.StructType) map[string]fieldDoc {
	out := map[string]fieldDoc{}
	var cur *fieldDoc
	var members [][]string
	flush := func() {
		if cur == nil {
			return
		}
		var group []string
		for _, m := range members {
			group = append(group, m...)
		}
		for _, n := range group {
			out[n] = fieldDoc{text: cur.text, group: group}
		}
	}
	for _, field := range st.Fields.List {
		var names []string
		for _, n := range field.Names {
			names = append(names, n.Name)
		}
		if field.Doc != nil {
			flush()
			cur = &fieldDoc{text: oneLine(field.Doc.Text())}
			members = nil
		}
		members = append(members, names)
	}
	flush()
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
