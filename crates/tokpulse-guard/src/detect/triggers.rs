//! The trigger scan: every literal in [`super::CUES`] found in one pass, as `find_iter` on a
//! standard-semantics Aho-Corasick automaton finds them (leftmost match end first; after a
//! match the search starts again at its end), but with a table walk of its own.
//!
//! The automaton is built by `aho-corasick` (ASCII case-insensitive); its states reachable
//! from the unanchored start are copied into a dense table over byte classes, with the match
//! states numbered last so that the inner loop is one load, one add and one compare per byte.

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, MatchKind, dfa};
use std::collections::HashMap;

pub(crate) struct Triggers {
    /// `trans[state + class[byte]]`: the next state, premultiplied by `stride`.
    trans: Vec<u32>,
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
        let mut trans = vec![0u32; (states.len() * stride).next_power_of_two()];
        let mut representative = vec![0u8; stride];
        for byte in 0..=255u8 {
            representative[usize::from(classes[usize::from(byte)])] = byte;
        }
        for (i, &sid) in states.iter().enumerate() {
            for (class, &byte) in representative.iter().enumerate() {
                let next = aut.next_state(Anchored::No, sid, byte);
                let to = ids.get(&next.as_usize()).map_or(id(0), |&j| id(j));
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
    #[inline]
    pub(crate) fn find(&self, hay: &[u8], mut found: impl FnMut(usize, usize, usize)) {
        // The table's length is a power of two: a masked index needs no bounds check.
        let mask = self.trans.len() - 1;
        let trans = &self.trans[..=mask];
        let classes = &self.classes;
        let mut s = self.start as usize;
        let first_match = self.first_match as usize;
        for (at, &byte) in hay.iter().enumerate() {
            s = trans[(s + usize::from(classes[usize::from(byte)])) & mask] as usize;
            if s >= first_match {
                let (pid, len) = self.matches[(s - first_match) / self.stride];
                found(at + 1 - len as usize, at + 1, pid as usize);
                s = self.start as usize;
            }
        }
    }
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
        }
    }
}
