//! Change counters of steps, in memory that is never freed: a wrapper that caches a token on
//! its side of the ABI reads the step's counter without holding the pipeline, so the counter
//! must stay readable even after the pipeline is gone. Counters only grow: a step that goes
//! away bumps its counter before the slot is used again, so a value a reader remembers never
//! comes back. Slots are recycled through a lock-free list (no lock a fork child could find
//! held), in chunks allocated on demand and kept for the life of the process.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

const CHUNK: usize = 256;
const MAX_CHUNKS: usize = 16_384; // about 4 million steps alive at once

struct Slot {
    value: AtomicU64,
    /// The next free slot's index + 1 (0: none), while this one is free.
    next: AtomicU32,
}

static CHUNKS: [AtomicPtr<[Slot; CHUNK]>; MAX_CHUNKS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS];
/// Slots never handed out yet start here.
static FRESH: AtomicU32 = AtomicU32::new(0);
/// The free list: head index + 1 in the low 32 bits, a tag (against ABA) in the high ones.
static FREE: AtomicU64 = AtomicU64::new(0);

fn slot(index: u32) -> &'static Slot {
    let chunk = &CHUNKS[index as usize / CHUNK];
    let mut p = chunk.load(Ordering::Acquire);
    if p.is_null() {
        let fresh = Box::into_raw(Box::new(std::array::from_fn(|_| Slot {
            value: AtomicU64::new(0),
            next: AtomicU32::new(0),
        })));
        p = match chunk.compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => fresh,
            Err(theirs) => {
                // SAFETY: fresh came from Box::into_raw just above and was never shared.
                drop(unsafe { Box::from_raw(fresh) });
                theirs
            }
        };
    }
    // SAFETY: chunks are never freed once published.
    unsafe { &(*p)[index as usize % CHUNK] }
}

/// A step's change counter; bumped and recycled when dropped.
pub(super) struct Counter {
    index: Option<u32>,
    value: &'static AtomicU64,
}

impl Counter {
    pub fn new() -> Counter {
        // Pop a free slot.
        let mut head = FREE.load(Ordering::Acquire);
        while head as u32 != 0 {
            let index = head as u32 - 1;
            let next = slot(index).next.load(Ordering::Acquire);
            let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(next);
            match FREE.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Counter { index: Some(index), value: &slot(index).value },
                Err(h) => head = h,
            }
        }
        let index = FRESH.fetch_add(1, Ordering::Relaxed);
        if (index as usize) < CHUNK * MAX_CHUNKS {
            Counter { index: Some(index), value: &slot(index).value }
        } else {
            // Past four million live steps: a counter of its own, kept for good.
            FRESH.fetch_sub(1, Ordering::Relaxed);
            Counter { index: None, value: Box::leak(Box::new(AtomicU64::new(0))) }
        }
    }

    pub fn get(&self) -> &'static AtomicU64 {
        self.value
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        // A reader that remembers any value so far now sees another one.
        self.value.fetch_add(1, Ordering::Release);
        let Some(index) = self.index else { return };
        let s = slot(index);
        let mut head = FREE.load(Ordering::Acquire);
        loop {
            s.next.store(head as u32, Ordering::Release);
            let new = ((head >> 32).wrapping_add(1) << 32) | u64::from(index + 1);
            match FREE.compare_exchange_weak(head, new, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_recycled_and_never_show_an_old_value_again() {
        let a = Counter::new();
        a.get().fetch_add(5, Ordering::Release);
        let address = a.get() as *const AtomicU64;
        let seen = a.get().load(Ordering::Acquire);
        drop(a);
        // Another test may take the slot first; whoever has it, it moved on.
        // SAFETY: counter memory is never freed.
        assert!(unsafe { &*address }.load(Ordering::Acquire) > seen);
        let many: Vec<Counter> = (0..1000).map(|_| Counter::new()).collect();
        let mut addresses: Vec<usize> = many.iter().map(|c| c.get() as *const _ as usize).collect();
        addresses.sort_unstable();
        addresses.dedup();
        assert_eq!(addresses.len(), 1000, "live counters never share a slot");
        drop(many);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    for _ in 0..10_000 {
                        let c = Counter::new();
                        let v = c.get().fetch_add(1, Ordering::AcqRel);
                        drop(c);
                        std::hint::black_box(v);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
