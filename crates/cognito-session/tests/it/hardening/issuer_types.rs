//! 7. Both Cognito issuer types and multi-Region replication.
