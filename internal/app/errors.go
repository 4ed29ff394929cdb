package app

import (
	"errors"

	"github.com/medisac/medisac/internal/apperr"
)

func asAppErr(err error) *apperr.Error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae
	}
	return nil
}
