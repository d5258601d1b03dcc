//! Gateway: listeners, addresses, infrastructure, TLS settings.
//!
//! Findings under `spec.listeners[i]` concern that listener alone (the translator rejects only
//! it); every other finding concerns the whole Gateway. Listeners sharing a port, protocol and
//! hostname are left to the translator's conflict detection, which reports them as
//! `Conflicted` the way the Gateway API describes it.

use std::collections::BTreeMap;

use super::hostnames::hostname;
use super::names;
use super::path::{Checker, Fault, FieldError};
use super::refs::{self, Ref};
use crate::api::{Gateway, GatewayListeners, GatewayListenersTlsMode};

/// The label selector under `namespaces` (of a listener's allowedRoutes, or of the Gateway's
/// allowedListeners: two types of one shape).
macro_rules! namespaces_selector {
    ($c:expr, $namespaces:expr) => {
        if let Some(s) = $namespaces.and_then(|n| n.selector.as_ref()) {
            let expressions = s
                .match_expressions
                .iter()
                .flatten()
                .map(|e| (&e.key, &e.operator, e.values.as_deref()));
            $c.field("namespaces", |c| {
                c.field("selector", |c| {
                    label_selector(c, s.match_labels.as_ref(), expressions)
                })
            });
        }
    };
}

pub fn gateway(gw: &Gateway) -> Vec<FieldError> {
    let mut c = Checker::new();
    let spec = &gw.spec;
    c.field("spec", |c| {
        c.field("gatewayClassName", |c| {
            c.length(&spec.gateway_class_name, 1, 253);
        });
        c.field("listeners", |c| c.min_items(spec.listeners.len(), 1));
        c.list("listeners", Some(&spec.listeners), 64, |c, i, l| {
            listener(c, l);
            if let Some(first) = spec.listeners[..i].iter().position(|o| o.name == l.name) {
                c.field("name", |c| {
                    c.fail(format!(
                        "listener name {:?} is already used by spec.listeners[{first}]",
                        l.name
                    ))
                });
            }
        });
        addresses(c, gw);
        if let Some(infra) = &spec.infrastructure {
            c.field("infrastructure", |c| {
                string_map(c, "labels", infra.labels.as_ref(), 8, 63, true);
                string_map(c, "annotations", infra.annotations.as_ref(), 8, 4096, false);
                if let Some(p) = &infra.parameters_ref {
                    c.field("parametersRef", |c| refs::reference(c, p.into()));
                }
            });
        }
        if let Some(a) = &spec.allowed_listeners {
            c.field("allowedListeners", |c| {
                namespaces_selector!(c, a.namespaces.as_ref())
            });
        }
        if let Some(tls) = &spec.tls {
            c.field("tls", |c| gateway_tls(c, tls));
        }
    });
    c.finish()
}

fn listener(c: &mut Checker, l: &GatewayListeners) {
    c.field("name", |c| {
        if c.length(&l.name, 1, 253) {
            c.check(names::subdomain(&l.name));
        }
    });
    if let Some(h) = &l.hostname {
        c.value("hostname", hostname(h, true));
        if matches!(l.protocol.as_str(), "TCP" | "UDP") {
            c.field("hostname", |c| {
                c.fail(format!("must not be set for protocol {}", l.protocol))
            });
        }
    }
    c.field("port", |c| {
        if !(1..=65535).contains(&l.port) {
            c.fail_with(
                Fault::Port,
                format!("must be between 1 and 65535, is {}", l.port),
            );
        }
    });
    c.value_with("protocol", Fault::Protocol, names::protocol(&l.protocol));
    if let Some(allowed) = &l.allowed_routes {
        c.field("allowedRoutes", |c| {
            c.list("kinds", allowed.kinds.as_deref(), 8, |c, _, k| {
                if let Some(g) = &k.group {
                    c.value("group", names::group(g));
                }
                c.value("kind", names::kind(&k.kind));
            });
            namespaces_selector!(c, allowed.namespaces.as_ref());
        });
    }
    match (&l.tls, l.protocol.as_str()) {
        (Some(_), "HTTP" | "TCP" | "UDP") => c.field("tls", |c| {
            c.fail(format!("must not be set for protocol {}", l.protocol))
        }),
        (None, "TLS") => c.field("tls", |c| c.fail("is required for protocol TLS")),
        (Some(tls), protocol) => c.field("tls", |c| {
            // The API server defaults the mode to Terminate before its rules run.
            let terminate = matches!(tls.mode, None | Some(GatewayListenersTlsMode::Terminate));
            if protocol == "HTTPS" && !terminate {
                c.field("mode", |c| c.fail("must be Terminate for protocol HTTPS"));
            }
            let refs = tls.certificate_refs.as_deref().unwrap_or(&[]);
            let options = tls.options.as_ref().is_some_and(|o| !o.is_empty());
            if terminate && refs.is_empty() && !options {
                c.field("certificateRefs", |c| {
                    c.fail("at least one certificate (or an option) is required when mode is Terminate")
                });
            }
            c.list("certificateRefs", Some(refs), 64, |c, _, r| {
                refs::reference(c, r.into())
            });
            string_map(c, "options", tls.options.as_ref(), 16, 4096, false);
        }),
        (None, _) => {}
    }
}

fn addresses(c: &mut Checker, gw: &Gateway) {
    let list = gw.spec.addresses.as_deref();
    c.list("addresses", list, 16, |c, _, a| {
        let kind = a.r#type.as_deref().unwrap_or("IPAddress");
        c.field("type", |c| {
            if c.length(kind, 1, 253) && !matches!(kind, "IPAddress" | "Hostname" | "NamedAddress")
            {
                c.check(names::domain_prefixed(kind).map_err(|_| {
                    format!(
                        "{kind:?} is not an address type: IPAddress, Hostname, NamedAddress or \
                         a domain-prefixed name"
                    )
                }));
            }
        });
        let Some(v) = &a.value else { return };
        c.field("value", |c| {
            if !c.length(v, 0, 253) {
                return;
            }
            match kind {
                "IPAddress" if v.parse::<std::net::IpAddr>().is_err() => {
                    c.fail(format!("{v:?} is not an IPv4 or IPv6 address"))
                }
                "Hostname" if !v.is_empty() => c.check(hostname(v, true)),
                _ => {}
            }
        });
    });
    // Values must be unique per type (IPAddress and Hostname).
    let items = list.unwrap_or(&[]);
    for (i, a) in items.iter().enumerate() {
        let kind = a.r#type.as_deref().unwrap_or("IPAddress");
        let Some(v) = &a.value else { continue };
        if !matches!(kind, "IPAddress" | "Hostname") {
            continue;
        }
        let first = items[..i].iter().position(|o| {
            o.r#type.as_deref().unwrap_or("IPAddress") == kind && o.value.as_ref() == Some(v)
        });
        if let Some(first) = first {
            c.field("addresses", |c| {
                c.index(i, |c| {
                    c.field("value", |c| {
                        c.fail(format!(
                            "{kind} {v:?} is already given by addresses[{first}]"
                        ))
                    })
                })
            });
        }
    }
}

/// A map of labels or annotations: at most `max` entries, keys in label-key form, values at
/// most `value_max` long (and in label-value form for labels). TLS options only bound their
/// values.
fn string_map(
    c: &mut Checker,
    name: &'static str,
    map: Option<&BTreeMap<String, String>>,
    max: usize,
    value_max: usize,
    label_values: bool,
) {
    let Some(map) = map else { return };
    c.field(name, |c| {
        if map.len() > max {
            c.fail(format!(
                "must have at most {max} entries, has {}",
                map.len()
            ));
        }
        for (k, v) in map {
            c.key(k, |c| {
                if name != "options" {
                    c.check(names::label_key(k));
                }
                if c.length(v, 0, value_max) && label_values {
                    c.check(names::label_value(v));
                }
            });
        }
    });
}

/// A label selector as Kubernetes defines one.
fn label_selector<'a>(
    c: &mut Checker,
    labels: Option<&BTreeMap<String, String>>,
    expressions: impl Iterator<Item = (&'a String, &'a String, Option<&'a [String]>)>,
) {
    string_map(c, "matchLabels", labels, usize::MAX, 63, true);
    for (i, (key, operator, values)) in expressions.enumerate() {
        c.field("matchExpressions", |c| {
            c.index(i, |c| {
                c.value("key", names::label_key(key));
                let n = values.map_or(0, <[String]>::len);
                match operator.as_str() {
                    "In" | "NotIn" if n == 0 => c.field("values", |c| {
                        c.fail(format!("must not be empty for operator {operator}"))
                    }),
                    "Exists" | "DoesNotExist" if n > 0 => c.field("values", |c| {
                        c.fail(format!("must be empty for operator {operator}"))
                    }),
                    "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                    other => c.field("operator", |c| {
                        c.fail(format!(
                            "{other:?} is not an operator: In, NotIn, Exists or DoesNotExist"
                        ))
                    }),
                }
            })
        });
    }
}

fn gateway_tls(c: &mut Checker, tls: &crate::api::GatewayTls) {
    if let Some(r) = tls
        .backend
        .as_ref()
        .and_then(|b| b.client_certificate_ref.as_ref())
    {
        c.field("backend", |c| {
            c.field("clientCertificateRef", |c| refs::reference(c, r.into()))
        });
    }
    let Some(front) = &tls.frontend else { return };
    c.field("frontend", |c| {
        if let Some(v) = &front.default.validation {
            c.field("default", |c| {
                c.field("validation", |c| {
                    ca_refs(c, v.ca_certificate_refs.iter().map(Ref::from).collect())
                })
            });
        }
        let per_port = front.per_port.as_deref();
        c.list("perPort", per_port, 64, |c, _, p| {
            c.field("port", |c| c.range(p.port.into(), 1, 65535));
            if let Some(v) = &p.tls.validation {
                c.field("tls", |c| {
                    c.field("validation", |c| {
                        ca_refs(c, v.ca_certificate_refs.iter().map(Ref::from).collect())
                    })
                });
            }
        });
        let ports: Vec<String> = per_port
            .unwrap_or(&[])
            .iter()
            .map(|p| p.port.to_string())
            .collect();
        c.unique("perPort", ports.iter().map(String::as_str), "port");
    });
}

fn ca_refs(c: &mut Checker, refs_: Vec<Ref<'_>>) {
    c.field("caCertificateRefs", |c| {
        c.min_items(refs_.len(), 1);
        c.max_items(refs_.len(), 8);
        for (i, r) in refs_.into_iter().enumerate() {
            c.index(i, |c| refs::reference(c, r));
        }
    });
}
