package client

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// Problem is an error answer of the API: an RFC 9457 problem document
// (application/problem+json), or what could be made of another answer, such
// as a proxy's plain JSON or HTML page, whose body is never shown.
type Problem struct {
	Status    int          `json:"status"`
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Detail    string       `json:"detail"`
	Instance  string       `json:"instance"`
	RequestID string       `json:"request_id"`
	Errors    []FieldError `json:"errors"`
}

// FieldError names one invalid field of a request and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the title, the detail and each field message on one line.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d)", p.Title, p.Status)
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for i, f := range p.Errors {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + f.Field + " " + f.Message)
	}
	return b.String()
}

// Is makes a gateway's 502 or 504, a proxy that could not reach any API
// server, match ErrUnreachable: to the client the API is out of reach.
func (p *Problem) Is(target error) bool {
	return target == ErrUnreachable && (p.Status == http.StatusBadGateway || p.Status == http.StatusGatewayTimeout)
}

// Transient reports whether the same request may succeed later: the API or
// its store is briefly unavailable, or the client is being rate limited.
func (p *Problem) Transient() bool {
	switch p.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// decodeProblem turns an error answer into a *Problem. A problem document is
// taken as sent; any other JSON gives its "detail" (nginx's rate-limit page
// has one); anything else only its status.
func decodeProblem(status int, contentType string, body []byte) *Problem {
	p := &Problem{}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/problem+json" || mt == "application/json" {
		if json.Unmarshal(body, p) != nil {
			p = &Problem{}
		}
	}
	p.Status = status
	if p.Title == "" {
		p.Title = http.StatusText(status)
		if p.Title == "" {
			p.Title = "HTTP error"
		}
	}
	if p.Detail == "" && mt != "application/problem+json" && mt != "application/json" && len(body) > 0 {
		p.Detail = "the server answered with " + orUnknown(mt) + " instead of a problem document"
	}
	return p
}

func orUnknown(mt string) string {
	if mt == "" {
		return "an untyped body"
	}
	return mt
}
