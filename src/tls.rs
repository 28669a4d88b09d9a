//! TLS for wss:// over rustls with the ring provider: the Mozilla roots plus
//! NODE_EXTRA_CA_CERTS by default, or the caller's CAs (each also pinned as a
//! server certificate: pinned_certificate.rs), client certificate and
//! verification choice; and what a failed handshake means, in a sentence.

use std::io;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, ClientConfig, DigitallySignedStruct, Error, InvalidMessage,
    RootCertStore, SignatureScheme,
};

use crate::failure::{Failure, TLS};
use crate::pinned_certificate::PinningVerifier;

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
    let builder = if !settings.reject_unauthorized {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
    } else if let Some(ca) = &settings.ca {
        let pinned = ca
            .iter()
            .map(|pem| parse_certificates(pem, "tls.ca"))
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        let webpki = WebPkiServerVerifier::builder_with_provider(
            Arc::new(root_store(Some(&pinned))?),
            provider(),
        )
        .build()
        .map_err(|error| format!("tls.ca cannot be used: {error}"))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinningVerifier::new(webpki, pinned)))
    } else {
        builder.with_root_certificates(root_store(None)?)
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

/// The caller's CAs, or else the default roots.
fn root_store(ca: Option<&[CertificateDer<'static>]>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(authorities) => {
            for certificate in authorities {
                roots
                    .add(certificate.clone())
                    .map_err(|error| format!("tls.ca holds an unusable certificate: {error}"))?;
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

/// Why the TLS handshake with `host` failed, in a sentence after
/// `heading`: rustls's error inside the I/O error tokio-rustls returns (code
/// ERR_WEBSOCKETSTREAM_TLS, with rustls's name for a refused certificate), or
/// the socket's own (Node's code for it).
pub fn handshake_failure(error: &io::Error, host: &str, heading: &str) -> Failure {
    let Some(tls_error) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
    else {
        return Failure::io(
            error,
            format!("{heading}the connection failed during the TLS handshake: {error}"),
        );
    };
    let mut failure = Failure::new(
        TLS,
        format!("{heading}{}", describe_tls_error(tls_error, host)),
    );
    if let Error::InvalidCertificate(certificate) = tls_error {
        failure.certificate_error = Some(certificate_error_name(certificate));
    }
    failure
}

/// rustls's name for the refusal (`UnknownIssuer`, `NotValidForName`,
/// `Expired`, …; webpki's for the others, such as `CaUsedAsEndEntity`).
fn certificate_error_name(error: &CertificateError) -> String {
    if let CertificateError::Other(other) = error {
        if let Some(webpki) = other.0.downcast_ref::<webpki::Error>() {
            return format!("{webpki:?}");
        }
    }
    let name = format!("{error:?}");
    // The *Context variants carry details; their name is the plain one's.
    let name = name.split([' ', '(', '{']).next().unwrap_or_default();
    name.trim_end_matches("Context").to_string()
}

fn describe_tls_error(error: &Error, host: &str) -> String {
    match error {
        Error::InvalidCertificate(certificate) => describe_certificate_error(certificate, host),
        Error::InvalidMessage(InvalidMessage::InvalidContentType) => {
            "the server did not answer in TLS: is it a ws:// server?".to_string()
        }
        Error::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server requires a client certificate (tls.cert and tls.key)".to_string()
        }
        Error::AlertReceived(alert) => format!("the server refused the TLS handshake ({alert:?})"),
        other => other.to_string(),
    }
}

fn describe_certificate_error(error: &CertificateError, host: &str) -> String {
    match error {
        CertificateError::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
            let names: Vec<&str> = presented.iter().map(|name| bare_name(name)).collect();
            format!(
                "the certificate is not valid for host {host} (it names {})",
                names.join(", ")
            )
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("the certificate is not valid for host {host} (it names no host)")
        }
        CertificateError::UnknownIssuer => "the server's certificate is not signed by a trusted authority (tls.ca, or the default roots and NODE_EXTRA_CA_CERTS)".to_string(),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "the server's certificate has expired".to_string()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "the server's certificate is not valid yet".to_string()
        }
        CertificateError::BadSignature => "the server's certificate has a bad signature".to_string(),
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "the server's certificate is not for TLS servers (its extended key usage)".to_string()
        }
        CertificateError::Other(other)
            if matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) =>
        {
            "the server's certificate is a CA certificate, not a server certificate (give that exact certificate in tls.ca to trust it)".to_string()
        }
        other => format!("the server's certificate was refused: {other}"),
    }
}

/// `other.example` out of webpki's `DnsName("other.example")` (and
/// `IpAddress(…)`); our own `CN=…` as it is.
fn bare_name(presented: &str) -> &str {
    match presented.split_once('(') {
        Some((_, inner)) => inner.trim_end_matches(')').trim_matches('"'),
        None => presented,
    }
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
    fn refused_certificates_are_named_as_rustls_names_them() {
        assert_eq!(
            certificate_error_name(&CertificateError::UnknownIssuer),
            "UnknownIssuer"
        );
        let context = CertificateError::NotValidForNameContext {
            expected: ServerName::try_from("a.test").unwrap(),
            presented: vec![],
        };
        assert_eq!(certificate_error_name(&context), "NotValidForName");
        let ca = CertificateError::Other(rustls::OtherError(Arc::new(
            webpki::Error::CaUsedAsEndEntity,
        )));
        assert_eq!(certificate_error_name(&ca), "CaUsedAsEndEntity");
    }

    #[test]
    fn presented_names_read_bare() {
        assert_eq!(bare_name("DnsName(\"other.example\")"), "other.example");
        assert_eq!(bare_name("CN=localhost"), "CN=localhost");
    }

    #[test]
    fn ip_addresses_and_host_names_are_server_names() {
        assert!(server_name("127.0.0.1", None).is_ok());
        assert!(server_name("example.com", None).is_ok());
        assert!(server_name("x", Some("bad name!")).is_err());
    }
}
