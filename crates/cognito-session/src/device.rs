//! Device tracking: the `DeviceSecretVerifierConfig` that `ConfirmDevice` needs.
//!
//! In a user pool that tracks devices ("remember devices": always or user opt-in), every login
//! without a device key gets a new one (`NewDeviceMetadata`). The refresh token is bound to that
//! device: until the device is confirmed with `ConfirmDevice`, and whenever a refresh does not
//! send its key as `DEVICE_KEY`, Cognito refuses the refresh with `NotAuthorizedException`
//! "Invalid Refresh Token." (with the period: see the refusal table in [`crate::cognito`]). `ConfirmDevice` takes an SRP verifier of a device password, computed
//! exactly as the AWS SDKs do (amazon-cognito-identity-js' `generateHashDevice`):
//!
//! ```text
//! password = base64(40 random bytes)
//! salt     = pad(16 random bytes)
//! x        = SHA-256(salt ‖ SHA-256(DeviceGroupKey ‖ DeviceKey ‖ ":" ‖ password))
//! verifier = pad(g^x mod N)        g = 2, N = the 3072-bit group of RFC 5054 (RFC 3526 §4)
//! ```
//!
//! where `pad` is the big-endian bytes of a number, with a leading zero byte when the top bit is
//! set (the group and `pad` are shared with the password sign-in's SRP, `crate::login::srp`).
//! The password is thrown away: this library never signs in with the device (that would be
//! `DEVICE_SRP_AUTH`, at login, which the caller's own login code does); it only needs the device
//! confirmed so that its refresh token keeps working.

use crate::login::srp::{pad, verifier as password_verifier};
use aws_lc_rs::digest::{Context, SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// What `ConfirmDevice` takes as `DeviceSecretVerifierConfig`, base64 like the SDKs send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VerifierConfig {
    pub salt: String,
    pub password_verifier: String,
}

/// A verifier for a fresh random device password (which is then forgotten).
pub(crate) fn verifier_config(
    device_group_key: &str,
    device_key: &str,
) -> Result<VerifierConfig, aws_lc_rs::error::Unspecified> {
    let mut password = [0u8; 40];
    let mut salt = [0u8; 16];
    aws_lc_rs::rand::fill(&mut password)?;
    aws_lc_rs::rand::fill(&mut salt)?;
    Ok(verifier(
        device_group_key,
        device_key,
        &STANDARD.encode(password),
        &salt,
    ))
}

/// The verifier of `password` with `salt` (deterministic: the tests' entry point).
fn verifier(
    device_group_key: &str,
    device_key: &str,
    password: &str,
    salt: &[u8],
) -> VerifierConfig {
    let mut inner = Context::new(&SHA256);
    inner.update(device_group_key.as_bytes());
    inner.update(device_key.as_bytes());
    inner.update(b":");
    inner.update(password.as_bytes());
    let inner = inner.finish();
    let salt = pad(salt);
    let mut outer = Context::new(&SHA256);
    outer.update(&salt);
    outer.update(inner.as_ref());
    let mut x = [0u8; 32];
    x.copy_from_slice(outer.finish().as_ref());
    VerifierConfig {
        salt: STANDARD.encode(salt),
        password_verifier: STANDARD.encode(password_verifier(&x)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUP: &str = "-AbCdEfGh";
    const KEY: &str = "us-east-1_8c4b6d0e-1f2a-4b3c-9d8e-7f6a5b4c3d2e";
    const PASSWORD: &str = "fixed device password";

    // The expected values come from scripts/device-verifier-vectors.py, which computes them
    // independently of this code (Python's built-in pow() and hashlib) and also checks N
    // against its RFC 3526 definition 2^3072 - 2^3008 - 1 + 2^64 * (floor(2^2942 pi) + 1690314).

    #[test]
    fn the_verifier_matches_an_independent_computation() {
        let salt: Vec<u8> = (1..=16).collect();
        let config = verifier(GROUP, KEY, PASSWORD, &salt);
        assert_eq!(config.salt, "AQIDBAUGBwgJCgsMDQ4PEA==");
        assert_eq!(
            config.password_verifier,
            concat!(
                "IX4jbiK4vpcrBSRrbgiiMiWf5rDjjPK9fN241g4RoEl3EdZZThCZbDQ11YSXN92lgZ70WdoHRPQypGc0",
                "sKaU0L2Bb6w4+3Uu7CMKRPGhWRQGvN1C9ObI2CkANKTH+QW5OJ0pTPT9B29klZ1tpNF33n3pHYTlDl6P",
                "a27gECXzFHu8GEMPllnEUU7QPd8FIljd39vNE+fKLQNcfhN/TS7+cBjmw/XjhZf95wMNWSFGX8x5mYtm",
                "C/ndW5jtmd3F3QzvdN0XfpVpBbRWT0ugEItzdi6l+4xRZeiRqn8wQzHUF15z0YVxKLwpX/UVQ63jG45X",
                "nztOK511aAT+ua9xlNPqQDaCati7/YzcFUU/h7kvT1XlAno6y8OGhBvnxU8VktMvjyX2czDimHCQHNcH",
                "Y0MQMAEJUQhNNdvIuOUBgqGGSuBYfgjJQVSUCPtaBVnFQOaYsStB2T+6cJ/FzPK4J+G3nWhNGF5WI245",
                "lZgRzJPw7Ca1TnTt8SyQwXSej+4MmKNW",
            )
        );
    }

    #[test]
    fn a_salt_with_leading_zero_bytes_is_hashed_without_them() {
        let salt: Vec<u8> = [0, 0].into_iter().chain(0x10..0x1e).collect();
        let config = verifier(GROUP, KEY, PASSWORD, &salt);
        assert_eq!(config.salt, "EBESExQVFhcYGRobHB0=");
        assert_eq!(
            config.password_verifier,
            concat!(
                "DalUVkjjnn9RqIZ6Fxm/GR47IzNGACgwJ7K6J4idAAxLTH0rwjWiRWcA0uk1VIHPmRTKcPVnSb1woIUg",
                "K61HGUkRhXN61eimkWJTXTs9Ujj2ZjO24vtDAc8Xx61rRvjedQGhfxFuhd2dusvONPeO646j9k1bQWG1",
                "HehVN+jjsE3xhz535Tr5/+eiN+0jQaM8xegL8VK3kz7IrsPHzAQNoXgUdu4OQykpWUSTZh/+Fd8jFjbJ",
                "HSc7WcN//IdVoA1eVlRk6UGwT5vCvMRSGTp59IA1txwsEeiboW9KO2k18NpBk1L4cYlA/zadA2p0dbhU",
                "5EzYHFI08Jbetw9VXtC2Qog7ELDH2zEZ9NsG3s4HJYImnKWofCRaSqJK8cpyECBD9nWd+NAqFXQi3fM6",
                "rgqN+oeu9/9Q9+FTgC8sPzLEKlPvz1M4lw+jFLmi7op7OTWPqR3oo5KEHmPDX3DJ8d1UCkIejRMJzvye",
                "B6Y9B/1xyha4ylhVrUpg+AIGWLsLVxpQ",
            )
        );
    }

    #[test]
    fn numbers_with_the_top_bit_set_get_a_leading_zero_byte() {
        let config = verifier(GROUP, KEY, PASSWORD, &[0xf0; 16]);
        assert_eq!(config.salt, "APDw8PDw8PDw8PDw8PDw8PA=");
        assert_eq!(
            config.password_verifier,
            concat!(
                "ALq8hQWuOZt3EZaYfiteTPyqyq9h5ecjLQSDNwUNvEexPIFi70wrm6dUt+Z19u+dFosXEqkYisitBnYH",
                "VL956SVT1QWxvkygzRAmk9jx5M/MT7C6axKD2ZtK8bnbZ5S5S/z9Qdywcp7YW6LZLo3eEGRo+AGcEacB",
                "lZindU+ykCfPJl/s3kRmJ8EYMLkQqa/ytDPlzI5XQYhnN4inbLv/OreA5icLtqPQSdTIIaas4G2jrKmq",
                "bCC4h7+8/Czeu8j+qxi4LOanSy2t7dpVrGnuTQY7ae6iz1tuIF3UttAMOUt/iaTmoAhr5XoJUSGonAF8",
                "ci38dhusZvfRgyzwoVrdIEILZ2XfxTJLDeUkwYOrVSi5WUx7QMwolGapXXcJ2Q+CfjY0lOFXsj+1pnnl",
                "uvjp73awFkLHV+C3QFSce0nPB/k6n+weUVC5XdgPs2y6Q/iay2lwLQzmPoD8DhJUFmmM30BW70JOlTJF",
                "B2gC/Fa1u/qw4pw/44bAGIFLFmx6EyIbpA==",
            )
        );
    }

    #[test]
    fn each_confirmation_uses_a_fresh_salt_and_password() {
        let a = verifier_config(GROUP, KEY).unwrap();
        let b = verifier_config(GROUP, KEY).unwrap();
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.password_verifier, b.password_verifier);
        assert!(STANDARD.decode(&a.password_verifier).unwrap().len() >= 380);
    }
}
