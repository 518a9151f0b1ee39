package httpx

import (
	"encoding/json"
	"net/http"
	"strings"
)

// WantsJSON reports whether the client asked for JSON (Accept), as the
// pages' scripts do; everyone else gets the HTML page.
func WantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// WriteJSON answers status with v as JSON, never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
