//! The account fake ([`testkit::FakeAccounts`]) in front of a moto that is already running, for
//! `cognito-session dev --app`: choice-based sign-in (email and SMS codes, passkeys for the
//! app's origin), sign-up codes and password-reset codes as Cognito answers them, everything
//! else forwarded to moto.
//!
//! ```text
//! account-fake --moto URL --pool POOL_ID --client CLIENT_ID [--secret SECRET] --origin http://localhost:3000
//! ```
//!
//! Prints one JSON line when ready, `{"url": "http://127.0.0.1:<port>"}` (the endpoint to use
//! instead of moto's), then each delivered code on stderr as a user would find it in their
//! inbox, and exits when its standard input closes.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use testkit::{FakeAccounts, Proxy};

fn main() {
    let mut flags: HashMap<String, String> = HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(name) = flag.strip_prefix("--") else {
            usage(&format!("unexpected argument {flag:?}"));
        };
        let Some(value) = args.next() else {
            usage(&format!("--{name} needs a value"));
        };
        flags.insert(name.to_owned(), value);
    }
    let get = |name: &str| {
        flags
            .get(name)
            .cloned()
            .unwrap_or_else(|| usage(&format!("--{name} is required")))
    };
    let (moto, pool, client, origin) = (get("moto"), get("pool"), get("client"), get("origin"));
    let rp_id =
        url_host(&origin).unwrap_or_else(|| usage("--origin must be http(s)://host[:port]"));
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let fake = Arc::new(
            FakeAccounts::for_client(
                &moto,
                &pool,
                &client,
                flags.get("secret").map(String::as_str),
            )
            .passkeys(&rp_id, &origin),
        );
        let proxy = Proxy::with_fake(&moto, fake.clone()).await;
        println!("{}", serde_json::json!({ "url": proxy.url }));
        let closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        });
        tokio::pin!(closed);
        let mut shown = 0;
        loop {
            tokio::select! {
                _ = &mut closed => return,
                () = tokio::time::sleep(Duration::from_millis(250)) => {
                    let outbox = fake.outbox();
                    for delivery in outbox.iter().skip(shown) {
                        eprintln!(
                            "dev: {} code for {} (sent to {}): {}",
                            delivery.purpose, delivery.username, delivery.to, delivery.code
                        );
                    }
                    shown = outbox.len();
                }
            }
        }
    });
}

/// The host of `origin` (`http://localhost:3000` → `localhost`): the relying party ID.
fn url_host(origin: &str) -> Option<String> {
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))?;
    let host = rest.split(['/', ':']).next()?;
    (!host.is_empty()).then(|| host.to_owned())
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "account-fake: {problem}\nusage: account-fake --moto URL --pool POOL_ID --client CLIENT_ID \
         [--secret SECRET] --origin http://localhost:3000"
    );
    std::process::exit(2)
}
