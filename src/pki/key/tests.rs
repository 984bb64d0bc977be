use super::*;
use secrecy::ExposeSecret;

fn env() -> Env {
    Env::seeded(1, time::macros::datetime!(2026-11-25 12:00 UTC))
}

#[test]
fn seeded_keys_repeat_and_write_kubeadm_forms() {
    for (kt, tag) in [
        (KeyType::EcdsaP256, "EC PRIVATE KEY"),
        (KeyType::Rsa2048, "RSA PRIVATE KEY"),
        (KeyType::Ed25519, "PRIVATE KEY"),
    ] {
        let a = Key::generate(&env(), kt).unwrap();
        let b = Key::generate(&env(), kt).unwrap();
        let pem_a = a.to_pem();
        assert_eq!(pem_a.expose_secret(), b.to_pem().expose_secret(), "{kt}");
        assert!(
            pem_a
                .expose_secret()
                .starts_with(&format!("-----BEGIN {tag}-----\n")),
            "{kt}"
        );
        let back = Key::from_pem("k", pem_a.expose_secret()).unwrap();
        assert_eq!(back.public_der(), a.public_der(), "{kt} round trip");
        assert_eq!(back.algo(), a.algo());
    }
}

#[test]
fn keys_made_in_parallel_equal_keys_made_one_by_one() {
    let types = [
        KeyType::Rsa2048,
        KeyType::EcdsaP256,
        KeyType::Rsa2048,
        KeyType::Ed25519,
        KeyType::Rsa2048,
    ];
    let pems = |keys: Vec<Key>| -> Vec<String> {
        keys.iter()
            .map(|k| k.to_pem().expose_secret().to_owned())
            .collect()
    };
    let parallel = pems(Key::generate_many(&env(), &types).unwrap());
    let e = env();
    let one_by_one = pems(
        types
            .iter()
            .map(|&kt| Key::generate(&e, kt).unwrap())
            .collect(),
    );
    assert_eq!(parallel, one_by_one);
    assert_eq!(
        parallel,
        pems(Key::generate_many(&env(), &types).unwrap()),
        "a second run repeats"
    );
    assert_ne!(parallel[0], parallel[2], "each key has its own seed");
    let other_seed = Env::seeded(2, time::macros::datetime!(2026-11-25 12:00 UTC));
    assert_ne!(
        parallel,
        pems(Key::generate_many(&other_seed, &types).unwrap())
    );
    let described: Vec<String> = Key::generate_many(&env(), &types)
        .unwrap()
        .iter()
        .map(Key::describe)
        .collect();
    assert_eq!(
        described,
        ["RSA 2048", "ECDSA P-256", "RSA 2048", "Ed25519", "RSA 2048"]
    );
}

#[test]
fn a_prime_pair_that_gives_no_key_is_replaced_deterministically() {
    let retry = || {
        let mut plan = Plan::new(KeyType::Rsa2048, &[7; 32]);
        let rsa = plan.rsa.take().unwrap();
        let p = random_prime(&mut ChaCha20Rng::from_seed(*rsa.prime_seeds[0]), 1024);
        let k = rsa
            .key(p.clone(), p, KeyType::Rsa2048, &mut plan.rng)
            .unwrap();
        assert_eq!(k.describe(), "RSA 2048");
        k.public_der()
    };
    assert_eq!(retry(), retry());
}

#[test]
fn sec1_key_names_its_curve_as_go_requires() {
    let k = Key::generate(&env(), KeyType::EcdsaP256).unwrap();
    let pem = k.to_pem();
    let block = pem::parse(pem.expose_secret()).unwrap();
    let der = block.contents();
    assert_eq!(der.len(), 121);
    assert!(der
        .windows(10)
        .any(|w| w == [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]));
    assert!(p256::SecretKey::from_sec1_der(der).is_ok());
}

#[test]
fn pkcs8_rsa_is_read() {
    let k = Key::generate(&env(), KeyType::Rsa2048).unwrap();
    let der = rsa::RsaPrivateKey::from_pkcs8_der(&k.pkcs8).unwrap();
    let p8 = der.to_pkcs8_pem(LineEnding::LF).unwrap();
    let back = Key::from_pem("k", &p8).unwrap();
    assert_eq!(back.describe(), "RSA 2048");
    assert_eq!(back.public_der(), k.public_der());
}

#[test]
fn garbage_is_a_typed_error() {
    assert!(matches!(
        Key::from_pem("x", "not pem"),
        Err(Error::Pem { .. })
    ));
    let cert_block = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        Key::from_pem("x", cert_block),
        Err(Error::UnsupportedKey { .. })
    ));
}
