//! 1. Refusals from Cognito: a dead refresh token ends the session, our misconfiguration keeps it.
