//! TLS trust and identity, as curl does it: the system trust store by default (honouring
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`), a CA file per fetcher instead of it, verification
//! off only where a fetcher turns it off, and a client certificate for mutual TLS (RFC 8705).
//! A fetcher with its own CA file or client certificate has its own HTTP agent (and pool);
//! the others share two.

use crate::error::{Error, Result};
use crate::fork;
use arc_swap::ArcSwapOption;
use once_cell::race::OnceBox;
use std::sync::Arc;
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

/// How a fetcher's connections are secured.
pub struct Tls {
    verify: bool,
    /// The CA file's certificates, trusted instead of the system store.
    roots: Option<Arc<Vec<Certificate<'static>>>>,
    client: Option<ClientCert>,
    /// This fetcher's agent, made in one fork generation (a child makes its own). Lock-free,
    /// so that a child never waits for a lock that a thread of its parent held.
    agent: ArcSwapOption<(u64, ureq::Agent)>,
}

/// The system trust store, read once: what `SSL_CERT_FILE` / `SSL_CERT_DIR` name, else the
/// operating system's certificates; the bundled Mozilla roots when neither gives any.
///
/// The process-wide values here are `race::OnceBox`es, never a `Lazy`: reading the store
/// takes milliseconds, and a `Lazy` that a parent thread was initialising when the process
/// forked would make every use in the child wait forever. A `OnceBox` never waits; two
/// threads (or a child) may each compute the value and one of them is kept.
static SYSTEM_ROOTS: OnceBox<RootCerts> = OnceBox::new();

fn system_roots() -> RootCerts {
    SYSTEM_ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            Box::new(if found.certs.is_empty() {
                RootCerts::WebPki
            } else {
                found.certs.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()).collect::<Vec<_>>().into()
            })
        })
        .clone()
}

static DEFAULT: OnceBox<Arc<Tls>> = OnceBox::new();
static UNVERIFIED: OnceBox<Arc<Tls>> = OnceBox::new();

fn shared(verify: bool) -> Arc<Tls> {
    let cell = if verify { &DEFAULT } else { &UNVERIFIED };
    cell.get_or_init(|| Box::new(Arc::new(Tls::plain(verify)))).clone()
}

fn read(what: &str, path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::invalid_argument(format!("cannot read the {what} \"{path}\": {e}")))
}

/// The certificates in a PEM file; none is an error.
pub(crate) fn certificates(what: &str, path: &str) -> Result<Vec<Certificate<'static>>> {
    let pem = read(what, path)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(_) => return Err(Error::invalid_argument(format!("the {what} \"{path}\" is not valid PEM"))),
        }
    }
    if certs.is_empty() {
        return Err(Error::invalid_argument(format!("the {what} \"{path}\" holds no certificate")));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, PKCS#1 or SEC1); the message never shows it.
pub fn private_key(what: &str, path: &str) -> Result<PrivateKey<'static>> {
    let pem = zeroize::Zeroizing::new(read(what, path)?);
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(PemItem::PrivateKey(k)) => return Ok(k),
            Ok(_) => {}
            Err(_) => return Err(Error::invalid_argument(format!("the {what} \"{path}\" is not valid PEM"))),
        }
    }
    Err(Error::invalid_argument(format!("the {what} \"{path}\" holds no private key")))
}

impl Tls {
    fn plain(verify: bool) -> Tls {
        Tls { verify, roots: None, client: None, agent: ArcSwapOption::empty() }
    }

    /// The settings of a fetcher: `verify` off skips certificate checks (test servers only);
    /// `ca_file` (PEM) is trusted instead of the system store; `client_cert` (certificate
    /// chain and key, PEM) is presented to servers that ask. Bad files are
    /// `INVALID_ARGUMENT`, naming the file.
    pub fn new(verify: bool, ca_file: Option<&str>, client_cert: Option<(&str, &str)>) -> Result<Arc<Tls>> {
        if ca_file.is_none() && client_cert.is_none() {
            return Ok(shared(verify));
        }
        let roots = ca_file.map(|f| certificates("CA file", f)).transpose()?.map(Arc::new);
        let client = match client_cert {
            Some((cert, key)) => {
                let chain = certificates("client certificate", cert)?;
                Some(ClientCert::new_with_certs(&chain, private_key("client key", key)?))
            }
            None => None,
        };
        Ok(Arc::new(Tls { verify, roots, client, agent: ArcSwapOption::empty() }))
    }

    /// The shared settings: system trust store, verified.
    pub fn system() -> Arc<Tls> {
        shared(true)
    }

    pub fn verifies(&self) -> bool {
        self.verify
    }

    /// The ureq TLS configuration.
    pub(crate) fn config(&self) -> TlsConfig {
        let roots = match &self.roots {
            Some(certs) => RootCerts::Specific(certs.clone()),
            None => system_roots(),
        };
        TlsConfig::builder()
            .root_certs(roots)
            .client_cert(self.client.clone())
            .disable_verification(!self.verify)
            .build()
    }

    /// The agent for these settings: made with `make` once per fork generation.
    pub(crate) fn agent(&self, make: impl FnOnce(TlsConfig) -> ureq::Agent) -> ureq::Agent {
        let generation = fork::generation();
        if let Some(current) = &*self.agent.load() {
            if current.0 == generation {
                return current.1.clone();
            }
        }
        let agent = make(self.config());
        self.agent.store(Some(Arc::new((generation, agent.clone()))));
        agent
    }
}
