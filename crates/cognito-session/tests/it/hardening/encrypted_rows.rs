//! 2. Encrypted rows and the keys that read them.
