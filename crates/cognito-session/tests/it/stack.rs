//! The futures an app awaits stay small: a login callback once was a 73 KB future in a debug
//! build, and a test awaiting a few of them overflowed its thread's 2 MB stack (tokio's worker
//! threads have the same). The heavy work sits behind one allocation per call instead.

/// Far above what the entry points need now, far below what overflowed.
const LIMIT: usize = 4096;

#[tokio::test]
async fn every_entry_point_is_a_small_future() {
    let s = crate::setup().await;
    let request = http::Request::builder()
        .uri("/callback?code=c&state=s")
        .body(String::new())
        .unwrap();
    let accounts = s.sessions.accounts();
    let sizes = [
        (
            "session",
            std::mem::size_of_val(&s.sessions.session("token", &request)),
        ),
        (
            "callback",
            std::mem::size_of_val(&s.sessions.callback(&request)),
        ),
        (
            "finish_login",
            std::mem::size_of_val(&s.sessions.finish_login(&request)),
        ),
        (
            "logout",
            std::mem::size_of_val(&s.sessions.logout(&request)),
        ),
        (
            "sign_in",
            std::mem::size_of_val(&s.sessions.sign_in("a", "b")),
        ),
        (
            "begin_login",
            std::mem::size_of_val(&s.sessions.begin_login(None)),
        ),
        (
            "end",
            std::mem::size_of_val(&s.sessions.end("token", &request)),
        ),
        (
            "sign_in_choice",
            std::mem::size_of_val(&s.sessions.sign_in_choice("a", None)),
        ),
        (
            "sign_up",
            std::mem::size_of_val(&accounts.sign_up("a", "b", &[])),
        ),
        (
            "resume_sign_up",
            std::mem::size_of_val(&accounts.resume_sign_up("a")),
        ),
        (
            "forgot_password",
            std::mem::size_of_val(&accounts.forgot_password("a")),
        ),
        (
            "change_password",
            std::mem::size_of_val(&accounts.change_password(&request, "a", "b")),
        ),
        (
            "start_passkey_registration",
            std::mem::size_of_val(&accounts.start_passkey_registration(&request)),
        ),
        (
            "complete_passkey_registration",
            std::mem::size_of_val(&accounts.complete_passkey_registration(&request, "{}")),
        ),
        (
            "list_passkeys",
            std::mem::size_of_val(&accounts.list_passkeys(&request)),
        ),
        (
            "delete_passkey",
            std::mem::size_of_val(&accounts.delete_passkey(&request, "id")),
        ),
    ];
    let large: Vec<String> = sizes
        .iter()
        .filter(|(_, size)| *size > LIMIT)
        .map(|(name, size)| format!("{name}: a {size}-byte future"))
        .collect();
    assert!(large.is_empty(), "{large:#?}");
}
