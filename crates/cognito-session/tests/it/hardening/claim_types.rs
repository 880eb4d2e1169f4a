//! 9. Claims a verifier must refuse: a present claim must have its type.
