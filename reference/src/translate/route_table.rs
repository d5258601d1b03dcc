//! A route configuration whose virtual hosts are shared, not owned.
//!
//! One Gateway can have thousands of virtual hosts, and a change usually touches one. prost's
//! `RouteConfiguration` owns its virtual hosts, so taking the unchanged ones over from the
//! previous translation would mean copying each. Here they are `Arc`s: the next translation
//! shares what did not change, and only the Envoy encoding (a byte-for-byte match of prost's)
//! and the admin views build the whole message.

use std::sync::Arc;

use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, VirtualHost};
use prost::Message;

/// What the translator sets on a route configuration: its name, its virtual hosts, and the
/// two fields it decides (see `vhosts::route_configuration`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RouteTable {
    pub name: String,
    pub virtual_hosts: Vec<Arc<VirtualHost>>,
    pub ignore_port_in_host_matching: bool,
    pub most_specific_header_mutations_wins: bool,
}

impl RouteTable {
    /// The Envoy message, with its own copy of every virtual host.
    pub fn to_proto(&self) -> RouteConfiguration {
        RouteConfiguration {
            name: self.name.clone(),
            virtual_hosts: self.virtual_hosts.iter().map(|v| (**v).clone()).collect(),
            ..self.tail()
        }
    }

    /// The same bytes as `self.to_proto().encode_to_vec()`, without copying a virtual host:
    /// prost writes fields in field-number order, name (1) and virtual hosts (2) first.
    pub fn encode_to_vec(&self) -> Vec<u8> {
        let head = RouteConfiguration {
            name: self.name.clone(),
            ..Default::default()
        };
        let tail = self.tail();
        let hosts: usize = self
            .virtual_hosts
            .iter()
            .map(|v| prost::encoding::message::encoded_len(2, v.as_ref()))
            .sum();
        let mut buf = Vec::with_capacity(head.encoded_len() + hosts + tail.encoded_len());
        head.encode_raw(&mut buf);
        for v in &self.virtual_hosts {
            prost::encoding::message::encode(2, v.as_ref(), &mut buf);
        }
        tail.encode_raw(&mut buf);
        buf
    }

    /// The fields after the virtual hosts, alone.
    fn tail(&self) -> RouteConfiguration {
        RouteConfiguration {
            ignore_port_in_host_matching: self.ignore_port_in_host_matching,
            most_specific_header_mutations_wins: self.most_specific_header_mutations_wins,
            ..Default::default()
        }
    }
}

/// For tests and tools that build a configuration by hand. Fields the translator never sets
/// are dropped, so the conversion refuses (in debug builds) a configuration that has any.
impl From<RouteConfiguration> for RouteTable {
    fn from(rc: RouteConfiguration) -> Self {
        let table = RouteTable {
            name: rc.name.clone(),
            virtual_hosts: rc.virtual_hosts.iter().cloned().map(Arc::new).collect(),
            ignore_port_in_host_matching: rc.ignore_port_in_host_matching,
            most_specific_header_mutations_wins: rc.most_specific_header_mutations_wins,
        };
        debug_assert_eq!(
            table.to_proto(),
            rc,
            "RouteTable keeps only name, virtual hosts and two flags"
        );
        table
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::route::v3::{Route, RouteAction, route, route_action};

    use super::*;

    fn host(name: &str, routes: usize) -> VirtualHost {
        VirtualHost {
            name: name.to_string(),
            domains: vec![format!("{name}.example.com")],
            routes: (0..routes)
                .map(|i| Route {
                    name: format!("{name}-{i}"),
                    action: Some(route::Action::Route(RouteAction {
                        cluster_specifier: Some(route_action::ClusterSpecifier::Cluster(format!(
                            "c{i}"
                        ))),
                        ..Default::default()
                    })),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn its_encoding_is_the_envoy_message_s_byte_for_byte() {
        for (hosts, port, headers) in [(0, false, false), (1, true, false), (3, true, true)] {
            let proto = RouteConfiguration {
                name: "default/gw/80".to_string(),
                virtual_hosts: (0..hosts).map(|h| host(&format!("h{h}"), h + 1)).collect(),
                ignore_port_in_host_matching: port,
                most_specific_header_mutations_wins: headers,
                ..Default::default()
            };
            let table = RouteTable::from(proto.clone());
            assert_eq!(
                table.encode_to_vec(),
                proto.encode_to_vec(),
                "{hosts} hosts"
            );
            assert_eq!(table.to_proto(), proto);
        }
    }
}
