//! Whether the proxies this process starts may bind ports below 1024.
//!
//! Gateways usually listen on 80 and 443. Where that is not allowed, the sim target shifts every
//! listener port by [`PRIVILEGED_PORT_OFFSET`] and says so in its header. The deciding test is
//! a real bind of a low port on loopback: it covers root, `CAP_NET_BIND_SERVICE` and a lowered
//! `net.ipv4.ip_unprivileged_port_start` alike. The uid, capability and sysctl are read as well,
//! only to explain the answer.
//!
//! Envoy inherits this process's uid and capabilities, so what this process may bind is what its
//! proxies may bind. One exception: a controller holding `CAP_NET_BIND_SERVICE` only as a file
//! capability of its own binary passes the probe, but exec drops that capability for Envoy; grant
//! it as an ambient capability instead.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

/// Added to listener ports when low ports cannot be bound: 80 becomes 10080, 443 becomes 10443.
pub const PRIVILEGED_PORT_OFFSET: u16 = 10000;

/// Bit of `CAP_NET_BIND_SERVICE` in the capability masks of `/proc/self/status`.
const CAP_NET_BIND_SERVICE: u32 = 10;

/// What was found out about binding low ports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PortPrivileges {
    /// A port below 1024 could be bound on 127.0.0.1 (or was taken, which the kernel only
    /// reports after the permission check passed).
    pub low_ports_bindable: bool,
    /// Effective uid, when `/proc/self/status` could be read.
    pub effective_uid: Option<u32>,
    /// Whether `CAP_NET_BIND_SERVICE` is in the effective capability set.
    pub cap_net_bind_service: Option<bool>,
    /// `net.ipv4.ip_unprivileged_port_start`: ports from here up need no privilege.
    pub unprivileged_port_start: Option<u16>,
}

impl PortPrivileges {
    /// The offset to add to listener ports: 0 when low ports are bindable.
    pub fn port_offset(&self) -> u16 {
        if self.low_ports_bindable {
            0
        } else {
            PRIVILEGED_PORT_OFFSET
        }
    }

    /// One line for a run's header.
    pub fn describe(&self) -> String {
        let why = format!(
            "euid {}, CAP_NET_BIND_SERVICE {}, ip_unprivileged_port_start {}",
            opt(self.effective_uid),
            opt(self.cap_net_bind_service),
            opt(self.unprivileged_port_start)
        );
        if self.low_ports_bindable {
            format!("ports below 1024 are bindable ({why})")
        } else {
            format!(
                "ports below 1024 are NOT bindable ({why}): listener ports are shifted by \
                 +{PRIVILEGED_PORT_OFFSET}"
            )
        }
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "unknown".to_string(), |v| v.to_string())
}

/// Find out whether this process may bind ports below 1024.
pub fn detect() -> PortPrivileges {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    PortPrivileges {
        low_ports_bindable: probe_low_port(),
        effective_uid: effective_uid(&status),
        cap_net_bind_service: has_capability(&status, CAP_NET_BIND_SERVICE),
        unprivileged_port_start: std::fs::read_to_string(
            "/proc/sys/net/ipv4/ip_unprivileged_port_start",
        )
        .ok()
        .and_then(|s| s.trim().parse().ok()),
    }
}

/// Try to bind a few ports below 1024 on 127.0.0.1. Permission is checked before the port's
/// availability, so "in use" also proves the privilege; only "permission denied" disproves it.
fn probe_low_port() -> bool {
    for port in [1023u16, 1022, 999] {
        match TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)) {
            Ok(_) => return true,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => return false,
            Err(e) if e.kind() == ErrorKind::AddrInUse => return true,
            Err(_) => continue,
        }
    }
    false
}

/// The second field of the `Uid:` line (real, effective, saved, filesystem).
fn effective_uid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn has_capability(status: &str, bit: u32) -> Option<bool> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let mask = u64::from_str_radix(hex, 16).ok()?;
    Some(mask & (1u64 << bit) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tx\nUid:\t1000\t1001\t1000\t1000\nCapEff:\t0000000000000400\n";

    #[test]
    fn parses_effective_uid_and_capability() {
        assert_eq!(effective_uid(STATUS), Some(1001));
        assert_eq!(has_capability(STATUS, CAP_NET_BIND_SERVICE), Some(true));
        assert_eq!(
            has_capability("CapEff:\t0000000000000000\n", CAP_NET_BIND_SERVICE),
            Some(false)
        );
        assert_eq!(effective_uid("garbage"), None);
    }

    #[test]
    fn offset_follows_the_probe() {
        let mut p = PortPrivileges {
            low_ports_bindable: true,
            effective_uid: Some(0),
            cap_net_bind_service: Some(true),
            unprivileged_port_start: Some(1024),
        };
        assert_eq!(p.port_offset(), 0);
        assert!(p.describe().contains("are bindable"));
        p.low_ports_bindable = false;
        assert_eq!(p.port_offset(), PRIVILEGED_PORT_OFFSET);
        assert!(p.describe().contains("+10000"));
    }

    #[test]
    fn detection_agrees_with_a_real_bind() {
        let p = detect();
        let expected = match TcpListener::bind("127.0.0.1:1021") {
            Ok(_) => true,
            Err(e) => e.kind() != ErrorKind::PermissionDenied,
        };
        assert_eq!(p.low_ports_bindable, expected, "{}", p.describe());
        // Whatever the probe said, the explanation must be consistent with it where it is
        // decisive: the capability (root normally has it) or a sysctl at or below 1021.
        if p.cap_net_bind_service == Some(true)
            || p.unprivileged_port_start.is_some_and(|s| s <= 1021)
        {
            assert!(p.low_ports_bindable, "{}", p.describe());
        }
    }
}
