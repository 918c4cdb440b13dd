"""Two-factor log-in: TOTP codes from an authenticator app, and single-use recovery codes."""
