package api

import (
	"net/http"
	"strconv"

	"github.com/medisac/medisac/internal/apperr"
	"github.com/medisac/medisac/internal/auth"
)

// pageOf reads the page of a list from the query: cursor (the previous
// page's next_cursor) and limit (1 to auth.MaxPageSize; by default
// auth.DefaultPageSize).
func pageOf(r *http.Request) (auth.Page, error) {
	q := r.URL.Query()
	p := auth.Page{Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > auth.MaxPageSize {
			return p, apperr.Field("limit", "api.page.limit", auth.MaxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

// listPage answers a list read one page at a time: read gets the page
// the query asks for, and reply makes the body of its rows and the
// cursor of the next page.
func listPage[T any](a *API, w http.ResponseWriter, r *http.Request, read func(auth.Page) ([]T, string, error), reply func([]T, string) any) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	rows, next, err := read(p)
	if err != nil {
		return err
	}
	a.reply(w, http.StatusOK, reply(nonNil(rows), next))
	return nil
}
