//! `mock-llm --listen 127.0.0.1:PORT`: the tests' OpenAI-compatible stand-in as a standalone
//! server, used by `deploy/quickstart.sh` when no `OPENAI_API_KEY` is set.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use e2e::mock_llm::MockLlm;

const USAGE: &str = "usage: mock-llm [--listen 127.0.0.1:8090]";

fn parse_listen(args: &[String]) -> Result<SocketAddr> {
    let mut listen = "127.0.0.1:8090".to_string();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--listen" => listen = iter.next().context(USAGE)?.clone(),
            s if s.starts_with("--listen=") => listen = s["--listen=".len()..].to_string(),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    listen
        .parse()
        .with_context(|| format!("--listen {listen:?} is not an IP:PORT address"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let listen = parse_listen(&args)?;
    let mock = MockLlm::bind(listen).await?;
    println!("mock-llm listening on {}", mock.addr());
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    println!(
        "mock-llm: served {} requests, stopping",
        mock.requests().len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listen() {
        let a = |v: &[&str]| parse_listen(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(a(&[]).unwrap().port(), 8090);
        assert_eq!(a(&["--listen", "127.0.0.1:9"]).unwrap().port(), 9);
        assert_eq!(a(&["--listen=127.0.0.1:7"]).unwrap().port(), 7);
        assert!(a(&["--bogus"]).is_err());
        assert!(a(&["--listen", "nope"]).is_err());
    }
}
