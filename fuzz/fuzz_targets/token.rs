//! The whole verification pipeline on arbitrary tokens, with moto's public key preloaded: no
//! input may panic, and only a correctly signed token for this pool and client may pass.
#![no_main]

use std::sync::OnceLock;

use cognito_session::{SessionValidation, Sessions};
use libfuzzer_sys::fuzz_target;

/// moto's Cognito signing key (public part), so seed tokens minted with moto's key verify.
const JWKS: &str = include_str!("../moto-jwks.json");

fn sessions() -> &'static (tokio::runtime::Runtime, Sessions) {
    static SESSIONS: OnceLock<(tokio::runtime::Runtime, Sessions)> = OnceLock::new();
    SESSIONS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let cognito = aws_sdk_cognitoidentityprovider::Client::from_conf(
            aws_sdk_cognitoidentityprovider::Config::builder()
                .behavior_version_latest()
                .region(aws_sdk_cognitoidentityprovider::config::Region::new("us-east-1"))
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        let sessions = runtime
            .block_on(
                Sessions::builder()
                    .client_id("fuzzclient")
                    .user_pool_id("us-east-1_Fuzz")
                    .jwks(JWKS)
                    .jwks_url("http://127.0.0.1:9/jwks.json")
                    .jwks_refetch_interval(std::time::Duration::from_secs(3600))
                    .validation(SessionValidation::Token)
                    .store(cognito_session::store::MemoryStore::default())
                    // The seed tokens were issued at 1700000000 and live an hour.
                    .clock(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_100))
                    .cognito_client(cognito)
                    .build(),
            )
            .unwrap();
        (runtime, sessions)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let (runtime, sessions) = sessions();
    if let Ok(session) = runtime.block_on(sessions.session_for_token(token)) {
        // Only a verified token gets here: it must carry our pool and client.
        assert_eq!(session.claims().issuer(), "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Fuzz");
        assert_eq!(session.claims().client_id(), "fuzzclient");
    }
});
