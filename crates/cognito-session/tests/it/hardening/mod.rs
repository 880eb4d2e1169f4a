//! Regression tests of the hardening issues: each module is one item of their lists, and each
//! test failed on the code before the fix. Round two (the login half): `login_deadlines`,
//! `sealed_state`, `csrf_default`, `replaced_tokens`, `login_review`.

mod claim_types;
mod device_tracking;
mod encrypted_rows;
mod issuer_types;
mod join_window;
mod layer_deadlines_and_cookies;
mod login_deadlines;
mod login_review;
mod logout;
mod pool_learning;
mod refusals;
mod replaced_tokens;
mod rotation;
mod sealed_state;
