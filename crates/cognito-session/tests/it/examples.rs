//! The `http_api` (lambda_http + SessionLayer), `axum_app` and `web_app` examples run for real: as Lambda
//! function processes behind the Runtime API emulator fed with trigger fixtures, and the axum app
//! also as a local HTTP server, with moto behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use testkit::{Function, Outcome, RuntimeApi};

use crate::events::event_with_cookie;
use crate::{example, setup, strings, Setup};

/// `fixture` as a `method` request for `path`, with `cookie` (a `Cookie` header value) if any.
fn event(fixture: &str, method: &str, path: &str, cookie: Option<&str>) -> Value {
    let mut event = event_with_cookie(fixture, cookie.unwrap_or("theme=dark"));
    if event.get("version").and_then(Value::as_str) == Some("2.0") {
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!("");
    } else {
        event["httpMethod"] = json!(method);
        event["path"] = json!(path);
        if let Some(context) = event["requestContext"].as_object_mut() {
            if context.contains_key("httpMethod") {
                context.insert("httpMethod".into(), json!(method));
            }
            // REST paths would carry the stage otherwise.
            context.insert("stage".into(), json!("$default"));
        }
    }
    event
}

fn with_origin(mut event: Value, origin: &str) -> Value {
    event["headers"]["origin"] = json!(origin);
    if event.get("multiValueHeaders").is_some_and(Value::is_object) {
        event["multiValueHeaders"]["origin"] = json!([origin]);
    }
    event
}

async fn call(api: &RuntimeApi, event: Value) -> Value {
    match api.invoke(event, Duration::from_secs(30)).await {
        Outcome::Response(response) => response,
        Outcome::Error(error) => panic!("the function failed: {error}"),
    }
}

/// The response's `Set-Cookie` values, from where the trigger of `fixture` reads them (and
/// nowhere else).
fn set_cookies(fixture: &str, response: &Value) -> Vec<String> {
    let cookies = strings(&response["cookies"]);
    let multi = strings(&response["multiValueHeaders"]["set-cookie"]);
    if fixture.starts_with("apigw_v2") || fixture.starts_with("lambda_function_url") {
        assert!(
            multi.is_empty() && response["headers"].get("set-cookie").is_none(),
            "{response}"
        );
        cookies
    } else {
        assert!(cookies.is_empty(), "{response}");
        multi
    }
}

fn body(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().unwrap_or("null")).unwrap()
}

fn env(s: &Setup) -> Vec<(&'static str, String)> {
    let mut env = s.function_env(&s.pool.moto.url);
    env.push(("ALLOWED_ORIGINS", "https://app.example.com".into()));
    // The managed-login fake's token endpoint (moto behind it) can take over the default 2 s on a
    // loaded 2-core machine.
    env.push(("SESSION_OPERATION_TIMEOUT", "8".into()));
    env
}

#[tokio::test]
async fn http_api_example_runs_as_a_lambda_function_for_http_api_and_function_urls() {
    let s = setup().await;
    let (sub, login) = s.logged_in("http-api-user").await;
    let binary = example("http_api").await;
    let api = RuntimeApi::start().await;
    let _function = Function::spawn(&binary, &api, &env(&s));
    let token = login.access_token().unwrap();
    let expired = s.expired_copy(token);

    for fixture in [
        "apigw_v2_proxy_request.json",
        "lambda_function_url_request.json",
    ] {
        let health = call(&api, event(fixture, "GET", "/health", None)).await;
        assert_eq!(health["statusCode"], 200, "{health}");
        assert_eq!(body(&health), json!({"status": "ok"}));

        let cookie = format!("theme=dark; token={token}");
        let me = call(&api, event(fixture, "GET", "/me", Some(&cookie))).await;
        assert_eq!(me["statusCode"], 200, "{me}");
        assert_eq!(body(&me)["sub"], json!(sub));
        assert_eq!(body(&me)["username"], "http-api-user");
        assert!(set_cookies(fixture, &me).is_empty(), "{me}");

        // Forget the previous fixture's refresh, so this one refreshes instead of joining it.
        forget_refresh(&s, &sub).await;
        let cookie = format!("token={expired}");
        let refreshed = call(&api, event(fixture, "GET", "/me", Some(&cookie))).await;
        assert_eq!(refreshed["statusCode"], 200, "{refreshed}");
        let cookies = set_cookies(fixture, &refreshed);
        assert_eq!(cookies.len(), 1, "{refreshed}");
        assert!(cookies[0].starts_with("token=eyJ"), "{cookies:?}");

        let missing = call(&api, event(fixture, "GET", "/me", None)).await;
        assert_eq!(missing["statusCode"], 401, "{missing}");
        assert_eq!(body(&missing), json!({"error": "Unauthorized"}));

        // A cross-site logout is refused before it reaches the handler.
        let cookie = format!("token={token}");
        let forged = with_origin(
            event(fixture, "POST", "/logout", Some(&cookie)),
            "https://evil.example",
        );
        let refused = call(&api, forged).await;
        assert_eq!(refused["statusCode"], 403, "{refused}");
        assert!(s.pool.row(&sub).await.is_some());
    }

    // A same-site logout ends the session and clears the cookie; the token then stops working.
    let fixture = "apigw_v2_proxy_request.json";
    let cookie = format!("token={token}");
    let logout = with_origin(
        event(fixture, "POST", "/logout", Some(&cookie)),
        "https://app.example.com",
    );
    let out = call(&api, logout).await;
    assert_eq!(out["statusCode"], 200, "{out}");
    let cookies = set_cookies(fixture, &out);
    assert_eq!(cookies.len(), 1, "{out}");
    assert!(cookies[0].contains("Max-Age=0"), "{cookies:?}");
    assert!(s.pool.row(&sub).await.is_none());
    let after = call(&api, event(fixture, "GET", "/me", Some(&cookie))).await;
    assert_eq!(after["statusCode"], 401, "{after}");
}

#[tokio::test]
async fn axum_example_runs_as_a_lambda_function_for_rest_and_alb() {
    let s = setup().await;
    let (sub, login) = s.logged_in("axum-lambda-user").await;
    let binary = example("axum_app").await;
    let api = RuntimeApi::start().await;
    let _function = Function::spawn(&binary, &api, &env(&s));
    let token = login.access_token().unwrap();
    let expired = s.expired_copy(token);

    for fixture in [
        "apigw_proxy_request.json",
        "apigw_multi_value_proxy_request.json",
        "alb_request.json",
        "apigw_v2_proxy_request.json",
    ] {
        let home = call(&api, event(fixture, "GET", "/", None)).await;
        assert_eq!(home["statusCode"], 200, "{fixture}: {home}");
        assert_eq!(body(&home), json!({"message": "welcome, please log in"}));

        let cookie = format!("token={token}");
        let home = call(&api, event(fixture, "GET", "/", Some(&cookie))).await;
        assert_eq!(
            body(&home),
            json!({"message": "welcome back axum-lambda-user"}),
            "{fixture}"
        );

        forget_refresh(&s, &sub).await;
        let cookie = format!("a=b; token={expired}");
        let me = call(&api, event(fixture, "GET", "/me", Some(&cookie))).await;
        assert_eq!(me["statusCode"], 200, "{fixture}: {me}");
        assert_eq!(body(&me)["sub"], json!(sub));
        let cookies = set_cookies(fixture, &me);
        assert_eq!(cookies.len(), 1, "{fixture}: {me}");
        assert!(cookies[0].starts_with("token=eyJ"), "{cookies:?}");

        let missing = call(&api, event(fixture, "GET", "/me", None)).await;
        assert_eq!(missing["statusCode"], 401, "{fixture}: {missing}");
    }
}

/// The axum app as a local server: its process, and the address it printed.
struct Local(Child, String);

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request to the local server: (status, headers, body).
async fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\nconnection: close\r\ncontent-length: 0\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

#[tokio::test]
async fn axum_example_runs_locally() {
    let s = setup().await;
    let (_, login) = s.logged_in("axum-local-user").await;
    let binary = example("axum_app").await;
    let mut command = Command::new(&binary);
    command
        .env_clear()
        .env("PORT", "0")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    for (key, value) in env(&s) {
        command.env(key, value);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The first line is the address; the rest (the logs) is drained so the app never blocks.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = tx.send(first);
        lines.for_each(drop);
    });
    let line = tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("the app printed its address")
        .unwrap_or_default();
    let address = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let local = Local(child, address);
    assert!(local.1.starts_with("127.0.0.1:"), "{}", local.1);

    let (status, _, body) = http(&local.1, "GET", "/", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("please log in"), "{body}");

    let expired = s.expired_copy(login.access_token().unwrap());
    let cookie = format!("token={expired}");
    let (status, headers, body) = http(&local.1, "GET", "/me", &[("cookie", &cookie)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("axum-local-user"), "{body}");
    let set_cookie: Vec<_> = headers.iter().filter(|(k, _)| k == "set-cookie").collect();
    assert_eq!(set_cookie.len(), 1, "{headers:?}");
    assert!(set_cookie[0].1.starts_with("token=eyJ"), "{set_cookie:?}");

    let (status, _, body) = http(&local.1, "GET", "/me", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"error": "Unauthorized"})
    );

    let fresh = set_cookie[0].1["token=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cookie = format!("token={fresh}");
    let (status, _, _) = http(
        &local.1,
        "POST",
        "/logout",
        &[("cookie", &cookie), ("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, headers, _) = http(
        &local.1,
        "POST",
        "/logout",
        &[("cookie", &cookie), ("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "set-cookie" && v.contains("Max-Age=0")),
        "{headers:?}"
    );
    let (status, _, _) = http(&local.1, "GET", "/me", &[("cookie", &cookie)]).await;
    assert_eq!(status, 401);
}

/// Removes the record of the last refresh from `sub`'s row.
async fn forget_refresh(s: &crate::Setup, sub: &str) {
    s.pool
        .dynamodb
        .update_item()
        .table_name(&s.pool.table)
        .key(
            &s.pool.partition_key,
            aws_sdk_dynamodb::types::AttributeValue::S(sub.to_owned()),
        )
        .update_expression("REMOVE refreshed_at")
        .send()
        .await
        .unwrap();
}

/// `event` with the query `key=value` (however the trigger carries it) and `Accept: text/html`.
fn page_load(mut event: Value, query: &[(&str, &str)]) -> Value {
    let raw = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query.iter().copied())
        .finish();
    if event.get("version").and_then(Value::as_str) == Some("2.0") {
        event["rawQueryString"] = json!(raw);
    } else {
        let single: serde_json::Map<String, Value> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let multi: serde_json::Map<String, Value> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!([v])))
            .collect();
        event["queryStringParameters"] = Value::Object(single);
        event["multiValueQueryStringParameters"] = Value::Object(multi);
    }
    event["headers"]["accept"] = json!("text/html,application/xhtml+xml");
    if event.get("multiValueHeaders").is_some_and(Value::is_object) {
        event["multiValueHeaders"]["accept"] = json!(["text/html,application/xhtml+xml"]);
    }
    event
}

/// A response header, from `headers` or `multiValueHeaders`.
fn response_header(response: &Value, name: &str) -> Option<String> {
    response["headers"][name]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            response["multiValueHeaders"][name][0]
                .as_str()
                .map(str::to_owned)
        })
}

#[tokio::test]
async fn web_app_example_logs_in_through_managed_login_as_a_lambda_function() {
    let site = "https://app.example.com";
    let callback_url = format!("{site}/callback");
    let s = crate::setup_with(
        testkit::PoolOptions::managed_login(&callback_url, &format!("{site}/")),
        |b| b,
    )
    .await;
    let fake = s.pool.managed_login().await;
    s.pool.user("lambda-web").await;
    s.pool
        .set_attributes("lambda-web", &[("email", "lambda-web@example.com")])
        .await;
    let binary = example("web_app").await;
    let api = RuntimeApi::start().await;
    let mut vars = env(&s);
    vars.push(("COGNITO_DOMAIN", fake.base_url().to_owned()));
    vars.push(("REDIRECT_URI", callback_url.clone()));
    vars.push(("LOGOUT_URI", format!("{site}/")));
    let _function = Function::spawn(&binary, &api, &vars);

    for fixture in ["apigw_v2_proxy_request.json", "apigw_proxy_request.json"] {
        // A page load without a session goes to the login route...
        let page = call(&api, page_load(event(fixture, "GET", "/app", None), &[])).await;
        assert_eq!(page["statusCode"], 302, "{fixture}: {page}");
        assert_eq!(
            response_header(&page, "location").as_deref(),
            Some("/login?return_to=%2Fapp")
        );
        // ...which sends the browser to the managed login with the login cookie.
        let login = call(
            &api,
            page_load(
                event(fixture, "GET", "/login", None),
                &[("return_to", "/app")],
            ),
        )
        .await;
        assert_eq!(login["statusCode"], 302, "{fixture}: {login}");
        let authorize = response_header(&login, "location").unwrap();
        assert!(authorize.starts_with(fake.base_url()), "{authorize}");
        let login_cookie = set_cookies(fixture, &login)
            .into_iter()
            .find(|c| c.starts_with("__Host-cognito-login="))
            .expect("the login cookie");
        let login_cookie = login_cookie.split(';').next().unwrap().to_owned();

        // The user signs in there and Cognito sends the browser back to the callback.
        let back = testkit::managed_login::HttpBrowser::new()
            .sign_in(&fake, &authorize, "lambda-web", testkit::PASSWORD)
            .await;
        let back = back.location().expect("to the callback");
        let query: Vec<(String, String)> =
            form_urlencoded::parse(back.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let done = call(
            &api,
            page_load(
                event(fixture, "GET", "/callback", Some(&login_cookie)),
                &query,
            ),
        )
        .await;
        assert_eq!(done["statusCode"], 302, "{fixture}: {done}");
        assert_eq!(response_header(&done, "location").as_deref(), Some("/app"));
        let session = set_cookies(fixture, &done)
            .into_iter()
            .find(|c| c.starts_with("token="))
            .expect("the session cookie");
        assert!(session.contains("HttpOnly") && session.contains("Secure"));
        let session = session.split(';').next().unwrap().to_owned();

        // The session works for the page and the JSON route.
        let page = call(
            &api,
            page_load(event(fixture, "GET", "/app", Some(&session)), &[]),
        )
        .await;
        assert_eq!(page["statusCode"], 200, "{fixture}: {page}");
        assert!(
            page["body"]
                .as_str()
                .unwrap()
                .contains("Signed in as lambda-web@example.com"),
            "{page}"
        );
        let me = call(&api, event(fixture, "GET", "/api/me", Some(&session))).await;
        assert_eq!(
            body(&me)["email"],
            "lambda-web@example.com",
            "{fixture}: {me}"
        );
        let anonymous = call(&api, event(fixture, "GET", "/api/me", None)).await;
        assert_eq!(anonymous["statusCode"], 401, "{fixture}: {anonymous}");
    }
}

/// A REST API (v1) event for `path` behind stage `Prod` (as the stage URL
/// `https://<api>.execute-api.<region>.amazonaws.com/Prod/...` sends it: `lambda_http` puts the
/// stage in front of the path), with `cookie`, `Accept: text/html`, and for a POST the form
/// `body` and the `origin`.
fn staged(method: &str, path: &str, cookie: Option<&str>, form: Option<(&str, &str)>) -> Value {
    let mut event = page_load(event("apigw_proxy_request.json", method, path, cookie), &[]);
    event["requestContext"]["stage"] = json!("Prod");
    event["requestContext"]["path"] = json!(format!("/Prod{path}"));
    if let Some((origin, body)) = form {
        let event_headers = [
            ("origin", origin),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        for (name, value) in event_headers {
            event["headers"][name] = json!(value);
            event["multiValueHeaders"][name] = json!([value]);
        }
        event["body"] = json!(body);
        event["isBase64Encoded"] = json!(false);
    }
    event
}

/// The value of the hidden `state` field of a challenge page.
fn hidden_state(page: &Value) -> String {
    let body = page["body"].as_str().unwrap_or_default();
    let from = body.find("name=\"state\" value=\"").expect("a state field") + 20;
    body[from..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&")
}

#[tokio::test]
async fn web_app_example_signs_in_with_its_own_form_behind_a_rest_api_stage_as_a_lambda_function() {
    let s = setup().await;
    s.pool
        .user_with_temporary_password("staged-user", "Temp-horse-1!")
        .await;
    let binary = example("web_app").await;
    let api = RuntimeApi::start().await;
    let mut vars = env(&s);
    vars.push(("SIGN_IN_FLOW", "password".into()));
    let _function = Function::spawn(&binary, &api, &vars);
    // The fixture's own host, as the browser addressing the stage URL sends it.
    let own = "https://wt6mne2s9k.execute-api.us-west-2.amazonaws.com";
    let rest = "apigw_proxy_request.json";

    // The form, with its action under the stage.
    let form = call(&api, staged("GET", "/signin", None, None)).await;
    assert_eq!(form["statusCode"], 200, "{form}");
    assert!(
        form["body"]
            .as_str()
            .unwrap()
            .contains("action=\"/Prod/signin\""),
        "{form}"
    );

    // Another site posting the form (login CSRF): refused before any call.
    let body = "username=staged-user&password=Temp-horse-1%21";
    for origin in ["https://evil.example", "null"] {
        let forged = call(&api, staged("POST", "/signin", None, Some((origin, body)))).await;
        assert_eq!(forged["statusCode"], 403, "{origin}: {forged}");
    }

    // The temporary password: the new-password step, its state in the page, its binding cookie.
    let step = call(&api, staged("POST", "/signin", None, Some((own, body)))).await;
    assert_eq!(step["statusCode"], 200, "{step}");
    assert!(step["body"]
        .as_str()
        .unwrap()
        .contains("action=\"/Prod/signin/next\""));
    let binding = set_cookies(rest, &step)
        .into_iter()
        .find(|c| c.starts_with("__Host-cognito-signin="))
        .expect("the challenge cookie");
    assert!(
        binding.contains("HttpOnly")
            && binding.contains("Secure")
            && binding.contains("SameSite=Strict")
    );
    let binding = binding.split(';').next().unwrap().to_owned();
    let state = hidden_state(&step);
    let answer = format!(
        "state={}&new_password=New-horse-10%21",
        form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()
    );

    // The state without its cookie (copied from the page): refused, start again.
    let copied = call(
        &api,
        staged("POST", "/signin/next", None, Some((own, &answer))),
    )
    .await;
    assert_eq!(copied["statusCode"], 400, "{copied}");
    // With it: signed in, on to the page under the stage, the challenge cookie removed.
    let done = call(
        &api,
        staged("POST", "/signin/next", Some(&binding), Some((own, &answer))),
    )
    .await;
    assert_eq!(done["statusCode"], 303, "{done}");
    assert_eq!(
        response_header(&done, "location").as_deref(),
        Some("/Prod/app")
    );
    let cookies = set_cookies(rest, &done);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("__Host-cognito-signin=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    let session = cookies
        .iter()
        .find(|c| c.starts_with("token="))
        .expect("the session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let page = call(&api, staged("GET", "/app", Some(&session), None)).await;
    assert_eq!(page["statusCode"], 200, "{page}");
    assert!(
        page["body"]
            .as_str()
            .unwrap()
            .contains("Signed in as staged-user"),
        "{page}"
    );
    assert!(
        page["body"]
            .as_str()
            .unwrap()
            .contains("action=\"/Prod/logout\""),
        "{page}"
    );
    // The same state again, in the browser whose sign-in is over: refused.
    let replayed = call(
        &api,
        staged(
            "POST",
            "/signin/next",
            Some("__Host-cognito-signin="),
            Some((own, &answer)),
        ),
    )
    .await;
    assert_eq!(replayed["statusCode"], 400, "{replayed}");
    // Logout from the page's form: back to the start page under the stage.
    let out = call(
        &api,
        staged("POST", "/logout", Some(&session), Some((own, ""))),
    )
    .await;
    assert_eq!(out["statusCode"], 302, "{out}");
    assert_eq!(response_header(&out, "location").as_deref(), Some("/Prod/"));
}

/// The web example's account pages as a Lambda function on moto alone (which confirms any code
/// and accepts any reset code not of its own format, and offers no sign-in after sign-up): a
/// sign-up, its confirmation (then the sign-in form), a reset and a sign-in with the new
/// password, each step's state bound to its cookie, and another site's posts refused.
#[tokio::test]
async fn web_app_example_signs_up_and_resets_a_password_with_its_own_forms() {
    let s = setup().await;
    let binary = example("web_app").await;
    let api = RuntimeApi::start().await;
    let mut vars = env(&s);
    vars.push(("SIGN_IN_FLOW", "password".into()));
    let _function = Function::spawn(&binary, &api, &vars);
    let own = "https://wt6mne2s9k.execute-api.us-west-2.amazonaws.com";
    let rest = "apigw_proxy_request.json";
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let body = "username=newbie&email=newbie%40example.com&password=Sign-up-horse-1%21";
    let forged = call(
        &api,
        staged(
            "POST",
            "/signup",
            None,
            Some(("https://evil.example", body)),
        ),
    )
    .await;
    assert_eq!(forged["statusCode"], 403, "{forged}");

    // The code step: its state in the page, its binding cookie.
    let step = call(&api, staged("POST", "/signup", None, Some((own, body)))).await;
    assert_eq!(step["statusCode"], 200, "{step}");
    let page = step["body"].as_str().unwrap();
    assert!(page.contains("action=\"/Prod/signup/confirm\""), "{page}");
    // (moto's pool verifies no attribute, so its SignUp names no destination.)
    assert!(page.contains("sent a code"), "{page}");
    let binding = set_cookies(rest, &step)
        .into_iter()
        .find(|c| c.starts_with("__Host-cognito-account="))
        .expect("the accounts cookie");
    assert!(binding.contains("HttpOnly") && binding.contains("SameSite=Strict"));
    let binding = binding.split(';').next().unwrap().to_owned();
    let answer = format!("state={}&code=123456", encode(&hidden_state(&step)));
    let copied = call(
        &api,
        staged("POST", "/signup/confirm", None, Some((own, &answer))),
    )
    .await;
    assert_eq!(copied["statusCode"], 400, "{copied}");
    let confirmed = call(
        &api,
        staged(
            "POST",
            "/signup/confirm",
            Some(&binding),
            Some((own, &answer)),
        ),
    )
    .await;
    assert_eq!(confirmed["statusCode"], 200, "{confirmed}");
    assert!(
        confirmed["body"]
            .as_str()
            .unwrap()
            .contains("confirmed: sign in"),
        "{confirmed}"
    );

    // Reset: the same page for a known and an unknown user.
    let known = call(
        &api,
        staged("POST", "/forgot", None, Some((own, "username=newbie"))),
    )
    .await;
    let unknown = call(
        &api,
        staged("POST", "/forgot", None, Some((own, "username=nobody"))),
    )
    .await;
    assert_eq!(known["statusCode"], 200, "{known}");
    assert_eq!(unknown["statusCode"], 200, "{unknown}");
    let strip = |page: &Value| {
        let body = page["body"].as_str().unwrap().to_owned();
        let state = hidden_state(page);
        body.replace(&state, "")
    };
    assert_eq!(strip(&known), strip(&unknown));
    let binding = set_cookies(rest, &known)
        .into_iter()
        .find(|c| c.starts_with("__Host-cognito-account="))
        .expect("the accounts cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let state = encode(&hidden_state(&known));
    // (moto's ConfirmForgotPassword checks no password policy: tests/it/accounts.rs checks
    // the refusal against the account fake.)
    let good = format!("state={state}&code=123456&new_password=Reset-horse-2%21");
    let reset = call(
        &api,
        staged("POST", "/reset", Some(&binding), Some((own, &good))),
    )
    .await;
    assert_eq!(reset["statusCode"], 200, "{reset}");
    assert!(
        reset["body"]
            .as_str()
            .unwrap()
            .contains("password was changed"),
        "{reset}"
    );
    let signed_in = call(
        &api,
        staged(
            "POST",
            "/signin",
            None,
            Some((own, "username=newbie&password=Reset-horse-2%21")),
        ),
    )
    .await;
    assert_eq!(signed_in["statusCode"], 303, "{signed_in}");
}

/// The value of `attribute` on the page's `#webauthn` form (Cognito's options JSON), unescaped.
fn webauthn_options(page: &Value) -> String {
    let body = page["body"].as_str().unwrap_or_default();
    let form = &body[body.find("id=\"webauthn\"").expect("a WebAuthn form")..];
    let from = form.find("data-options=\"").expect("its options") + 14;
    form[from..]
        .split('"')
        .next()
        .unwrap()
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The `name=value` pairs of the response's cookies, for the next request's `Cookie` header,
/// over `jar` (a cookie set again replaces its earlier value; an emptied one is dropped).
fn keep_cookies(jar: &mut Vec<(String, String)>, response: &Value) {
    for set in set_cookies("apigw_proxy_request.json", response) {
        let pair = set.split(';').next().unwrap_or_default();
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        jar.retain(|(n, _)| n != name);
        if !value.is_empty() {
            jar.push((name.to_owned(), value.to_owned()));
        }
    }
}

/// The form a passkey page posts: its state and `authenticator`'s answer to its options.
async fn passkey_answer(authenticator: &mut testkit::SoftAuthenticator, page: &Value) -> String {
    let signed = authenticator
        .sign_in(&webauthn_options(page))
        .await
        .unwrap();
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    format!(
        "state={}&credential={}",
        encode(&hidden_state(page)),
        encode(&signed)
    )
}

fn cookie_header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The web example's passwordless and passkey pages as a Lambda function (REST API stage),
/// with the account fake in front of moto: an email code signs in, the password is changed, a
/// passkey is added with a software authenticator at the page's origin, signs in alone, and is
/// removed, after which the passkey button is refused; a lost sign-up is resumed by username.
#[tokio::test]
async fn web_app_example_signs_in_without_a_password_and_manages_passkeys_as_a_lambda_function() {
    let s = setup().await;
    let sub = s.pool.user("bea").await;
    s.pool
        .set_attributes("bea", &[("email", "bea@example.com")])
        .await;
    let own = "https://wt6mne2s9k.execute-api.us-west-2.amazonaws.com";
    let fake = std::sync::Arc::new(
        testkit::FakeAccounts::new(&s.pool)
            .passkeys("wt6mne2s9k.execute-api.us-west-2.amazonaws.com", own),
    );
    let proxy = testkit::Proxy::with_fake(&s.pool.moto.url, fake.clone()).await;
    let binary = example("web_app").await;
    let api = RuntimeApi::start().await;
    let mut vars = s.function_env(&proxy.url);
    vars.push(("SESSION_OPERATION_TIMEOUT", "8".into()));
    let _function = Function::spawn(&binary, &api, &vars);
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let mut jar: Vec<(String, String)> = Vec::new();
    let post = async |path: &str, jar: &mut Vec<(String, String)>, body: String| {
        let cookie = cookie_header(jar);
        let cookie = (!cookie.is_empty()).then_some(cookie);
        let out = call(
            &api,
            staged("POST", path, cookie.as_deref(), Some((own, &body))),
        )
        .await;
        keep_cookies(jar, &out);
        out
    };

    // Another site's post starts nothing (CSRF): no code is sent.
    let forged = call(
        &api,
        staged(
            "POST",
            "/signin/choice",
            None,
            Some(("https://evil.example", "username=bea&factor=EMAIL_OTP")),
        ),
    )
    .await;
    assert_eq!(forged["statusCode"], 403, "{forged}");
    assert!(fake.outbox().is_empty());

    // An email code.
    let step = post(
        "/signin/choice",
        &mut jar,
        "username=bea&factor=EMAIL_OTP".into(),
    )
    .await;
    assert_eq!(step["statusCode"], 200, "{step}");
    assert!(
        step["body"].as_str().unwrap().contains("b***@e***"),
        "{step}"
    );
    let code = fake.code_for("bea").unwrap();
    let answer = format!("state={}&code={code}", encode(&hidden_state(&step)));
    let done = post("/signin/next", &mut jar, answer).await;
    assert_eq!(done["statusCode"], 303, "{done}");
    assert!(jar.iter().any(|(n, _)| n == "token"), "{jar:?}");

    // The password changed from the signed-in page: a wrong current one is refused (400, no
    // logout), the right one changes it.
    let wrong = post(
        "/app/password",
        &mut jar,
        "current_password=Wrong-horse-1%21&new_password=Brand-new-horse-2%21".into(),
    )
    .await;
    assert_eq!(wrong["statusCode"], 400, "{wrong}");
    let changed = post(
        "/app/password",
        &mut jar,
        format!(
            "current_password={}&new_password=Brand-new-horse-2%21",
            encode(testkit::PASSWORD)
        ),
    )
    .await;
    assert_eq!(changed["statusCode"], 200, "{changed}");
    assert!(changed["body"]
        .as_str()
        .unwrap()
        .contains("Your password was changed."));

    // A passkey added from the page's origin.
    let new = post("/app/passkeys/new", &mut jar, String::new()).await;
    assert_eq!(new["statusCode"], 200, "{new}");
    let mut authenticator = testkit::SoftAuthenticator::new(own);
    let created = authenticator
        .register(&webauthn_options(&new))
        .await
        .unwrap();
    let added = post(
        "/app/passkeys/add",
        &mut jar,
        format!("credential={}", encode(&created)),
    )
    .await;
    assert_eq!(added["statusCode"], 200, "{added}");
    let page = added["body"].as_str().unwrap();
    assert!(page.contains("Passkey added.") && page.contains("class=\"remove-passkey\""));
    let ids = fake.passkey_ids(&sub);
    assert_eq!(ids.len(), 1);

    // The passkey alone signs in, in a browser with no cookie yet.
    let mut other = Vec::new();
    let asked = post(
        "/signin/choice",
        &mut other,
        "username=bea&factor=WEB_AUTHN".into(),
    )
    .await;
    assert_eq!(asked["statusCode"], 200, "{asked}");
    let answer = passkey_answer(&mut authenticator, &asked).await;
    let done = post("/signin/next", &mut other, answer).await;
    assert_eq!(done["statusCode"], 303, "{done}");
    assert!(other.iter().any(|(n, _)| n == "token"), "{other:?}");

    // Removed: the list is empty, and the passkey no longer signs in.
    let mut late = Vec::new();
    let asked = post(
        "/signin/choice",
        &mut late,
        "username=bea&factor=WEB_AUTHN".into(),
    )
    .await;
    // (Without SORT_KEY a user has one session: the passkey sign-in replaced the first one.)
    let removed = post(
        "/app/passkeys/remove",
        &mut other,
        format!("id={}", encode(&ids[0])),
    )
    .await;
    assert_eq!(removed["statusCode"], 200, "{removed}");
    assert!(removed["body"].as_str().unwrap().contains("no-passkeys"));
    let answer = passkey_answer(&mut authenticator, &asked).await;
    let refused = post("/signin/next", &mut late, answer).await;
    assert_eq!(refused["statusCode"], 401, "{refused}");
    assert!(!late.iter().any(|(n, _)| n == "token"), "{late:?}");

    // A sign-up whose code page was lost is resumed by username in another browser; an
    // unknown name gets the same page.
    let body = "username=cal&email=cal%40example.com&password=Sign-up-horse-1%21";
    let step = post("/signup", &mut Vec::new(), body.into()).await;
    assert_eq!(step["statusCode"], 200, "{step}");
    let mut later = Vec::new();
    let resumed = post("/signup/resume", &mut later, "username=cal".into()).await;
    assert_eq!(resumed["statusCode"], 200, "{resumed}");
    let unknown = post("/signup/resume", &mut Vec::new(), "username=nobody".into()).await;
    let strip = |page: &Value| {
        let state = hidden_state(page);
        page["body"].as_str().unwrap().replace(&state, "")
    };
    assert_eq!(strip(&resumed), strip(&unknown));
    let code = fake.code_for("cal").unwrap();
    let answer = format!("state={}&code={code}", encode(&hidden_state(&resumed)));
    let confirmed = post("/signup/confirm", &mut later, answer).await;
    assert_eq!(confirmed["statusCode"], 200, "{confirmed}");
    assert!(
        confirmed["body"]
            .as_str()
            .unwrap()
            .contains("confirmed: sign in"),
        "{confirmed}"
    );
}
