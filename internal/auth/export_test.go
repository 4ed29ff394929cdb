package auth

// PasswordChecks returns how many password hash checks SignIn has made.
func PasswordChecks() int64 { return passwordChecks.Load() }
