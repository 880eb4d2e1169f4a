//! The SRP-6a math of Cognito's `USER_SRP_AUTH` (the group, `pad`, and the password claim), as
//! the AWS SDKs compute it (amazon-cognito-identity-js' `AuthenticationHelper`).
//!
//! ```text
//! N, g = 2     the 3072-bit group of RFC 5054 (RFC 3526 §4); k = H(pad(N) ‖ pad(g))
//! a            256 random bits;  A = g^a mod N, sent as SRP_A (lowercase hex)
//! B, salt      from Cognito's PASSWORD_VERIFIER challenge (SRP_B, SALT: hex)
//! u            = H(pad(A) ‖ pad(B))                     refused when B mod N = 0 or u = 0
//! x            = H(pad(salt) ‖ H(poolName ‖ userId ‖ ":" ‖ password))
//! S            = (B − k·g^x)^(a + u·x) mod N
//! key          = HKDF-SHA256(salt = pad(u), ikm = pad(S), info = "Caldera Derived Key", 16 bytes)
//! claim        = base64(HMAC-SHA256(key, poolName ‖ userId ‖ secretBlock ‖ timestamp))
//! ```
//!
//! where `H` is SHA-256, `pad` the big-endian bytes of a number with a leading zero byte when the
//! top bit is set, `poolName` the part of the pool id after `_`, `userId` the challenge's
//! `USER_ID_FOR_SRP`, `secretBlock` the base64-decoded `SECRET_BLOCK`, and `timestamp` the
//! claim's `TIMESTAMP` ([`timestamp`]). Test vectors: `scripts/srp-vectors.py`.
//!
//! The exponentiations run in constant time (crypto-bigint's Montgomery form with fixed
//! windows): `x` is derived from the password, so the time of `g^x` and of `S` must not depend
//! on it. Their cost depends only on public bounds (256 bits for `a` and `x`,
//! `max(bits(a), 512) + 1` for `a + u·x`). `g^a` and `g^x` use a table of powers of `g` built
//! once per process (fixed base: 64 multiplications instead of 256 squarings and 64
//! multiplications). The choice, against num-bigint and other settings, is measured in
//! BENCHMARKS.md (`cargo bench -p cognito-session --bench srp`).

use std::sync::OnceLock;
use std::time::SystemTime;

use aws_lc_rs::digest::{Context, SHA256};
use aws_lc_rs::{hkdf, hmac};
use aws_sdk_cognitoidentityprovider::primitives::{DateTime, DateTimeFormat};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use crypto_bigint::ctutils::{CtAssign, CtEq};
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, Uint, U256, U3072, U6144};

/// The 3072-bit prime of RFC 5054 (= RFC 3526 group 15), Cognito's SRP group; the generator is 2.
const N_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD",
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F",
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510",
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C",
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// The group's numbers: 3072 bits.
type Number = U3072;

/// The group's prime `N` (checked odd when compiling) and its Montgomery parameters, computed
/// when compiling too.
const N: Odd<Number> = Odd::<Number>::from_be_hex(N_HEX);
static GROUP: FixedMontyParams<{ Number::LIMBS }> = FixedMontyParams::new_vartime(N);

/// Bits of the secret `a`: 256, twice the group's 128-bit security, as RFC 5054 §2.5.4 asks
/// ("at least 256 bits"). The SDKs draw 1024; a shorter exponent is this side's choice alone
/// (Cognito sees only `A`) and halves the work.
const SECRET_BITS: u32 = 256;

type Residue = FixedMontyForm<{ Number::LIMBS }>;

/// `g^exponent mod N` for an exponent of at most `bits` bits, in time that depends on `bits`
/// only, never on the exponent's value (crypto-bigint's fixed-window exponentiation, with
/// almost-Montgomery multiplication).
fn g_pow(exponent: &Number, bits: u32) -> Residue {
    FixedMontyForm::new(&Number::from_u8(2), &GROUP).pow_amm_bounded_exp(exponent, bits)
}

/// `g^(d·16^i)` (Montgomery form) for every 4-bit digit `d` of every position `i` of a 256-bit
/// exponent: 64 × 16 numbers, 384 KiB, computed once per process, at its first sign-in (960
/// multiplications, about one sign-in's work).
fn g_table() -> &'static [[Number; 16]] {
    static TABLE: OnceLock<Vec<[Number; 16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![[Number::ZERO; 16]; 64];
        // g^(16^i) for the row being filled.
        let mut base = FixedMontyForm::new(&Number::from_u8(2), &GROUP);
        for row in &mut table {
            let mut power = FixedMontyForm::one(&GROUP);
            for entry in row.iter_mut() {
                *entry = power.to_montgomery();
                power *= base;
            }
            base = power;
        }
        table
    })
}

/// `g^exponent mod N` for a 256-bit exponent (big-endian bytes) from [`g_table`]: one
/// multiplication per 4-bit digit and no squaring. Each digit's factor is picked by reading all
/// 16 of its row and keeping one in constant time, so neither the time nor the memory accessed
/// depends on the exponent.
fn g_pow_256(exponent: &[u8; 32]) -> Residue {
    let mut result = FixedMontyForm::one(&GROUP);
    for (i, row) in g_table().iter().enumerate() {
        let byte = exponent[31 - i / 2];
        let digit = if i % 2 == 0 { byte & 0x0f } else { byte >> 4 };
        let mut factor = Number::ZERO;
        for (d, entry) in (0u8..).zip(row) {
            factor.ct_assign(entry, d.ct_eq(&digit));
        }
        result *= FixedMontyForm::from_montgomery(factor, &GROUP);
    }
    result
}

/// A number's big-endian bytes without leading zero bytes (zero is one zero byte).
fn minimal(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

/// Big-endian bytes of a number, with a leading zero byte when the top bit is set (the SDKs'
/// `padHex`).
pub(crate) fn pad(bytes: &[u8]) -> Vec<u8> {
    let bytes = minimal(bytes);
    let mut out = Vec::with_capacity(bytes.len() + 1);
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        out.push(0);
    }
    out.extend_from_slice(bytes);
    out
}

/// The bytes of `number`, big-endian, 384 of them.
fn bytes_of<const LIMBS: usize>(number: &Uint<LIMBS>) -> Vec<u8> {
    number.to_be_bytes().as_slice().to_vec()
}

/// `bytes` (big-endian, any length up to `LIMBS` words) as a number.
fn number<const LIMBS: usize>(bytes: &[u8]) -> Option<Uint<LIMBS>> {
    let bytes = minimal(bytes);
    let size = Uint::<LIMBS>::BYTES;
    let mut buffer = vec![0u8; size];
    buffer
        .get_mut(size.checked_sub(bytes.len())?..)?
        .copy_from_slice(bytes);
    Some(Uint::from_be_slice(&buffer))
}

/// Hexadecimal (either case, odd length allowed) as big-endian bytes.
fn from_hex(hex: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex
        .bytes()
        .map(|c| (c as char).to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()?;
    if digits.is_empty() {
        return None;
    }
    let odd = digits.len() % 2;
    let mut out = Vec::with_capacity(digits.len() / 2 + 1);
    if odd == 1 {
        out.push(digits[0]);
    }
    out.extend(digits[odd..].chunks(2).map(|pair| pair[0] << 4 | pair[1]));
    Some(out)
}

/// Lowercase hexadecimal of big-endian bytes, without leading zeros (as the SDKs send `SRP_A`).
fn to_hex(bytes: &[u8]) -> String {
    let hex: String = minimal(bytes).iter().map(|b| format!("{b:02x}")).collect();
    match hex.strip_prefix('0') {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => hex,
    }
}

/// SHA-256 of the concatenated `parts`.
fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// `pad(g^x mod N)` for a 256-bit `x` (SHA-256): a password verifier (the device's).
pub(crate) fn verifier(x: &[u8; 32]) -> Vec<u8> {
    let x = number::<{ Number::LIMBS }>(x).unwrap_or(Number::ZERO);
    pad(&bytes_of(&g_pow(&x, 256).retrieve()))
}

/// Why a password claim could not be computed: Cognito's challenge is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SrpError {
    /// `SRP_B` or `SALT` is not hexadecimal, or `SECRET_BLOCK` not base64.
    #[error("the PASSWORD_VERIFIER challenge's {0} is malformed")]
    Malformed(&'static str),
    /// `B mod N = 0`: a server that knows nothing could then accept any password (RFC 5054 §2.5.4).
    #[error("the PASSWORD_VERIFIER challenge's SRP_B is 0 mod N (refused, as SRP requires)")]
    BIsZero,
    /// `u = 0`: the password would not enter the key.
    #[error("the SRP scrambling parameter u is 0 (refused, as SRP requires)")]
    UIsZero,
    /// No randomness for the secret `a`.
    #[error("no randomness for the SRP secret")]
    Random,
}

/// One sign-in's SRP secret `a` and public `A`.
pub(crate) struct Srp {
    a: Number,
    /// The bound on `a`'s bit length (public: the exponentiations' time depends on it alone).
    a_bits: u32,
    /// `A`, big-endian, 384 bytes.
    big_a: Vec<u8>,
}

/// What the challenge brings, from the client's point of view.
pub(crate) struct Challenge<'a> {
    /// The user pool id (`us-east-1_AbC`): the part after `_` is hashed.
    pub pool_id: &'a str,
    /// `USER_ID_FOR_SRP`.
    pub user_id: &'a str,
    pub password: &'a str,
    /// `SALT`, hex.
    pub salt: &'a str,
    /// `SRP_B`, hex.
    pub srp_b: &'a str,
    /// `SECRET_BLOCK`, base64.
    pub secret_block: &'a str,
    /// `TIMESTAMP`, as [`timestamp`] writes it.
    pub timestamp: &'a str,
}

/// The intermediate values (lowercase hex), for the tests' vectors.
#[derive(Debug)]
#[cfg_attr(not(test), allow(dead_code))]
struct Claim {
    u: String,
    x: String,
    s: String,
    key: [u8; 16],
    signature: String,
}

impl Srp {
    /// A fresh secret: 256 random bits (A = 0 mod N is impossible for a in [1, N), and refused
    /// all the same).
    pub(crate) fn new() -> Result<Srp, SrpError> {
        loop {
            let mut bytes = [0u8; (SECRET_BITS / 8) as usize];
            aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SrpError::Random)?;
            let secret = number(&bytes).ok_or(SrpError::Random)?;
            if let Some(srp) = Srp::with_secret(secret, SECRET_BITS) {
                return Ok(srp);
            }
        }
    }

    /// The SRP of secret `a` of at most `a_bits` bits (`None` when A = 0 mod N).
    fn with_secret(a: Number, a_bits: u32) -> Option<Srp> {
        let big_a = if a_bits <= 256 {
            let bytes = bytes_of(&a);
            let mut low = [0u8; 32];
            low.copy_from_slice(&bytes[bytes.len() - 32..]);
            g_pow_256(&low)
        } else {
            g_pow(&a, a_bits)
        }
        .retrieve();
        (!bool::from(big_a.is_zero())).then(|| Srp {
            a,
            a_bits,
            big_a: bytes_of(&big_a),
        })
    }

    /// `SRP_A`: A in lowercase hex, unpadded, as the SDKs send it.
    pub(crate) fn srp_a(&self) -> String {
        to_hex(&self.big_a)
    }

    /// `PASSWORD_CLAIM_SIGNATURE` for `challenge`.
    pub(crate) fn password_claim(&self, challenge: &Challenge<'_>) -> Result<String, SrpError> {
        self.claim(challenge).map(|claim| claim.signature)
    }

    fn claim(&self, c: &Challenge<'_>) -> Result<Claim, SrpError> {
        let b_bytes = from_hex(c.srp_b).ok_or(SrpError::Malformed("SRP_B"))?;
        let salt = from_hex(c.salt).ok_or(SrpError::Malformed("SALT"))?;
        // Decoded as the SDKs do (Node's and Python's base64 skip characters outside the
        // alphabet; moto's SECRET_BLOCK is a UUID).
        let block: String = c
            .secret_block
            .chars()
            .filter(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '+' | '/' | '='))
            .collect();
        let secret_block = STANDARD
            .decode(block)
            .map_err(|_| SrpError::Malformed("SECRET_BLOCK"))?;
        // B mod N, for a B of up to twice N's size (a server sends B < N).
        let b = number::<{ U6144::LIMBS }>(&b_bytes)
            .ok_or(SrpError::Malformed("SRP_B"))?
            .rem_vartime(N.as_nz_ref());
        if bool::from(b.is_zero()) {
            return Err(SrpError::BIsZero);
        }
        let u = hash(&[&pad(&self.big_a), &pad(&b_bytes)]);
        if u == [0u8; 32] {
            return Err(SrpError::UIsZero);
        }
        let pool_name = c
            .pool_id
            .split_once('_')
            .map_or(c.pool_id, |(_, name)| name);
        let identity = hash(&[
            pool_name.as_bytes(),
            c.user_id.as_bytes(),
            b":",
            c.password.as_bytes(),
        ]);
        let x = hash(&[&pad(&salt), &identity]);
        let k = hash(&[&pad(&bytes_of(N.as_ref())), &[2u8]]);
        let as_number =
            |bytes: &[u8; 32]| number::<{ Number::LIMBS }>(bytes).unwrap_or(Number::ZERO);
        let (u_number, x_number) = (as_number(&u), as_number(&x));
        // B − k·g^x mod N.
        let kgx = FixedMontyForm::new(&as_number(&k), &GROUP) * g_pow_256(&x);
        let base = FixedMontyForm::new(&b, &GROUP) - kgx;
        // a + u·x: at most max(a_bits, 512) + 1 bits, a bound that depends on nothing secret.
        let ux: Uint<{ 2 * U256::LIMBS }> = u_number
            .resize::<{ U256::LIMBS }>()
            .concatenating_mul(&x_number.resize::<{ U256::LIMBS }>());
        let exponent = self.a.wrapping_add(&ux.resize());
        let bits = self.a_bits.max(512) + 1;
        let s = bytes_of(&base.pow_amm_bounded_exp(&exponent, bits).retrieve());
        let mut key = [0u8; 16];
        hkdf::Salt::new(hkdf::HKDF_SHA256, &pad(&u))
            .extract(&pad(&s))
            .expand(&[b"Caldera Derived Key"], Len16)
            .and_then(|okm| okm.fill(&mut key))
            .map_err(|_| SrpError::Random)?;
        let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA256, &key));
        mac.update(pool_name.as_bytes());
        mac.update(c.user_id.as_bytes());
        mac.update(&secret_block);
        mac.update(c.timestamp.as_bytes());
        let signature = STANDARD.encode(mac.sign().as_ref());
        Ok(Claim {
            u: to_hex(&u),
            x: to_hex(&x),
            s: to_hex(&s),
            key,
            signature,
        })
    }
}

/// HKDF output length: 16 bytes.
struct Len16;

impl hkdf::KeyType for Len16 {
    fn len(&self) -> usize {
        16
    }
}

/// `TIMESTAMP` of a password claim: `Tue Dec 1 14:05:09 UTC 2026` (UTC, English names, day of
/// the month without zero padding, as Cognito requires).
pub(crate) fn timestamp(now: SystemTime) -> String {
    // HTTP-date: "Tue, 01 Dec 2026 14:05:09 GMT".
    let http = DateTime::from(now)
        .fmt(DateTimeFormat::HttpDate)
        .unwrap_or_default();
    let parts: Vec<&str> = http.split(' ').collect();
    match parts.as_slice() {
        [weekday, day, month, year, time, _] => {
            let day = day.trim_start_matches('0');
            format!(
                "{} {month} {day} {time} UTC {year}",
                weekday.trim_end_matches(',')
            )
        }
        _ => http,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    /// A test secret of `bits` bits, from hex.
    fn secret(hex: &str, bits: u32) -> Srp {
        Srp::with_secret(number(&from_hex(hex).unwrap()).unwrap(), bits).unwrap()
    }

    // The expected values come from scripts/srp-vectors.py, which computes them independently
    // of this code (Python's big integers, hashlib and hmac), checks that the server's side of
    // the exchange (S = (A·v^u)^b mod N for its B = k·v + g^b) agrees, and was cross-checked
    // against another implementation (pycognito's aws_srp) when written.

    #[test]
    fn vector_1_matches_an_independent_computation() {
        let srp = secret(&"0123456789abcdef".repeat(16), 1024);
        let block = STANDARD.encode((0u8..64).collect::<Vec<_>>());
        let challenge = Challenge {
            pool_id: "us-east-1_AbCdEfGhI",
            user_id: "alice",
            password: "Correct-horse-9!",
            salt: "f0e1d2c3b4a5968778695a4b3c2d1e0f",
            srp_b: VECTOR_1_B,
            secret_block: &block,
            timestamp: "Tue Dec 1 14:05:09 UTC 2026",
        };
        let claim = srp.claim(&challenge).unwrap();
        assert_eq!(srp.srp_a(), VECTOR_1_A);
        assert_eq!(
            claim.u,
            "d91fd6c36b40fe323249e43313aa723f306bbee87b870a9c0941f2a9cc6ba94a"
        );
        assert_eq!(
            claim.x,
            "ec13b0eb1ce0247649fd01cdfe40e1624516110fda000f545257ac1ebc939f9c"
        );
        assert_eq!(claim.s, VECTOR_1_S);
        assert_eq!(
            claim.key,
            *b"\x50\xaf\x39\xdc\x4f\x1f\xbd\xd0\x76\xe1\x8a\x05\xd5\x0a\x0e\x68"
        );
        assert_eq!(
            claim.signature,
            "92PwZdTWGPPKE9/AK+f2dKPYMcuU/KiQLEHWC7q9Ijc="
        );
    }

    #[test]
    fn vector_2_matches_an_independent_computation() {
        // A salt with leading zero digits, a non-ASCII password, a UUID user id.
        let srp = secret(&"7".repeat(250), 1000);
        let block = STANDARD.encode(b"secret block \xff\x00");
        let challenge = Challenge {
            pool_id: "eu-west-1_Zz9",
            user_id: "8c4b6d0e-1f2a-4b3c-9d8e-7f6a5b4c3d2e",
            password: "p\u{e4}ss w0rd",
            salt: "0001a2b3c4d5e6f708",
            srp_b: VECTOR_2_B,
            secret_block: &block,
            timestamp: "Sun Feb 28 09:00:00 UTC 2027",
        };
        let claim = srp.claim(&challenge).unwrap();
        assert_eq!(srp.srp_a(), VECTOR_2_A);
        assert_eq!(
            claim.u,
            "464fb33da1c7b9688848f1d29e873af100de6a74a2acff6a93db582f21be62ce"
        );
        assert_eq!(
            claim.x,
            "a644d37ba9419bc19a49913a16ed4fc1ecdcedbd2e2918b35a222e115664dc2e"
        );
        assert_eq!(claim.s, VECTOR_2_S);
        assert_eq!(
            claim.key,
            *b"\x18\x37\xd6\xc2\x0d\x9e\x0c\x16\x5c\xa5\x25\x7b\x1a\x05\xc4\x0a"
        );
        assert_eq!(
            srp.password_claim(&challenge).unwrap(),
            "vyxUig5nrrtFVD5/qU3NI3SS9HebyMdBsh2SvUx+d9c="
        );
    }

    #[test]
    fn the_table_and_the_exponentiation_agree() {
        for seed in [[0u8; 32], [0xff; 32], *b"0123456789abcdef0123456789abcdef"] {
            let exponent = number::<{ Number::LIMBS }>(&seed).unwrap();
            assert_eq!(
                g_pow_256(&seed).retrieve(),
                g_pow(&exponent, 256).retrieve()
            );
            // A 256-bit secret gives the same A through the table as through the ladder.
            assert_eq!(
                Srp::with_secret(exponent, 256).map(|s| s.srp_a()),
                Srp::with_secret(exponent, 1024).map(|s| s.srp_a())
            );
        }
    }

    #[test]
    fn a_server_value_of_zero_mod_n_is_refused() {
        let srp = Srp::new().unwrap();
        let wide: U6144 = N.as_ref().resize();
        let two_n = to_hex(&bytes_of(&wide.wrapping_add(&wide)));
        for b in ["0", "00", N_HEX, &two_n] {
            let challenge = Challenge {
                pool_id: "us-east-1_AbC",
                user_id: "alice",
                password: "pw",
                salt: "ab",
                srp_b: b,
                secret_block: "AAAA",
                timestamp: "Tue Dec 1 14:05:09 UTC 2026",
            };
            assert_eq!(
                srp.password_claim(&challenge),
                Err(SrpError::BIsZero),
                "{b}"
            );
        }
    }

    #[test]
    fn a_malformed_challenge_is_refused() {
        let srp = Srp::new().unwrap();
        let mut challenge = Challenge {
            pool_id: "us-east-1_AbC",
            user_id: "alice",
            password: "pw",
            salt: "ab",
            srp_b: "zz",
            secret_block: "AAAA",
            timestamp: "t",
        };
        assert_eq!(
            srp.password_claim(&challenge),
            Err(SrpError::Malformed("SRP_B"))
        );
        challenge.srp_b = "1234";
        challenge.secret_block = "not base64!";
        assert_eq!(
            srp.password_claim(&challenge),
            Err(SrpError::Malformed("SECRET_BLOCK"))
        );
    }

    #[test]
    fn each_sign_in_has_a_fresh_secret() {
        let (one, two) = (Srp::new().unwrap(), Srp::new().unwrap());
        assert_ne!(one.srp_a(), two.srp_a());
        let a = number::<{ Number::LIMBS }>(&from_hex(&one.srp_a()).unwrap()).unwrap();
        assert!(a < *N.as_ref());
    }

    #[test]
    fn timestamps_are_in_cognitos_format() {
        let at = |secs| timestamp(UNIX_EPOCH + Duration::from_secs(secs));
        // 2026-12-01T14:05:09Z, a Tuesday: the day is not zero-padded.
        assert_eq!(at(1_796_133_909), "Tue Dec 1 14:05:09 UTC 2026");
        // 2027-02-28T09:00:00Z.
        assert_eq!(at(1_803_805_200), "Sun Feb 28 09:00:00 UTC 2027");
        // 1970-01-10T00:00:00Z: a two-digit day keeps its zero.
        assert_eq!(at(9 * 86_400), "Sat Jan 10 00:00:00 UTC 1970");
    }

    const VECTOR_1_A: &str = concat!(
        "54b8e4da8991abf64544e5e11b2bd8c7a17bf13cdc3b757a276c8d475af798afd3666395ae0a291861ac9f31",
        "81e263185ab8006e236972ff0ac89ff60a824bf8c4e19c07106f6f62b7a129f56e73477cd23ce582c6a23d19",
        "c5cb2fbf29f32978fcf0743650a1572c349444cdc3229d5b29c60fdb9f3dfc0ecbd532302115b7aab5016382",
        "590f811a5b7caa46ec650538e1377de9c35a4203edc9b004658d1147caa08516730d40c80409b0bab60fd885",
        "ae184434764cc759d8b7905a7c1deff646e62540614d40378604b21e170159c1931f362f8003e66b5d81cd0b",
        "5996850c0735512ed5c8913864e819e7520b25d6df825b2372b56398ccb46a2f29e31760d68e468d841518a7",
        "83046b56c28cfc12d789a725469640ef0db5b557cbe9117f97d808df3f32c9610e5ef7822593e5ee1289b7f1",
        "993ba4406d84926ca459cbcb00d77369492e9363a7ac6191652c8d18d1c94422fd0e579bcfff161b94507274",
        "3a4934e650373ecc40acebb84ff209b7c8ba5d5b7cd4a786ba1174323284223",
    );
    const VECTOR_1_B: &str = concat!(
        "c0c436c045fb57fe0c17dd0591b937a2aaf93889cb8aabcb506b46d9bf1a842622f07c841e41b295fd041d0b",
        "2389466626b2640ae3e78122d985330201157146dc9b0c9423c3a3a1eefac70a1efbbc93fc6213e898b84a2c",
        "7d66a214ecc38d87decd1cf4ffdf2d79e28e35f6ebeb6ce29ad98f571f9333aba005e8dac02082aa5b512b75",
        "4050f2579a4e3e5e3f973408455356f71511ae498257caca9fe7bd08e8ef85e7de3eed6e4280e9eac93a2a78",
        "de5baabf1ea9afaff92d4fb5b3346d26038d853fc8ca535444d66f85ec8bd9be0e1d055067032ea6f73119fb",
        "6c093951650498e36b689135cd10f323efe6286bb139fc3c250c53042e9167559e775bdcfa57243537c75dc8",
        "1e49bedcb11141b6d3995b98f627bbd39d85db1b14700b841b7786b1ffeb8fe066049f0564f7ff5a00122538",
        "a3a16da7b925f47c3d71af54aeefb79b6781be301da5eaaa0eb509aa611bef23ede2a55d52937d836d484911",
        "23376f1cd502cf844785206c0be0bb54654965c9a23a55ed55efd4c5b992475b",
    );
    const VECTOR_1_S: &str = concat!(
        "b1045db8dee729eaed70c4b193165ea00a9717be4202cae4f0535ac7c6c7edf27e229e7c3fb08359fb6be5f9",
        "32c0b0f7837a7ae9d580e7af0dde14d681429b1ca2e3908b7676276c1b33e4a899cbc0c83ea93364d2addb42",
        "2d33540bc156851c729a7db8aaa94082064440f58527a10566ddc4de8844a6f5eabe3167f604202d1ac7b9db",
        "5160ee5bfcb4688cb1d3119fcd2d796d8f9351a272e80d065049146b85b85bcff7b4f60b1e42804ca67481e5",
        "51d66458a2825ad45b3ee9104be856165d9693ad326ac8563c52285a96798e269a0b59af50ed5054b687ffa7",
        "708d6cd119b697d31255e69df1268a914c491d795fc352b4a57634b4b017e33220e05fb0badbcee80de19a13",
        "1658cb9ba190aeec2a8765daeea03aea825daf038cdaad2714e6e31a5c231aa1e2148dc7e63ea7d6931db26e",
        "972d866923602aa7b695015467a743f4446c496df391cc62684c73ae50f64842322c57c8f6c9d9bf81b943e6",
        "eadf53d5b1e8deaa1abd6a174096d01d09d970fd3c6bd3c5366ba9057afa5076",
    );
    const VECTOR_2_A: &str = concat!(
        "501fe2ecac69c95e564712059cb57894a4acea40a43aae84493b9371f31b57e1a73c6640920ea4587b5c8897",
        "215391b9771fc750c8608be54fdf448a9541f43cd90458f80ca10c64f5594f15bf215b11fff2a3451d78287f",
        "6c9afaa9d405abad46663ae7ec98bd1c1931810e717289a36b834e261c2b60e1af2794f612712cccac8cfb4d",
        "ce92a4535156fd934d2ad51aeb986409f8a8534a2004646ed001fba635ea62bb90374cee98783f4126c3c4cc",
        "51ec862a33268b256b99e5729a72652d73d2c74ba183c850fc34be1b14cbe6ba8449db3e15114be19b7b6e7d",
        "48b92dab26d65ae50273bea56f1614f28dc8916a2ebd38b7ec3572df82fbf82a8fddfe2f25c187e0952c732c",
        "691151c80a0beee6d60e095853a76f5fa177886487f6192a991ab561609a8df5cfa829a4fd655b58d8c9a1f8",
        "70695f99312131b726e22c8107b9fb60f01a8f30a2af48e6b52e598c58cacae1465f809ad574d8050cd70e01",
        "0eaac5016e645048f59b5395ee6a948ebd998fa04f97d4676dfea109c9be3107",
    );
    const VECTOR_2_B: &str = concat!(
        "78940e4d66afa575eda45b4427b47f2d6e26cf05864d1c29255f537a6bc5184c4ab8f67b47caf0526949e61b",
        "6ede656ccdcc17c5eb9ed842117d3415cb8a43adcf37463fc3829638a4354947a6d513c836c5e68593018437",
        "ad3e4ccc6f996cac398ab26adb705ea1952ccb160ce9f8db054d41ea7fc6cfcfd6f81b6d57d67a73f12afd06",
        "e50256b0505358aa97588747481e514d13dcf67df5b265686d9eab69e5f46802e451ab2a5aaf351ef9366733",
        "da30ed5aa9498fa5580c9618590f8976c1dbef98b41a2579390a0f222e3bcfc1889eaceb9caad331f3623248",
        "05998c72f1c71ffc7b30c8a5d500548b5e80c94a497dcb4d972e271d001c9f3aba58d7be7d1b8ed2789cf354",
        "791770964f90bd50bde5e6389afb504b976ad93184b357f07fce2945ac8339e39e89df57aba1a3c535c10257",
        "f6b039e855a78e2c529524ca7865d8d759b3fef60039ca260a91104fa6073b8d013729a5467e9e61312e4b2c",
        "c568c0f0d1c3d3ee3e4b69fc1534c53002f0bd7292c27b0ab42d77ded0c58dc2",
    );
    const VECTOR_2_S: &str = concat!(
        "5a0ad8c74467a1e1d506ea10964b77075bc66dce55ac887ea3a72f94fab0932fe64a5ee63362114fd7b15fe0",
        "ed35d0ee77cdfc660032be05d848cbeffdb6d97e75834a044c35e08a12536dcdfbea3f8054beb496db3db6e4",
        "d7b08a0f10237a97e6304f65d58b6625966c4ebe52d29f9fdc48f7031ad164cbfffc3287e6002fe0904b6243",
        "2c2a0b00fc89e7d5b10a9fed86d6c42384cbc603c401114abcc7b3825db778e24ccf2a87746053a1406089d3",
        "ab43b4ce6af27ab45b330f377a6e0c289dd0eb893981810e934eb44a5c4bc31320284774bc1157d822badd82",
        "79f5b1072a27d409f44be4f5c9ca26af57b3351035e8b56707815426a2f5ee255931faab9d29051042ee2e8f",
        "d7ffed6276742393cf7760bcd6c44dabc4158131d302caa50491119dadc24d7bd78e6f100210173f2e1ce120",
        "6d6487f155c35be3a96d724d523b0fcfdc356fd4bff02a810f2f8731473d317d1586b9cab7dbe567e76f4ceb",
        "3369209244b1320cbf25dad7d0fd0ee1d2cc477fc68068bcecbc8342173a61ba",
    );
}
