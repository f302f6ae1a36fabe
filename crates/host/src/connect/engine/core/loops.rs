//! Reply loops with agents that carry no molecule metadata.
//!
//! The hop limit stops two hosts answering each other forever: each reply carries
//! `metadata.molecule.hops`, one more than the message it answers. An agent served by another
//! runtime (the platform's own Python SDK, say) sends its answers with a fresh `messageId`, no
//! `contextId` and no metadata, so every answer of it looks like a new message at hop 0 and the
//! count starts over at each of its turns: against an echo, three messages once became 43
//! exchanges. Such messages are *foreign*, and the [`LoopGuard`] gives each peer a budget of
//! them: after `limit` foreign messages from one peer with no message from a person in the
//! canvas in between (and no quiet spell of `cooldown` between two of them), the host stops
//! answering that peer for `cooldown`. Its messages still reach the backend (with
//! `replySuppressed`, as at the hop limit); only the answers are not sent, which ends a loop.
//! The person is told once, in the canvas; a message from them lifts every pause at once.
//!
//! Pure: the time is passed in.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use molecule_protocol::SenderKind;

use super::super::super::inbound::{Inbound, ReplyTo};
use super::{Command, Core};

/// Peers remembered at most; the quietest are forgotten first beyond it.
const MAX_PEERS: usize = 4096;

/// What to do with a foreign message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver it and post the answer.
    Answer,
    /// Deliver it, post nothing: the peer is paused.
    Pause {
        /// This message started the pause (the person is told, once).
        started: bool,
    },
}

#[derive(Clone, Copy, Debug)]
struct Peer {
    /// Foreign messages since the last message from a person (or the last quiet spell).
    count: u32,
    last: Instant,
    paused_until: Option<Instant>,
}

/// Every peer's budget of foreign messages.
#[derive(Debug)]
pub struct LoopGuard {
    limit: u32,
    cooldown: Duration,
    peers: HashMap<String, Peer>,
}

impl LoopGuard {
    /// A guard allowing `limit` foreign messages per peer (0: no limit), pausing for `cooldown`.
    pub fn new(limit: u32, cooldown: Duration) -> Self {
        LoopGuard {
            limit,
            cooldown,
            peers: HashMap::new(),
        }
    }

    /// The pause a budget's end starts.
    pub fn cooldown(&self) -> Duration {
        self.cooldown
    }

    /// How many foreign messages a peer is answered before a pause.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// A foreign message from `peer` at `now`.
    pub fn foreign(&mut self, peer: &str, now: Instant) -> Verdict {
        if self.limit == 0 {
            return Verdict::Answer;
        }
        if self.peers.len() >= MAX_PEERS && !self.peers.contains_key(peer) {
            self.forget_quietest();
        }
        let cooldown = self.cooldown;
        let p = self.peers.entry(peer.to_owned()).or_insert(Peer {
            count: 0,
            last: now,
            paused_until: None,
        });
        if let Some(until) = p.paused_until {
            if now < until {
                p.last = now;
                return Verdict::Pause { started: false };
            }
            p.paused_until = None;
            p.count = 0;
        }
        if now.saturating_duration_since(p.last) >= cooldown {
            p.count = 0;
        }
        p.count += 1;
        p.last = now;
        if p.count <= self.limit {
            return Verdict::Answer;
        }
        p.count = 0;
        p.paused_until = now.checked_add(cooldown);
        Verdict::Pause { started: true }
    }

    /// A message from a person: every budget starts over and every pause ends.
    pub fn human(&mut self) {
        self.peers.clear();
    }

    /// Whether `peer` is paused at `now`.
    #[cfg(test)]
    pub fn paused(&self, peer: &str, now: Instant) -> bool {
        self.peers
            .get(peer)
            .and_then(|p| p.paused_until)
            .is_some_and(|until| now < until)
    }

    fn forget_quietest(&mut self) {
        if let Some(quietest) = self
            .peers
            .iter()
            .min_by_key(|(_, p)| p.last)
            .map(|(k, _)| k.clone())
        {
            self.peers.remove(&quietest);
        }
    }
}

impl Core {
    /// Applies the loop guard to a new message (row `id`): a person's message lifts every
    /// pause; a foreign message from a paused peer is delivered but not answered, and the first
    /// such message of a pause tells the person.
    pub(super) fn guard_loops(&mut self, id: &str, inbound: &mut Inbound) {
        if inbound.sender.kind == SenderKind::Canvas {
            self.loops.human();
            return;
        }
        let ReplyTo::Agent(peer) = inbound.reply_to else {
            return;
        };
        if !inbound.foreign {
            return;
        }
        let Verdict::Pause { started } = self.loops.foreign(&peer.to_string(), self.now) else {
            return;
        };
        inbound.paused = true;
        inbound.suppressed = true;
        if !started {
            return;
        }
        let (limit, minutes) = (
            self.loops.limit(),
            self.loops.cooldown().as_secs().div_ceil(60),
        );
        tracing::warn!(
            row = %id,
            peer = %peer,
            "stopped answering agent {peer} for {minutes} min: {limit} messages in a row without \
             molecule metadata and none from a person in between looks like a reply loop; its \
             messages still reach the backend"
        );
        let name = match &inbound.sender.name {
            Some(n) => format!("{n} ({peer})"),
            None => peer.to_string(),
        };
        let message = format!(
            "I stopped answering the agent {name} for {minutes} minutes: it sent {limit} \
             messages in a row without molecule metadata, with no message from you in between, \
             which looks like two agents answering each other forever. Its messages still \
             reach me; my answers are not sent. Write to me here to resume at once."
        );
        self.out.push(Command::Notify { message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn answers(g: &mut LoopGuard, peer: &str, at: Instant, n: u32) -> Vec<Verdict> {
        (0..n)
            .map(|i| g.foreign(peer, at + Duration::from_secs(u64::from(i))))
            .collect()
    }

    #[test]
    fn a_peer_is_paused_after_its_budget_and_answered_again_after_the_cooldown() {
        let t0 = Instant::now();
        let mut g = LoopGuard::new(3, 10 * MIN);
        let v = answers(&mut g, "a", t0, 5);
        use Verdict::*;
        assert_eq!(
            v,
            [
                Answer,
                Answer,
                Answer,
                Pause { started: true },
                Pause { started: false }
            ]
        );
        assert!(g.paused("a", t0 + MIN));
        assert_eq!(
            g.foreign("b", t0 + MIN),
            Answer,
            "other peers keep their budget"
        );
        // Messages during the pause do not extend it.
        let after = t0 + 3 * Duration::from_secs(1) + 10 * MIN;
        assert!(!g.paused("a", after));
        assert_eq!(answers(&mut g, "a", after, 3), [Answer; 3]);
        assert_eq!(g.foreign("a", after + MIN), Pause { started: true });
    }

    #[test]
    fn a_person_writing_lifts_every_pause_and_a_quiet_spell_restarts_the_count() {
        let t0 = Instant::now();
        let mut g = LoopGuard::new(2, 10 * MIN);
        answers(&mut g, "a", t0, 3);
        assert!(g.paused("a", t0 + MIN));
        g.human();
        assert!(!g.paused("a", t0 + MIN));
        assert_eq!(answers(&mut g, "a", t0 + MIN, 2), [Verdict::Answer; 2]);
        // Ten quiet minutes: the next message starts a new count.
        let later = t0 + 21 * MIN;
        assert_eq!(answers(&mut g, "a", later, 2), [Verdict::Answer; 2]);
        assert_eq!(
            g.foreign("a", later + MIN),
            Verdict::Pause { started: true }
        );
    }

    #[test]
    fn a_limit_of_zero_is_off_and_memory_stays_bounded() {
        let t0 = Instant::now();
        let mut off = LoopGuard::new(0, MIN);
        assert!(
            answers(&mut off, "a", t0, 100)
                .iter()
                .all(|v| *v == Verdict::Answer)
        );
        let mut g = LoopGuard::new(1, MIN);
        for i in 0..(MAX_PEERS + 10) {
            g.foreign(&format!("p{i}"), t0 + Duration::from_millis(i as u64));
        }
        assert!(g.peers.len() <= MAX_PEERS);
        assert!(!g.peers.contains_key("p0"), "the quietest went first");
    }
}
