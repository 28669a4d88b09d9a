//! A certificate given in `tls.ca` that the server presents as its own is
//! trusted as that exact certificate, as Node (OpenSSL) trusts it: the usual
//! development certificate (`openssl req -x509 … -subj /CN=localhost`) is its
//! own CA and often has no subjectAltName, which webpki refuses outright.
//! Everything else goes to webpki unchanged.
//!
//! A pinned certificate is matched byte for byte, must be within its validity
//! dates, and must name the host: through its subjectAltNames when it has
//! any, else through its subject's common name (Node's `checkServerIdentity`
//! rule; an IP address is only ever matched by a subjectAltName).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};
use x509_parser::prelude::{FromDer, X509Certificate};

#[derive(Debug)]
pub struct PinningVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl PinningVerifier {
    pub fn new(webpki: Arc<WebPkiServerVerifier>, pinned: Vec<CertificateDer<'static>>) -> Self {
        PinningVerifier { webpki, pinned }
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if !self
            .pinned
            .iter()
            .any(|pinned| pinned.as_ref() == end_entity.as_ref())
        {
            return self.webpki.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            );
        }
        let (_, certificate) = X509Certificate::from_der(end_entity.as_ref())
            .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
        check_validity_dates(&certificate, now)?;
        check_host_name(end_entity, &certificate, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

fn check_validity_dates(certificate: &X509Certificate<'_>, now: UnixTime) -> Result<(), Error> {
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    let validity = certificate.validity();
    if now < validity.not_before.timestamp() {
        return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if now > validity.not_after.timestamp() {
        return Err(Error::InvalidCertificate(CertificateError::Expired));
    }
    Ok(())
}

fn check_host_name(
    der: &CertificateDer<'_>,
    certificate: &X509Certificate<'_>,
    server_name: &ServerName<'_>,
) -> Result<(), Error> {
    let has_alt_names = matches!(certificate.subject_alternative_name(), Ok(Some(_)));
    if has_alt_names {
        return verify_server_name(&ParsedCertificate::try_from(der)?, server_name);
    }
    let common_names: Vec<String> = certificate
        .subject()
        .iter_common_name()
        .filter_map(|name| name.as_str().ok())
        .map(str::to_string)
        .collect();
    let matches = match server_name {
        ServerName::DnsName(host) => common_names
            .iter()
            .any(|name| dns_name_matches(name, host.as_ref())),
        _ => false,
    };
    if matches {
        return Ok(());
    }
    Err(Error::InvalidCertificate(
        CertificateError::NotValidForNameContext {
            expected: server_name.to_owned(),
            presented: common_names
                .into_iter()
                .map(|name| format!("CN={name}"))
                .collect(),
        },
    ))
}

/// Case-insensitive, with a wildcard only as the whole leftmost label
/// (`*.example.com` matches `a.example.com`, not `example.com` or `a.b.example.com`).
fn dns_name_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    let host = host.trim_end_matches('.');
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::dns_name_matches;

    #[test]
    fn common_names_match_like_node_check_server_identity() {
        assert!(dns_name_matches("localhost", "LocalHost"));
        assert!(dns_name_matches("*.example.com", "api.example.com"));
        assert!(!dns_name_matches("*.example.com", "example.com"));
        assert!(!dns_name_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_name_matches("example.com", "api.example.com"));
    }
}
