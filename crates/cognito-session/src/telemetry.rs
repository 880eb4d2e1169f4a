//! What operators see, from the few points where an outcome is decided: metrics as CloudWatch
//! Embedded Metric Format (EMF) lines on stdout, aggregated per invocation, and the audit trail
//! (`tracing` events of target `cognito_session::audit`) of sign-ins and session ends.
//!
//! Nothing secret reaches either: stable codes, the Cognito `sub`, a session id (a hash of the
//! login's token family), the client's address and user agent from the Lambda event, the request
//! id; never a token, password, one-time code, key or Cognito message.
//!
//! An invocation is the outermost entry point a request goes through ([`SessionLayer`], a login
//! route, [`Sessions::session`], [`Sessions::invocation`] around a handler...): everything
//! recorded inside it is written as one EMF line when it ends (more only when two records of one
//! metric carry different dimension values, which EMF cannot put in one document).
//!
//! [`SessionLayer`]: crate::SessionLayer
//! [`Sessions::session`]: crate::Sessions::session
//! [`Sessions::invocation`]: crate::Sessions::invocation

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::error::{Error, Service};

tokio::task_local! {
    static INVOCATION: Arc<Invocation>;
}

/// Where EMF lines go (stdout unless the builder says otherwise).
pub(crate) type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// How this process reports: metrics on or off (and where), audit client details on or off.
#[derive(Clone)]
pub(crate) struct Telemetry {
    /// `None`: metrics off.
    pub metrics: Option<MetricsConfig>,
    /// Put the client's address and user agent in audit events.
    pub client_info: bool,
}

/// The EMF namespace, the `service` dimension, and the sink.
#[derive(Clone)]
pub(crate) struct MetricsConfig {
    pub namespace: String,
    pub service: String,
    pub sink: Sink,
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metrics = self.metrics.as_ref();
        f.debug_struct("Telemetry")
            .field("namespace", &metrics.map(|m| m.namespace.as_str()))
            .field("service", &metrics.map(|m| m.service.as_str()))
            .field("client_info", &self.client_info)
            .finish()
    }
}

/// Who made a request, as the Lambda event says (never its body): for the audit trail.
///
/// ```
/// let client = cognito_session::ClientInfo::default();
/// assert!(client.source_ip.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client's address (API Gateway's `sourceIp`, an ALB's last `X-Forwarded-For` hop).
    pub source_ip: Option<String>,
    /// The `User-Agent` header, cut to 200 characters.
    pub user_agent: Option<String>,
    /// The Lambda request id (else API Gateway's).
    pub request_id: Option<String>,
}

impl ClientInfo {
    /// A user agent as it is kept: control characters dropped, 200 characters at most.
    pub(crate) fn agent(text: &str) -> String {
        text.chars().filter(|c| !c.is_control()).take(200).collect()
    }
}

/// One invocation's records.
struct Invocation {
    /// Whether metrics are recorded (else only the client, for audit events).
    metrics: bool,
    client: ClientInfo,
    records: Mutex<Records>,
}

/// A dimension: its key and value.
type Dimension = (&'static str, Cow<'static, str>);

/// A metric's name and its dimension, if it has one.
type Key = (&'static str, Option<Dimension>);

/// What an invocation recorded: a handful of entries, so vectors searched in order (no map, no
/// allocation per record beyond their growth).
#[derive(Default)]
struct Records {
    /// (metric, optional dimension) and its count.
    counts: Vec<(Key, f64)>,
    /// Latencies (milliseconds) by metric.
    values: Vec<(&'static str, Vec<f64>)>,
}

/// A counted metric: its name, and the dimension it is filtered by, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Count {
    /// A request was resolved to a session: `outcome` valid, refreshed or joined.
    Resolved(&'static str),
    /// A request was refused: `cause` is the 401's code, or `csrf`.
    Refused(&'static str),
    /// A dependency failed transiently (503).
    Unavailable(Service),
    /// A configuration error (500): `problem` (a slug of the cause, or `configuration`).
    Misconfigured(String),
    /// A session was started: `how`.
    Started(&'static str),
    /// A session ended: `reason`.
    Ended(&'static str),
    /// A sign-in step: `outcome` succeeded, challenge, or the failure's code.
    SignIn(&'static str),
    /// An account step (sign-up, confirmation, reset, password change): its outcome's code.
    Account(&'static str),
    /// A managed login's callback was refused: the code.
    LoginRefused(&'static str),
    /// A rotated-out refresh token was used again (Cognito's `RefreshTokenReuseException`).
    RefreshTokenReuse,
    /// An older token of a login was presented after the grace window.
    ReplacedToken,
    JwksFetch,
    TokenCacheHit,
    TokenCacheMiss,
    LeaseWait,
    LeaseTakeover,
    DynamoDbCall,
    CognitoCall,
    TokenEndpointCall,
}

impl Count {
    fn name(&self) -> &'static str {
        match self {
            Count::Resolved(_) => "SessionResolved",
            Count::Refused(_) => "SessionRefused",
            Count::Unavailable(_) => "Unavailable",
            Count::Misconfigured(_) => "Misconfigured",
            Count::Started(_) => "SessionStarted",
            Count::Ended(_) => "SessionEnded",
            Count::SignIn(_) => "SignIn",
            Count::Account(_) => "AccountStep",
            Count::LoginRefused(_) => "LoginRefused",
            Count::RefreshTokenReuse => "RefreshTokenReuse",
            Count::ReplacedToken => "ReplacedTokenRefused",
            Count::JwksFetch => "JwksFetches",
            Count::TokenCacheHit => "TokenCacheHits",
            Count::TokenCacheMiss => "TokenCacheMisses",
            Count::LeaseWait => "RefreshLeaseWaits",
            Count::LeaseTakeover => "RefreshLeaseTakeovers",
            Count::DynamoDbCall => "DynamoDbCalls",
            Count::CognitoCall => "CognitoCalls",
            Count::TokenEndpointCall => "TokenEndpointCalls",
        }
    }

    /// The dimension: each metric has a key of its own, so that one invocation's records fit
    /// in one EMF document.
    fn dimension(self) -> Option<Dimension> {
        let (key, value) = match self {
            Count::Resolved(outcome) => ("outcome", outcome),
            Count::Refused(cause) => ("cause", cause),
            Count::Unavailable(service) => ("dependency", dependency(service)),
            Count::Misconfigured(problem) => return Some(("problem", Cow::Owned(problem))),
            Count::Started(how) => ("how", how),
            Count::Ended(reason) => ("reason", reason),
            Count::SignIn(result) => ("result", result),
            Count::Account(step) => ("step", step),
            Count::LoginRefused(code) => ("code", code),
            _ => return None,
        };
        Some((key, Cow::Borrowed(value)))
    }
}

/// The `dependency` dimension's value of a [`Service`].
fn dependency(service: Service) -> &'static str {
    match service {
        Service::DynamoDb => "DynamoDB",
        Service::Cognito => "Cognito",
        Service::Jwks => "JWKS",
        Service::Kms => "KMS",
        Service::TokenEndpoint => "TokenEndpoint",
    }
}

/// A latency metric (milliseconds, an EMF value array).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Latency {
    Refresh,
    SignIn,
}

impl Latency {
    fn name(self) -> &'static str {
        match self {
            Latency::Refresh => "RefreshLatency",
            Latency::SignIn => "SignInLatency",
        }
    }
}

/// Counts one `metric` in the current invocation (nothing outside one).
pub(crate) fn count(metric: Count) {
    let _ = INVOCATION.try_with(|invocation| {
        if !invocation.metrics {
            return;
        }
        let key = (metric.name(), metric.dimension());
        let mut records = invocation.records.lock().unwrap_or_else(|p| p.into_inner());
        match records.counts.iter_mut().find(|(have, _)| *have == key) {
            Some((_, count)) => *count += 1.0,
            None => records.counts.push((key, 1.0)),
        }
    });
}

/// A session ended by its lifetime or idle timeout (`reason`), found by a request: counted and
/// audited once per invocation (a request may look at the row more than once).
pub(crate) fn ended_once(reason: &'static str, sub: &str, family: Option<&str>) {
    if counted("SessionEnded") {
        return;
    }
    count(Count::Ended(reason));
    audit(
        "session_ended",
        "a session ended by its lifetime or idle timeout",
        Audit {
            reason: Some(reason),
            sub: Some(sub),
            family,
            ..Audit::default()
        },
    );
}

/// Whether `metric` was counted in the current invocation already.
fn counted(metric: &str) -> bool {
    INVOCATION
        .try_with(|invocation| {
            let records = invocation.records.lock().unwrap_or_else(|p| p.into_inner());
            records.counts.iter().any(|((name, _), _)| *name == metric)
        })
        .unwrap_or(false)
}

/// Records a latency in the current invocation.
pub(crate) fn latency(metric: Latency, elapsed: std::time::Duration) {
    let _ = INVOCATION.try_with(|invocation| {
        if !invocation.metrics {
            return;
        }
        let (name, value) = (metric.name(), elapsed.as_secs_f64() * 1000.0);
        let mut records = invocation.records.lock().unwrap_or_else(|p| p.into_inner());
        match records.values.iter_mut().find(|(have, _)| *have == name) {
            Some((_, values)) => values.push(value),
            None => records.values.push((name, vec![value])),
        }
    });
}

/// Counts the outcome of a failed request: 401 by cause, 503 by dependency, 500.
pub(crate) fn failed(error: &Error) {
    match error {
        // One cause for every refused token (the verifier's step codes are for logs).
        Error::Unauthorized(crate::Unauthorized::InvalidToken(_)) => {
            count(Count::Refused("invalid_token"))
        }
        Error::Unauthorized(reason) => count(Count::Refused(reason.code())),
        Error::Unavailable { service, .. } => count(Count::Unavailable(*service)),
        // Counted with its cause where it was found (a refusal of the refresh), else here.
        Error::Config { .. } if !counted("Misconfigured") => {
            count(Count::Misconfigured("configuration".to_owned()))
        }
        _ => {}
    }
}

/// A session id for logs: a hash of the login's token family (`origin_jti`), never a token.
pub(crate) fn session_id(family: Option<&str>) -> Option<String> {
    family.map(|family| URL_SAFE_NO_PAD.encode(&digest(&SHA256, family.as_bytes()).as_ref()[..12]))
}

/// What an audit event says besides its name.
#[derive(Default)]
pub(crate) struct Audit<'a> {
    pub reason: Option<&'a str>,
    pub how: Option<&'a str>,
    pub sub: Option<&'a str>,
    /// The login's token family (hashed before it is written).
    pub family: Option<&'a str>,
    /// A possible attack: WARN rather than INFO.
    pub warn: bool,
}

/// Writes audit event `event` (a stable name) with `message` (what the log line says) and the
/// invocation's client details.
pub(crate) fn audit(event: &'static str, message: &'static str, what: Audit<'_>) {
    let client = INVOCATION
        .try_with(|invocation| invocation.client.clone())
        .unwrap_or_default();
    let session_id = session_id(what.family);
    let (reason, how, sub, session_id) = (what.reason, what.how, what.sub, session_id.as_deref());
    let (source_ip, user_agent, request_id) = (
        client.source_ip.as_deref(),
        client.user_agent.as_deref(),
        client.request_id.as_deref(),
    );
    if what.warn {
        tracing::warn!(target: "cognito_session::audit", event, reason, how, sub, session_id, source_ip, user_agent, request_id, "{message}");
    } else {
        tracing::info!(target: "cognito_session::audit", event, reason, how, sub, session_id, source_ip, user_agent, request_id, "{message}");
    }
}

/// Whether audit events are written at all (the subscriber's filter).
fn auditing() -> bool {
    tracing::enabled!(target: "cognito_session::audit", tracing::Level::INFO)
}

impl Telemetry {
    /// The client of `request`, read only when an audit event could carry it (read per request
    /// otherwise for nothing).
    pub(crate) fn client<S: crate::CookieSource + ?Sized>(&self, request: &S) -> ClientInfo {
        if !auditing() {
            return ClientInfo::default();
        }
        let client = request.client();
        if self.client_info {
            client
        } else {
            ClientInfo {
                request_id: client.request_id,
                ..ClientInfo::default()
            }
        }
    }

    /// Runs `work` as an invocation (unless one is running already: then inside it), and writes
    /// its metrics when it ends. With metrics off and no audit events wanted, it just runs it.
    pub(crate) async fn invocation<F: Future>(&self, client: ClientInfo, work: F) -> F::Output {
        if INVOCATION.try_with(|_| ()).is_ok() || (self.metrics.is_none() && !auditing()) {
            return work.await;
        }
        let invocation = Arc::new(Invocation {
            metrics: self.metrics.is_some(),
            client,
            records: Mutex::new(Records::default()),
        });
        let output = INVOCATION.scope(invocation.clone(), work).await;
        self.flush(&invocation);
        output
    }

    fn flush(&self, invocation: &Invocation) {
        let Some(metrics) = &self.metrics else { return };
        let records =
            std::mem::take(&mut *invocation.records.lock().unwrap_or_else(|p| p.into_inner()));
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        for line in documents(metrics, records, timestamp) {
            (metrics.sink)(&line);
        }
    }
}

/// The EMF documents of one invocation's records: as few as the dimension values allow.
/// Written straight into the line (this runs on every request of a function with metrics on).
fn documents(metrics: &MetricsConfig, records: Records, timestamp: u64) -> Vec<String> {
    /// A metric's value: a count, or latencies (at most 100: EMF's limit per document).
    enum Value<'a> {
        Count(f64),
        Values(&'a [f64]),
    }
    /// A metric in a document: its name, its dimension's key, unit and value.
    type Entry<'a> = (&'static str, Option<&'static str>, &'static str, Value<'a>);
    #[derive(Default)]
    struct Doc<'a> {
        /// The dimensions besides `service`.
        dims: Vec<Dimension>,
        metrics: Vec<Entry<'a>>,
    }
    let mut docs: Vec<Doc<'_>> = Vec::new();
    let mut place = |name, dimension: Option<Dimension>, unit, value| {
        let fits = |doc: &Doc<'_>| {
            doc.metrics.iter().all(|m| m.0 != name)
                && dimension.as_ref().is_none_or(|(k, v)| {
                    doc.dims
                        .iter()
                        .all(|(have_k, have_v)| have_k != k || have_v == v)
                })
        };
        let index = docs.iter().position(fits).unwrap_or_else(|| {
            docs.push(Doc::default());
            docs.len() - 1
        });
        let doc = &mut docs[index];
        let key = dimension.map(|(k, v)| {
            if doc.dims.iter().all(|(have, _)| *have != k) {
                doc.dims.push((k, v));
            }
            k
        });
        doc.metrics.push((name, key, unit, value));
    };
    for ((name, dimension), count) in records.counts {
        place(name, dimension, "Count", Value::Count(count));
    }
    for (name, values) in &records.values {
        for chunk in values.chunks(100) {
            place(name, None, "Milliseconds", Value::Values(chunk));
        }
    }
    docs.into_iter()
        .map(|doc| {
            let mut out = Vec::with_capacity(512);
            out.extend_from_slice(b"{\"service\":");
            json(&mut out, &metrics.service);
            for (key, value) in &doc.dims {
                out.push(b',');
                json(&mut out, key);
                out.push(b':');
                json(&mut out, value);
            }
            for (name, _, _, value) in &doc.metrics {
                out.push(b',');
                json(&mut out, name);
                out.push(b':');
                match value {
                    Value::Count(count) => json(&mut out, count),
                    Value::Values(values) => json(&mut out, values),
                }
            }
            out.extend_from_slice(b",\"_aws\":{\"Timestamp\":");
            json(&mut out, &timestamp);
            out.extend_from_slice(b",\"CloudWatchMetrics\":[");
            // One directive per dimension set: [service] for the metrics without a key, and
            // [service] plus [service, key] for each key (keyed metrics are kept per service
            // alone too, so alarms and graphs can sum them without a search expression).
            let mut sets: Vec<Option<&'static str>> = Vec::new();
            for (_, key, _, _) in &doc.metrics {
                if !sets.contains(key) {
                    sets.push(*key);
                }
            }
            for (i, set) in sets.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"Namespace\":");
                json(&mut out, &metrics.namespace);
                out.extend_from_slice(b",\"Dimensions\":[[\"service\"]");
                if let Some(key) = set {
                    out.extend_from_slice(b",[\"service\",");
                    json(&mut out, key);
                    out.push(b']');
                }
                out.extend_from_slice(b"],\"Metrics\":[");
                let listed = doc.metrics.iter().filter(|m| m.1 == *set);
                for (j, (name, _, unit, _)) in listed.enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"Name\":");
                    json(&mut out, name);
                    out.extend_from_slice(b",\"Unit\":");
                    json(&mut out, unit);
                    out.push(b'}');
                }
                out.extend_from_slice(b"]}");
            }
            out.extend_from_slice(b"]}}");
            String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into())
        })
        .collect()
}

/// Appends `value` as JSON (strings escaped by serde_json; writing to a vector cannot fail).
fn json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

/// A dimension value from a free-text cause: lower case, words joined by `_`.
pub(crate) fn slug(text: &str) -> String {
    let mut out = String::new();
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word.to_ascii_lowercase());
    }
    out.truncate(64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn config() -> MetricsConfig {
        MetricsConfig {
            namespace: "ns".into(),
            service: "svc".into(),
            sink: Arc::new(|_| {}),
        }
    }

    #[test]
    fn one_document_unless_a_metric_has_two_dimension_values() {
        let mut records = Records::default();
        records
            .counts
            .push((("SessionResolved", Some(("outcome", "valid".into()))), 2.0));
        records.counts.push((("DynamoDbCalls", None), 2.0));
        records.values.push(("RefreshLatency", vec![12.5]));
        let lines = documents(&config(), records, 7);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let doc: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(doc["service"], "svc");
        assert_eq!(doc["outcome"], "valid");
        assert_eq!(doc["SessionResolved"], 2.0);
        assert_eq!(doc["RefreshLatency"], json!([12.5]));
        assert_eq!(doc["_aws"]["Timestamp"], 7);
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 2, "{directives:?}");
        for directive in directives {
            assert_eq!(directive["Namespace"], "ns");
        }
        let keyed = directives
            .iter()
            .find(|d| d["Dimensions"] == json!([["service"], ["service", "outcome"]]))
            .unwrap();
        assert_eq!(
            keyed["Metrics"],
            json!([{ "Name": "SessionResolved", "Unit": "Count" }])
        );
        let plain = directives
            .iter()
            .find(|d| d["Dimensions"] == json!([["service"]]))
            .unwrap();
        assert_eq!(
            plain["Metrics"],
            json!([
                { "Name": "DynamoDbCalls", "Unit": "Count" },
                { "Name": "RefreshLatency", "Unit": "Milliseconds" }
            ])
        );

        let mut records = Records::default();
        records
            .counts
            .push((("SessionRefused", Some(("cause", "a".into()))), 1.0));
        records
            .counts
            .push((("SessionRefused", Some(("cause", "b".into()))), 1.0));
        assert_eq!(documents(&config(), records, 7).len(), 2);
    }

    #[test]
    fn names_are_escaped_and_latencies_split_at_one_hundred() {
        let config = MetricsConfig {
            namespace: "a \"quoted\" namespace\\".into(),
            service: "svc\n\u{1}".into(),
            sink: Arc::new(|_| {}),
        };
        let mut records = Records::default();
        records.values.push(("SignInLatency", vec![1.5; 150]));
        let lines = documents(&config, records, 7);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let docs: Vec<Value> = lines
            .iter()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(docs[0]["service"], "svc\n\u{1}");
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "a \"quoted\" namespace\\"
        );
        let lengths: Vec<usize> = docs
            .iter()
            .map(|doc| doc["SignInLatency"].as_array().unwrap().len())
            .collect();
        assert_eq!(lengths, [100, 50]);
    }

    #[test]
    fn slugs_are_dimension_values() {
        assert_eq!(slug("missing CLIENT_SECRET"), "missing_client_secret");
        assert_eq!(
            slug("no usable AWS credentials"),
            "no_usable_aws_credentials"
        );
    }
}
