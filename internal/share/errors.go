package share

import "github.com/medisac/medisac/internal/apperr"

// ErrField returns the form field an error is about: "" for nil, for
// errors about no field and for errors that are not application errors.
// Use it instead of apperr.From(err).Field, which panics on nil.
func ErrField(err error) string {
	if ae := apperr.From(err); ae != nil {
		return ae.Field
	}
	return ""
}

// ErrKey returns the message key of an error, "" for nil.
func ErrKey(err error) string {
	if ae := apperr.From(err); ae != nil {
		return ae.Key
	}
	return ""
}

// asField re-states err as an Invalid error about field, keeping its
// message; nil stays nil.
func asField(field string, err error) error {
	ae := apperr.From(err)
	if ae == nil {
		return nil
	}
	return apperr.Field(field, ae.Key, ae.Args...)
}
