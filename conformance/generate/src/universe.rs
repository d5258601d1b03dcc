//! The fixed part of every generated case: namespaces, echo backends, the Gateways' names and
//! the serving certificate. They exist once per run (the `fuzz` base fixture), so that a live
//! run starts their echo replicas and Envoys once and every case only changes what it
//! generates: labels, listeners, routes and grants.

/// The namespaces every case uses.
pub const NAMESPACES: [&str; 3] = ["fz-a", "fz-b", "fz-c"];

/// Echo backends, in every namespace: (Service name, Service port). Each has one replica
/// answering on target port 3000.
pub const BACKENDS: [(&str, u16); 2] = [("echo-1", 8080), ("echo-2", 8080)];
pub const TARGET_PORT: u16 = 3000;

/// The Gateways every case configures: (namespace, name).
pub const GATEWAYS: [(&str, &str); 2] = [("fz-a", "gw-0"), ("fz-b", "gw-1")];

/// The TestCertificate (and Secret) HTTPS listeners reference; every namespace has one.
pub const CERT_NAME: &str = "fz-cert";

/// Hostnames listeners and routes pick from: exact names, nested names and wildcards, so that
/// intersections of every shape occur.
pub const HOSTNAMES: [&str; 6] = [
    "a.fz.test",
    "b.fz.test",
    "x.a.fz.test",
    "*.fz.test",
    "*.a.fz.test",
    "c.other.test",
];

/// Hosts requests are sent with besides the generated hostnames (and names that the wildcards
/// cover): a name nothing covers and the bare parent of the wildcards.
pub const EXTRA_HOSTS: [&str; 3] = ["fz.test", "y.b.fz.test", "none.example"];

/// DNS names of the serving certificate: every host a request may carry.
pub const CERT_DNS_NAMES: [&str; 6] = [
    "fz.test",
    "*.fz.test",
    "*.a.fz.test",
    "*.b.fz.test",
    "c.other.test",
    "none.example",
];

/// Namespace labels listeners select on.
pub const LABELS: [(&str, &str); 3] = [("team", "red"), ("team", "blue"), ("env", "prod")];

/// Listener ports; HTTP and HTTPS may land on the same one (a protocol conflict).
pub const PORTS: [u16; 3] = [80, 8080, 443];

/// The group of the Gateway API.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";
