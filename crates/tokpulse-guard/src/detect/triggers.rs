//! The trigger scan: every literal in [`super::CUES`] found in one pass, as `find_iter` on a
//! standard-semantics Aho-Corasick automaton finds them (leftmost match end first; after a
//! match the search starts again at its end), but with a table walk of its own.
//!
//! The automaton is built by `aho-corasick` (ASCII case-insensitive); its states reachable
//! from the unanchored start are copied into a dense table over byte classes. A match state's
//! id carries a flag bit above the table's index mask, and its row is the start state's (the
//! search starts again after a match), so the walk needs no branch per byte: eight bytes are
//! walked, their states OR-ed, and only a chunk whose OR has the flag is walked again to
//! report its matches.

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, MatchKind, dfa};
use std::collections::HashMap;

/// The transition table's length: room for the built-in literals' 1,239 states of 98 byte
/// classes.
const TABLE: usize = 1 << 17;
/// The match flag: one bit above every index.
const FLAG: usize = TABLE;

pub(crate) struct Triggers {
    /// `trans[(state + class[byte]) & (TABLE - 1)]`: the next state, premultiplied by
    /// `stride`, with [`FLAG`] set for a match state. A fixed size, so that the masked index
    /// needs no bounds check.
    trans: Box<[u32; TABLE]>,
    classes: [u8; 256],
    stride: usize,
    start: u32,
    /// States at or past this (premultiplied) id are match states.
    first_match: u32,
    /// For each match state, in order: the pattern it reports and its length.
    matches: Vec<(u32, u32)>,
}

impl Triggers {
    pub(crate) fn new(patterns: &[&str]) -> Triggers {
        let aut = dfa::Builder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(patterns)
            .expect("built-in trigger literals are valid");
        let start = aut
            .start_state(Anchored::No)
            .expect("an unanchored search has a start state");
        // Every state reachable from the start, in order of discovery.
        let mut ids: HashMap<usize, usize> = HashMap::new();
        let mut states = vec![start];
        ids.insert(start.as_usize(), 0);
        let mut k = 0;
        while k < states.len() {
            let sid = states[k];
            for byte in 0..=255u8 {
                let next = aut.next_state(Anchored::No, sid, byte);
                // Never dead in an unanchored search; a match state is left for the start
                // state, so what follows one is never walked (but is numbered all the same).
                if !aut.is_dead(next) && !ids.contains_key(&next.as_usize()) {
                    ids.insert(next.as_usize(), states.len());
                    states.push(next);
                }
            }
            k += 1;
        }
        // Byte classes: bytes that lead every state to the same place.
        let mut classes = [0u8; 256];
        let mut columns: HashMap<Vec<usize>, u8> = HashMap::new();
        for byte in 0..=255u8 {
            let column: Vec<usize> = states
                .iter()
                .map(|&sid| aut.next_state(Anchored::No, sid, byte).as_usize())
                .collect();
            let n = columns.len();
            let class = *columns
                .entry(column)
                .or_insert_with(|| u8::try_from(n).expect("at most 256 byte classes"));
            classes[usize::from(byte)] = class;
        }
        let stride = columns.len();
        // Dense numbering: non-match states first, then match states.
        let (plain, matching): (Vec<usize>, Vec<usize>) =
            (0..states.len()).partition(|&i| !aut.is_match(states[i]));
        let mut dense = vec![0usize; states.len()];
        for (n, &i) in plain.iter().chain(&matching).enumerate() {
            dense[i] = n;
        }
        let id = |i: usize| u32::try_from(dense[i] * stride).expect("the table fits in u32");
        assert!(states.len() * stride <= TABLE, "the trigger table fits");
        let mut trans: Box<[u32; TABLE]> = vec![0u32; TABLE]
            .into_boxed_slice()
            .try_into()
            .expect("the length is TABLE");
        let flag = u32::try_from(FLAG).expect("the table fits in u32");
        let mut representative = vec![0u8; stride];
        for byte in 0..=255u8 {
            representative[usize::from(classes[usize::from(byte)])] = byte;
        }
        // After a match the walk goes on from the start state: a match state's row is the
        // start state's.
        for (i, &sid) in states.iter().enumerate() {
            let from = if aut.is_match(sid) { states[0] } else { sid };
            for (class, &byte) in representative.iter().enumerate() {
                let next = aut.next_state(Anchored::No, from, byte);
                let j = ids.get(&next.as_usize()).copied().unwrap_or(0);
                let to = if aut.is_match(states[j]) {
                    id(j) | flag
                } else {
                    id(j)
                };
                trans[dense[i] * stride + class] = to;
            }
        }
        let matches = matching
            .iter()
            .map(|&i| {
                let pid = aut.match_pattern(states[i], 0);
                let len = aut.pattern_len(pid);
                (
                    u32::try_from(pid.as_usize()).expect("few patterns"),
                    u32::try_from(len).expect("short patterns"),
                )
            })
            .collect();
        Triggers {
            trans,
            classes,
            stride,
            start: id(0),
            first_match: u32::try_from(plain.len() * stride).expect("the table fits in u32"),
            matches,
        }
    }

    /// Calls `found(start, end, pattern)` for each match, in order.
    #[cfg(test)]
    pub(crate) fn find(&self, hay: &[u8], mut found: impl FnMut(usize, usize, usize)) {
        let mut walk = self.walk();
        self.feed(&mut walk, hay, &mut found);
    }

    /// A walk from the start of a text, fed piece by piece with [`Triggers::feed`].
    pub(crate) fn walk(&self) -> Walk {
        Walk {
            state: self.start as usize,
            at: 0,
        }
    }

    /// Walks `piece`, the text's next bytes, calling `found(start, end, pattern)` for each
    /// match, in order. Pieces of a multiple of eight bytes walk fastest.
    #[inline]
    pub(crate) fn feed(
        &self,
        walk: &mut Walk,
        piece: &[u8],
        found: &mut impl FnMut(usize, usize, usize),
    ) {
        let trans = &*self.trans;
        let classes = &self.classes;
        let mut s = walk.state;
        let mut at = walk.at;
        let mut chunks = piece.chunks_exact(8);
        for chunk in &mut chunks {
            let from = s;
            let mut seen = 0;
            for &byte in chunk {
                s = trans[(s + usize::from(classes[usize::from(byte)])) & (TABLE - 1)] as usize;
                seen |= s;
            }
            if seen & FLAG != 0 {
                self.report(from, chunk, at, found);
            }
            at += 8;
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            s = self.report(s, rest, at, found);
            at += rest.len();
        }
        walk.state = s;
        walk.at = at;
    }

    /// Walks `chunk` (at `at` in the text) again from state `s`, reporting its matches;
    /// returns the state after it.
    #[inline(never)]
    fn report(
        &self,
        mut s: usize,
        chunk: &[u8],
        at: usize,
        found: &mut impl FnMut(usize, usize, usize),
    ) -> usize {
        for (k, &byte) in chunk.iter().enumerate() {
            s = self.trans[(s + usize::from(self.classes[usize::from(byte)])) & (TABLE - 1)]
                as usize;
            if s & FLAG != 0 {
                let m = ((s & !FLAG) - self.first_match as usize) / self.stride;
                let (pid, len) = self.matches[m];
                let end = at + k + 1;
                found(end - len as usize, end, pid as usize);
            }
        }
        s
    }
}

/// Where a walk over a text is: its state and how many bytes it has walked.
pub(crate) struct Walk {
    state: usize,
    at: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;

    /// The table walk finds what `find_iter` on the same automaton finds.
    #[test]
    fn same_matches_as_aho_corasick() {
        let patterns = [
            "sk-",
            "@",
            "dob",
            "date of birth",
            "birth",
            "i am",
            "i'm",
            "меня зовут",
            "ssn",
        ];
        let t = Triggers::new(&patterns);
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .expect("valid");
        for hay in [
            "",
            "my DOB: 1990; Date Of Birth: x; I'm jane@x.io sk-abc",
            "Меня зовут Иван, меня зовут SSN ssnssn birthdob",
            "d.o.b i amI AM@@ sk-sk-",
        ] {
            let mut ours = Vec::new();
            t.find(hay.as_bytes(), |s, e, p| ours.push((s, e, p)));
            let theirs: Vec<_> = ac
                .find_iter(hay)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            assert_eq!(ours, theirs, "{hay}");
            // Fed piece by piece, of any size, the walk finds the same.
            for size in 1..=17 {
                let mut walk = t.walk();
                let mut pieces = Vec::new();
                for piece in hay.as_bytes().chunks(size) {
                    t.feed(&mut walk, piece, &mut |s, e, p| pieces.push((s, e, p)));
                }
                assert_eq!(pieces, theirs, "{hay} in pieces of {size}");
            }
        }
    }
}
