package mfa

import _ "embed"

// PasskeyJS is the browser script (passkey.js) that runs passkey
// registration and sign-in for forms marked data-passkey; serve it as a
// static file with Content-Type text/javascript. Its contract is described
// at the top of the file.
//
//go:embed passkey.js
var PasskeyJS []byte
