package testkit

import "testing"

// Must returns a function that hands back the value of a call returning
// (value, error) and fails the test on the error:
// testkit.Must[Asset](t)(CreateAsset(...)).
func Must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
