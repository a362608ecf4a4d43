//! The contract between the planes: gRPC sync messages (`v1`), the typed Kong model (`schema`)
//! and what both planes read in the cluster certificates they authenticate each other with
//! (`cert`), the cluster TLS files they load (`tls_files`), and the signature checks of their
//! certificate verifiers (`tls_verify`).

pub mod cert;
pub mod schema;
pub mod tls_files;
pub mod tls_verify;

/// Generated gRPC types and services for `gateway.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("gateway.v1");
}
