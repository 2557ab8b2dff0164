//! Step 2, TCP: connect to every resolved address at once, within the step's timeout.
//!
//! "Refused" and "timed out" are different findings: a refusal (RST) means the host is
//! reachable but nothing listens (server stopped, wrong port); a timeout or an
//! unreachable network means packets are dropped on the way (security group, NACL,
//! route table). The first address that connects is used for the next steps; the detail
//! lists what every address did.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// What happened to one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrOutcome {
    /// Connected after this long.
    Connected(Duration),
    /// The host answered with a reset: nothing listens there.
    Refused,
    /// No answer within the step's timeout.
    TimedOut,
    /// The network or host is unreachable (ICMP error, no route).
    Unreachable(String),
    /// Any other socket error.
    Other(String),
    /// Another address connected first; this one was not waited for.
    NotWaited,
}

impl AddrOutcome {
    fn text(&self) -> String {
        match self {
            AddrOutcome::Connected(d) => format!("connected in {:.1}ms", d.as_secs_f64() * 1e3),
            AddrOutcome::Refused => "refused".into(),
            AddrOutcome::TimedOut => "timed out".into(),
            AddrOutcome::Unreachable(e) => format!("unreachable ({e})"),
            AddrOutcome::Other(e) => format!("error ({e})"),
            AddrOutcome::NotWaited => "not waited for".into(),
        }
    }
}

/// No address accepted a connection.
#[derive(Debug, thiserror::Error)]
#[error("no address accepted a TCP connection: {}", describe(.outcomes))]
pub struct TcpError {
    /// Each address and what it did.
    pub outcomes: Vec<(SocketAddr, AddrOutcome)>,
}

impl TcpError {
    /// True when any address timed out or was unreachable: packets are dropped on the
    /// path (as opposed to every address refusing).
    pub fn path_blocked(&self) -> bool {
        self.outcomes
            .iter()
            .any(|(_, o)| matches!(o, AddrOutcome::TimedOut | AddrOutcome::Unreachable(_)))
    }
}

/// An open connection and the per-address report.
#[derive(Debug)]
pub struct Connected {
    /// The stream to the first address that accepted.
    pub stream: TcpStream,
    /// That address.
    pub addr: SocketAddr,
    /// Each address and what it did.
    pub outcomes: Vec<(SocketAddr, AddrOutcome)>,
}

/// Connect to all `addrs` concurrently; return the first success (in completion order)
/// or, when none connects within `limit`, every address's outcome.
pub async fn connect(addrs: &[SocketAddr], limit: Duration) -> Result<Connected, TcpError> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut outcomes: Vec<(SocketAddr, AddrOutcome)> =
        addrs.iter().map(|a| (*a, AddrOutcome::TimedOut)).collect();
    let mut set = JoinSet::new();
    for (i, addr) in addrs.iter().copied().enumerate() {
        set.spawn(async move {
            let start = Instant::now();
            (i, TcpStream::connect(addr).await, start.elapsed())
        });
    }
    loop {
        let next = tokio::time::timeout_at(deadline, set.join_next()).await;
        let Ok(Some(joined)) = next else {
            // Deadline reached (the rest stay "timed out") or every attempt finished.
            break;
        };
        let Ok((i, result, took)) = joined else {
            continue;
        };
        match result {
            Ok(stream) => {
                outcomes[i].1 = AddrOutcome::Connected(took);
                for (j, o) in outcomes.iter_mut().enumerate() {
                    if j != i && o.1 == AddrOutcome::TimedOut {
                        o.1 = AddrOutcome::NotWaited;
                    }
                }
                set.abort_all();
                let _ = stream.set_nodelay(true);
                return Ok(Connected {
                    stream,
                    addr: addrs[i],
                    outcomes,
                });
            }
            Err(e) => outcomes[i].1 = outcome_of(&e),
        }
    }
    set.abort_all();
    Err(TcpError { outcomes })
}

fn outcome_of(e: &std::io::Error) -> AddrOutcome {
    match e.kind() {
        ErrorKind::ConnectionRefused => AddrOutcome::Refused,
        ErrorKind::TimedOut => AddrOutcome::TimedOut,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
            AddrOutcome::Unreachable(e.to_string())
        }
        _ => AddrOutcome::Other(e.to_string()),
    }
}

/// The step detail: `127.0.0.1:5432 connected in 0.2ms; [::1]:5432 refused`.
pub fn describe(outcomes: &[(SocketAddr, AddrOutcome)]) -> String {
    let parts: Vec<String> = outcomes
        .iter()
        .map(|(a, o)| format!("{a} {}", o.text()))
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refused_and_connected() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open = listener.local_addr().unwrap();
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let err = connect(&[closed], Duration::from_secs(2))
            .await
            .unwrap_err();
        assert_eq!(err.outcomes, vec![(closed, AddrOutcome::Refused)]);
        assert!(!err.path_blocked());
        assert!(err.to_string().contains("refused"), "{err}");

        let ok = connect(&[closed, open], Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(ok.addr, open);
        assert!(matches!(ok.outcomes[1].1, AddrOutcome::Connected(_)));
        let d = describe(&ok.outcomes);
        assert!(d.contains(&format!("{open} connected in")), "{d}");
    }
}
