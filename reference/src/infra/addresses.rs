//! Loopback addresses for Gateways on one machine.
//!
//! Every Gateway's Envoy binds its listeners on an address of its own, so that any number of
//! Gateways can listen on port 80 side by side (all of 127.0.0.0/8 is loopback on Linux). The
//! address is the Gateway's `status.addresses` entry and ends up in its xDS listeners, so it must
//! never change while the Gateway exists: a change would rebind every listener and invalidate
//! what a client already resolved.
//!
//! Assignment is a pure function of the sequence of Gateway sets the allocator has been fed: a
//! Gateway new to a [`AddressAllocator::sync`] gets the lowest free address, visiting new
//! Gateways in key order. The `translate` CLI relies on this: a fresh allocator fed the sorted
//! Gateways hands out exactly what the running controller hands out at first start.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use crate::model::ObjectKey;

/// Third octet of the first block; blocks run up to [`LAST_BLOCK`].
const FIRST_BLOCK: u8 = 10;
const LAST_BLOCK: u8 = 19;
/// Host octets 1..=254 of each block: .0 and .255 look like network and broadcast addresses,
/// which confuses people reading logs even though loopback does not care.
const HOSTS_PER_BLOCK: usize = 254;

/// How many Gateways can have an address at once (127.N.10.1 … 127.N.19.254).
pub const CAPACITY: usize = (LAST_BLOCK - FIRST_BLOCK + 1) as usize * HOSTS_PER_BLOCK;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error(
        "no loopback address left for {} Gateway(s) (all {CAPACITY} of 127.{network}.{FIRST_BLOCK}.1 … \
         127.{network}.{LAST_BLOCK}.254 are taken), first: {}",
        unassigned.len(),
        unassigned.first().map(ToString::to_string).unwrap_or_default()
    )]
    Exhausted {
        network: u8,
        unassigned: Vec<ObjectKey>,
    },
}

/// Stable loopback address per Gateway.
#[derive(Debug, Clone, Default)]
pub struct AddressAllocator {
    /// Second octet of every address: 127.<network>.10.1 and up. Controllers (or test suites)
    /// running side by side on one machine use different networks so their proxies never
    /// compete for the same address and port.
    network: u8,
    by_gateway: BTreeMap<ObjectKey, usize>,
    /// Slot indices in use; the lowest index not in here is the next address handed out.
    used: BTreeSet<usize>,
}

impl AddressAllocator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Hand out addresses 127.<network>.10.1 … instead of 127.0.10.1 ….
    pub fn with_network(network: u8) -> Self {
        Self {
            network,
            ..Self::default()
        }
    }

    /// Make the assignments match `gateways`: release the addresses of Gateways no longer
    /// present, then give each new Gateway (in key order) the lowest free address. Existing
    /// assignments are untouched.
    ///
    /// Releasing first lets a Gateway created in the same step as another is deleted reuse its
    /// address. When addresses run out, every Gateway that could be served still is, and the
    /// error names the ones left without an address.
    pub fn sync<'a>(
        &mut self,
        gateways: impl IntoIterator<Item = &'a ObjectKey>,
    ) -> Result<(), AddressError> {
        let wanted: BTreeSet<&ObjectKey> = gateways.into_iter().collect();
        let gone: Vec<ObjectKey> = self
            .by_gateway
            .keys()
            .filter(|k| !wanted.contains(k))
            .cloned()
            .collect();
        for key in &gone {
            self.release(key);
        }
        let mut unassigned = Vec::new();
        for key in wanted {
            if self.assign(key).is_err() {
                unassigned.push(key.clone());
            }
        }
        if unassigned.is_empty() {
            Ok(())
        } else {
            Err(AddressError::Exhausted {
                network: self.network,
                unassigned,
            })
        }
    }

    /// The Gateway's address, assigning the lowest free one if it has none yet.
    pub fn assign(&mut self, gateway: &ObjectKey) -> Result<Ipv4Addr, AddressError> {
        if let Some(&slot) = self.by_gateway.get(gateway) {
            return Ok(slot_address(self.network, slot));
        }
        // `used` is sorted, so the first gap in 0, 1, 2, … is the lowest free slot.
        let slot = self
            .used
            .iter()
            .enumerate()
            .find(|(i, s)| i != *s)
            .map_or(self.used.len(), |(i, _)| i);
        if slot >= CAPACITY {
            return Err(AddressError::Exhausted {
                network: self.network,
                unassigned: vec![gateway.clone()],
            });
        }
        self.used.insert(slot);
        self.by_gateway.insert(gateway.clone(), slot);
        Ok(slot_address(self.network, slot))
    }

    /// Forget the Gateway's address, making it available again. Returns what it was.
    pub fn release(&mut self, gateway: &ObjectKey) -> Option<Ipv4Addr> {
        let slot = self.by_gateway.remove(gateway)?;
        self.used.remove(&slot);
        Some(slot_address(self.network, slot))
    }

    pub fn get(&self, gateway: &ObjectKey) -> Option<Ipv4Addr> {
        self.by_gateway
            .get(gateway)
            .map(|&slot| slot_address(self.network, slot))
    }

    /// Every current assignment, in Gateway key order.
    pub fn assignments(&self) -> BTreeMap<ObjectKey, Ipv4Addr> {
        self.by_gateway
            .iter()
            .map(|(k, &slot)| (k.clone(), slot_address(self.network, slot)))
            .collect()
    }

    /// The assignments as the strings `ResourceSet::gateway_addresses` holds.
    pub fn address_strings(&self) -> BTreeMap<ObjectKey, String> {
        self.by_gateway
            .iter()
            .map(|(k, &slot)| (k.clone(), slot_address(self.network, slot).to_string()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_gateway.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_gateway.is_empty()
    }
}

fn slot_address(network: u8, slot: usize) -> Ipv4Addr {
    debug_assert!(slot < CAPACITY);
    let block = FIRST_BLOCK + (slot / HOSTS_PER_BLOCK) as u8;
    let host = (slot % HOSTS_PER_BLOCK) as u8 + 1;
    Ipv4Addr::new(127, network, block, host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw(name: &str) -> ObjectKey {
        ObjectKey::new("default", name)
    }

    fn addr(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn new_gateways_get_lowest_free_addresses_in_key_order() {
        let mut a = AddressAllocator::new();
        a.sync([&gw("b"), &gw("a"), &gw("c")]).unwrap();
        assert_eq!(a.get(&gw("a")), Some(addr("127.0.10.1")));
        assert_eq!(a.get(&gw("b")), Some(addr("127.0.10.2")));
        assert_eq!(a.get(&gw("c")), Some(addr("127.0.10.3")));
    }

    #[test]
    fn existing_assignments_survive_other_changes() {
        let mut a = AddressAllocator::new();
        a.sync([&gw("m"), &gw("z")]).unwrap();
        // "a" sorts before both but arrives later: it must not displace them.
        a.sync([&gw("a"), &gw("m"), &gw("z")]).unwrap();
        assert_eq!(a.get(&gw("m")), Some(addr("127.0.10.1")));
        assert_eq!(a.get(&gw("z")), Some(addr("127.0.10.2")));
        assert_eq!(a.get(&gw("a")), Some(addr("127.0.10.3")));
    }

    #[test]
    fn released_address_is_reused_lowest_first() {
        let mut a = AddressAllocator::new();
        a.sync([&gw("a"), &gw("b"), &gw("c")]).unwrap();
        a.sync([&gw("a"), &gw("c")]).unwrap();
        assert_eq!(a.get(&gw("b")), None);
        a.sync([&gw("a"), &gw("c"), &gw("d"), &gw("e")]).unwrap();
        assert_eq!(a.get(&gw("d")), Some(addr("127.0.10.2")));
        assert_eq!(a.get(&gw("e")), Some(addr("127.0.10.4")));
        assert_eq!(a.get(&gw("c")), Some(addr("127.0.10.3")));
    }

    #[test]
    fn removal_and_addition_in_one_step_reuses_the_address() {
        let mut a = AddressAllocator::new();
        a.sync([&gw("old")]).unwrap();
        a.sync([&gw("new")]).unwrap();
        assert_eq!(a.get(&gw("new")), Some(addr("127.0.10.1")));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn same_sequence_gives_same_addresses() {
        let steps: Vec<Vec<ObjectKey>> = vec![
            vec![gw("x"), gw("y")],
            vec![gw("y"), gw("q"), gw("r")],
            vec![ObjectKey::new("ns2", "a"), gw("q"), gw("r"), gw("s")],
        ];
        let run = || {
            let mut a = AddressAllocator::new();
            for step in &steps {
                a.sync(step).unwrap();
            }
            a.assignments()
        };
        assert_eq!(run(), run());
        // And a fresh allocator fed one sorted set matches a first start.
        let mut fresh = AddressAllocator::new();
        fresh.sync(&steps[0]).unwrap();
        let mut reversed = AddressAllocator::new();
        reversed.sync(steps[0].iter().rev()).unwrap();
        assert_eq!(fresh.assignments(), reversed.assignments());
    }

    #[test]
    fn blocks_roll_over_from_10_to_19() {
        let keys: Vec<ObjectKey> = (0..CAPACITY).map(|i| gw(&format!("g{i:05}"))).collect();
        let mut a = AddressAllocator::new();
        a.sync(&keys).unwrap();
        assert_eq!(a.get(&keys[253]), Some(addr("127.0.10.254")));
        assert_eq!(a.get(&keys[254]), Some(addr("127.0.11.1")));
        assert_eq!(a.get(&keys[CAPACITY - 1]), Some(addr("127.0.19.254")));
        let distinct: BTreeSet<Ipv4Addr> = a.assignments().into_values().collect();
        assert_eq!(distinct.len(), CAPACITY);
    }

    #[test]
    fn exhaustion_is_an_error_that_names_the_unserved() {
        let mut keys: Vec<ObjectKey> = (0..CAPACITY).map(|i| gw(&format!("g{i:05}"))).collect();
        keys.push(gw("zz-one-too-many"));
        let mut a = AddressAllocator::new();
        let err = a.sync(&keys).unwrap_err();
        assert_eq!(
            err,
            AddressError::Exhausted {
                network: 0,
                unassigned: vec![gw("zz-one-too-many")]
            }
        );
        assert!(err.to_string().contains("default/zz-one-too-many"), "{err}");
        // Everyone else is still served, and freeing one address serves the last.
        assert_eq!(a.len(), CAPACITY);
        keys.remove(0);
        a.sync(&keys).unwrap();
        assert_eq!(a.get(&gw("zz-one-too-many")), Some(addr("127.0.10.1")));
    }

    #[test]
    fn handed_out_addresses_are_bindable_here() {
        // The scheme rests on all of 127.0.0.0/8 being local; check the range's two ends.
        let keys: Vec<ObjectKey> = (0..CAPACITY).map(|i| gw(&format!("g{i:05}"))).collect();
        let mut a = AddressAllocator::new();
        a.sync(&keys).unwrap();
        for key in [&keys[0], &keys[CAPACITY - 1]] {
            let ip = a.get(key).unwrap();
            let listener = std::net::TcpListener::bind((ip, 0))
                .unwrap_or_else(|e| panic!("cannot bind {ip}: {e}"));
            assert_eq!(listener.local_addr().unwrap().ip(), ip);
        }
    }

    #[test]
    fn assign_is_idempotent_and_release_frees() {
        let mut a = AddressAllocator::new();
        let first = a.assign(&gw("a")).unwrap();
        assert_eq!(a.assign(&gw("a")).unwrap(), first);
        assert_eq!(a.release(&gw("a")), Some(first));
        assert_eq!(a.release(&gw("a")), None);
        assert!(a.is_empty());
    }
}
