//! Cookie extraction on arbitrary bytes: as `Cookie` headers, as a raw JSON event.
#![no_main]

use cognito_session::CookieSource;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut headers = http::HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(line) {
            headers.append(http::header::COOKIE, value);
        }
    }
    if let Some(value) = headers.cookie("token") {
        assert!(!value.is_empty());
    }
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = event.cookie("token");
    }
});
