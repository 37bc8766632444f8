//! Owns test certificates: a private root CA, intermediates, and leaves with any validity window
//! (valid, expired, not yet valid, expiring soon) for origins and ACM imports.
//!
//! Keys are ECDSA P-256 (rcgen's default): generation is instant, and moto's ACM accepts EC keys
//! on import (it reports them as EC_prime256v1), so RSA is never needed.
//!
//! Beyond the plain root -> intermediate -> leaf chain, it builds the chain shapes production
//! servers send: an expired intermediate on the path ([`TestCa::expired_intermediate`]), an old
//! expired cross-signed root that is sent but not on the verified path ([`CrossSignedChain`]),
//! and client certificates for origins that demand one ([`TestCa::client_leaf`]).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

const ORGANIZATION: &str = "cf-doctor testkit";

/// A certificate authority that can sign intermediates and leaves.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
    /// What a server must send after a leaf signed by this CA: this CA itself when it is an
    /// intermediate, then its own issuers, nearest first; never the root. Kept as DER and PEM.
    issued_chain: Vec<(CertificateDer<'static>, String)>,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("subject", &self.cert.params().distinguished_name)
            .field("intermediates_above", &self.issued_chain.len())
            .finish_non_exhaustive()
    }
}

fn ca_params(common_name: &str, not_after: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = days_from_now(-1);
    params.not_after = not_after;
    // Lets verifiers (and humans reading `openssl x509`) link each cert to its issuer.
    params.use_authority_key_identifier_extension = true;
    params
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    dn
}

fn days_from_now(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(days)
}

fn new_key() -> KeyPair {
    KeyPair::generate().expect("rcgen could not generate a P-256 key: the crypto backend is broken")
}

impl TestCa {
    /// A self-signed root CA valid from yesterday for ten years.
    pub fn new(common_name: &str) -> TestCa {
        let key = new_key();
        let cert = ca_params(common_name, days_from_now(3650))
            .self_signed(&key)
            .unwrap_or_else(|e| {
                panic!("rcgen refused root CA {common_name:?}: {e}: use a plain ASCII common name")
            });
        TestCa {
            cert,
            key,
            issued_chain: Vec::new(),
        }
    }

    /// An intermediate CA signed by this CA (valid from yesterday for five years); leaves it
    /// signs carry it (and any intermediates above it) in [`Leaf::chain`].
    pub fn intermediate(&self, common_name: &str) -> TestCa {
        let key = new_key();
        let cert = ca_params(common_name, days_from_now(1825))
            .signed_by(&key, &self.cert, &self.key)
            .unwrap_or_else(|e| panic!("rcgen refused intermediate CA {common_name:?}: {e}: use a plain ASCII common name"));
        let mut issued_chain = vec![(cert.der().clone(), cert.pem())];
        issued_chain.extend(self.issued_chain.iter().cloned());
        TestCa {
            cert,
            key,
            issued_chain,
        }
    }

    /// An intermediate CA signed by this CA that expired `days` days ago (issued a year before
    /// that). A leaf it signs is still within its own window, so the only fault on the path is
    /// this intermediate: every verifier must refuse the chain (RFC 5280 6.1.3: each certificate
    /// on the path must be within its validity period).
    pub fn expired_intermediate(&self, common_name: &str, days: i64) -> TestCa {
        let not_after = days_from_now(-days);
        let mut params = ca_params(common_name, not_after);
        params.not_before = not_after - Duration::days(365);
        let key = new_key();
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .unwrap_or_else(|e| panic!("rcgen refused expired intermediate CA {common_name:?}: {e}: use a plain ASCII common name"));
        let mut issued_chain = vec![(cert.der().clone(), cert.pem())];
        issued_chain.extend(self.issued_chain.iter().cloned());
        TestCa {
            cert,
            key,
            issued_chain,
        }
    }

    /// A cross certificate for this CA issued by `issuer`: this CA's subject and public key (so
    /// anything this CA signed also chains to `issuer`), valid from `not_before` to `not_after`.
    /// Real example: ISRG Root X1 cross-signed by DST Root CA X3, which expired on 2021-09-30
    /// while servers kept sending it.
    pub fn cross_signed_by(
        &self,
        issuer: &TestCa,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> (CertificateDer<'static>, String) {
        let mut params = self.cert.params().clone();
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params
            .signed_by(&self.key, &issuer.cert, &issuer.key)
            .unwrap_or_else(|e| {
                panic!(
                    "rcgen refused the cross certificate for {:?}: {e}",
                    self.cert.params().distinguished_name
                )
            });
        (cert.der().clone(), cert.pem())
    }

    /// This CA's certificate, PEM (what a client puts in its trust store for a root).
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// This CA's certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A rustls root store trusting only this CA (for test clients).
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert_der())
            .expect("rustls rejected a CA certificate generated by rcgen: versions out of sync?");
        roots
    }

    /// A server leaf for `spec.names` signed by this CA.
    pub fn leaf(&self, spec: &LeafSpec) -> Leaf {
        let key = new_key();
        let cert = leaf_params(spec)
            .signed_by(&key, &self.cert, &self.key)
            .unwrap_or_else(|e| {
                panic!(
                    "rcgen refused leaf for {:?}: {e}: names must be DNS names or IPs",
                    spec.names
                )
            });
        Leaf::new(&cert, &key, &self.issued_chain)
    }

    /// A client certificate (extended key usage clientAuth, not serverAuth) for `spec.names`
    /// signed by this CA: what a client presents to an origin that demands one (origin mTLS).
    /// rustls' client verifier refuses a serverAuth-only leaf, so server leaves cannot stand in.
    pub fn client_leaf(&self, spec: &LeafSpec) -> Leaf {
        let key = new_key();
        let mut params = leaf_params(spec);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .unwrap_or_else(|e| {
                panic!(
                    "rcgen refused client leaf for {:?}: {e}: names must be DNS names or IPs",
                    spec.names
                )
            });
        Leaf::new(&cert, &key, &self.issued_chain)
    }
}

/// A healthy chain that still carries an old, expired cross-signed root, the way many servers
/// kept sending Let's Encrypt's "ISRG Root X1 signed by DST Root CA X3" after it expired.
///
/// `root` (R) is the trusted root (give `root.cert_pem()` to the client as its CA file);
/// `intermediate` (I) is signed by R; `leaf` (L) by I; `cross` (X) carries R's subject and public
/// key, issued by `old_root` (O, trusted by nobody), and expired a year ago. The server sends
/// [`CrossSignedChain::served`] = L, I, X. A verifier that trusts R stops at I (its issuer is a
/// trust anchor), so X is not on the verified path and its expiry does not matter.
pub struct CrossSignedChain {
    pub root: TestCa,
    pub old_root: TestCa,
    pub intermediate: TestCa,
    pub leaf: Leaf,
    pub cross: CertificateDer<'static>,
    pub cross_pem: String,
}

impl std::fmt::Debug for CrossSignedChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrossSignedChain")
            .field("root", &self.root)
            .field("old_root", &self.old_root)
            .field("intermediate", &self.intermediate)
            .finish_non_exhaustive()
    }
}

impl CrossSignedChain {
    /// R, O, I, a leaf for `names` valid for 90 days, and X expired 365 days ago.
    pub fn new(names: &[&str]) -> CrossSignedChain {
        let root = TestCa::new("testkit root R (trusted)");
        let old_root = TestCa::new("testkit old root O (trusted by nobody)");
        let intermediate = root.intermediate("testkit intermediate I");
        let leaf = intermediate.leaf(&LeafSpec::valid_for(names));
        let (cross, cross_pem) =
            root.cross_signed_by(&old_root, days_from_now(-3 * 365), days_from_now(-365));
        CrossSignedChain {
            root,
            old_root,
            intermediate,
            leaf,
            cross,
            cross_pem,
        }
    }

    /// What the server sends: the leaf, the intermediate, then the expired cross certificate.
    pub fn served(&self) -> Vec<CertificateDer<'static>> {
        let mut chain = self.leaf.full_chain();
        chain.push(self.cross.clone());
        chain
    }
}

fn leaf_params(spec: &LeafSpec) -> CertificateParams {
    let mut params = CertificateParams::new(spec.names.clone()).unwrap_or_else(|e| {
        panic!(
            "invalid certificate names {:?}: {e}: use DNS names (optionally *.) or IP addresses",
            spec.names
        )
    });
    params.distinguished_name = name(spec.names.first().map_or("testkit leaf", String::as_str));
    // NoCa omits BasicConstraints. ExplicitNoCa would DER-encode the default `cA FALSE`, which
    // strict parsers (Python cryptography, hence moto's ACM) reject with a 500.
    params.is_ca = IsCa::NoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = spec.not_before;
    params.not_after = spec.not_after;
    params.use_authority_key_identifier_extension = true;
    params
}

/// Names and validity window of a leaf certificate. Build with [`LeafSpec::valid_for`] then
/// adjust the window with the other constructors, e.g. `LeafSpec::valid_for(&["a.example"]).expired_days_ago(3)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    pub names: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl LeafSpec {
    /// Valid from yesterday for 90 days (an ACM / Let's Encrypt-like lifetime).
    pub fn valid_for(names: &[&str]) -> LeafSpec {
        LeafSpec {
            names: names.iter().map(|n| n.to_string()).collect(),
            not_before: days_from_now(-1),
            not_after: days_from_now(90),
        }
    }

    /// Issued a year ago, expired `days` days ago.
    pub fn expired_days_ago(mut self, days: i64) -> LeafSpec {
        self.not_after = days_from_now(-days);
        self.not_before = days_from_now(-365).min(self.not_after - Duration::days(1));
        self
    }

    /// Starts in ten days (a clock-skew or premature-deploy case), valid for 90 days after that.
    pub fn not_yet_valid(mut self) -> LeafSpec {
        self.not_before = days_from_now(10);
        self.not_after = days_from_now(100);
        self
    }

    /// Still valid, but expires in `days` days.
    pub fn expiring_in_days(mut self, days: i64) -> LeafSpec {
        self.not_after = days_from_now(days);
        self.not_before = days_from_now(-1).min(self.not_after - Duration::days(1));
        self
    }
}

/// A leaf certificate with its key and issuing chain, in both DER (for rustls) and PEM (for ACM
/// and files).
#[derive(Debug)]
pub struct Leaf {
    pub cert_der: CertificateDer<'static>,
    pub cert_pem: String,
    /// PKCS#8.
    pub key_der: PrivateKeyDer<'static>,
    /// PKCS#8 PEM ("BEGIN PRIVATE KEY").
    pub key_pem: String,
    /// The issuing intermediates, nearest first, without the root.
    pub chain: Vec<CertificateDer<'static>>,
    /// `chain` as concatenated PEM (empty when the leaf was signed directly by a root).
    pub chain_pem: String,
}

impl Clone for Leaf {
    fn clone(&self) -> Leaf {
        Leaf {
            cert_der: self.cert_der.clone(),
            cert_pem: self.cert_pem.clone(),
            key_der: self.key_der.clone_key(),
            key_pem: self.key_pem.clone(),
            chain: self.chain.clone(),
            chain_pem: self.chain_pem.clone(),
        }
    }
}

impl Leaf {
    fn new(
        cert: &rcgen::Certificate,
        key: &KeyPair,
        issued_chain: &[(CertificateDer<'static>, String)],
    ) -> Leaf {
        let chain = issued_chain.iter().map(|(der, _)| der.clone()).collect();
        let chain_pem = issued_chain.iter().map(|(_, pem)| pem.as_str()).collect();
        Leaf {
            cert_der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            key_pem: key.serialize_pem(),
            chain,
            chain_pem,
        }
    }

    /// What a correctly configured server sends: the leaf, then its intermediates.
    pub fn full_chain(&self) -> Vec<CertificateDer<'static>> {
        let mut all = vec![self.cert_der.clone()];
        all.extend(self.chain.iter().cloned());
        all
    }
}

/// A self-signed leaf (not a CA): what a misconfigured origin serves when nobody installed a
/// real certificate.
pub fn self_signed(spec: &LeafSpec) -> Leaf {
    let key = new_key();
    let cert = leaf_params(spec).self_signed(&key).unwrap_or_else(|e| {
        panic!(
            "rcgen refused self-signed leaf for {:?}: {e}: names must be DNS names or IPs",
            spec.names
        )
    });
    Leaf::new(&cert, &key, &[])
}
