//! 3. A request joining a concurrent refresh is authorized only with the new token's claims.
