package api

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNginxKeepsTheIDsTheAPIAccepts: nginx (modules/loadbalancer) keeps a
// client's X-Request-ID only when its pattern matches, else it mints one; the
// API de-duplicates a retried POST on that id, so the two rules must agree
// on every id, or a retry could carry an id the API replaces.
func TestNginxKeepsTheIDsTheAPIAccepts(t *testing.T) {
	tpl, err := os.ReadFile(filepath.Join("..", "..", "..", "modules", "loadbalancer", "nginx.conf.tftpl"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`map \$http_x_request_id \$req_id \{\s*"~([^"]+)" \$http_x_request_id;`).FindSubmatch(tpl)
	if m == nil {
		t.Fatal("nginx.conf.tftpl: no `map $http_x_request_id $req_id` with a \"~regex\" $http_x_request_id entry")
	}
	nginx := regexp.MustCompile(string(m[1])) // PCRE's \xNN and {m,n} read the same in Go

	ids := []string{"", strings.Repeat("a", 128), strings.Repeat("a", 129), "caf\u00e9", "a b", "a\tb", "req-1/2:3"}
	for b := range 256 {
		ids = append(ids, string([]byte{byte(b)}), "id"+string([]byte{byte(b)}))
	}
	for _, id := range ids {
		if api, ng := validRequestID(id), nginx.MatchString(id); api != ng {
			t.Errorf("X-Request-ID %q: the API accepts it %v, nginx keeps it %v", id, api, ng)
		}
	}
}
