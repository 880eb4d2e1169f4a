//! The Lambda event shapes a session cookie arrives in: API Gateway REST (v1) and HTTP API (v2),
//! ALB, function URLs, and a raw JSON event of any of them.

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use http::HeaderMap;

use crate::http::cookie::header_strs;
use crate::CookieSource;

/// Headers first, then multi-value headers, skipping values already seen (API Gateway and ALB
/// may send the same value in both).
fn single_and_multi<'a>(single: &'a HeaderMap, multi: &'a HeaderMap) -> Vec<&'a str> {
    let mut out: Vec<&str> = header_strs(single).collect();
    for value in header_strs(multi) {
        if !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

impl CookieSource for ApiGatewayProxyRequest {
    fn cookie_strings(&self) -> Vec<&str> {
        single_and_multi(&self.headers, &self.multi_value_headers)
    }
}

impl CookieSource for AlbTargetGroupRequest {
    fn cookie_strings(&self) -> Vec<&str> {
        single_and_multi(&self.headers, &self.multi_value_headers)
    }
}

impl CookieSource for ApiGatewayV2httpRequest {
    fn cookie_strings(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.cookies.iter().flatten().map(String::as_str).collect();
        out.extend(header_strs(&self.headers));
        out
    }
}

impl CookieSource for LambdaFunctionUrlRequest {
    fn cookie_strings(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.cookies.iter().flatten().map(String::as_str).collect();
        out.extend(header_strs(&self.headers));
        out
    }
}

/// A raw Lambda event: the `cookies` array (HTTP API v2, function URLs), then `headers` and
/// `multiValueHeaders` (REST v1, ALB), with header names matched case-insensitively.
impl CookieSource for serde_json::Value {
    fn cookie_strings(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(cookies) = self.get("cookies").and_then(|c| c.as_array()) {
            out.extend(cookies.iter().filter_map(|c| c.as_str()));
        }
        for field in ["headers", "multiValueHeaders"] {
            let Some(headers) = self.get(field).and_then(|h| h.as_object()) else {
                continue;
            };
            for (key, value) in headers {
                if !key.eq_ignore_ascii_case("cookie") {
                    continue;
                }
                let values: Vec<&str> = match value {
                    serde_json::Value::String(s) => vec![s.as_str()],
                    serde_json::Value::Array(items) => {
                        items.iter().filter_map(|v| v.as_str()).collect()
                    }
                    _ => Vec::new(),
                };
                for v in values {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
            }
        }
        out
    }
}
