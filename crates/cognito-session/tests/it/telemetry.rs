//! Operators can see it: the EMF lines (checked against the Embedded Metric Format
//! specification: the `_aws` block, `CloudWatchMetrics` directives, dimension sets, units),
//! whose counts equal what the test did, one line per invocation, and the audit events of
//! every session start and end and sign-in path, none carrying a secret.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cognito_session::{Answer, SessionLayer, SignIn, Tokens};
use http::{Request, Response};
use lambda_http::tower::{service_fn, Layer, ServiceExt};
use serde_json::Value;
use testkit::PASSWORD;
use tracing::Level;

use crate::capture::Capture;
use crate::sign_in::carry;
use crate::{cookies, setup_with, Setup};

/// The EMF lines written, shared with the sink.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    fn sink(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let lines = self.0.clone();
        move |line: &str| lines.lock().unwrap().push(line.to_owned())
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A setup whose sessions write EMF lines into `lines`.
async fn metered(lines: &Lines) -> Setup {
    let sink = lines.sink();
    setup_with(Default::default(), move |b| {
        b.metrics_sink(sink)
            .metrics_namespace("TestNamespace")
            .metrics_service("test-service")
            .sign_in_flow(cognito_session::SignInFlow::Password)
    })
    .await
}

/// Checks one line against the EMF specification and returns it parsed: a JSON object whose
/// `_aws` holds an integer `Timestamp` and a non-empty `CloudWatchMetrics` array of directives,
/// each with a `Namespace` string, `Dimensions` (an array of dimension sets, each an array of at
/// most 30 key names, every key a string member of the root) and `Metrics` (at most 100, each a
/// `Name` that is a numeric member of the root, or an array of at most 100 numbers, and a valid
/// `Unit`).
fn valid(line: &str) -> Value {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let root = doc.as_object().expect("an object");
    let aws = &doc["_aws"];
    assert!(
        aws["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_600_000_000_000),
        "{line}"
    );
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty(), "{line}");
    for directive in directives {
        assert_eq!(directive["Namespace"], "TestNamespace", "{line}");
        let sets = directive["Dimensions"].as_array().expect("dimension sets");
        for set in sets {
            let keys = set.as_array().expect("a dimension set");
            assert!(!keys.is_empty() && keys.len() <= 30, "{line}");
            for key in keys {
                let key = key.as_str().expect("a key name");
                assert!(root[key].is_string(), "dimension {key} in {line}");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{line}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a name");
            assert!(
                ["Count", "Milliseconds"].contains(&metric["Unit"].as_str().unwrap_or_default()),
                "{line}"
            );
            match &root[name] {
                Value::Number(_) => {}
                Value::Array(values) => {
                    assert!(
                        values.len() <= 100 && values.iter().all(Value::is_number),
                        "{line}"
                    )
                }
                other => panic!("metric {name} is {other} in {line}"),
            }
        }
    }
    assert_eq!(doc["service"], "test-service", "{line}");
    doc
}

/// Totals by metric and its extra dimension (key and value).
type Totals = BTreeMap<(String, Option<(String, String)>), f64>;

/// Every count of every line: (metric, its extra dimension key and value) → total.
fn totals(lines: &[String]) -> Totals {
    let mut totals = BTreeMap::new();
    for line in lines {
        let doc = valid(line);
        for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            let extra = directive["Dimensions"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|set| set.as_array().unwrap().iter())
                .filter_map(Value::as_str)
                .find(|k| *k != "service")
                .map(|k| (k.to_owned(), doc[k].as_str().unwrap().to_owned()));
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap().to_owned();
                let value = match &doc[&name] {
                    Value::Array(values) => values.len() as f64,
                    value => value.as_f64().unwrap(),
                };
                *totals.entry((name, extra.clone())).or_default() += value;
            }
        }
    }
    totals
}

fn total(totals: &Totals, name: &str, dimension: Option<(&str, &str)>) -> f64 {
    let key = (
        name.to_owned(),
        dimension.map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    totals.get(&key).copied().unwrap_or_default()
}

#[tokio::test]
async fn emf_lines_follow_the_specification_and_count_what_happened() {
    let lines = Lines::default();
    let s = metered(&lines).await;
    let sub = s.pool.user("metered").await;
    let login = s.pool.login("metered").await;
    let token = login.access_token().unwrap().to_owned();
    s.sessions.start(&Tokens::from(&login)).await.unwrap();
    let started = totals(&lines.take());
    assert_eq!(
        total(&started, "SessionStarted", Some(("how", "start"))),
        1.0
    );
    s.calls.reset();
    // Two valid requests, a refresh, no cookie, a forged token.
    for _ in 0..2 {
        s.sessions.session("token", &cookies(&token)).await.unwrap();
    }
    let expired = s.expired_copy(&token);
    let refreshed = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    assert!(refreshed.refreshed().is_some());
    s.sessions
        .session("token", &http::HeaderMap::new())
        .await
        .unwrap_err();
    let forged = testkit::unsigned(&testkit::peek(&token));
    s.sessions
        .session("token", &cookies(&forged))
        .await
        .unwrap_err();
    // A wrong password, then the logout.
    s.sessions
        .sign_in("metered", "Wrong-horse-9!")
        .await
        .unwrap_err();
    s.sessions.end("token", &cookies(&token)).await.unwrap();

    let written = lines.take();
    assert_eq!(written.len(), 7, "one line per invocation: {written:#?}");
    let totals = totals(&written);
    assert_eq!(
        total(&totals, "SessionResolved", Some(("outcome", "valid"))),
        2.0
    );
    assert_eq!(
        total(&totals, "SessionResolved", Some(("outcome", "refreshed"))),
        1.0
    );
    assert_eq!(
        total(&totals, "SessionRefused", Some(("cause", "missing_cookie"))),
        1.0
    );
    assert_eq!(
        total(&totals, "SessionRefused", Some(("cause", "invalid_token"))),
        1.0
    );
    assert_eq!(
        total(
            &totals,
            "SignIn",
            Some(("result", "sign_in_incorrect_credentials"))
        ),
        1.0
    );
    assert_eq!(
        total(&totals, "SessionEnded", Some(("reason", "logout"))),
        1.0
    );
    assert_eq!(
        total(&totals, "RefreshLatency", None),
        1.0,
        "one latency value"
    );
    assert_eq!(total(&totals, "SignInLatency", None), 1.0);
    // The calls counted by the metrics are the calls the SDK clients made.
    let dynamodb = s
        .calls
        .all()
        .iter()
        .filter(|c| {
            ["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"].contains(&c.as_str())
        })
        .count() as f64;
    assert_eq!(
        total(&totals, "DynamoDbCalls", None),
        dynamodb,
        "{:?}",
        s.calls.all()
    );
    assert_eq!(
        total(&totals, "TokenCacheHits", None) + total(&totals, "TokenCacheMisses", None),
        4.0,
        "four tokens checked by session()"
    );
    assert!(s.pool.row(&sub).await.is_none());
}

#[tokio::test]
async fn a_layer_request_is_one_invocation_with_the_handlers_calls() {
    let lines = Lines::default();
    let s = metered(&lines).await;
    let (_, login) = s.logged_in("metered-layer").await;
    let token = login.access_token().unwrap().to_owned();
    lines.take();
    let sessions = s.sessions.clone();
    // The handler asks for the session once more: still one line.
    let handler = service_fn(move |request: Request<String>| {
        let sessions = sessions.clone();
        async move {
            sessions.current(&request).await.unwrap();
            Ok::<_, std::convert::Infallible>(Response::new(String::new()))
        }
    });
    let service = SessionLayer::new(s.sessions.clone()).layer(handler);
    let request = Request::get("/x")
        .header("cookie", format!("token={token}"))
        .body(String::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let written = lines.take();
    assert_eq!(written.len(), 1, "{written:#?}");
    let counted = totals(&written);
    assert_eq!(
        total(&counted, "SessionResolved", Some(("outcome", "valid"))),
        2.0
    );
    // A cross-site POST: refused, counted with its cause.
    let request = Request::post("/x")
        .header("host", "app.example.com")
        .header("origin", "https://evil.example")
        .body(String::new())
        .unwrap();
    let service =
        SessionLayer::new(s.sessions.clone()).layer(service_fn(|_: Request<String>| async {
            Ok::<_, std::convert::Infallible>(Response::new(String::new()))
        }));
    assert_eq!(service.oneshot(request).await.unwrap().status(), 403);
    let counted = totals(&lines.take());
    assert_eq!(
        total(&counted, "SessionRefused", Some(("cause", "csrf"))),
        1.0
    );
}

/// The audit lines (target `cognito_session::audit`) captured so far.
fn audit_lines(capture: &Capture) -> Vec<String> {
    capture
        .text()
        .lines()
        .filter(|l| l.contains("cognito_session::audit"))
        .map(str::to_owned)
        .collect()
}

fn has_event(lines: &[String], event: &str, field: &str) -> bool {
    lines
        .iter()
        .any(|l| l.contains(&format!("event=\"{event}\"")) && l.contains(field))
}

#[tokio::test]
async fn every_session_start_end_and_sign_in_path_is_audited_without_secrets() {
    let capture = Capture::default();
    let _guard = capture.install(Level::TRACE);
    let lines = Lines::default();
    let s = metered(&lines).await;
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned(), "Wrong-horse-9!".into()];

    // Started by `start`, refreshed, ended by logout.
    let sub = s.pool.user("audited").await;
    let login = s.pool.login("audited").await;
    secrets.extend(
        [
            login.access_token(),
            login.refresh_token(),
            login.id_token(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned),
    );
    s.sessions.start(&Tokens::from(&login)).await.unwrap();
    let expired = s.expired_copy(login.access_token().unwrap());
    let refreshed = s
        .sessions
        .session("token", &cookies(&expired))
        .await
        .unwrap();
    secrets.push(refreshed.refreshed().unwrap().access_token.clone());
    s.sessions.end("token", &cookies(&expired)).await.unwrap();
    // Own form: a failure, a challenge, then a session; ended by an operator.
    s.sessions
        .sign_in("audited", "Wrong-horse-9!")
        .await
        .unwrap_err();
    s.pool
        .user_with_temporary_password("audited-new", "Temp-horse-1!")
        .await;
    secrets.push("Temp-horse-1!".into());
    let SignIn::Challenge(challenge) = s
        .sessions
        .sign_in("audited-new", "Temp-horse-1!")
        .await
        .unwrap()
    else {
        panic!("a challenge")
    };
    secrets.push(challenge.state().to_owned());
    let challenge = carry(&s.sessions, &challenge).await;
    let answer = Answer::NewPassword {
        password: "New-horse-10!".into(),
        attributes: vec![],
    };
    secrets.push("New-horse-10!".into());
    let SignIn::Done(session) = s.sessions.respond(&challenge, &answer).await.unwrap() else {
        panic!("signed in")
    };
    secrets.push(session.refreshed().unwrap().access_token.clone());
    s.sessions.end_session(session.sub(), None).await.unwrap();
    // Everywhere; and a refresh Cognito refuses (revoked).
    let again = s.pool.login("audited").await;
    s.sessions.start(&Tokens::from(&again)).await.unwrap();
    s.sessions.end_all(&sub).await.unwrap();
    let third = s.pool.login("audited").await;
    s.sessions.start(&Tokens::from(&third)).await.unwrap();
    s.pool.global_sign_out("audited").await;
    let refused = s
        .sessions
        .session(
            "token",
            &cookies(&s.expired_copy(third.access_token().unwrap())),
        )
        .await;
    assert!(refused.is_err());
    secrets.extend(
        [
            third.access_token(),
            third.refresh_token(),
            again.access_token(),
            again.refresh_token(),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned),
    );

    let audit = audit_lines(&capture);
    for (event, field) in [
        ("session_started", "how=\"start\""),
        ("session_started", "how=\"own_form\""),
        ("session_refreshed", &format!("sub=\"{sub}\"")),
        ("session_ended", "reason=\"logout\""),
        ("session_ended", "reason=\"operator\""),
        ("signed_out_everywhere", "reason=\"everywhere\""),
        ("session_ended", "reason=\"refresh_token_revoked\""),
        ("sign_in_failed", "reason=\"sign_in_incorrect_credentials\""),
        ("sign_in_challenge", "reason=\"NEW_PASSWORD_REQUIRED\""),
    ] {
        assert!(
            has_event(&audit, event, field),
            "{event} {field}: {audit:#?}"
        );
    }
    assert!(
        audit
            .iter()
            .all(|l| l.contains("session_id=") || !l.contains("event=\"session_")),
        "{audit:#?}"
    );
    // No secret in any line the library wrote: its logs, audit events and metrics. (The AWS
    // SDK's own TRACE lines print whole HTTP bodies; they are the SDK's, and not ours to scan.)
    let text = capture.text();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(": aws_") && !l.contains(": hyper"))
        .collect();
    let everything = format!("{}\n{}", ours.join("\n"), lines.take().join("\n"));
    for secret in secrets {
        let line = everything
            .lines()
            .find(|l| l.contains(&secret))
            .unwrap_or_default();
        assert!(
            !everything.contains(&secret),
            "a secret reached the output: {}... in {line}",
            &secret[..secret.len().min(12)]
        );
    }
}
