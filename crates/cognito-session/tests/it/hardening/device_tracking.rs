//! 1. Device tracking: the device key stored at login and sent on every refresh.
