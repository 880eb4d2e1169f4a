//! One password sign-in's client-side SRP work (`USER_SRP_AUTH`): `A = g^a`, then for Cognito's
//! challenge `g^x`, `B − k·g^x` and `S = (B − k·g^x)^(a + u·x)`, all mod the 3072-bit prime.
//!
//! `library` is the crate's own code (`src/login/srp.rs`, compiled into this benchmark): a fresh
//! secret, `SRP_A`, and the password claim, hashing and HMAC included. The other rows are the
//! three exponentiations alone, with each big-integer choice and two sizes of the secret `a`
//! (the SDKs' 1024 bits, and 256):
//!
//! - `num_bigint`: num-bigint 0.4's `modpow` (what the crate used before), variable time;
//! - `ct_window`: crypto-bigint's constant-time fixed-window exponentiation (`pow_bounded_exp`);
//! - `ct_amm`: the same with almost-Montgomery multiplication (`pow_amm_bounded_exp`): the
//!   library's choice;
//! - `vartime`: crypto-bigint's variable-time exponentiation (`pow_vartime`), for reference.
//!
//! For instruction counts (load-independent), `SRP_BENCH_COUNT=<row> <bench binary>` runs 20
//! sign-ins of one row and exits: run it under
//! `valgrind --tool=callgrind --toggle-collect='*run_row*'` and divide by 20 (with
//! `SRP_BENCH_COLD=1`: one sign-in, the process's first, which builds the table of powers of
//! `g`).

#[allow(dead_code, unused_imports)]
#[path = "../src/login/srp.rs"]
mod srp;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U3072};
use num_bigint::BigUint;

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

/// One sign-in's inputs: the secret `a` (of `bits` bits), `x`, `u`, `k`, `B`.
struct Inputs {
    a: Vec<u8>,
    bits: u32,
    x: [u8; 32],
    u: [u8; 32],
    k: [u8; 32],
    b: Vec<u8>,
    b_hex: String,
}

fn random<const L: usize>() -> [u8; L] {
    let mut bytes = [0u8; L];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

impl Inputs {
    fn new(bits: u32) -> Inputs {
        let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap();
        let b = BigUint::from(2u32).modpow(&BigUint::from_bytes_be(&random::<32>()), &n);
        let a = match bits {
            1024 => random::<128>().to_vec(),
            _ => random::<32>().to_vec(),
        };
        Inputs {
            a,
            bits,
            x: random(),
            u: random(),
            k: random(),
            b: b.to_bytes_be(),
            b_hex: format!("{b:x}"),
        }
    }
}

/// The three exponentiations with num-bigint (the crate's code before).
fn num_bigint(i: &Inputs) -> BigUint {
    let n = BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap();
    let g = BigUint::from(2u32);
    let a = BigUint::from_bytes_be(&i.a);
    let big_a = g.modpow(&a, &n);
    let x = BigUint::from_bytes_be(&i.x);
    let kgx = (BigUint::from_bytes_be(&i.k) * g.modpow(&x, &n)) % &n;
    let base = (BigUint::from_bytes_be(&i.b) + &n - kgx) % &n;
    let exponent = a + BigUint::from_bytes_be(&i.u) * x;
    black_box(big_a);
    base.modpow(&exponent, &n)
}

#[derive(Clone, Copy)]
enum Pow {
    Window,
    Amm,
    Vartime,
}

fn u3072(bytes: &[u8]) -> U3072 {
    let mut buffer = [0u8; 384];
    buffer[384 - bytes.len()..].copy_from_slice(bytes);
    U3072::from_be_slice(&buffer)
}

/// The three exponentiations with crypto-bigint.
fn crypto_bigint(i: &Inputs, pow: Pow) -> U3072 {
    let params = FixedMontyParams::new_vartime(Odd::<U3072>::from_be_hex(N_HEX));
    let power = |base: &FixedMontyForm<48>, e: &U3072, bits: u32| match pow {
        Pow::Window => base.pow_bounded_exp(e, bits),
        Pow::Amm => base.pow_amm_bounded_exp(e, bits),
        Pow::Vartime => base.pow_vartime(e),
    };
    let g = FixedMontyForm::new(&U3072::from_u8(2), &params);
    let a = u3072(&i.a);
    black_box(power(&g, &a, i.bits).retrieve());
    let x = u3072(&i.x);
    let kgx = FixedMontyForm::new(&u3072(&i.k), &params) * power(&g, &x, 256);
    let base = FixedMontyForm::new(&u3072(&i.b), &params) - kgx;
    let ux = u3072(&i.u).wrapping_mul(&x);
    let exponent = a.wrapping_add(&ux);
    power(&base, &exponent, i.bits.max(512) + 1).retrieve()
}

/// The library's whole client side of one sign-in (Cognito's `SRP_B` given, in hex).
fn library(b: &str) -> String {
    let srp = srp::Srp::new().unwrap();
    black_box(srp.srp_a());
    srp.password_claim(&srp::Challenge {
        pool_id: "us-east-1_AbCdEfGhI",
        user_id: "alice",
        password: "Correct-horse-9!",
        salt: "f0e1d2c3b4a5968778695a4b3c2d1e0f",
        srp_b: b,
        secret_block: "AAECAwQFBgcICQoLDA0ODw==",
        timestamp: "Tue Dec 1 14:05:09 UTC 2026",
    })
    .unwrap()
}

/// The rows, by name (not inlined: `valgrind --tool=callgrind --toggle-collect='*run_row*'`
/// counts this function alone).
#[inline(never)]
fn run_row(row: &str, small: &Inputs, large: &Inputs) {
    match row {
        "library" => drop(black_box(library(&small.b_hex))),
        "num_bigint_a1024" => drop(black_box(num_bigint(large))),
        "num_bigint_a256" => drop(black_box(num_bigint(small))),
        "ct_window_a1024" => drop(black_box(crypto_bigint(large, Pow::Window))),
        "ct_window_a256" => drop(black_box(crypto_bigint(small, Pow::Window))),
        "ct_amm_a1024" => drop(black_box(crypto_bigint(large, Pow::Amm))),
        "ct_amm_a256" => drop(black_box(crypto_bigint(small, Pow::Amm))),
        "vartime_a256" => drop(black_box(crypto_bigint(small, Pow::Vartime))),
        other => panic!("no row {other}"),
    }
}

const ROWS: [&str; 8] = [
    "library",
    "num_bigint_a1024",
    "num_bigint_a256",
    "ct_window_a1024",
    "ct_window_a256",
    "ct_amm_a1024",
    "ct_amm_a256",
    "vartime_a256",
];

fn bench(c: &mut Criterion) {
    let (small, large) = (Inputs::new(256), Inputs::new(1024));
    // The same answer from every choice.
    let expected = num_bigint(&small).to_bytes_be();
    for pow in [Pow::Window, Pow::Amm, Pow::Vartime] {
        let got = crypto_bigint(&small, pow);
        assert_eq!(
            BigUint::from_bytes_be(got.to_be_bytes().as_slice()).to_bytes_be(),
            expected
        );
    }
    if let Ok(row) = std::env::var("SRP_BENCH_COUNT") {
        // The library's table of powers of g is built at a process's first sign-in: outside the
        // count, unless SRP_BENCH_COLD is set (then count one sign-in: the first).
        let cold = std::env::var_os("SRP_BENCH_COLD").is_some();
        if !cold {
            library(&small.b_hex);
        }
        for _ in 0..if cold { 1 } else { 20 } {
            run_row(&row, &small, &large);
        }
        std::process::exit(0);
    }
    let mut group = c.benchmark_group("srp_sign_in");
    group.sample_size(20);
    for row in ROWS {
        group.bench_function(row, |b| b.iter(|| run_row(row, &small, &large)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
