//! Regression tests of the hardening issue: each module is one item of its list, and each test
//! failed on the code before the fix.

mod claim_types;
mod device_tracking;
mod encrypted_rows;
mod issuer_types;
mod join_window;
mod layer_deadlines_and_cookies;
mod logout;
mod pool_learning;
mod refusals;
mod rotation;
