//! The contract between the planes: gRPC sync messages (`v1`) and the typed Kong model (`schema`).

pub mod schema;

/// Generated gRPC types and services for `gateway.v1`.
#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("gateway.v1");
}
