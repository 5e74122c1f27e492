//! A private test CA (rcgen) and the certificates tests need: a server certificate for
//! 127.0.0.1 and localhost, one for another host name, an expired one, and client
//! certificates for mutual TLS. Everything is made when the CA is, and written as PEM.

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair,
};
use std::sync::Arc;

/// A certificate with its chain and key, as PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A test certificate authority.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub cert_pem: String,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa { cert_pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    fn issue(&self, names: &[&str], expired: bool, usage: ExtendedKeyUsagePurpose) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names.first().copied().unwrap_or("client"));
        params.distinguished_name = dn;
        params.extended_key_usages = vec![usage];
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }

    /// A server certificate for `names` (host names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Issued {
        self.issue(names, false, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A server certificate for `names` that expired in 2021.
    pub fn expired_server(&self, names: &[&str]) -> Issued {
        self.issue(names, true, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (for mutual TLS) named `name`.
    pub fn client(&self, name: &str) -> Issued {
        self.issue(&[name], false, ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// The rustls configuration of a test server with `cert`; with `client_ca`, clients must
/// present a certificate that CA issued.
pub fn server_config(cert: &Issued, client_ca: Option<&TestCa>) -> std::io::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let err = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain =
        CertificateDer::pem_slice_iter(cert.cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().map_err(|e| err(&e))?;
    let key = PrivateKeyDer::from_pem_slice(cert.key_pem.as_bytes()).map_err(|e| err(&e))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| err(&e))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes()) {
                roots.add(c.map_err(|e| err(&e))?).map_err(|e| err(&e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| err(&e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder.with_single_cert(chain, key).map(Arc::new).map_err(|e| err(&e))
}

/// A new P-256 private key, PKCS#8 PEM (for ES256).
pub fn ec_key_pem() -> String {
    KeyPair::generate().expect("key").serialize_pem()
}
