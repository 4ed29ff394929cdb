package api

import (
	"context"
	"net/http"
)

// orgRead answers a read of the register of the organisation in the path,
// which only its members reach (invOrg): read gets the organisation's id,
// and what it returns is sent with 200.
func orgRead[T any](a *API, w http.ResponseWriter, r *http.Request, c *call, read func(ctx context.Context, orgID string) (T, error)) error {
	orgID, err := invOrg(r, c)
	if err != nil {
		return err
	}
	v, err := read(r.Context(), orgID)
	return a.send(w, http.StatusOK, v, err)
}

// recordWrite answers a change to the record "rec" of the register of the
// organisation in the path: the caller must be allowed action (invWrite),
// the record must exist (find), and the body, read into an In, goes to
// write, whose result is sent with 200.
func recordWrite[In, Out any](a *API, w http.ResponseWriter, r *http.Request, c *call, action string,
	find func(ctx context.Context, orgID, id string) error,
	write func(ctx context.Context, orgID, id string, in In) (Out, error)) error {
	ctx := r.Context()
	orgID, err := invWrite(r, c, action)
	if err != nil {
		return err
	}
	id := r.PathValue("rec")
	if err := find(ctx, orgID, id); err != nil {
		return err
	}
	in, err := readJSON[In](r)
	if err != nil {
		return err
	}
	out, err := write(ctx, orgID, id, in)
	return a.send(w, http.StatusOK, out, err)
}
