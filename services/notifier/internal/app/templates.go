package app

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
)

// The templates of the two mails, embedded; an operator overrides any of
// them with a file of the same name in a folder (Config.Templates).
// Subjects and text parts are text/template, HTML parts html/template
// (contextual escaping: a display name holding <script> is shown as text).
// Every value a template gets from the network has been through Text
// first, and a rendered subject is made one line again, so no template can
// add a header.
const (
	TmplMissedSubject = "missed.subject.tmpl"
	TmplMissedText    = "missed.txt.tmpl"
	TmplMissedHTML    = "missed.html.tmpl"
	TmplDigestSubject = "digest.subject.tmpl"
	TmplDigestText    = "digest.txt.tmpl"
	TmplDigestHTML    = "digest.html.tmpl"
)

// TemplateNames lists every template file name.
var TemplateNames = []string{TmplMissedSubject, TmplMissedText, TmplMissedHTML, TmplDigestSubject, TmplDigestText, TmplDigestHTML}

//go:embed templates/*.tmpl
var embedded embed.FS

// Templates are the parsed templates of both mails.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
	// From says where each template came from (file path or "embedded").
	From map[string]string
}

// ErrTemplate reports a template that does not parse or does not render
// the sample mail; the message names the file.
var ErrTemplate = errors.New("notifier: template")

// LoadTemplates parses the embedded templates, each replaced by the file
// of the same name in dir when it exists (dir "" uses only the embedded
// ones). A file in dir with a .tmpl name that is not a template name is an
// error (a typo would silently change nothing). Each template is rendered
// once with a sample, so a template that refers to a missing field fails
// here, at start-up, with its file name.
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}, From: map[string]string{}}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("%w: folder: %w", ErrTemplate, err)
		}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmpl") && !slices.Contains(TemplateNames, e.Name()) {
				return nil, fmt.Errorf("%w: %s: not a template name (want one of %s)", ErrTemplate,
					filepath.Join(dir, e.Name()), strings.Join(TemplateNames, ", "))
			}
		}
	}
	var errs []error
	for _, name := range TemplateNames {
		src, from, err := templateSource(dir, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.From[name] = from
		if strings.HasSuffix(name, ".html.tmpl") {
			h, err := htmltemplate.New(name).Option("missingkey=error").Parse(src)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrTemplate, from, err))
				continue
			}
			t.html[name] = h
		} else {
			x, err := texttemplate.New(name).Option("missingkey=error").Parse(src)
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: %s: %w", ErrTemplate, from, err))
				continue
			}
			t.text[name] = x
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	return t, nil
}

func templateSource(dir, name string) (src, from string, err error) {
	if dir != "" {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		switch {
		case err == nil:
			return string(b), p, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", "", fmt.Errorf("%w: %w", ErrTemplate, err)
		}
	}
	b, err := embedded.ReadFile("templates/" + name)
	if err != nil {
		return "", "", fmt.Errorf("%w: embedded %s: %w", ErrTemplate, name, err)
	}
	return string(b), "embedded " + name, nil
}

// check renders every template with a sample view.
func (t *Templates) check() error {
	when := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	mv := sampleMissed(when)
	dv := sampleDigest(when)
	var errs []error
	for _, name := range TemplateNames {
		var view any = mv
		if strings.HasPrefix(name, "digest.") {
			view = dv
		}
		if _, err := t.render(name, view); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// render executes one template.
func (t *Templates) render(name string, view any) (string, error) {
	var b bytes.Buffer
	var err error
	if h, ok := t.html[name]; ok {
		err = h.Execute(&b, view)
	} else {
		err = t.text[name].Execute(&b, view)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrTemplate, t.From[name], err)
	}
	return b.String(), nil
}
