// Package config defines the typed configuration of the Kubently binaries and
// loads it from, in increasing precedence: built-in defaults, a strict YAML
// file, environment variables and command-line flags. Every setting is
// declared once, as a struct field whose tags give its YAML key, environment
// variable, default and documentation; flags and the configuration reference
// in docs/configuration.md are generated from the same tags.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// field is one setting discovered from struct tags.
type field struct {
	key   string // YAML key, also the flag name in kebab case
	env   string
	def   string
	doc   string
	value reflect.Value
}

func fields(cfg any) []field {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key := strings.Split(sf.Tag.Get("json"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		out = append(out, field{key: key, env: sf.Tag.Get("env"), def: sf.Tag.Get("default"), doc: sf.Tag.Get("doc"), value: v.Field(i)})
	}
	return out
}

func flagName(key string) string {
	isUp := func(b byte) bool { return b >= 'A' && b <= 'Z' }
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if isUp(c) && i > 0 && (!isUp(key[i-1]) || i+1 < len(key) && !isUp(key[i+1])) {
			b.WriteByte('-')
		}
		if isUp(c) {
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// set parses s into the field according to its Go type.
func set(v reflect.Value, s string) error {
	switch v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	case []string:
		v.Set(reflect.ValueOf(SplitList(s)))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("not a boolean: %q", s)
		}
		v.SetBool(b)
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

// SplitList splits a list given as one string: entries separated by commas or
// newlines, blanks trimmed, empty entries and #-comments dropped.
func SplitList(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, "#"); i >= 0 && strings.TrimSpace(line[:i]) == "" {
			continue
		}
		for _, part := range strings.Split(line, ",") {
			if p := strings.TrimSpace(part); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// Source says where to read settings from.
type Source struct {
	Args   []string            // command-line arguments (without the program name)
	Env    func(string) string // os.Getenv in production
	Stderr io.Writer           // flag usage output; nil means os.Stderr
}

// errHelp is returned when -h/--help was given; usage was printed.
var errHelp = flag.ErrHelp

// IsHelp reports whether Load stopped because help was requested.
func IsHelp(err error) bool { return errors.Is(err, errHelp) }

// load fills cfg (a pointer to a settings struct) from defaults, the YAML file
// named by the "config" flag or configEnv, the environment and the flags.
//
// structured, when set, receives the parsed YAML file first and removes the
// keys it handles itself (settings that are not flat values).
func load(name string, cfg any, src Source, configEnv string, structured func(doc map[string]any) error) error {
	fs := fields(cfg)
	for _, f := range fs {
		if f.def != "" {
			if err := set(f.value, f.def); err != nil {
				return fmt.Errorf("default of %s: %w", f.key, err)
			}
		}
	}
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	if src.Stderr != nil {
		flags.SetOutput(src.Stderr)
	}
	configPath := flags.String("config", "", "YAML configuration file (env "+configEnv+")")
	given := map[string]*string{}
	for _, f := range fs {
		p := new(string)
		given[f.key] = p
		flags.Func(flagName(f.key), f.doc+envNote(f.env), func(s string) error { *p = s; return nil })
	}
	if err := flags.Parse(src.Args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", flags.Arg(0))
	}
	getenv := src.Env
	if getenv == nil {
		getenv = os.Getenv
	}
	path := *configPath
	if path == "" {
		path = getenv(configEnv)
	}
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read config file: %w", err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		if structured != nil {
			if err := structured(doc); err != nil {
				return fmt.Errorf("config file %s: %w", path, err)
			}
		}
		if err := applyFile(fs, doc); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
	}
	for _, f := range fs {
		if f.env == "" {
			continue
		}
		if s, ok := lookup(getenv, f.env); ok {
			if err := set(f.value, s); err != nil {
				return fmt.Errorf("environment %s: %w", f.env, err)
			}
		}
	}
	for _, f := range fs {
		if p := given[f.key]; flagSet(flags, flagName(f.key)) {
			if err := set(f.value, *p); err != nil {
				return fmt.Errorf("flag --%s: %w", flagName(f.key), err)
			}
		}
	}
	return nil
}

// applyFile sets fields from a YAML document. Values are rendered as strings
// and parsed like environment values, so "30s", 30 and lists mean the same in
// every source; unknown keys are an error.
func applyFile(fs []field, doc map[string]any) error {
	byKey := map[string]field{}
	for _, f := range fs {
		byKey[f.key] = f
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := byKey[k]
		if !ok {
			return fmt.Errorf("unknown setting %q", k)
		}
		if err := set(f.value, render(doc[k])); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = render(e)
		}
		return strings.Join(parts, "\n")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func lookup(getenv func(string) string, key string) (string, bool) {
	s := getenv(key)
	return s, s != ""
}

func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

func envNote(env string) string {
	if env == "" {
		return ""
	}
	return " (env " + env + ")"
}

// Reference renders the settings of cfg as a Markdown table: the source of
// docs/configuration.md, kept in sync by a test.
func Reference(cfg any) string {
	fs := fields(cfg)
	var b strings.Builder
	b.WriteString("| YAML key | flag | environment | default | meaning |\n|---|---|---|---|---|\n")
	for _, f := range fs {
		def := f.def
		if def == "" {
			def = "—"
		} else {
			def = "`" + def + "`"
		}
		env := "—"
		if f.env != "" {
			env = "`" + f.env + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `--%s` | %s | %s | %s |\n", f.key, flagName(f.key), env, def, strings.ReplaceAll(f.doc, "|", "\\|"))
	}
	return b.String()
}
