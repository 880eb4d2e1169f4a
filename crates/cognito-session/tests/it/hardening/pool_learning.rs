//! 5. Pool learning (only the seed's three variables) cannot be locked out.
