//! Benchmark for `scripts/bench-pki.sh`: generates a full installation PKI (3 CAs, the SA
//! key, 5 kubeconfigs) N times with real randomness and prints the mean milliseconds.
//!
//! Usage: `cargo run --release --example bench_pki -- ecdsa-p256|rsa2048 [N]`

use mcb::pki::{self, KeyType, Params, UserParams};

fn main() {
    let mut args = std::env::args().skip(1);
    let key_type = match args.next().as_deref() {
        Some("rsa2048") => KeyType::Rsa2048,
        Some("ecdsa-p256") | None => KeyType::EcdsaP256,
        Some(other) => panic!("unknown key type {other}"),
    };
    let n: u32 = args
        .next()
        .map_or(10, |s| s.parse().expect("N is a number"));
    let mut p = Params::new("bench", "default", "https://127.0.0.1:6443");
    p.key_type = key_type;
    p.users = (1..=4)
        .map(|i| UserParams {
            name: format!("user{i}"),
            common_name: format!("user{i}"),
            organizations: vec!["devs".into()],
            validity: None,
        })
        .collect();
    let env = mcb::Env::system();
    let start = std::time::Instant::now();
    for _ in 0..n {
        let pki = pki::generate(&env, &p).expect("generates");
        assert_eq!(pki.secrets().len(), 9);
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    println!("{key_type} {ms:.1} ms per installation PKI (mean of {n})");
}
