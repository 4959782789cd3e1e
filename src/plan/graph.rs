//! The order of a plan: a dependency graph of file changes, commands and the reboot, each edge
//! carrying why it exists, walked in a deterministic topological order (Kahn's algorithm over a
//! sorted ready set: petgraph's `toposort` has no tie-break).

use std::collections::BTreeSet;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

/// A node: something that happens during apply.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    /// A file change, by index into the plan's changes.
    Change(usize),
    /// A command, by index into the plan's steps.
    Step(usize),
    /// Rebooting the machine (the user's act, after apply).
    Reboot,
}

/// The graph with a reason on every edge.
#[derive(Debug, Default)]
pub struct Graph {
    graph: DiGraph<Node, &'static str>,
}

impl Graph {
    /// Add a node.
    pub fn node(&mut self, node: Node) -> NodeIndex {
        self.graph.add_node(node)
    }

    /// `before` must happen before `after`, because `why`.
    pub fn edge(&mut self, before: NodeIndex, after: NodeIndex, why: &'static str) {
        self.graph.update_edge(before, after, why);
    }

    /// The nodes in dependency order; ties broken by `rank`, then the node itself. Returns the
    /// nodes of a cycle as the error (emitters never create one; a cycle is a bug).
    pub fn order(&self, rank: impl Fn(&Node) -> u32) -> Result<Vec<Node>, Vec<Node>> {
        let mut indegree: Vec<usize> = self
            .graph
            .node_indices()
            .map(|n| {
                self.graph
                    .neighbors_directed(n, Direction::Incoming)
                    .count()
            })
            .collect();
        let key = |n: NodeIndex| (rank(&self.graph[n]), self.graph[n].clone(), n.index());
        let mut ready: BTreeSet<_> = self
            .graph
            .node_indices()
            .filter(|n| indegree[n.index()] == 0)
            .map(key)
            .collect();
        let mut out = Vec::with_capacity(self.graph.node_count());
        while let Some(next) = ready.pop_first() {
            let n = NodeIndex::new(next.2);
            out.push(self.graph[n].clone());
            for m in self.graph.neighbors_directed(n, Direction::Outgoing) {
                indegree[m.index()] -= 1;
                if indegree[m.index()] == 0 {
                    ready.insert(key(m));
                }
            }
        }
        if out.len() == self.graph.node_count() {
            Ok(out)
        } else {
            let cycle = petgraph::algo::tarjan_scc(&self.graph)
                .into_iter()
                .find(|scc| scc.len() > 1)
                .unwrap_or_default();
            Err(cycle.into_iter().map(|n| self.graph[n].clone()).collect())
        }
    }

    /// Every edge as (before, after, why), for the plan's JSON and tests.
    pub fn edges(&self) -> Vec<(Node, Node, &'static str)> {
        self.graph
            .edge_indices()
            .filter_map(|e| {
                let (a, b) = self.graph.edge_endpoints(e)?;
                Some((self.graph[a].clone(), self.graph[b].clone(), self.graph[e]))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_are_broken_by_rank_then_node() {
        let mut graph = Graph::default();
        let late = graph.node(Node::Change(1));
        graph.node(Node::Change(0));
        let step = graph.node(Node::Step(0));
        let reboot = graph.node(Node::Reboot);
        graph.edge(late, step, "x");
        graph.edge(step, reboot, "y");
        let order = graph.order(|_| 0).unwrap();
        assert_eq!(
            order,
            vec![
                Node::Change(0),
                Node::Change(1),
                Node::Step(0),
                Node::Reboot
            ]
        );
    }

    #[test]
    fn a_cycle_is_reported_whole() {
        let mut g = Graph::default();
        let a = g.node(Node::Step(0));
        let b = g.node(Node::Step(1));
        g.edge(a, b, "x");
        g.edge(b, a, "y");
        let cycle = g.order(|_| 0).unwrap_err();
        assert_eq!(cycle.len(), 2);
    }
}
