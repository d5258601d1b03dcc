//! Content versions: stable hashes of resources and of sets of resources.
//!
//! Hashing prost's encoding directly is not enough. envoy-types generates protobuf `map` fields
//! as `HashMap`s (`typed_extension_protocol_options`, `typed_per_filter_config`, metadata), and
//! two maps with the same entries encode in different orders; identical content would get
//! different versions and be pushed again for nothing. So a resource is hashed in a canonical
//! form: map entries sorted, fields ordered by number, and `Any` payloads canonicalized through
//! the descriptors `build.rs` compiles. The hash is FNV-1a, written here so that a version never
//! changes between builds or Rust releases (a reconnecting delta client presents the versions it
//! holds, and a stable hash lets the server skip resending them).

use envoy_types::pb::google::protobuf::Any;
use prost_reflect::{Kind, MessageDescriptor};

/// 64-bit FNV-1a.
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    /// Write a length-prefixed field, so that ("ab","c") and ("a","bc") hash differently.
    pub(crate) fn field(&mut self, bytes: &[u8]) {
        self.write(&(bytes.len() as u64).to_le_bytes());
        self.write(bytes);
    }

    pub(crate) fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// Version of one packed resource.
pub(crate) fn resource_version(any: &Any) -> String {
    let mut h = Fnv::new();
    h.field(any.type_url.as_bytes());
    h.field(&canonical_payload(&any.type_url, &any.value));
    h.hex()
}

/// Version of a set of resources: a hash of their names and versions in name order.
pub(crate) fn set_version<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut h = Fnv::new();
    for (name, version) in entries {
        h.field(name.as_bytes());
        h.field(version.as_bytes());
    }
    h.hex()
}

/// The canonical encoding of an `Any` payload, or the payload itself when its type is unknown
/// or it does not parse (then the hash is merely less forgiving, never wrong about a change).
fn canonical_payload(type_url: &str, value: &[u8]) -> Vec<u8> {
    // Without descriptors (a broken build, logged once) map fields may get spurious versions.
    let Ok(pool) = crate::descriptors::pool() else {
        return value.to_vec();
    };
    let name = type_url.rsplit('/').next().unwrap_or(type_url);
    match pool.get_message_by_name(name) {
        Some(desc) => {
            let mut out = Vec::with_capacity(value.len());
            match canonicalize(&desc, value, &mut out) {
                Ok(()) => out,
                Err(WireError) => value.to_vec(),
            }
        }
        None => value.to_vec(),
    }
}

#[derive(Debug)]
struct WireError;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or(WireError)?;
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or(WireError)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One field occurrence, re-encoded (tag included). `sort_key` orders map entries by content;
/// other repeated fields keep their order (`seq`).
struct Occurrence {
    number: u32,
    sort_key: Option<Vec<u8>>,
    seq: usize,
    bytes: Vec<u8>,
}

/// Re-encode `buf` (a message of type `desc`) canonically into `out`.
fn canonicalize(desc: &MessageDescriptor, buf: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    if desc.full_name() == "google.protobuf.Any" {
        return canonicalize_any(buf, out);
    }
    let mut r = Reader { buf, pos: 0 };
    let mut fields = Vec::new();
    while r.pos < buf.len() {
        let key = r.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| WireError)?;
        let wire_type = key & 7;
        let mut bytes = Vec::new();
        put_varint(&mut bytes, key);
        let mut is_map = false;
        match wire_type {
            0 => {
                let v = r.varint()?;
                put_varint(&mut bytes, v);
            }
            1 => bytes.extend_from_slice(r.take(8)?),
            5 => bytes.extend_from_slice(r.take(4)?),
            2 => {
                let len = usize::try_from(r.varint()?).map_err(|_| WireError)?;
                let payload = r.take(len)?;
                let field = desc.get_field(number);
                match field.as_ref().map(|f| (f.is_map(), f.kind())) {
                    Some((map, Kind::Message(inner))) => {
                        is_map = map;
                        let mut canon = Vec::with_capacity(payload.len());
                        canonicalize(&inner, payload, &mut canon)?;
                        put_varint(&mut bytes, canon.len() as u64);
                        bytes.extend_from_slice(&canon);
                    }
                    _ => {
                        put_varint(&mut bytes, len as u64);
                        bytes.extend_from_slice(payload);
                    }
                }
            }
            _ => return Err(WireError),
        }
        let seq = fields.len();
        let sort_key = is_map.then(|| bytes.clone());
        fields.push(Occurrence {
            number,
            sort_key,
            seq,
            bytes,
        });
    }
    fields.sort_by(|a, b| (a.number, &a.sort_key, a.seq).cmp(&(b.number, &b.sort_key, b.seq)));
    for f in fields {
        out.extend_from_slice(&f.bytes);
    }
    Ok(())
}

/// `Any` holds its payload as opaque bytes; canonicalize the payload by its own type.
fn canonicalize_any(buf: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    let mut r = Reader { buf, pos: 0 };
    let mut type_url: &[u8] = &[];
    let mut value: &[u8] = &[];
    while r.pos < buf.len() {
        let key = r.varint()?;
        match (key >> 3, key & 7) {
            (n, 2) => {
                let len = usize::try_from(r.varint()?).map_err(|_| WireError)?;
                let payload = r.take(len)?;
                match n {
                    1 => type_url = payload,
                    2 => value = payload,
                    _ => {}
                }
            }
            (_, 0) => {
                r.varint()?;
            }
            (_, 1) => {
                r.take(8)?;
            }
            (_, 5) => {
                r.take(4)?;
            }
            _ => return Err(WireError),
        }
    }
    let url = std::str::from_utf8(type_url).map_err(|_| WireError)?;
    let canon = canonical_payload(url, value);
    out.push(0x0a);
    put_varint(out, type_url.len() as u64);
    out.extend_from_slice(type_url);
    out.push(0x12);
    put_varint(out, canon.len() as u64);
    out.extend_from_slice(&canon);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
    use envoy_types::pb::google::protobuf::Duration;
    use envoy_types::util::pack_any;
    use prost::Message;

    /// Two clusters whose `typed_extension_protocol_options` hold the same entries, inserted in
    /// different orders, until their encodings differ (HashMap order is per instance).
    #[test]
    fn map_order_does_not_change_the_version() {
        let keys: Vec<String> = (0..8).map(|i| format!("envoy.ext.{i}")).collect();
        let build = |order: &mut dyn Iterator<Item = &String>| Cluster {
            name: "c".into(),
            typed_extension_protocol_options: order
                .map(|k| {
                    (
                        k.clone(),
                        pack_any(Router {
                            suppress_envoy_headers: k.ends_with('3'),
                            ..Default::default()
                        }),
                    )
                })
                .collect(),
            ..Default::default()
        };
        let a = build(&mut keys.iter());
        let mut differing = None;
        for _ in 0..50 {
            let b = build(&mut keys.iter().rev());
            if a.encode_to_vec() != b.encode_to_vec() {
                differing = Some(b);
                break;
            }
        }
        let b = differing.expect("HashMap iteration order never differed in 50 tries");
        assert_eq!(a, b);
        assert_eq!(
            resource_version(&pack_any(a)),
            resource_version(&pack_any(b))
        );
    }

    #[test]
    fn different_content_changes_the_version() {
        let c = |secs| Cluster {
            name: "c".into(),
            connect_timeout: Some(Duration {
                seconds: secs,
                nanos: 0,
            }),
            ..Default::default()
        };
        assert_ne!(
            resource_version(&pack_any(c(1))),
            resource_version(&pack_any(c(2)))
        );
        assert_eq!(
            resource_version(&pack_any(c(1))),
            resource_version(&pack_any(c(1)))
        );
    }

    #[test]
    fn unknown_types_hash_their_bytes() {
        let any = |v: &[u8]| Any {
            type_url: "type.googleapis.com/no.such.Type".into(),
            value: v.to_vec(),
        };
        assert_eq!(
            resource_version(&any(b"\x08\x01")),
            resource_version(&any(b"\x08\x01"))
        );
        assert_ne!(
            resource_version(&any(b"\x08\x01")),
            resource_version(&any(b"\x08\x02"))
        );
    }

    #[test]
    fn set_versions_depend_on_names_and_versions() {
        let v1 = set_version([("a", "1"), ("b", "2")]);
        assert_eq!(v1, set_version([("a", "1"), ("b", "2")]));
        assert_ne!(v1, set_version([("a", "1"), ("b", "3")]));
        assert_ne!(v1, set_version([("a", "1")]));
        assert_ne!(set_version([("ab", "")]), set_version([("a", "b")]));
    }
}
