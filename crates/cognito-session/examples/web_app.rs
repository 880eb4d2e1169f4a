//! A web app with login: managed login (the user pool's hosted pages) and its own password
//! form, on axum, running on Lambda (any HTTP trigger) and locally.
//!
//! - `GET /`: public; "Log in" links, or the signed-in user's email and a logout button.
//! - `GET /login`, `GET /callback`, `POST /logout`: managed login ([`Sessions::login`],
//!   [`Sessions::callback`], [`Sessions::logout`]).
//! - `GET /signin`, `POST /signin`, `POST /signin/next`: the app's own password form
//!   ([`Sessions::sign_in`], then [`Sessions::respond`] for a challenge such as a new password or
//!   an MFA code). Between the two requests the challenge travels sealed in a hidden form field,
//!   bound to this browser by an `HttpOnly` cookie ([`Challenge::state`],
//!   [`Sessions::open_challenge`]).
//! - `POST /signin/choice`: signing in without a password ([`Sessions::sign_in_choice`]): the
//!   username, and a passkey or an emailed code as the preferred factor (or none: the choice of
//!   what the user has). The steps continue through `POST /signin/next` like the password
//!   form's: a code form, the choice of factors, or a page whose script asks the browser for
//!   the passkey (`navigator.credentials.get`) and posts the credential back.
//! - `GET /signup`, `POST /signup`, `POST /signup/confirm`: creating an account
//!   ([`Accounts::sign_up`]), then the emailed code ([`Accounts::confirm_sign_up`], or
//!   [`Accounts::resend_code`]), which signs the user in without the password again; where the
//!   pool does not offer that, the sign-in form follows.
//! - `GET /forgot`, `POST /forgot`, `POST /reset`: password reset ([`Accounts::forgot_password`],
//!   then the code and the new password, [`Accounts::reset_password`]). An unknown username gets
//!   the same pages as a known one, and so does a taken one at sign-up.
//! - `GET /app/password`, `POST /app/password`: changing the password when signed in
//!   ([`Accounts::change_password`]).
//! - `GET /app/passkeys`: the signed-in user's passkeys ([`Accounts::list_passkeys`]), each
//!   with a remove button (`POST /app/passkeys/remove`, [`Accounts::delete_passkey`]); adding
//!   one is `POST /app/passkeys/new` ([`Accounts::start_passkey_registration`]: a page whose
//!   script has the browser create the passkey, `navigator.credentials.create`) and then
//!   `POST /app/passkeys/add` with the browser's credential
//!   ([`Accounts::complete_passkey_registration`]).
//!   The pending sign-up or reset travels sealed in a hidden form field, bound to this browser
//!   by an `HttpOnly` cookie ([`CodeSent::state`]); every `POST` passes the layer's CSRF check.
//! - `GET /app`: a protected page: without a session the browser is sent to `/login` and back
//!   (to the own form, `/signin`, when managed login is not configured).
//! - `GET /api/me`: a protected JSON route: without a session, 401 JSON.
//!
//! Every route meets the Lambda deadline: the route helpers read it from the request, and the
//! sign-in handlers use [`Sessions::with_deadline`] (the `Bounded` extractor below). Behind an
//! API Gateway REST API's stage URL (`https://…/Prod/app`, which `lambda_http` keeps in the
//! path), every route also answers under its stage, and the pages link with it.
//!
//! Configuration: the crate's environment variables, with `COGNITO_DOMAIN`, `REDIRECT_URI`
//! (`http://localhost:3000/callback` locally) and `LOGOUT_URI` (`http://localhost:3000/`)
//! registered on the app client. On Lambda (`AWS_LAMBDA_RUNTIME_API` set) it serves Lambda
//! events; otherwise it listens on `127.0.0.1:$PORT` (default 3000) and prints
//! `listening on http://127.0.0.1:<port>`. Run locally over plain HTTP with `COOKIE_SECURE=false`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Form, Json, Router};
use cognito_session::{
    Accounts, Answer, Challenge, ChallengeKind, CodeSent, Confirmed, FirstFactor, Mfa,
    PasswordError, Session, SessionLayer, Sessions, SignIn, SignInError, SignUp, SignUpError,
};
use serde::Deserialize;
use serde_json::json;

/// The router, with the session layer (the part worth copying).
pub fn app(sessions: Sessions) -> Router {
    // Signed-out page loads go to managed login when it is configured, else to the own form.
    let sign_in_page = if sessions.has_managed_login() {
        "/login"
    } else {
        "/signin"
    };
    let routes = [
        ("/", get(home)),
        ("/login", get(login)),
        ("/callback", get(callback)),
        ("/logout", post(logout)),
        ("/signin", get(signin_form).post(signin)),
        ("/signin/next", post(signin_next)),
        ("/signin/choice", post(signin_choice)),
        ("/signup", get(signup_form).post(signup)),
        ("/signup/confirm", post(signup_confirm)),
        ("/signup/resume", get(resume_form).post(resume)),
        ("/forgot", get(forgot_form).post(forgot)),
        ("/reset", post(reset)),
        (
            "/app/password",
            get(password_change_form).post(password_change),
        ),
        ("/app/passkeys", get(passkeys)),
        ("/app/passkeys/new", post(passkey_new)),
        ("/app/passkeys/add", post(passkey_add)),
        ("/app/passkeys/remove", post(passkey_remove)),
        ("/app", get(protected_page)),
        ("/api/me", get(me)),
    ];
    let mut router = Router::new();
    for (path, handler) in routes {
        router = staged(router, path, handler);
    }
    router
        .layer(
            SessionLayer::new(sessions.clone())
                .public("/")
                .public("/callback")
                .public("/logout")
                .public("/signin")
                .public("/signin/next")
                .public("/signin/choice")
                .public("/signup")
                .public("/signup/confirm")
                .public("/signup/resume")
                .public("/forgot")
                .public("/reset")
                // Page loads under /app without a session go to the sign-in page.
                .login_redirect("/app", sign_in_page),
        )
        .with_state(sessions)
}

/// Serves `handler` at `path` and at `/{stage}{path}`: an API Gateway REST API's stage URL
/// (`https://…/Prod/app`) keeps the stage in the path `lambda_http` gives. (With a custom
/// domain, set `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH=true` so paths are the browser's.)
fn staged(
    router: Router<Sessions>,
    path: &str,
    handler: MethodRouter<Sessions>,
) -> Router<Sessions> {
    let router = router.route(path, handler.clone());
    match path {
        "/" => router
            .route("/{stage}", handler.clone())
            .route("/{stage}/", handler),
        path => router.route(&format!("/{{stage}}{path}"), handler),
    }
}

/// The path prefix the browser addresses this app with: the API Gateway stage when the request
/// path carries it (see `staged`), else nothing.
struct Base(String);

impl<S: Send + Sync> FromRequestParts<S> for Base {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        use lambda_http::request::RequestContext;
        let stage = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
            Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
            _ => None,
        };
        let base = stage
            .filter(|stage| !stage.is_empty() && stage != "$default")
            .map(|stage| format!("/{stage}"))
            .filter(|base| {
                let path = parts.uri.path();
                path == base || path.starts_with(&format!("{base}/"))
            });
        Ok(Base(base.unwrap_or_default()))
    }
}

/// The session manager bounded by this request's Lambda deadline (none when run locally), for
/// the calls that take no request ([`Sessions::sign_in`], [`Sessions::respond`]).
struct Bounded(Sessions);

impl FromRequestParts<Sessions> for Bounded {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        sessions: &Sessions,
    ) -> Result<Self, Self::Rejection> {
        Ok(Bounded(
            match parts.extensions.get::<lambda_http::Context>() {
                Some(context) => sessions.with_deadline(context.deadline()),
                None => sessions.clone(),
            },
        ))
    }
}

async fn login(State(sessions): State<Sessions>, request: Request) -> Response {
    sessions.login(&request).await.into_response()
}

async fn callback(State(sessions): State<Sessions>, request: Request) -> Response {
    sessions.callback(&request).await.into_response()
}

async fn logout(State(sessions): State<Sessions>, request: Request) -> Response {
    sessions.logout(&request).await.into_response()
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

/// The answer to a challenge step: whichever field its form has.
#[derive(Deserialize)]
struct Next {
    #[serde(default)]
    state: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    code: String,
    /// The factor chosen (Cognito's name, e.g. `EMAIL_OTP`).
    #[serde(default)]
    factor: String,
    #[serde(default)]
    password: String,
    /// The passkey's answer: `JSON.stringify(credential.toJSON())`.
    #[serde(default)]
    credential: String,
}

/// The passwordless form: a username, and the factor to try first (Cognito's name; none or
/// an unknown one: the user's choice of what they have).
#[derive(Deserialize)]
struct Choice {
    username: String,
    #[serde(default)]
    factor: String,
}

async fn signin_form(base: Base) -> Html<String> {
    password_form(&base.0, None)
}

fn password_form(base: &str, error: Option<&str>) -> Html<String> {
    let error = error
        .map(|e| format!("<p id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        "Sign in",
        &format!(
            "{error}<form method=\"post\" action=\"{base}/signin\">\
             <label>Username <input name=\"username\" autocomplete=\"username\"></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label>\
             <button id=\"signin\">Sign in</button></form>\
             <h2>Without a password</h2>\
             <form method=\"post\" action=\"{base}/signin/choice\">\
             <label>Username <input name=\"username\" id=\"choice-username\" autocomplete=\"username webauthn\"></label>\
             <button id=\"signin-passkey\" name=\"factor\" value=\"WEB_AUTHN\">Sign in with a passkey</button> \
             <button id=\"signin-email\" name=\"factor\" value=\"EMAIL_OTP\">Email me a code</button> \
             <button id=\"signin-other\" name=\"factor\" value=\"\">Other ways</button></form>"
        ),
    )
}

async fn signin(Bounded(sessions): Bounded, base: Base, Form(form): Form<Credentials>) -> Response {
    let step = sessions.sign_in(&form.username, &form.password).await;
    next_step(&sessions, &base.0, step, None)
}

async fn signin_choice(
    Bounded(sessions): Bounded,
    base: Base,
    Form(form): Form<Choice>,
) -> Response {
    let preferred = FirstFactor::from_cognito_name(&form.factor);
    let step = sessions.sign_in_choice(&form.username, preferred).await;
    next_step(&sessions, &base.0, step, None)
}

async fn signin_next(
    Bounded(sessions): Bounded,
    base: Base,
    headers: HeaderMap,
    Form(form): Form<Next>,
) -> Response {
    // The state from the form opens only with this browser's challenge cookie.
    let challenge = match sessions.open_challenge(&headers, &form.state).await {
        Ok(challenge) => challenge,
        Err(error) => return next_step(&sessions, &base.0, Err(error), None),
    };
    let answer = match challenge.kind() {
        ChallengeKind::NewPasswordRequired { .. } => Answer::NewPassword {
            password: form.new_password,
            attributes: Vec::new(),
        },
        ChallengeKind::SelectMfaType { .. } | ChallengeKind::MfaSetup { .. } => {
            Answer::Choose(Mfa::Totp)
        }
        ChallengeKind::SelectFirstFactor { .. } => {
            match FirstFactor::from_cognito_name(&form.factor) {
                Some(FirstFactor::Password | FirstFactor::PasswordSrp) | None => {
                    Answer::Password(form.password)
                }
                Some(factor) => Answer::Factor(factor),
            }
        }
        ChallengeKind::Passkey { .. } => Answer::Passkey(form.credential),
        _ => Answer::Code(form.code),
    };
    let step = sessions.respond(&challenge, &answer).await;
    next_step(&sessions, &base.0, step, Some(&challenge))
}

/// Signed in: the session cookie and on to the page; a challenge: its form; a wrong code or a
/// refused new password: the same step again (its state still opens); refused otherwise: the
/// password form with the reason (the same words for a wrong password and an unknown user).
fn next_step(
    sessions: &Sessions,
    base: &str,
    step: Result<SignIn, SignInError>,
    answered: Option<&Challenge>,
) -> Response {
    let name = sessions.cookie_options().name.clone();
    match step {
        Ok(SignIn::Done(session)) => {
            let mut headers = HeaderMap::new();
            if let Ok(location) = format!("{base}/app").parse() {
                headers.insert(LOCATION, location);
            }
            for cookie in [
                session.set_cookie(&name),
                Some(sessions.clear_challenge_cookie()),
            ]
            .into_iter()
            .flatten()
            {
                if let Ok(value) = cookie.parse() {
                    headers.append(SET_COOKIE, value);
                }
            }
            (StatusCode::SEE_OTHER, headers).into_response()
        }
        Ok(SignIn::Challenge(challenge)) => {
            let mut response = challenge_form(base, &challenge, None).into_response();
            if let Some(Ok(cookie)) = challenge.set_cookie().map(str::parse) {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            response
        }
        Err(error @ (SignInError::WrongCode | SignInError::PasswordRejected(_))) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
            match answered {
                Some(challenge) => (
                    status,
                    challenge_form(base, challenge, Some(&error.to_string())),
                )
                    .into_response(),
                None => (status, password_form(base, Some(&error.to_string()))).into_response(),
            }
        }
        Err(error) => {
            let status =
                StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            // A 5xx's text is for the operator's log (the library logged it), not the visitor.
            let message = if error.status() >= 500 {
                "Sign-in is not available right now; try again in a moment.".to_owned()
            } else {
                error.to_string()
            };
            (
                status,
                [(SET_COOKIE, sessions.clear_challenge_cookie())],
                password_form(base, Some(&message)),
            )
                .into_response()
        }
    }
}

/// The form of a challenge step, carrying its sealed state.
fn challenge_form(base: &str, challenge: &Challenge, error: Option<&str>) -> Html<String> {
    let error = error_line(error);
    let field = match challenge.kind() {
        ChallengeKind::NewPasswordRequired { .. } => {
            "<label>New password <input name=\"new_password\" type=\"password\" autocomplete=\"new-password\"></label>".to_owned()
        }
        ChallengeKind::TotpSetup => format!(
            "{}<label>Code <input name=\"code\" autocomplete=\"one-time-code\"></label>",
            // Shown once, when Cognito issued it: it is never part of the state.
            challenge.totp_secret().map_or_else(String::new, |secret| format!(
                "<p>Add this key to your authenticator app: <code id=\"totp-secret\">{}</code></p>",
                escape(secret)
            ))
        ),
        ChallengeKind::SelectMfaType { .. } | ChallengeKind::MfaSetup { .. } => {
            "<p>Use an authenticator app.</p>".to_owned()
        }
        ChallengeKind::SelectFirstFactor { options } => return factor_choice(base, challenge, options, &error),
        ChallengeKind::Passkey { request_options } => {
            return passkey_sign_in(base, challenge, request_options, &error)
        }
        ChallengeKind::EmailOtp { destination } | ChallengeKind::SmsOtp { destination } => format!(
            "<p id=\"sent\">We sent a code to {}.</p>\
             <label>Code <input name=\"code\" autocomplete=\"one-time-code\"></label>",
            escape(destination.as_deref().unwrap_or("you"))
        ),
        _ => "<label>Code <input name=\"code\" autocomplete=\"one-time-code\"></label>".to_owned(),
    };
    page(
        "One more step",
        &format!(
            "{error}<form method=\"post\" action=\"{base}/signin/next\">\
             <input type=\"hidden\" name=\"state\" value=\"{}\">{field}\
             <button id=\"next\">Continue</button></form>",
            escape(challenge.state())
        ),
    )
}

/// The first factors this user can sign in with: a button each, and the password field when
/// the password is among them.
fn factor_choice(
    base: &str,
    challenge: &Challenge,
    options: &[FirstFactor],
    error: &str,
) -> Html<String> {
    // The password first: its button is the form's default (Enter in the field).
    let mut fields = String::new();
    if options
        .iter()
        .any(|f| matches!(f, FirstFactor::Password | FirstFactor::PasswordSrp))
    {
        fields.push_str(
            "<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label> \
             <button id=\"factor-PASSWORD\" name=\"factor\" value=\"PASSWORD\">Sign in with the password</button></p>",
        );
    }
    for factor in options {
        let label = match factor {
            FirstFactor::Passkey => "Use a passkey",
            FirstFactor::EmailOtp => "Email me a code",
            FirstFactor::SmsOtp => "Text me a code",
            _ => continue,
        };
        fields.push_str(&format!(
            "<button id=\"factor-{name}\" name=\"factor\" value=\"{name}\">{label}</button> ",
            name = factor.cognito_name()
        ));
    }
    page(
        "How do you want to sign in?",
        &format!(
            "{error}<form method=\"post\" action=\"{base}/signin/next\">\
             <input type=\"hidden\" name=\"state\" value=\"{}\">{fields}</form>",
            escape(challenge.state())
        ),
    )
}

/// The passkey step: its button asks the browser for a passkey with Cognito's request options
/// and posts the signed answer. (A button, not on load: some browsers ask WebAuthn only after
/// a user's gesture.)
fn passkey_sign_in(
    base: &str,
    challenge: &Challenge,
    request_options: &str,
    error: &str,
) -> Html<String> {
    page(
        "Sign in with your passkey",
        &format!(
            "{error}<p id=\"webauthn-error\" hidden></p>\
             <form id=\"webauthn\" method=\"post\" action=\"{base}/signin/next\" \
             data-options=\"{}\" data-ceremony=\"get\">\
             <input type=\"hidden\" name=\"state\" value=\"{}\">\
             <input type=\"hidden\" name=\"credential\">\
             <button type=\"button\" id=\"use-passkey\">Use your passkey</button></form>{WEBAUTHN_SCRIPT}",
            escape(request_options),
            escape(challenge.state())
        ),
    )
}

/// The WebAuthn part of a page, and the only script of this app: the button of the form
/// `#webauthn` hands the form's `data-options` (Cognito's options JSON) to the browser
/// (`navigator.credentials.get` to sign in, `create` to add a passkey, as `data-ceremony`
/// says), puts the answer in the form's `credential` field and submits the form.
const WEBAUTHN_SCRIPT: &str = "<script>\
(() => {\
  const form = document.getElementById('webauthn');\
  const shown = document.getElementById('webauthn-error');\
  form.querySelector('button').addEventListener('click', async () => {\
    try {\
      const options = JSON.parse(form.dataset.options);\
      const credential = form.dataset.ceremony === 'create'\
        ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })\
        : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });\
      form.elements.credential.value = JSON.stringify(credential.toJSON());\
      form.submit();\
    } catch (e) {\
      shown.textContent = 'The passkey did not answer (' + e.name + '). Try again, or go back and choose another way.';\
      shown.hidden = false;\
    }\
  });\
})();\
</script>";

#[derive(Deserialize)]
struct NewAccount {
    username: String,
    email: String,
    password: String,
}

/// A code form's fields: the sealed step, the code, a new password (reset), or a resend.
#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    state: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    resend: Option<String>,
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[derive(Deserialize)]
struct Username {
    username: String,
}

async fn signup_form(base: Base) -> Html<String> {
    signup_page(&base.0, None)
}

fn signup_page(base: &str, error: Option<&str>) -> Html<String> {
    page(
        "Create an account",
        &format!(
            "{}<form method=\"post\" action=\"{base}/signup\">\
             <label>Username <input name=\"username\" autocomplete=\"username\"></label>\
             <label>Email <input name=\"email\" type=\"email\" autocomplete=\"email\"></label>\
             <label>Password <input name=\"password\" type=\"password\" autocomplete=\"new-password\"></label>\
             <button id=\"signup\">Create account</button></form>\
             <p>Signed up but lost the code? <a href=\"{base}/signup/resume\">Confirm your account</a></p>",
            error_line(error)
        ),
    )
}

async fn resume_form(base: Base) -> Html<String> {
    resume_page(&base.0, None)
}

fn resume_page(base: &str, error: Option<&str>) -> Html<String> {
    page(
        "Confirm your account",
        &format!(
            "{}<form method=\"post\" action=\"{base}/signup/resume\">\
             <label>Username <input name=\"username\" autocomplete=\"username\"></label>\
             <button id=\"resume\">Send me a new code</button></form>",
            error_line(error)
        ),
    )
}

/// A sign-up whose code step was lost: a new code and a fresh step, the same for any username.
async fn resume(Bounded(sessions): Bounded, base: Base, Form(form): Form<Username>) -> Response {
    match sessions.accounts().resume_sign_up(&form.username).await {
        Ok(sent) => code_page(&base.0, &sent, "/signup/confirm", None),
        Err(error) => refused(error.status(), &error, |text| resume_page(&base.0, text)),
    }
}

async fn signup(Bounded(sessions): Bounded, base: Base, Form(form): Form<NewAccount>) -> Response {
    let accounts = sessions.accounts();
    // Only the attributes this app collects, by name; the library checks them against
    // SIGN_UP_ATTRIBUTES too.
    let attributes = [("email", form.email.as_str())];
    match accounts
        .sign_up(&form.username, &form.password, &attributes)
        .await
    {
        Ok(SignUp::CodeSent(sent)) => code_page(&base.0, &sent, "/signup/confirm", None),
        Ok(_) => (
            [(SET_COOKIE, accounts.clear_cookie())],
            password_form(&base.0, Some("Your account is ready: sign in.")),
        )
            .into_response(),
        Err(error) => refused(error.status(), &error, |text| signup_page(&base.0, text)),
    }
}

async fn signup_confirm(
    Bounded(sessions): Bounded,
    base: Base,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let base = &base.0;
    let accounts = sessions.accounts();
    let sent = match accounts.open_sign_up(&headers, &form.state).await {
        Ok(sent) => sent,
        Err(error) => return signup_failed(&accounts, base, &error),
    };
    if form.resend.is_some() {
        return match accounts.resend_code(&sent).await {
            Ok(again) => code_page(base, &again, "/signup/confirm", Some("We sent a new code.")),
            Err(error) => code_page(
                base,
                &sent,
                "/signup/confirm",
                Some(&shown(error.status(), &error)),
            ),
        };
    }
    match accounts.confirm_sign_up(&sent, &form.code).await {
        Ok(Confirmed::SignedIn(step)) => {
            let mut response = next_step(&sessions, base, Ok(step), None);
            if let Ok(clear) = accounts.clear_cookie().parse() {
                response.headers_mut().append(SET_COOKIE, clear);
            }
            response
        }
        Ok(_) => (
            [(SET_COOKIE, accounts.clear_cookie())],
            password_form(base, Some("Your account is confirmed: sign in.")),
        )
            .into_response(),
        Err(error @ (SignUpError::WrongCode | SignUpError::CodeExpired)) => {
            let message = error.to_string();
            (
                status_of(error.status()),
                code_page(base, &sent, "/signup/confirm", Some(&message)),
            )
                .into_response()
        }
        Err(error) => signup_failed(&accounts, base, &error),
    }
}

/// A sign-up that cannot go on: the sign-up form again, with the reason.
fn signup_failed(accounts: &Accounts, base: &str, error: &SignUpError) -> Response {
    (
        status_of(error.status()),
        [(SET_COOKIE, accounts.clear_cookie())],
        signup_page(base, Some(&shown(error.status(), error))),
    )
        .into_response()
}

async fn forgot_form(base: Base) -> Html<String> {
    forgot_page(&base.0, None)
}

fn forgot_page(base: &str, error: Option<&str>) -> Html<String> {
    page(
        "Reset your password",
        &format!(
            "{}<form method=\"post\" action=\"{base}/forgot\">\
             <label>Username <input name=\"username\" autocomplete=\"username\"></label>\
             <button id=\"forgot\">Send me a code</button></form>",
            error_line(error)
        ),
    )
}

async fn forgot(Bounded(sessions): Bounded, base: Base, Form(form): Form<Username>) -> Response {
    match sessions.accounts().forgot_password(&form.username).await {
        Ok(sent) => code_page(&base.0, &sent, "/reset", None),
        Err(error) => refused(error.status(), &error, |text| forgot_page(&base.0, text)),
    }
}

async fn reset(
    Bounded(sessions): Bounded,
    base: Base,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let base = &base.0;
    let accounts = sessions.accounts();
    let sent = match accounts.open_reset(&headers, &form.state).await {
        Ok(sent) => sent,
        Err(error) => return reset_failed(&accounts, base, &error),
    };
    match accounts
        .reset_password(&sent, &form.code, &form.new_password)
        .await
    {
        Ok(()) => (
            [(SET_COOKIE, accounts.clear_cookie())],
            password_form(base, Some("Your password was changed: sign in.")),
        )
            .into_response(),
        Err(error @ (PasswordError::WrongCode | PasswordError::PasswordRejected(_))) => {
            let message = error.to_string();
            (
                status_of(error.status()),
                code_page(base, &sent, "/reset", Some(&message)),
            )
                .into_response()
        }
        Err(error) => reset_failed(&accounts, base, &error),
    }
}

fn reset_failed(accounts: &Accounts, base: &str, error: &PasswordError) -> Response {
    (
        status_of(error.status()),
        [(SET_COOKIE, accounts.clear_cookie())],
        forgot_page(base, Some(&shown(error.status(), error))),
    )
        .into_response()
}

/// The code form of a pending sign-up (`action` `/signup/confirm`: code, or a new code) or reset
/// (`/reset`: code and new password), carrying its sealed state; sets the binding cookie of a
/// new step.
fn code_page(base: &str, sent: &CodeSent, action: &str, note: Option<&str>) -> Response {
    let reset = action == "/reset";
    let to = sent.destination().map_or_else(
        || "If the account exists, we sent a code to its email address or phone.".to_owned(),
        |to| format!("We sent a code to {}.", escape(to)),
    );
    let fields = if reset {
        "<label>New password <input name=\"new_password\" type=\"password\" autocomplete=\"new-password\"></label>\
         <button id=\"reset\">Set the new password</button>"
    } else {
        "<button id=\"confirm\">Confirm</button> \
         <button id=\"resend\" name=\"resend\" value=\"1\">Send a new code</button>"
    };
    let mut response = page(
        if reset { "Enter the code" } else { "Confirm your account" },
        &format!(
            "{}<p id=\"sent\">{to}</p><form method=\"post\" action=\"{base}{action}\">\
             <input type=\"hidden\" name=\"state\" value=\"{}\">\
             <label>Code <input name=\"code\" autocomplete=\"one-time-code\"></label>{fields}</form>",
            error_line(note),
            escape(sent.state())
        ),
    )
    .into_response();
    if let Some(Ok(cookie)) = sent.set_cookie().map(str::parse) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

async fn password_change_form(_session: Session, base: Base) -> Html<String> {
    password_change_page(&base.0, None)
}

fn password_change_page(base: &str, note: Option<&str>) -> Html<String> {
    page(
        "Change your password",
        &format!(
            "{}<form method=\"post\" action=\"{base}/app/password\">\
             <label>Current password <input name=\"current_password\" type=\"password\" autocomplete=\"current-password\"></label>\
             <label>New password <input name=\"new_password\" type=\"password\" autocomplete=\"new-password\"></label>\
             <button id=\"change\">Change password</button></form>",
            error_line(note)
        ),
    )
}

async fn password_change(
    Bounded(sessions): Bounded,
    base: Base,
    headers: HeaderMap,
    Form(form): Form<PasswordChange>,
) -> Response {
    let changed = sessions
        .accounts()
        .change_password(&headers, &form.current_password, &form.new_password)
        .await;
    match changed {
        Ok(_) => password_change_page(&base.0, Some("Your password was changed.")).into_response(),
        Err(error) => refused(error.status(), &error, |text| {
            password_change_page(&base.0, text)
        }),
    }
}

/// The credential a browser created (`JSON.stringify(credential.toJSON())`).
#[derive(Deserialize)]
struct NewPasskey {
    #[serde(default)]
    credential: String,
}

/// The passkey to remove, by its credential id.
#[derive(Deserialize)]
struct PasskeyId {
    id: String,
}

async fn passkeys(Bounded(sessions): Bounded, base: Base, headers: HeaderMap) -> Response {
    passkeys_page(&sessions, &base.0, &headers, StatusCode::OK, None).await
}

/// The list of the user's passkeys (name, when added, a remove button each) and the button
/// that adds one; `note` above it, the page answered with `status`.
async fn passkeys_page(
    sessions: &Sessions,
    base: &str,
    headers: &HeaderMap,
    status: StatusCode,
    note: Option<&str>,
) -> Response {
    let list = match sessions.accounts().list_passkeys(headers).await {
        Ok(list) if list.is_empty() => "<p id=\"no-passkeys\">No passkeys yet.</p>".to_owned(),
        Ok(list) => {
            let items: String = list
                .iter()
                .map(|passkey| {
                    let days = passkey.created_at().elapsed().unwrap_or_default().as_secs() / 86_400;
                    let added = match days {
                        0 => "today".to_owned(),
                        1 => "yesterday".to_owned(),
                        n => format!("{n} days ago"),
                    };
                    format!(
                        "<li><span class=\"passkey-name\">{}</span>, added {added} \
                         <form method=\"post\" action=\"{base}/app/passkeys/remove\" style=\"display:inline\">\
                         <input type=\"hidden\" name=\"id\" value=\"{}\">\
                         <button class=\"remove-passkey\">Remove</button></form></li>",
                        escape(passkey.name().unwrap_or("Passkey")),
                        escape(passkey.id())
                    )
                })
                .collect();
            format!("<ul id=\"passkeys\">{items}</ul>")
        }
        Err(error) => {
            let status = status_of(error.status());
            let body = format!(
                "{}<p><a href=\"{base}/app\">Your page</a></p>",
                error_line(Some(&shown(error.status(), &error)))
            );
            return (status, page("Your passkeys", &body)).into_response();
        }
    };
    let body = format!(
        "{}{list}<form method=\"post\" action=\"{base}/app/passkeys/new\">\
         <button id=\"add-passkey\">Add a passkey</button></form>\
         <p><a href=\"{base}/app\">Your page</a></p>",
        error_line(note)
    );
    (status, page("Your passkeys", &body)).into_response()
}

async fn passkey_new(Bounded(sessions): Bounded, base: Base, headers: HeaderMap) -> Response {
    let base = &base.0;
    match sessions.accounts().start_passkey_registration(&headers).await {
        Ok(options) => page(
            "Add a passkey",
            &format!(
                "<p>Your browser or device keeps the passkey; it signs you in without a password.</p>\
                 <p id=\"webauthn-error\" hidden></p>\
                 <form id=\"webauthn\" method=\"post\" action=\"{base}/app/passkeys/add\" \
                 data-options=\"{}\" data-ceremony=\"create\">\
                 <input type=\"hidden\" name=\"credential\">\
                 <button type=\"button\" id=\"create-passkey\">Create the passkey</button></form>\
                 <p><a href=\"{base}/app/passkeys\">Cancel</a></p>{WEBAUTHN_SCRIPT}",
                escape(&options)
            ),
        )
        .into_response(),
        Err(error) => {
            let message = shown(error.status(), &error);
            passkeys_page(&sessions, base, &headers, status_of(error.status()), Some(&message)).await
        }
    }
}

async fn passkey_add(
    Bounded(sessions): Bounded,
    base: Base,
    headers: HeaderMap,
    Form(form): Form<NewPasskey>,
) -> Response {
    let added = sessions
        .accounts()
        .complete_passkey_registration(&headers, &form.credential)
        .await;
    let (status, note) = match added {
        Ok(()) => (StatusCode::OK, "Passkey added.".to_owned()),
        Err(error) => (status_of(error.status()), shown(error.status(), &error)),
    };
    passkeys_page(&sessions, &base.0, &headers, status, Some(&note)).await
}

async fn passkey_remove(
    Bounded(sessions): Bounded,
    base: Base,
    headers: HeaderMap,
    Form(form): Form<PasskeyId>,
) -> Response {
    let removed = sessions.accounts().delete_passkey(&headers, &form.id).await;
    let (status, note) = match removed {
        Ok(()) => (StatusCode::OK, "Passkey removed.".to_owned()),
        Err(error) => (status_of(error.status()), shown(error.status(), &error)),
    };
    passkeys_page(&sessions, &base.0, &headers, status, Some(&note)).await
}

/// What a visitor is told of a refusal: its text, except a 5xx's, which is the operator's (the
/// library logged it).
fn shown(status: u16, error: &impl std::fmt::Display) -> String {
    if status >= 500 {
        "This is not available right now; try again in a moment.".to_owned()
    } else {
        error.to_string()
    }
}

/// A refusal answered with `page` showing it (see `shown`), with the error's status.
fn refused(
    status: u16,
    error: &impl std::fmt::Display,
    page: impl FnOnce(Option<&str>) -> Html<String>,
) -> Response {
    (status_of(status), page(Some(&shown(status, error)))).into_response()
}

fn status_of(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn error_line(error: Option<&str>) -> String {
    error
        .map(|e| format!("<p id=\"error\">{}</p>", escape(e)))
        .unwrap_or_default()
}

async fn home(
    State(sessions): State<Sessions>,
    session: Option<Session>,
    base: Base,
) -> Html<String> {
    let base = &base.0;
    // Only the ways to sign in that are configured.
    let managed = if sessions.has_managed_login() {
        format!("<a id=\"login\" href=\"{base}/login?return_to={base}/app\">Log in</a> or ")
    } else {
        String::new()
    };
    let body = match &session {
        Some(session) => format!(
            "<p id=\"user\">Signed in as {}</p>\
             <p><a href=\"{base}/app\">Your page</a></p>\
             <form method=\"post\" action=\"{base}/logout\"><button id=\"logout\">Log out</button></form>",
            escape(display_name(session))
        ),
        None => format!(
            "<p id=\"user\">Not signed in</p>\
             <p>{managed}<a id=\"signin\" href=\"{base}/signin\">sign in here</a> (password, passkey or emailed code)</p>\
             <p><a id=\"signup\" href=\"{base}/signup\">Create an account</a> \
             · <a id=\"forgot\" href=\"{base}/forgot\">Forgot your password?</a></p>"
        ),
    };
    page("Home", &body)
}

async fn protected_page(session: Session, base: Base) -> Html<String> {
    let base = &base.0;
    let profile = session.profile();
    let body = format!(
        "<p id=\"user\">Signed in as {}</p>\
         <p id=\"verified\">email verified: {}</p>\
         <p><a href=\"{base}/\">Home</a> · <a id=\"password\" href=\"{base}/app/password\">Change password</a> · <a id=\"passkeys-link\" href=\"{base}/app/passkeys\">Passkeys</a></p>\
         <form method=\"post\" action=\"{base}/logout\"><button id=\"logout\">Log out</button></form>",
        escape(display_name(&session)),
        profile
            .and_then(|p| p.email_verified())
            .map_or("unknown", |v| if v { "yes" } else { "no" }),
    );
    page("Your page", &body)
}

async fn me(session: Session) -> Json<serde_json::Value> {
    Json(json!({
        "sub": session.sub(),
        "username": session.username(),
        "email": session.profile().and_then(|p| p.email()),
        "groups": session.claims().groups(),
    }))
}

/// The email from the profile, else Cognito's username.
fn display_name(session: &Session) -> &str {
    session
        .profile()
        .and_then(|p| p.email())
        .unwrap_or(session.username())
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>{body}</body></html>"
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let Ok(sessions) = Sessions::from_env().await.inspect_err(|error| {
        lambda_runtime::tracing::error!(%error, "cannot start");
    }) else {
        std::process::exit(1);
    };
    let app = app(sessions);
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        return lambda_http::run(app).await;
    }
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse()?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
