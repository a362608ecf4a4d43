//! The signature-check half of a rustls certificate verifier, written once: every verifier
//! the planes define (the cluster link's pinned and name-checking ones, the DP's upstream
//! ones) decides about the certificate itself and leaves the handshake signatures to rustls.
//! Expands inside an `impl ServerCertVerifier` / `impl ClientCertVerifier` block; the calling
//! crate depends on `rustls`.

/// `signature_checks!(algs: field)` checks with the `WebPkiSupportedAlgorithms` in `field`;
/// `signature_checks!(inner: field)` delegates to the wrapped verifier in `field`.
#[macro_export]
macro_rules! signature_checks {
    (algs: $algs:ident) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            ::rustls::crypto::verify_tls12_signature(message, cert, dss, &self.$algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            ::rustls::crypto::verify_tls13_signature(message, cert, dss, &self.$algs)
        }

        fn supported_verify_schemes(&self) -> Vec<::rustls::SignatureScheme> {
            self.$algs.supported_schemes()
        }
    };
    (inner: $inner:ident) => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            self.$inner.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            self.$inner.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<::rustls::SignatureScheme> {
            self.$inner.supported_verify_schemes()
        }
    };
}
