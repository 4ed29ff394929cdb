// Package testkit holds what the tests of every package share: a settable
// clock and a headless browser with a sign-in. Its sub-package seed makes
// organisations and people through the real stores. Imported by tests
// only.
package testkit
