//! Log plugins (file-log, http-log): the request facts they capture, Kong's log serializer,
//! and the background sinks that write entries off the request path.

pub mod capture;
pub mod serializer;
