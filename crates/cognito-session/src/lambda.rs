//! The Lambda event shapes a session cookie arrives in: API Gateway REST (v1) and HTTP API (v2),
//! ALB, function URLs, and a raw JSON event of any of them.

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use http::HeaderMap;

use crate::http::cookie::{client_of, header_strs};
use crate::{ClientInfo, CookieSource};

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

    fn client(&self) -> ClientInfo {
        let mut client = client_of(&self.headers);
        let context = &self.request_context;
        client.source_ip = context.identity.source_ip.as_deref().map(ClientInfo::agent);
        client.request_id = context.request_id.clone();
        client
    }
}

impl CookieSource for AlbTargetGroupRequest {
    fn cookie_strings(&self) -> Vec<&str> {
        single_and_multi(&self.headers, &self.multi_value_headers)
    }

    fn client(&self) -> ClientInfo {
        client_of(&self.headers)
    }
}

impl CookieSource for ApiGatewayV2httpRequest {
    fn cookie_strings(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.cookies.iter().flatten().map(String::as_str).collect();
        out.extend(header_strs(&self.headers));
        out
    }

    fn client(&self) -> ClientInfo {
        let mut client = client_of(&self.headers);
        let context = &self.request_context;
        client.source_ip = context.http.source_ip.as_deref().map(ClientInfo::agent);
        client.request_id = context.request_id.clone();
        client
    }
}

impl CookieSource for LambdaFunctionUrlRequest {
    fn cookie_strings(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.cookies.iter().flatten().map(String::as_str).collect();
        out.extend(header_strs(&self.headers));
        out
    }

    fn client(&self) -> ClientInfo {
        let mut client = client_of(&self.headers);
        let context = &self.request_context;
        client.source_ip = context.http.source_ip.as_deref().map(ClientInfo::agent);
        client.request_id = context.request_id.clone();
        client
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

    /// `requestContext.identity.sourceIp` (REST) or `requestContext.http.sourceIp` (HTTP API,
    /// function URLs), else an ALB's last `X-Forwarded-For` hop; `User-Agent`; the request id.
    fn client(&self) -> ClientInfo {
        let text = |value: &serde_json::Value| value.as_str().map(str::to_owned);
        let header = |wanted: &str| {
            ["headers", "multiValueHeaders"].iter().find_map(|field| {
                let headers = self.get(*field)?.as_object()?;
                headers.iter().find_map(|(key, value)| {
                    if !key.eq_ignore_ascii_case(wanted) {
                        return None;
                    }
                    match value {
                        serde_json::Value::Array(items) => items.last().and_then(text),
                        other => text(other),
                    }
                })
            })
        };
        let context = &self["requestContext"];
        ClientInfo {
            source_ip: text(&context["identity"]["sourceIp"])
                .or_else(|| text(&context["http"]["sourceIp"]))
                .or_else(|| {
                    header("x-forwarded-for")
                        .and_then(|chain| chain.rsplit(',').next().map(|ip| ip.trim().to_owned()))
                })
                .map(|ip| ClientInfo::agent(&ip)),
            user_agent: header("user-agent").map(|ua| ClientInfo::agent(&ua)),
            request_id: text(&context["requestId"]),
        }
    }
}
