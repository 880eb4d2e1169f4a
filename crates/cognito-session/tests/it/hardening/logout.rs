//! 4. A logout that reports success has ended the session.
