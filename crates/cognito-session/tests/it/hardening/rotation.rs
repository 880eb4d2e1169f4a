//! 6. Refresh-token rotation: reuse ends the session, a lost commit does not.
