//! What every pod of the node shares: the API client, the node's identity and network, the
//! local programs, pod addresses and the event recorder.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use k8s_openapi::api::core::v1::Pod;
use kube::Resource as _;
use kube::runtime::events::{Event, EventType, Recorder};

use crate::images::Programs;
use crate::launch::MountPoints;
use crate::network::NetworkPlan;

/// Pod addresses of the node's /24: slots 2 to 254, handed out round-robin so that an address
/// is not reused right after its pod went away (stale endpoints then fail instead of reaching
/// a stranger's pod).
#[derive(Debug)]
pub struct Addresses {
    used: BTreeSet<u8>,
    next: u8,
}

const FIRST_SLOT: u8 = 2;
const LAST_SLOT: u8 = 254;

impl Default for Addresses {
    fn default() -> Self {
        Addresses {
            used: BTreeSet::new(),
            next: FIRST_SLOT,
        }
    }
}

impl Addresses {
    pub fn allocate(&mut self) -> Option<u8> {
        let span = u16::from(LAST_SLOT - FIRST_SLOT) + 1;
        for step in 0..span {
            let offset = (u16::from(self.next - FIRST_SLOT) + step) % span;
            let slot = FIRST_SLOT + u8::try_from(offset).unwrap_or_default();
            if self.used.insert(slot) {
                self.next = if slot == LAST_SLOT {
                    FIRST_SLOT
                } else {
                    slot + 1
                };
                return Some(slot);
            }
        }
        None
    }

    pub fn release(&mut self, slot: u8) {
        self.used.remove(&slot);
    }
}

pub struct Shared {
    pub client: kube::Client,
    pub node_name: String,
    pub plan: NetworkPlan,
    pub programs: Programs,
    /// `<pods_dir>/<namespace>_<name>_<uid>/`: volumes and container logs.
    pub pods_dir: PathBuf,
    pub mount_points: MountPoints,
    pub addresses: Mutex<Addresses>,
    pub recorder: Recorder,
    /// The node's hosts file, naming every Service (see `services`), mounted at `/etc/hosts`.
    pub hosts: PathBuf,
}

impl Shared {
    /// Publishes an Event about a pod without holding up the caller; a failure is logged.
    pub fn event(&self, pod: &Pod, warning: bool, reason: &str, action: &str, note: String) {
        let recorder = self.recorder.clone();
        let reference = pod.object_ref(&());
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        tokio::spawn(async move {
            if let Err(e) = recorder.publish(&event, &reference).await {
                tracing::warn!(error = %e, reason = %event.reason, "publishing an event failed");
            }
        });
    }

    pub fn allocate_address(&self) -> Option<u8> {
        self.addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .allocate()
    }

    pub fn release_address(&self, slot: u8) {
        self.addresses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_go_round_and_skip_those_in_use() {
        let mut a = Addresses::default();
        assert_eq!(a.allocate(), Some(2));
        assert_eq!(a.allocate(), Some(3));
        a.release(2);
        assert_eq!(
            a.allocate(),
            Some(4),
            "a released address is not reused at once"
        );
        let mut more = 0;
        while a.allocate().is_some() {
            more += 1;
        }
        assert_eq!(more, 253 - 2, "every slot but the two in use");
        a.release(100);
        assert_eq!(a.allocate(), Some(100));
    }
}
