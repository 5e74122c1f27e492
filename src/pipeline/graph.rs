//! The step graph: dependencies resolved to indices, checked for missing steps and cycles,
//! with each step's dependents and how long a caller may wait for it.

use crate::error::{Error, Result};
use crate::fetcher::Fetcher;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The longest chain of dependencies a pipeline may have (a step that needs a step that needs
/// ... counts each level). Deeper is a `CONFIG` error at load: getting a token walks its
/// chain on the caller's stack, which must never overflow whatever the configuration says.
pub const MAX_DEPENDENCY_DEPTH: usize = 64;

pub(super) struct Graph {
    /// Direct dependencies of each step.
    pub deps: Vec<Vec<usize>>,
    /// The steps that depend on each step directly.
    pub direct_dependents: Vec<Vec<usize>>,
    /// How long a caller may wait for a step: its own deadline (twice with a refresh
    /// endpoint; on a shared store, with the leases of two other processes before it) after
    /// the longest chain of its dependencies'.
    pub wait_bound: Vec<Duration>,
}

impl Graph {
    /// Missing dependencies, cycles and chains deeper than [`MAX_DEPENDENCY_DEPTH`] are
    /// `CONFIG` errors naming the steps involved. Linear in steps and dependency edges, and
    /// without recursion.
    pub fn build<S: std::hash::BuildHasher>(
        fetchers: &[Arc<Fetcher>],
        index: &HashMap<Box<[u8]>, usize, S>,
        shared_store: bool,
    ) -> Result<Graph> {
        let mut deps = Vec::with_capacity(fetchers.len());
        for f in fetchers {
            let mut mine = Vec::with_capacity(f.depends_on().len());
            for d in f.depends_on() {
                let i = index.get(d.as_str().as_bytes()).ok_or_else(|| {
                    Error::config(format!("step \"{}\" depends on \"{d}\", which is not in the pipeline", f.name()))
                        .with_step_field(f.name().as_str())
                        .with_field("depends_on")
                })?;
                mine.push(*i);
            }
            deps.push(mine);
        }
        let mut direct_dependents = vec![Vec::new(); fetchers.len()];
        for (j, dj) in deps.iter().enumerate() {
            for &d in dj {
                direct_dependents[d].push(j);
            }
        }
        let order = topological_order(fetchers, &deps, &direct_dependents)?;
        let mut wait_bound = vec![Duration::ZERO; fetchers.len()];
        let mut depth = vec![0usize; fetchers.len()];
        for &i in &order {
            let mut own = fetchers[i].timeout() * if fetchers[i].refresh_endpoint().is_some() { 2 } else { 1 };
            if shared_store {
                // Two leases of other processes (see `take_lease`), then its own fetch.
                own = own * 3 + Duration::from_secs(2);
            }
            let before = deps[i].iter().map(|&d| wait_bound[d]).max().unwrap_or_default();
            wait_bound[i] = own + before;
            depth[i] = 1 + deps[i].iter().map(|&d| depth[d]).max().unwrap_or(0);
            if depth[i] > MAX_DEPENDENCY_DEPTH {
                let name = fetchers[i].name().as_str();
                return Err(Error::config(format!(
                    "step \"{name}\" is {} steps deep in dependencies; the limit is {MAX_DEPENDENCY_DEPTH} \
                     (TOKENFORGE_MAX_DEPENDENCY_DEPTH)",
                    depth[i]
                ))
                .with_step_field(name)
                .with_field("depends_on"));
            }
        }
        Ok(Graph { deps, direct_dependents, wait_bound })
    }

    /// Every step that depends on `i`, directly or not (each once), walked when needed.
    pub fn dependents_of(&self, i: usize) -> Vec<usize> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut todo: Vec<usize> = self.direct_dependents[i].clone();
        while let Some(j) = todo.pop() {
            if seen.insert(j) {
                out.push(j);
                todo.extend_from_slice(&self.direct_dependents[j]);
            }
        }
        out
    }
}

/// Dependencies before dependents (Kahn's algorithm); a cycle is reported as "a -> b -> a".
fn topological_order(
    fetchers: &[Arc<Fetcher>],
    deps: &[Vec<usize>],
    direct_dependents: &[Vec<usize>],
) -> Result<Vec<usize>> {
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut order: Vec<usize> = (0..deps.len()).filter(|&i| waiting[i] == 0).collect();
    let mut next = 0;
    while next < order.len() {
        let i = order[next];
        next += 1;
        for &j in &direct_dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                order.push(j);
            }
        }
    }
    if order.len() == deps.len() {
        return Ok(order);
    }
    // Every step left waits for another step left: following those leads round a cycle.
    let start = (0..deps.len()).find(|&i| waiting[i] > 0).expect("a step is left");
    let mut at_step = vec![usize::MAX; deps.len()];
    let mut path = Vec::new();
    let mut i = start;
    while at_step[i] == usize::MAX {
        at_step[i] = path.len();
        path.push(i);
        i = *deps[i].iter().find(|&&d| waiting[d] > 0).expect("a step left waits for one left");
    }
    // `deps` point from a step to what it needs: the cycle read as "a needs b needs a".
    let mut cycle: Vec<usize> = path[at_step[i]..].to_vec();
    cycle.push(i);
    let names: Vec<&str> = cycle.iter().map(|&c| fetchers[c].name().as_str()).collect();
    Err(Error::config(format!("dependency cycle: {}", names.join(" -> ")))
        .with_step_field(names[0])
        .with_field("depends_on"))
}
