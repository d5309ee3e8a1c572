package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuthSettings(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token := file("token", "a-bootstrap-token-of-32-characters\n")
	short := file("short", "tiny\n")
	spaced := file("spaced", "a token with white space in it\n")
	twenty := file("twenty", strings.Repeat("t", 20))
	secret := file("secret", strings.Repeat("s", 32)+"\r\n")
	for _, c := range []struct {
		name    string
		env     map[string]string
		want    Auth
		wantErr string
	}{
		{"default off", nil, Auth{Mode: AuthOff}, ""},
		{"required", map[string]string{"CALCGRID_AUTH": "required", "CALCGRID_ADMIN_TOKEN_FILE": token, "CALCGRID_ID_SECRET_FILE": secret},
			Auth{Mode: AuthRequired, AdminToken: "a-bootstrap-token-of-32-characters", AdminTokenFile: token,
				IDSecret: []byte(strings.Repeat("s", 32)), IDSecretFile: secret}, ""},
		{"unknown mode", map[string]string{"CALCGRID_AUTH": "on"}, Auth{}, "CALCGRID_AUTH must be required or off"},
		{"missing file", map[string]string{"CALCGRID_ADMIN_TOKEN_FILE": filepath.Join(dir, "none")}, Auth{}, "CALCGRID_ADMIN_TOKEN_FILE"},
		{"short token", map[string]string{"CALCGRID_ADMIN_TOKEN_FILE": short}, Auth{}, "at least 16 bytes"},
		{"token with spaces", map[string]string{"CALCGRID_ADMIN_TOKEN_FILE": spaced}, Auth{}, "white space"},
		{"short id secret", map[string]string{"CALCGRID_ID_SECRET_FILE": twenty}, Auth{}, "at least 32 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := ParseAPI(nil, env(c.env), io.Discard)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Auth.Mode != c.want.Mode || a.Auth.AdminToken != c.want.AdminToken || string(a.Auth.IDSecret) != string(c.want.IDSecret) {
				t.Errorf("auth = %+v, want %+v", a.Auth, c.want)
			}
		})
	}
}
