//! The step graph: dependencies resolved to indices, checked for missing steps and cycles,
//! with each step's dependents and how long a caller may wait for it.

use crate::error::{Error, Result};
use crate::fetcher::Fetcher;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Graph {
    /// Direct dependencies of each step.
    pub deps: Vec<Vec<usize>>,
    /// Every step that depends on each step, directly or not.
    pub dependents: Vec<Vec<usize>>,
    /// The steps that depend on each step directly.
    pub direct_dependents: Vec<Vec<usize>>,
    /// How long a caller may wait for a step: its own deadline (twice with a refresh
    /// endpoint; on a shared store, with the leases of two other processes before it) after
    /// the longest chain of its dependencies'.
    pub wait_bound: Vec<Duration>,
}

impl Graph {
    /// Missing dependencies and cycles are `CONFIG` errors naming the steps involved.
    pub fn build<S: std::hash::BuildHasher>(
        fetchers: &[Arc<Fetcher>],
        index: &HashMap<Box<[u8]>, usize, S>,
        shared_store: bool,
    ) -> Result<Graph> {
        let mut deps = Vec::with_capacity(fetchers.len());
        for f in fetchers {
            let mut mine = Vec::new();
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
        let order = topological_order(fetchers, &deps)?;
        let mut wait_bound = vec![Duration::ZERO; fetchers.len()];
        for &i in &order {
            let mut own = fetchers[i].timeout() * if fetchers[i].refresh_endpoint().is_some() { 2 } else { 1 };
            if shared_store {
                // Two leases of other processes (see `take_lease`), then its own fetch.
                own = own * 3 + Duration::from_secs(2);
            }
            let before = deps[i].iter().map(|&d| wait_bound[d]).max().unwrap_or_default();
            wait_bound[i] = own + before;
        }
        let mut dependents = vec![Vec::new(); fetchers.len()];
        for (i, out) in dependents.iter_mut().enumerate() {
            let mut stack = vec![i];
            while let Some(s) = stack.pop() {
                for (j, dj) in deps.iter().enumerate() {
                    if dj.contains(&s) && !out.contains(&j) {
                        out.push(j);
                        stack.push(j);
                    }
                }
            }
        }
        let mut direct_dependents = vec![Vec::new(); fetchers.len()];
        for (j, dj) in deps.iter().enumerate() {
            for &d in dj {
                direct_dependents[d].push(j);
            }
        }
        Ok(Graph { deps, dependents, direct_dependents, wait_bound })
    }
}

/// Dependencies before dependents; a cycle is reported as "a -> b -> a".
fn topological_order(fetchers: &[Arc<Fetcher>], deps: &[Vec<usize>]) -> Result<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Visiting,
        Done,
    }
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> std::result::Result<(), Vec<usize>> {
        match marks[i] {
            Mark::Done => return Ok(()),
            Mark::Visiting => {
                let start = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            Mark::New => {}
        }
        marks[i] = Mark::Visiting;
        path.push(i);
        for &d in &deps[i] {
            visit(d, deps, marks, path, order)?;
        }
        path.pop();
        marks[i] = Mark::Done;
        order.push(i);
        Ok(())
    }
    let mut marks = vec![Mark::New; fetchers.len()];
    let mut order = Vec::with_capacity(fetchers.len());
    for i in 0..fetchers.len() {
        visit(i, deps, &mut marks, &mut Vec::new(), &mut order).map_err(|cycle| {
            let names: Vec<&str> = cycle.iter().map(|&c| fetchers[c].name().as_str()).collect();
            Error::config(format!("dependency cycle: {}", names.join(" -> ")))
                .with_step_field(names[0])
                .with_field("depends_on")
        })?;
    }
    Ok(order)
}
