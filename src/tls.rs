//! TLS for wss:// over rustls with the ring provider: the Mozilla roots plus
//! NODE_EXTRA_CA_CERTS by default, or the caller's CAs, client certificate and
//! verification choice.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// The `tls` option, with PEM text already decoded by the JS wrapper.
#[derive(Default)]
pub struct TlsSettings {
    /// Replaces the default roots when given (as Node's `ca` does).
    pub ca: Option<Vec<String>>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub reject_unauthorized: bool,
}

impl TlsSettings {
    fn is_default(&self) -> bool {
        self.ca.is_none() && self.cert.is_none() && self.key.is_none() && self.reject_unauthorized
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The configuration for these settings; the default one is built once.
pub fn client_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    static DEFAULT: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    if settings.is_default() {
        return DEFAULT.get_or_init(|| build_config(settings)).clone();
    }
    build_config(settings)
}

fn build_config(settings: &TlsSettings) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS setup failed: {error}"))?;
    let builder = if settings.reject_unauthorized {
        builder.with_root_certificates(root_store(settings.ca.as_deref())?)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
    };
    let config = match (&settings.cert, &settings.key) {
        (Some(cert), Some(key)) => {
            let chain = parse_certificates(cert, "tls.cert")?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                .map_err(|error| format!("tls.key holds no usable private key: {error}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|error| format!("tls.cert and tls.key cannot be used: {error}"))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err("tls.cert and tls.key must be given together".to_string()),
    };
    Ok(Arc::new(config))
}

fn root_store(ca: Option<&[String]>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(authorities) => {
            for pem in authorities {
                for certificate in parse_certificates(pem, "tls.ca")? {
                    roots.add(certificate).map_err(|error| {
                        format!("tls.ca holds an unusable certificate: {error}")
                    })?;
                }
            }
        }
        None => {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            // Node trusts these too; an unreadable file is ignored as Node
            // does after its warning.
            if let Some(path) = std::env::var_os("NODE_EXTRA_CA_CERTS") {
                if let Ok(certificates) = CertificateDer::pem_file_iter(path) {
                    roots.add_parsable_certificates(certificates.flatten());
                }
            }
        }
    }
    Ok(roots)
}

fn parse_certificates(pem: &str, option: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{option} is not valid PEM: {error}"))?;
    if certificates.is_empty() {
        return Err(format!("{option} holds no PEM certificate"));
    }
    Ok(certificates)
}

/// The name to verify and send as SNI: `servername` if given, else the host.
pub fn server_name(host: &str, servername: Option<&str>) -> Result<ServerName<'static>, String> {
    let name = servername.unwrap_or(host);
    ServerName::try_from(name.to_string())
        .map_err(|_| format!("{name:?} is not a valid TLS server name"))
}

/// `rejectUnauthorized: false`: any certificate is accepted, but the handshake
/// signatures are still checked so the session keys are the server's.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_configuration_builds_with_the_mozilla_roots() {
        let settings = TlsSettings {
            reject_unauthorized: true,
            ..TlsSettings::default()
        };
        assert!(client_config(&settings).is_ok());
        assert!(root_store(None).unwrap().len() > 100);
    }

    #[test]
    fn bad_pem_and_half_a_key_pair_are_refused_with_the_option_named() {
        let settings = TlsSettings {
            ca: Some(vec!["not pem".to_string()]),
            reject_unauthorized: true,
            ..TlsSettings::default()
        };
        assert!(client_config(&settings).unwrap_err().contains("tls.ca"));
        let half = TlsSettings {
            cert: Some(String::new()),
            reject_unauthorized: true,
            ..TlsSettings::default()
        };
        assert!(client_config(&half).unwrap_err().contains("together"));
    }

    #[test]
    fn ip_addresses_and_host_names_are_server_names() {
        assert!(server_name("127.0.0.1", None).is_ok());
        assert!(server_name("example.com", None).is_ok());
        assert!(server_name("x", Some("bad name!")).is_err());
    }
}
