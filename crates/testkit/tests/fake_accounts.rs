//! The account fake driven by the official AWS SDK (so its answers parse as Cognito's do):
//! sign-up with a real code and sign-in after sign-up, password reset, choice-based sign-in
//! with an email code, and a passkey registered and used by a software authenticator, with the
//! refusals Cognito sends.

use std::sync::Arc;

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, ChallengeNameType};
use aws_sdk_cognitoidentityprovider::Client;
use testkit::{FakeAccounts, Pool, PoolOptions, Proxy, SoftAuthenticator, PASSWORD};

const ORIGIN: &str = "http://localhost:3000";

struct World {
    pool: Pool,
    fake: Arc<FakeAccounts>,
    cognito: Client,
}

async fn world() -> World {
    let pool = Pool::new(PoolOptions::default()).await;
    let fake = Arc::new(FakeAccounts::new(&pool).passkeys("localhost", ORIGIN));
    let proxy = Proxy::with_fake(&pool.moto.url, fake.clone()).await;
    let cognito = Client::new(&testkit::sdk_config(&proxy.url).await);
    World {
        pool,
        fake,
        cognito,
    }
}

fn code(error: &impl aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata) -> String {
    format!(
        "{}: {}",
        error.code().unwrap_or_default(),
        error.message().unwrap_or_default()
    )
}

fn email(value: &str) -> AttributeType {
    AttributeType::builder()
        .name("email")
        .value(value)
        .build()
        .unwrap()
}

#[tokio::test]
async fn sign_up_confirms_with_the_delivered_code_and_signs_in_without_the_password() {
    let w = world().await;
    let client = &w.pool.client_id;
    let signed_up = w
        .cognito
        .sign_up()
        .client_id(client)
        .username("ada")
        .password(PASSWORD)
        .user_attributes(email("ada@example.com"))
        .send()
        .await
        .unwrap();
    assert!(!signed_up.user_confirmed());
    let delivery = signed_up.code_delivery_details().unwrap();
    assert_eq!(delivery.destination(), Some("a***@e***"));
    let code = w.fake.code_for("ada").unwrap();
    let taken = w
        .cognito
        .sign_up()
        .client_id(client)
        .username("ada")
        .password(PASSWORD)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&taken),
        "UsernameExistsException: User already exists"
    );
    // A wrong code, then the right one with the sign-up's session.
    let wrong = w
        .cognito
        .confirm_sign_up()
        .client_id(client)
        .username("ada")
        .confirmation_code("000000")
        .send()
        .await
        .unwrap_err();
    assert!(
        code_of(&wrong).starts_with("CodeMismatchException"),
        "{wrong:?}"
    );
    let confirmed = w
        .cognito
        .confirm_sign_up()
        .client_id(client)
        .username("ada")
        .confirmation_code(&code)
        .set_session(signed_up.session().map(str::to_owned))
        .send()
        .await
        .unwrap();
    let session = confirmed.session().expect("a session to sign in with");
    // The code was single-use.
    let again = w
        .cognito
        .confirm_sign_up()
        .client_id(client)
        .username("ada")
        .confirmation_code(&code)
        .send()
        .await
        .unwrap_err();
    assert!(
        code_of(&again).starts_with("NotAuthorizedException"),
        "{again:?}"
    );
    let tokens = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "ada")
        .session(session)
        .send()
        .await
        .unwrap();
    let result = tokens.authentication_result().expect("tokens");
    assert!(result.refresh_token().is_some());
    // ...once only.
    let replay = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "ada")
        .session(session)
        .send()
        .await
        .unwrap_err();
    assert!(
        code_of(&replay).starts_with("NotAuthorizedException"),
        "{replay:?}"
    );
}

/// "code: message" of an SDK error.
fn code_of<E>(error: &aws_sdk_cognitoidentityprovider::error::SdkError<E>) -> String
where
    E: aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => code(service),
        None => format!("{error:?}"),
    }
}

#[tokio::test]
async fn an_email_code_signs_in_once_and_a_wrong_one_three_times_ends_the_session() {
    let w = world().await;
    w.pool.user("bea").await;
    w.pool
        .set_attributes("bea", &[("email", "bea@example.com")])
        .await;
    let client = &w.pool.client_id;
    let start = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "bea")
        .send()
        .await
        .unwrap();
    assert_eq!(
        start.challenge_name(),
        Some(&ChallengeNameType::SelectChallenge)
    );
    let available: Vec<&str> = start
        .available_challenges()
        .iter()
        .map(ChallengeNameType::as_str)
        .collect();
    assert!(available.contains(&"EMAIL_OTP") && !available.contains(&"WEB_AUTHN"));
    let chosen = w
        .cognito
        .respond_to_auth_challenge()
        .client_id(client)
        .challenge_name(ChallengeNameType::SelectChallenge)
        .session(start.session().unwrap())
        .challenge_responses("USERNAME", "bea")
        .challenge_responses("ANSWER", "EMAIL_OTP")
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.challenge_name(), Some(&ChallengeNameType::EmailOtp));
    assert_eq!(
        chosen.challenge_parameters().unwrap()["CODE_DELIVERY_DESTINATION"],
        "b***@e***"
    );
    let answer = |code: String, session: String, user: &'static str| {
        w.cognito
            .respond_to_auth_challenge()
            .client_id(client)
            .challenge_name(ChallengeNameType::EmailOtp)
            .session(session)
            .challenge_responses("USERNAME", user)
            .challenge_responses("EMAIL_OTP_CODE", code)
            .send()
    };
    let session = chosen.session().unwrap().to_owned();
    // Bound to its user: another name does not answer it (and spends it).
    let other = answer("123456".into(), session.clone(), "someone-else")
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&other),
        "NotAuthorizedException: Invalid session for the user."
    );
    let again = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "bea")
        .auth_parameters("PREFERRED_CHALLENGE", "EMAIL_OTP")
        .send()
        .await
        .unwrap();
    let session = again.session().unwrap().to_owned();
    let code = w.fake.code_for("bea").unwrap();
    for _ in 0..2 {
        let wrong = answer("999999x".into(), session.clone(), "bea")
            .await
            .unwrap_err();
        assert!(code_of(&wrong).starts_with("CodeMismatchException"));
    }
    let third = answer("999999x".into(), session.clone(), "bea")
        .await
        .unwrap_err();
    assert!(
        code_of(&third).starts_with("NotAuthorizedException"),
        "{third:?}"
    );
    let dead = answer(code, session, "bea").await.unwrap_err();
    assert!(code_of(&dead).starts_with("NotAuthorizedException"));
    // A fresh one works, once.
    let fresh = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "bea")
        .auth_parameters("PREFERRED_CHALLENGE", "EMAIL_OTP")
        .send()
        .await
        .unwrap();
    let code = w.fake.code_for("bea").unwrap();
    let session = fresh.session().unwrap().to_owned();
    let done = answer(code.clone(), session.clone(), "bea").await.unwrap();
    assert!(done.authentication_result().is_some());
    let replay = answer(code, session, "bea").await.unwrap_err();
    assert_eq!(
        code_of(&replay),
        "NotAuthorizedException: Invalid session for the user."
    );
}

#[tokio::test]
async fn a_passkey_registers_signs_in_and_is_refused_once_removed() {
    let w = world().await;
    let sub = w.pool.user("cleo").await;
    let client = &w.pool.client_id;
    let login = w.pool.login("cleo").await;
    let access = login.access_token().unwrap();
    let options = w
        .cognito
        .start_web_authn_registration()
        .access_token(access)
        .send()
        .await
        .unwrap();
    let options = document_json(options.credential_creation_options());
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    // A phishing page's registration is refused for its origin.
    let mut phished = SoftAuthenticator::new("http://localhost:4000");
    let foreign = phished.register(&options).await.unwrap();
    let refused = w
        .cognito
        .complete_web_authn_registration()
        .access_token(access)
        .credential(json_document(&foreign))
        .send()
        .await
        .unwrap_err();
    assert!(
        code_of(&refused).starts_with("WebAuthnOriginNotAllowedException"),
        "{refused:?}"
    );
    // (The refusal spent the challenge, as a completed registration would.)
    let options = w
        .cognito
        .start_web_authn_registration()
        .access_token(access)
        .send()
        .await
        .unwrap();
    let created = authenticator
        .register(&document_json(options.credential_creation_options()))
        .await
        .unwrap();
    w.cognito
        .complete_web_authn_registration()
        .access_token(access)
        .credential(json_document(&created))
        .send()
        .await
        .unwrap();
    let listed = w
        .cognito
        .list_web_authn_credentials()
        .access_token(access)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.credentials().len(), 1);
    assert_eq!(listed.credentials()[0].relying_party_id(), "localhost");
    assert_eq!(w.fake.passkey_ids(&sub).len(), 1);

    // Sign in with it.
    let start = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "cleo")
        .auth_parameters("PREFERRED_CHALLENGE", "WEB_AUTHN")
        .send()
        .await
        .unwrap();
    assert_eq!(start.challenge_name(), Some(&ChallengeNameType::WebAuthn));
    let request = start.challenge_parameters().unwrap()["CREDENTIAL_REQUEST_OPTIONS"].clone();
    let assertion = authenticator.sign_in(&request).await.unwrap();
    let done = w
        .cognito
        .respond_to_auth_challenge()
        .client_id(client)
        .challenge_name(ChallengeNameType::WebAuthn)
        .session(start.session().unwrap())
        .challenge_responses("USERNAME", "cleo")
        .challenge_responses("CREDENTIAL", &assertion)
        .send()
        .await
        .unwrap();
    assert!(done.authentication_result().is_some());

    // Removed: no longer offered, and an assertion made before is refused.
    let start = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "cleo")
        .auth_parameters("PREFERRED_CHALLENGE", "WEB_AUTHN")
        .send()
        .await
        .unwrap();
    let request = start.challenge_parameters().unwrap()["CREDENTIAL_REQUEST_OPTIONS"].clone();
    let assertion = authenticator.sign_in(&request).await.unwrap();
    let id = listed.credentials()[0].credential_id();
    w.cognito
        .delete_web_authn_credential()
        .access_token(access)
        .credential_id(id)
        .send()
        .await
        .unwrap();
    let refused = w
        .cognito
        .respond_to_auth_challenge()
        .client_id(client)
        .challenge_name(ChallengeNameType::WebAuthn)
        .session(start.session().unwrap())
        .challenge_responses("USERNAME", "cleo")
        .challenge_responses("CREDENTIAL", &assertion)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&refused),
        "NotAuthorizedException: Incorrect username or password."
    );
    let offered = w
        .cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserAuth)
        .auth_parameters("USERNAME", "cleo")
        .auth_parameters("PREFERRED_CHALLENGE", "WEB_AUTHN")
        .send()
        .await
        .unwrap();
    assert_eq!(
        offered.challenge_name(),
        Some(&ChallengeNameType::SelectChallenge)
    );
}

#[tokio::test]
async fn a_reset_code_sets_the_password_and_unknown_users_look_alike() {
    let w = world().await;
    w.pool.user("dan").await;
    w.pool
        .set_attributes("dan", &[("email", "dan@example.com")])
        .await;
    let client = &w.pool.client_id;
    let known = w
        .cognito
        .forgot_password()
        .client_id(client)
        .username("dan")
        .send()
        .await
        .unwrap();
    let unknown = w
        .cognito
        .forgot_password()
        .client_id(client)
        .username("nobody")
        .send()
        .await
        .unwrap();
    assert!(known.code_delivery_details().is_some() && unknown.code_delivery_details().is_some());
    let code = w.fake.code_for("dan").unwrap();
    let weak = w
        .cognito
        .confirm_forgot_password()
        .client_id(client)
        .username("dan")
        .confirmation_code(&code)
        .password("weak")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code_of(&weak),
        "InvalidPasswordException: Password does not conform to policy: Password not long enough"
    );
    w.cognito
        .confirm_forgot_password()
        .client_id(client)
        .username("dan")
        .confirmation_code(&code)
        .password("Brand-new-horse-2!")
        .send()
        .await
        .unwrap();
    let nobody = w
        .cognito
        .confirm_forgot_password()
        .client_id(client)
        .username("nobody")
        .confirmation_code("123456")
        .password("Brand-new-horse-2!")
        .send()
        .await
        .unwrap_err();
    assert!(code_of(&nobody).starts_with("CodeMismatchException"));
    // moto holds the new password.
    w.cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", "dan")
        .auth_parameters("PASSWORD", "Brand-new-horse-2!")
        .send()
        .await
        .unwrap();
}

fn document_json(document: &aws_smithy_types::Document) -> String {
    serde_json::to_string(&to_value(document)).unwrap()
}

fn to_value(document: &aws_smithy_types::Document) -> serde_json::Value {
    use aws_smithy_types::{Document, Number};
    match document {
        Document::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), to_value(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Document::Array(list) => list.iter().map(to_value).collect(),
        Document::Number(Number::PosInt(n)) => (*n).into(),
        Document::Number(Number::NegInt(n)) => (*n).into(),
        Document::Number(Number::Float(n)) => (*n).into(),
        Document::String(s) => s.clone().into(),
        Document::Bool(b) => (*b).into(),
        Document::Null => serde_json::Value::Null,
    }
}

fn json_document(json: &str) -> aws_smithy_types::Document {
    fn of(value: serde_json::Value) -> aws_smithy_types::Document {
        use aws_smithy_types::{Document, Number};
        match value {
            serde_json::Value::Object(map) => {
                Document::Object(map.into_iter().map(|(k, v)| (k, of(v))).collect())
            }
            serde_json::Value::Array(list) => Document::Array(list.into_iter().map(of).collect()),
            serde_json::Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Document::Number(Number::PosInt(u)),
                (_, Some(i)) => Document::Number(Number::NegInt(i)),
                _ => Document::Number(Number::Float(n.as_f64().unwrap_or_default())),
            },
            serde_json::Value::String(s) => Document::String(s),
            serde_json::Value::Bool(b) => Document::Bool(b),
            serde_json::Value::Null => Document::Null,
        }
    }
    of(serde_json::from_str(json).unwrap())
}
