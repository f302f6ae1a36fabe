//! Per-conversation FIFO queues: items of one conversation go out one at a time, in order;
//! different conversations take turns. Used for the delivery queue (one `handle_a2a` per conversation
//! in flight) and for replies (one POST per conversation in flight, so replies keep their order).

use std::collections::{HashMap, HashSet, VecDeque};

/// Queues keyed by conversation.
#[derive(Debug)]
pub struct ConvQueues<T> {
    waiting: HashMap<String, VecDeque<T>>,
    /// Conversations with an item out (taken and not yet released).
    busy: HashSet<String>,
    /// Conversations that are not busy and have waiting items, in turn order.
    ready: VecDeque<String>,
    len: usize,
}

impl<T> Default for ConvQueues<T> {
    fn default() -> Self {
        ConvQueues {
            waiting: HashMap::new(),
            busy: HashSet::new(),
            ready: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> ConvQueues<T> {
    /// Appends `item` to its conversation's queue.
    pub fn push(&mut self, conversation: &str, item: T) {
        let queue = self.waiting.entry(conversation.to_owned()).or_default();
        queue.push_back(item);
        self.len += 1;
        if queue.len() == 1 && !self.busy.contains(conversation) {
            self.ready.push_back(conversation.to_owned());
        }
    }

    /// The next item of the next conversation whose turn it is; that conversation is busy
    /// until [`ConvQueues::release`].
    pub fn take(&mut self) -> Option<(String, T)> {
        let conversation = self.ready.pop_front()?;
        let queue = self.waiting.get_mut(&conversation)?;
        let item = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(&conversation);
        }
        self.len -= 1;
        self.busy.insert(conversation.clone());
        Some((conversation, item))
    }

    /// The conversation's item is done: its next one may go.
    pub fn release(&mut self, conversation: &str) {
        if self.busy.remove(conversation) && self.waiting.contains_key(conversation) {
            self.ready.push_back(conversation.to_owned());
        }
    }

    /// Items waiting (not taken).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Conversations with an item out.
    #[cfg(test)]
    pub fn busy(&self) -> usize {
        self.busy.len()
    }

    /// Removes every waiting item (shutdown).
    pub fn drain(&mut self) -> Vec<T> {
        self.ready.clear();
        self.len = 0;
        self.waiting.drain().flat_map(|(_, q)| q).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_item_per_conversation_in_order_with_turns() {
        let mut q = ConvQueues::default();
        q.push("a", 1);
        q.push("a", 2);
        q.push("b", 3);
        assert_eq!(q.take(), Some(("a".into(), 1)));
        assert_eq!(q.take(), Some(("b".into(), 3)));
        assert_eq!(q.take(), None, "a is busy");
        q.release("b");
        assert_eq!(q.take(), None);
        q.release("a");
        assert_eq!(q.take(), Some(("a".into(), 2)));
        q.push("a", 4);
        assert_eq!((q.len(), q.busy()), (1, 1));
        assert_eq!(q.take(), None);
        q.release("a");
        assert_eq!(q.take(), Some(("a".into(), 4)));
        q.release("a");
        assert!(q.is_empty() && q.busy() == 0);
    }
}
