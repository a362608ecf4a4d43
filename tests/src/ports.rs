//! Free TCP ports, for the rare process whose port must be chosen before it starts (Prometheus).

use std::net::TcpListener;

use anyhow::{Context, Result};

/// A port on 127.0.0.1 that was free a moment ago (bound, then released).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    #[test]
    fn gives_a_bindable_port() {
        let port = super::free_port().unwrap();
        assert_ne!(port, 0);
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}
