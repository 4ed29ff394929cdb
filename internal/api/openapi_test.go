package api

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"
)

type oaOperation struct {
	OperationID string            `json:"operationId"`
	Security    *[]map[string]any `json:"security"`
	Responses   map[string]any    `json:"responses"`
	Parameters  []map[string]any  `json:"parameters"`
	RequestBody map[string]any    `json:"requestBody"`
}

var oaMethods = map[string]string{"get": "GET", "post": "POST", "put": "PUT", "patch": "PATCH", "delete": "DELETE", "head": "HEAD", "options": "OPTIONS"}

// TestOpenAPIMatchesRoutes compares the embedded document with the route
// table both ways and checks each operation's responses, security,
// parameters and references.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI    string                                `json:"openapi"`
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components map[string]map[string]any             `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	a := New(Deps{})
	routes := map[string]route{}
	for _, rt := range a.routes() {
		routes[rt.Method+" "+rt.Pattern] = rt
	}
	documented := map[string]bool{}
	ids := map[string]bool{}
	paramRe := regexp.MustCompile(`\{([a-z_]+)\}`)
	for path, item := range doc.Paths {
		var pathParams []map[string]any
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &pathParams); err != nil {
				t.Fatalf("%s parameters: %v", path, err)
			}
		}
		for m, raw := range item {
			if m == "parameters" {
				continue
			}
			method, ok := oaMethods[m]
			if !ok {
				t.Errorf("%s: unknown key %q", path, m)
				continue
			}
			key := method + " " + path
			documented[key] = true
			rt, ok := routes[key]
			if !ok {
				t.Errorf("document lists %s, which is not a route", key)
				continue
			}
			var op oaOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: missing or duplicate operationId %q", key, op.OperationID)
			}
			ids[op.OperationID] = true
			if len(op.Responses) == 0 {
				t.Errorf("%s: no responses", key)
			}
			hasSuccess := false
			for code := range op.Responses {
				if strings.HasPrefix(code, "2") {
					hasSuccess = true
				}
			}
			if !hasSuccess {
				t.Errorf("%s: no success response", key)
			}
			switch {
			case op.Security == nil:
				t.Errorf("%s: no security", key)
			case rt.Auth && (len(*op.Security) == 0 || (*op.Security)[0]["bearerAuth"] == nil):
				t.Errorf("%s: needs a token but security is %v", key, *op.Security)
			case !rt.Auth && len(*op.Security) != 0:
				t.Errorf("%s: public but security is %v", key, *op.Security)
			}
			if rt.Auth && op.Responses["401"] == nil {
				t.Errorf("%s: no 401 response", key)
			}
			if rt.Write && op.Responses["403"] == nil {
				t.Errorf("%s: write route without 403 response", key)
			}
			if (method == "POST" || method == "PATCH") && (op.RequestBody == nil || op.Responses["400"] == nil || op.Responses["413"] == nil) {
				t.Errorf("%s: body route without requestBody, 400 or 413", key)
			}
			declared := map[string]bool{}
			for _, p := range append(append([]map[string]any(nil), pathParams...), op.Parameters...) {
				if ref, ok := p["$ref"].(string); ok {
					name := strings.TrimPrefix(ref, "#/components/parameters/")
					p, _ = doc.Components["parameters"][name].(map[string]any)
				}
				if p != nil && p["in"] == "path" {
					declared[p["name"].(string)] = true
				}
			}
			for _, m := range paramRe.FindAllStringSubmatch(path, -1) {
				if !declared[m[1]] {
					t.Errorf("%s: path parameter %s not declared", key, m[1])
				}
			}
		}
	}
	var missing []string
	for key := range routes {
		if !documented[key] {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	for _, key := range missing {
		t.Errorf("route %s is missing from openapi.json", key)
	}

	// Every $ref points at something that exists.
	var whole any
	_ = json.Unmarshal(OpenAPI(), &whole)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if k == "$ref" {
					ref, _ := val.(string)
					parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
					if len(parts) != 3 || parts[0] != "components" || doc.Components[parts[1]][parts[2]] == nil {
						t.Errorf("dangling $ref %q", ref)
					}
				}
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(whole)
	for _, name := range []string{"Org", "User", "Membership", "Token", "AuditEntry", "Error"} {
		if doc.Components["schemas"][name] == nil {
			t.Errorf("schema %s missing", name)
		}
	}

	// The document is served without a token.
	w := httptest.NewRecorder()
	a.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if w.Code != 200 || !json.Valid(w.Body.Bytes()) {
		t.Errorf("GET openapi.json: %d", w.Code)
	}
}
