package service

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sipbus/sipbus/pkg/confload"
)

// UsageError is an error of the caller's settings (a flag, a variable, the
// file, a value Validate refused): a command exits 2 on it, not 1.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// SharedEnv are the environment variables several services read under
// one name; every other setting of a service is SIPBUS_<NAME>_<KEY>.
var SharedEnv = []string{
	"SIPBUS_NATS_URL",        // every service
	"SIPBUS_REDIS_URL",       // every service that keeps state
	"SIPBUS_AUTH_SECRET",     // registrar and tm: digest nonces minted by one, checked by another
	"SIPBUS_FLOW_SECRET",     // tm replicas: signed flow tokens (RFC 5626)
	"SIPBUS_SL_SECRET",       // edges: to-tags of stateless replies
	"SIPBUS_DOMAINS",         // tm and registrar: the local domains
	"SIPBUS_WEB_SECRET",      // web replicas: session cookies
	"SIPBUS_STREAM_REPLICAS", // whoever creates the event stream first
}

// Field is one setting: its names in the file, on the command line and in
// the environment, as Fields finds them in a settings struct.
type Field struct {
	Key  string // yaml key: no_answer
	Flag string // flag name without dashes: no-answer; "" when there is none (secret, file only)
	Env  string // SIPBUS_TM_NO_ANSWER; "" when there is none (file only)
	Help string
	// Type is what the value is, in words for the tables: string, int,
	// bool, duration, list, list of ints, list of durations, or "file
	// only" for a type only the file can hold.
	Type     string
	Secret   bool
	FileOnly bool
	index    []int
}

// Fields lists the settings of the struct that v points to (or is), for
// service name: the common ones of Common first when the struct embeds it,
// in declaration order.
func Fields(name string, v any) []Field {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Field
	walk(strings.ToUpper(name), t, nil, &out)
	return out
}

func walk(prefix string, t reflect.Type, index []int, out *[]Field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		idx := append(slices.Clone(index), i)
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if strings.Contains(sf.Tag.Get("yaml"), ",inline") && sf.Type.Kind() == reflect.Struct {
			walk(prefix, sf.Type, idx, out)
			continue
		}
		if !sf.IsExported() || tag == "-" || tag == "" {
			continue
		}
		f := Field{Key: tag, Help: sf.Tag.Get("help"), Secret: sf.Tag.Get("secret") == "true", index: idx}
		f.Type = kindOf(sf.Type)
		f.FileOnly = f.Type == "file only"
		if !f.FileOnly {
			f.Env = sf.Tag.Get("env")
			if f.Env == "" {
				f.Env = "SIPBUS_" + prefix + "_" + strings.ToUpper(tag)
			}
			if !f.Secret {
				f.Flag = strings.ReplaceAll(tag, "_", "-")
			}
		}
		*out = append(*out, f)
	}
}

var durationType = reflect.TypeFor[time.Duration]()

func kindOf(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Int:
		return "int"
	case t.Kind() == reflect.Bool:
		return "bool"
	case t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice && t.Elem() == durationType:
		return "list of durations"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "list"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Int:
		return "list of ints"
	}
	return "file only"
}

// set parses s into the field at v; appendTo adds list items to what the
// field holds instead of replacing it.
func set(v reflect.Value, s string, appendTo bool) error {
	switch t := v.Type(); {
	case t == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not a duration (like 500ms or 60s)", s)
		}
		v.SetInt(int64(d))
	case t.Kind() == reflect.String:
		v.SetString(s)
	case t.Kind() == reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		v.SetInt(int64(n))
	case t.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case t.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", s)
		}
		v.SetFloat(x)
	case t.Kind() == reflect.Slice:
		items := confload.List(s)
		list := reflect.MakeSlice(t, 0, len(items))
		if appendTo {
			list = v
		}
		for _, it := range items {
			e := reflect.New(t.Elem()).Elem()
			if err := set(e, it, false); err != nil {
				return err
			}
			list = reflect.Append(list, e)
		}
		v.Set(list)
	default:
		return errors.New("set in the config file only")
	}
	return nil
}

// quoteValue leaves a secret's value out of an error.
func quoteValue(f Field, err error) error {
	if f.Secret { // a string never fails to parse; a secret list item might
		return errors.New("the value does not parse")
	}
	return err
}

// flagValue records the raw values of one flag, applied after the file
// and the environment.
type flagValue struct {
	f    Field
	raws *[]raw
	bool bool
}

type raw struct {
	f Field
	s string
}

func (v flagValue) String() string   { return "" }
func (v flagValue) IsBoolFlag() bool { return v.bool }
func (v flagValue) Set(s string) error {
	*v.raws = append(*v.raws, raw{v.f, s})
	return nil
}

// Loader loads the settings of one service. Getenv nil is os.Getenv.
type Loader struct {
	Name   string // the service: edge, tm, ...
	Getenv func(string) string
	Stderr io.Writer
	// Skip are keys this service does not take (a Common key it has no
	// use for): no flag, no variable, an error in the file.
	Skip []string
}

// Load fills *v, a pointer to a settings struct holding the defaults,
// from args (flags, and --config FILE), the file, then the environment,
// then the flags again (see the package doc for the order). It returns
// flag.ErrHelp after printing the usage for -h.
func (l Loader) Load(v any, args []string) error {
	getenv := l.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	stderr := l.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	fields := l.fields(v)
	fs := flag.NewFlagSet(l.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configEnv := "SIPBUS_" + strings.ToUpper(l.Name) + "_CONFIG"
	cfgPath := fs.String("config", getenv(configEnv), "")
	var raws []raw
	for _, f := range fields {
		if f.Flag != "" {
			fs.Var(flagValue{f: f, raws: &raws, bool: f.Type == "bool"}, f.Flag, f.Help)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			l.Usage(stderr, v)
			return err
		}
		return UsageError{err}
	}
	if fs.NArg() > 0 {
		return UsageError{fmt.Errorf("unexpected argument %q (settings are flags: --key value)", fs.Arg(0))}
	}
	rv := reflect.ValueOf(v).Elem()
	if *cfgPath != "" {
		data, err := os.ReadFile(*cfgPath)
		if err != nil {
			return UsageError{fmt.Errorf("--config: %w", err)}
		}
		if err := confload.Decode(data, *cfgPath, v); err != nil {
			return UsageError{err}
		}
		if key := l.skippedSet(rv); key != "" {
			return UsageError{fmt.Errorf("%s: unknown key %q: the %s takes no %s", *cfgPath, key, l.Name, key)}
		}
	}
	var errs []error
	for _, f := range fields {
		if f.Env == "" || l.skip(f.Key) {
			continue
		}
		s := strings.TrimSpace(getenv(f.Env))
		if s == "" {
			continue
		}
		if err := set(rv.FieldByIndex(f.index), s, false); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Env, quoteValue(f, err)))
		}
	}
	seen := map[string]bool{}
	for _, r := range raws {
		if err := set(rv.FieldByIndex(r.f.index), r.s, seen[r.f.Key]); err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", r.f.Flag, quoteValue(r.f, err)))
		}
		seen[r.f.Key] = true
	}
	if len(errs) > 0 {
		return UsageError{errors.Join(errs...)}
	}
	return nil
}

// fields are the settings of v this service takes.
func (l Loader) fields(v any) []Field {
	var out []Field
	for _, f := range Fields(l.Name, v) {
		if !l.skip(f.Key) {
			out = append(out, f)
		}
	}
	return out
}

func (l Loader) skip(key string) bool { return slices.Contains(l.Skip, key) }

// skippedSet is the first key this service does not take that the file
// set (those fields hold no default, so any value came from the file).
func (l Loader) skippedSet(rv reflect.Value) string {
	for _, f := range Fields(l.Name, rv.Addr().Interface()) {
		if l.skip(f.Key) && !rv.FieldByIndex(f.index).IsZero() {
			return f.Key
		}
	}
	return ""
}

// Usage prints the flags of v's settings, with their variables and
// defaults (v holds the defaults).
func (l Loader) Usage(w io.Writer, v any) {
	fmt.Fprintf(w, "Usage: %s [--config FILE] [--key value ...]\n\n", l.Name)
	fmt.Fprintf(w, "  --config FILE\n\tYAML file with any of the keys below (strict; $SIPBUS_%s_CONFIG)\n", strings.ToUpper(l.Name))
	rv := reflect.ValueOf(v).Elem()
	for _, f := range l.fields(v) {
		name := "(file only) " + f.Key
		if f.Flag != "" {
			name = "--" + f.Flag + " " + f.Type
		} else if f.Env != "" {
			name = "$" + f.Env + " (no flag: a secret)"
		}
		fmt.Fprintf(w, "  %s\n\t%s", name, f.Help)
		if d := Default(f, rv); d != "" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		if f.Flag != "" && f.Env != "" {
			fmt.Fprintf(w, " [$%s]", f.Env)
		}
		fmt.Fprintln(w)
	}
}

// Default formats the value of f in rv (the defaults) for a table: ""
// for an empty value or a secret.
func Default(f Field, rv reflect.Value) string {
	if f.Secret {
		return ""
	}
	v := rv.FieldByIndex(f.index)
	if v.IsZero() && v.Kind() != reflect.Bool && v.Kind() != reflect.Int {
		return ""
	}
	switch x := v.Interface().(type) {
	case []string:
		return strings.Join(x, ",")
	case []time.Duration:
		s := make([]string, len(x))
		for i, d := range x {
			s[i] = d.String()
		}
		return strings.Join(s, ",")
	case []int:
		s := make([]string, len(x))
		for i, n := range x {
			s[i] = strconv.Itoa(n)
		}
		return strings.Join(s, ",")
	}
	if f.FileOnly {
		return ""
	}
	return fmt.Sprint(v.Interface())
}

// Table is the settings table of a service README (markdown): every key
// with its flag, variable, type, default and meaning. fields and v come
// from Settings.
func Table(fields []Field, v any) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	var b strings.Builder
	b.WriteString("| key (YAML) | flag | environment | type | default | meaning |\n|---|---|---|---|---|---|\n")
	for _, f := range fields {
		flagName, env := "–", "–"
		if f.Flag != "" {
			flagName = "`--" + f.Flag + "`"
		}
		if f.Env != "" {
			env = "`" + f.Env + "`"
		}
		typ := f.Type
		if f.Secret {
			typ += ", secret"
		}
		def := Default(f, rv)
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", f.Key, flagName, env, typ, def, strings.ReplaceAll(f.Help, "|", "\\|"))
	}
	return b.String()
}
