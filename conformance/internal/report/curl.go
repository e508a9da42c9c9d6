package report

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Request is a request as the suite sent it, kept to print a curl command that sends it again.
type Request struct {
	Method, URL string
	Header      [][2]string // headers other than x-api-key, in order
	Key         string      // the x-api-key value, "" when none was sent
	KeyEnv      string      // the environment variable the curl command reads the key from
	KeyNote     string      // what the key is, for the comment above the command
	ContentType string      // of a raw body
	Body        []byte      // a raw body
	Parts       []Part      // a multipart/form-data body, in order
}

// Part is a field of a multipart form: a value, or a file.
type Part struct {
	Name, Value string
	FileName    string
	Data        []byte
	Origin      string // the file the data was read from, "" when generated
	IsFile      bool
}

// Curl is a shell command reproducing the request. Generated files and large bodies are
// written under dir (named after slug) so that the command can send them; the key is read from
// an environment variable and never printed.
func (r Request) Curl(dir, slug string) string {
	var b strings.Builder
	if r.Key != "" {
		fmt.Fprintf(&b, "# %s: %s\n", r.KeyEnv, r.KeyNote)
	}
	fmt.Fprintf(&b, "curl -sS -i -X %s %s", r.Method, shellQuote(r.URL))
	if r.Key != "" {
		fmt.Fprintf(&b, ` -H "x-api-key: $%s"`, r.KeyEnv)
	}
	for _, h := range r.Header {
		fmt.Fprintf(&b, " -H %s", shellQuote(h[0]+": "+h[1]))
	}
	save := func(name string, data []byte) string {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "<could not write " + name + ": " + err.Error() + ">"
		}
		p := filepath.Join(dir, slug+"-"+safeName(name))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "<could not write " + p + ": " + err.Error() + ">"
		}
		return p
	}
	for i, p := range r.Parts {
		if !p.IsFile {
			if len(p.Value) > 200 || strings.ContainsAny(p.Value, "\n\x00") {
				// curl -F name=<file sends the file's content as the value.
				fmt.Fprintf(&b, " -F %s", shellQuote(p.Name+"=<"+save(fmt.Sprintf("%d-%s.txt", i, p.Name), []byte(p.Value))))
				continue
			}
			fmt.Fprintf(&b, " --form-string %s", shellQuote(p.Name+"="+p.Value))
			continue
		}
		path := p.Origin
		if path == "" {
			path = save(fmt.Sprintf("%d-%s", i, p.FileName), p.Data)
		}
		fmt.Fprintf(&b, " -F %s", shellQuote(fmt.Sprintf("%s=@%s;filename=%s", p.Name, path, p.FileName)))
	}
	if r.Body != nil {
		if r.ContentType != "" {
			fmt.Fprintf(&b, " -H %s", shellQuote("Content-Type: "+r.ContentType))
		}
		if len(r.Body) <= 2048 && utf8.Valid(r.Body) && !strings.ContainsAny(string(r.Body), "\x00") {
			fmt.Fprintf(&b, " --data-binary %s", shellQuote(string(r.Body)))
		} else {
			fmt.Fprintf(&b, " --data-binary @%s", shellQuote(save("body", r.Body)))
		}
	}
	return b.String()
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// Slug turns a spec's text into a file name part.
func Slug(s string) string {
	s = strings.Trim(safeName(strings.ToLower(s)), "_")
	if len(s) > 60 {
		s = s[:60]
	}
	return s
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~=%,") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
