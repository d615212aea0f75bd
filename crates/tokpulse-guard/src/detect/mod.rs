//! Detectors: each finds one entity type in text.
//!
//! One Aho-Corasick pass over the text finds every literal trigger (secret prefixes such as
//! `ghp_`, `://`, `@`, and context words such as `dob`, `my name is`, `ssn`); then hand-written
//! byte scanners look at number groups (phones, cards, SSNs, IPv4), alphanumeric tokens (IBANs,
//! Bitcoin addresses), hex-and-colon runs (IPv6) and `key: value` pairs. Checksums (Luhn,
//! mod-97, Base58Check, bech32, a JWT's header) and context words decide between look-alikes.
//! Text with nothing suspicious costs a few linear passes and no allocation.

mod checks;
mod entity;
mod keys;
mod text;
mod triggers;

pub use entity::{Entity, Span};
pub(crate) use keys::{KeyClass, classify as classify_key};

use regex::Regex;
use std::fmt;
use std::net::Ipv6Addr;
use text::{char_before, date_at, name_at, name_before, skip_to_value};

/// What a trigger literal starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    OpenAi,
    Github,
    Aws,
    Jwt,
    Slack,
    Url,
    At,
    Pct40,
    Hex0x,
    Bech32,
    /// A person's name follows.
    Person,
    /// A birth date follows.
    Birth,
    /// A street address follows.
    Address,
    /// A password follows (`my password is …`).
    Password,
    /// `Bearer <token>`: the token is a secret.
    Bearer,
    /// Context: nearby 9-digit numbers are SSNs.
    Ssn,
    /// Context: nearby digit groups are phone numbers.
    Phone,
    /// Context: nearby dotted quads are versions, not addresses.
    Version,
    /// `VALUES (`: an SQL insert whose columns name its values.
    SqlValues,
}

const CUES: &[(&str, Cue)] = &[
    ("sk-", Cue::OpenAi),
    ("ghp_", Cue::Github),
    ("gho_", Cue::Github),
    ("ghu_", Cue::Github),
    ("ghs_", Cue::Github),
    ("ghr_", Cue::Github),
    ("github_pat_", Cue::Github),
    ("akia", Cue::Aws),
    ("asia", Cue::Aws),
    ("eyj", Cue::Jwt),
    ("xox", Cue::Slack),
    ("://", Cue::Url),
    ("@", Cue::At),
    ("%40", Cue::Pct40),
    ("0x", Cue::Hex0x),
    ("bc1", Cue::Bech32),
    ("tb1", Cue::Bech32),
    // Names.
    ("my name is", Cue::Person),
    ("name is", Cue::Person),
    ("this is", Cue::Person),
    ("i am", Cue::Person),
    ("i'm", Cue::Person),
    ("it's", Cue::Person),
    ("dear", Cue::Person),
    ("yo,", Cue::Person),
    ("hey,", Cue::Person),
    ("hi,", Cue::Person),
    ("hello,", Cue::Person),
    ("hola,", Cue::Person),
    ("hallo,", Cue::Person),
    ("bonjour,", Cue::Person),
    ("ciao,", Cue::Person),
    ("regards,", Cue::Person),
    ("thanks,", Cue::Person),
    ("thank you,", Cue::Person),
    ("best,", Cue::Person),
    ("cheers,", Cue::Person),
    ("sincerely,", Cue::Person),
    ("for user", Cue::Person),
    ("user ", Cue::Person),
    ("customer ", Cue::Person),
    ("patient ", Cue::Person),
    ("client ", Cue::Person),
    ("spoke with", Cue::Person),
    ("spoke to", Cue::Person),
    ("talked to", Cue::Person),
    ("speaking with", Cue::Person),
    ("on behalf of", Cue::Person),
    ("attn", Cue::Person),
    ("mit freundlichen grüßen", Cue::Person),
    ("cordialement,", Cue::Person),
    ("saludos,", Cue::Person),
    ("cordiali saluti,", Cue::Person),
    ("signed by", Cue::Person),
    ("assigned to", Cue::Person),
    ("contact person", Cue::Person),
    ("mr.", Cue::Person),
    ("mrs.", Cue::Person),
    ("ms.", Cue::Person),
    ("dr.", Cue::Person),
    ("herr ", Cue::Person),
    ("frau ", Cue::Person),
    ("ich heiße", Cue::Person),
    ("ich bin", Cue::Person),
    ("mein name ist", Cue::Person),
    ("je m'appelle", Cue::Person),
    ("je suis", Cue::Person),
    ("me llamo", Cue::Person),
    ("soy", Cue::Person),
    ("mi nombre es", Cue::Person),
    ("sono", Cue::Person),
    ("mi chiamo", Cue::Person),
    ("sou", Cue::Person),
    ("meu nome é", Cue::Person),
    ("меня зовут", Cue::Person),
    ("Меня зовут", Cue::Person),
    ("我是", Cue::Person),
    ("我叫", Cue::Person),
    ("こんにちは、", Cue::Person),
    ("私は", Cue::Person),
    ("저는", Cue::Person),
    ("제 이름은", Cue::Person),
    ("mijn naam is", Cue::Person),
    ("ik ben", Cue::Person),
    ("nazywam się", Cue::Person),
    ("jmenuji se", Cue::Person),
    ("jag heter", Cue::Person),
    // Birth dates.
    ("dob", Cue::Birth),
    ("d.o.b", Cue::Birth),
    ("date of birth", Cue::Birth),
    ("birth date", Cue::Birth),
    ("birthdate", Cue::Birth),
    ("birthday", Cue::Birth),
    ("born on", Cue::Birth),
    ("born", Cue::Birth),
    ("geboren am", Cue::Birth),
    ("geboren", Cue::Birth),
    ("geburtsdatum", Cue::Birth),
    ("né le", Cue::Birth),
    ("née le", Cue::Birth),
    ("date de naissance", Cue::Birth),
    ("nacido el", Cue::Birth),
    ("nacida el", Cue::Birth),
    ("fecha de nacimiento", Cue::Birth),
    ("nato il", Cue::Birth),
    ("nata il", Cue::Birth),
    ("data di nascita", Cue::Birth),
    ("data de nascimento", Cue::Birth),
    ("nascido em", Cue::Birth),
    ("nascida em", Cue::Birth),
    ("data urodzenia", Cue::Birth),
    ("urodzony", Cue::Birth),
    ("urodzona", Cue::Birth),
    ("geboortedatum", Cue::Birth),
    ("дата рождения", Cue::Birth),
    ("Дата рождения", Cue::Birth),
    ("родился", Cue::Birth),
    ("родилась", Cue::Birth),
    ("生年月日", Cue::Birth),
    ("出生日期", Cue::Birth),
    ("生日", Cue::Birth),
    ("생년월일", Cue::Birth),
    // Addresses.
    ("address is", Cue::Address),
    ("live at", Cue::Address),
    ("living at", Cue::Address),
    ("moved to", Cue::Address),
    ("office at", Cue::Address),
    ("ship to", Cue::Address),
    ("shipping to", Cue::Address),
    ("delivered to", Cue::Address),
    ("mailing address", Cue::Address),
    ("deliver to", Cue::Address),
    ("located at", Cue::Address),
    ("wohne in", Cue::Address),
    ("meine adresse", Cue::Address),
    ("mon adresse", Cue::Address),
    ("j'habite", Cue::Address),
    ("mi dirección", Cue::Address),
    ("vivo en", Cue::Address),
    ("abito in", Cue::Address),
    ("moro na", Cue::Address),
    ("moro em", Cue::Address),
    ("il mio indirizzo", Cue::Address),
    // Passwords in prose.
    ("password is", Cue::Password),
    ("passwort ist", Cue::Password),
    ("mot de passe est", Cue::Password),
    ("contraseña es", Cue::Password),
    ("password was", Cue::Password),
    ("pw is", Cue::Password),
    ("--password ", Cue::Password),
    ("bearer ", Cue::Bearer),
    // Context only.
    ("ssn", Cue::Ssn),
    ("social security", Cue::Ssn),
    ("phone", Cue::Phone),
    ("tel", Cue::Phone),
    ("call", Cue::Phone),
    ("reach me", Cue::Phone),
    ("mobile", Cue::Phone),
    ("whatsapp", Cue::Phone),
    ("fax", Cue::Phone),
    ("rufen", Cue::Phone),
    ("numéro", Cue::Phone),
    ("número", Cue::Phone),
    ("numero", Cue::Phone),
    ("номер", Cue::Phone),
    ("телефон", Cue::Phone),
    ("电话", Cue::Phone),
    ("電話", Cue::Phone),
    ("version", Cue::Version),
    ("build", Cue::Version),
    ("release", Cue::Version),
    ("chrome/", Cue::Version),
    ("update to", Cue::Version),
    ("upgrade to", Cue::Version),
    ("updated to", Cue::Version),
    ("deploy of", Cue::Version),
    ("deployed", Cue::Version),
    ("デプロイ", Cue::Version),
    ("rolled out", Cue::Version),
    ("firefox/", Cue::Version),
    ("safari/", Cue::Version),
    ("windows nt", Cue::Version),
    ("values (", Cue::SqlValues),
    ("values(", Cue::SqlValues),
];

#[derive(Clone)]
pub(crate) struct Detector {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    cues: triggers::Triggers,
    addresses: Vec<Regex>,
}

impl fmt::Debug for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detector")
            .field("cues", &CUES.len())
            .finish()
    }
}

/// Each byte's classes for [`classes64`], class `k` as bit `16 * k`: class 0 a start byte
/// (ASCII digit, capital, `+`, `(`), 1 a word byte (ASCII letter, digit, `_`), 2 a key
/// separator (`:`, `=`), 3 a comma.
static BYTE_CLASSES: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        let digit = b.is_ascii_digit();
        let upper = b.is_ascii_uppercase();
        if digit || upper || b == b'+' || b == b'(' {
            t[c] |= 1;
        }
        if digit || upper || b.is_ascii_lowercase() || b == b'_' {
            t[c] |= 1 << 16;
        }
        if b == b':' || b == b'=' {
            t[c] |= 1 << 32;
        }
        if b == b',' {
            t[c] |= 1 << 48;
        }
        c += 1;
    }
    t
};

/// Bit masks of 64 bytes (bit `k` for byte `k`): start bytes, word bytes, key separators and
/// commas. Sixteen bytes at a time, each byte's classes from one table shifted by its place:
/// bits `16 * k ..` of the sum are class `k`'s sixteen bits (no branch per byte).
/// `also` is called with each sixteen bytes in turn, so that another walk over them (the
/// trigger automaton's) runs interleaved with this one.
#[inline]
fn classes64(chunk: &[u8; 64], mut also: impl FnMut(&[u8])) -> [u64; 4] {
    let mut masks = [0u64; 4];
    for (g, lanes) in chunk.chunks_exact(16).enumerate() {
        also(lanes);
        let mut x = 0u64;
        for (j, &c) in lanes.iter().enumerate() {
            x |= BYTE_CLASSES[usize::from(c)] << j;
        }
        for (k, mask) in masks.iter_mut().enumerate() {
            *mask |= ((x >> (16 * k)) & 0xffff) << (16 * g);
        }
    }
    masks
}

/// The text's bytes of interest, 64 bytes a block, found in one pass before the detectors run:
/// each detector then visits only its candidate positions.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    /// Number candidates: start bytes not after a word byte (a token never starts inside a
    /// word: `a1`, `x2f`, `ID42`).
    cands: u64,
    /// `:` and `=`.
    seps: u64,
    /// `,`.
    commas: u64,
}

thread_local! {
    /// The blocks of the text being scanned, kept between scans (no allocation per text).
    static BLOCKS: std::cell::Cell<Vec<Block>> = const { std::cell::Cell::new(Vec::new()) };
    /// The cues of the text being scanned, likewise.
    static CUES_FOUND: std::cell::Cell<Vec<(usize, usize, Cue)>> =
        const { std::cell::Cell::new(Vec::new()) };
}

/// The blocks of `b`, into `out` (cleared first). `also` is called with every byte of `b`,
/// in order, a piece at a time.
fn classify_blocks(b: &[u8], out: &mut Vec<Block>, mut also: impl FnMut(&[u8])) {
    out.clear();
    out.reserve(b.len().div_ceil(64));
    let mut prev_word = 0u64;
    for chunk in b.chunks(64) {
        let [starts, words, seps, commas] = if let Ok(full) = <&[u8; 64]>::try_from(chunk) {
            classes64(full, &mut also)
        } else {
            also(chunk);
            let mut padded = [0u8; 64];
            padded[..chunk.len()].copy_from_slice(chunk);
            classes64(&padded, |_| {})
        };
        let cands = starts & !((words << 1) | prev_word);
        prev_word = (words >> (chunk.len() - 1)) & 1;
        out.push(Block {
            cands,
            seps,
            commas,
        });
    }
}

/// What a byte is in an unquoted key, for [`Scanner::key_before`]: a space, an ASCII letter,
/// another key byte (digit, `_`, `-`, `.`), or none (the key stops).
static KEY_BYTES: [u8; 256] = {
    let mut t = [KEY_STOP; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        t[c] = if b == b' ' {
            KEY_SPACE
        } else if b.is_ascii_alphabetic() {
            KEY_LETTER
        } else if b.is_ascii_digit() || b == b'_' || b == b'-' || b == b'.' {
            KEY_OTHER
        } else {
            KEY_STOP
        };
        c += 1;
    }
    t
};
const KEY_STOP: u8 = 0;
const KEY_SPACE: u8 = 1;
const KEY_LETTER: u8 = 2;
const KEY_OTHER: u8 = 3;

/// The first position at or after `from` whose bit is set in `field` of the blocks.
#[inline]
fn next_bit(blocks: &[Block], from: usize, field: impl Fn(&Block) -> u64) -> Option<usize> {
    let mut k = from / 64;
    let mut m = field(blocks.get(k)?) & (!0u64 << (from % 64));
    loop {
        if m != 0 {
            return Some(k * 64 + m.trailing_zeros() as usize);
        }
        k += 1;
        m = field(blocks.get(k)?);
    }
}

/// Whether the candidate at `i` is a capital that [`Scanner::number_at`] would pass over:
/// neither a word of letters followed by a space (a given name's shape) nor two capitals and
/// two digits (an IBAN's). Most capitals are these, and cost no call.
#[inline]
fn plain_capital(b: &[u8], i: usize) -> bool {
    if !b[i].is_ascii_uppercase() {
        return false;
    }
    if i + 3 < b.len() && b[i + 1].is_ascii_lowercase() {
        let e = i + b[i..]
            .iter()
            .take(16)
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        return b.get(e) != Some(&b' ');
    }
    !(i + 3 < b.len()
        && b[i + 1].is_ascii_uppercase()
        && b[i + 2].is_ascii_digit()
        && b[i + 3].is_ascii_digit())
}

/// Street types and particles that may start a European street name.
const STREET_WORDS: &str = "via|viale|vicolo|piazza|corso|largo|strada|contrada|borgo|calle|\
    avenida|paseo|plaza|camino|ronda|carrer|cañada|ulica|ul\\.|aleja|al\\.|plac|osiedle|rue|\
    avenue|boulevard|chemin|impasse|allée|place|quai|route|de|del|della|dei|di|la|le|du|des|\
    van|von|der|den|am|an|im|in der|an der|rua|travessa|praça|gatan|vägen";

impl Detector {
    /// The detectors. They hold no configuration, so every detector shares one set of
    /// automata and patterns, built on first use.
    pub(crate) fn new() -> Self {
        static SHARED: std::sync::LazyLock<Detector> = std::sync::LazyLock::new(Detector::build);
        SHARED.clone()
    }

    fn build() -> Self {
        let literals: Vec<&str> = CUES.iter().map(|(t, _)| *t).collect();
        let cues = triggers::Triggers::new(&literals);
        // Unicode classes make big lazy DFAs: give them room so their states are built once
        // and kept, not rebuilt window after window.
        let re = |p: &str| {
            regex::RegexBuilder::new(p)
                .dfa_size_limit(64 << 20)
                .build()
                .expect("built-in address patterns are valid")
        };
        let word = r"[\p{Lu}0-9][\p{L}0-9'’.-]*";
        let addresses = vec![
            // US: 123 Main Street Apt. 4, Springfield, IL 62704
            re(&format!(
                r"(?-u:\b)\d{{1,6}}(?: {word})+,(?: [\p{{Lu}}][\p{{L}}'.-]*)+,? [A-Z]{{2}} \d{{5}}(?:-\d{{4}})?$"
            )),
            // GB: 07 Bruce Land, East Benchester G5 7XL
            re(&format!(
                r"(?-u:\b)\d{{1,5}}[A-Za-z]?(?: {word})+,(?: [\p{{Lu}}][\p{{L}}'.-]*)+,? [A-Z]{{1,2}}\d[A-Z\d]? \d[A-Z]{{2}}$"
            )),
            // FR: 13, boulevard de Prévost, 34236 Sainte Danielboeuf
            re(
                r"(?-u:\b)\d{1,4}(?: ?(?:bis|ter))?,? (?i:rue|boulevard|avenue|chemin|impasse|allée|place|quai|route|cours|voie|square|passage)(?: [\p{L}'’-]+)+,? \d{5}(?: [\p{Lu}][\p{L}'’-]*)+$",
            ),
            // DE, NL, PL, IT, ES, SE, CZ: Reichmannring 7/7, 36807 Grevesmühlen
            re(&format!(
                r"(?:(?-u:\b)(?:{STREET_WORDS}) )*[\p{{Lu}}][\p{{L}}'’.-]*(?: (?:[\p{{Lu}}][\p{{L}}'’.-]*|{STREET_WORDS}))* \d{{1,4}}[a-zA-Z]?(?:/\d{{1,4}}[a-zA-Z]?)?(?: (?:Apt\.|Piso|Puerta|lok\.|m\.) ?\d+)?,? (?:\d{{5}}|\d{{4}} ?[A-Z]{{2}}|\d{{2}}-\d{{3}}|\d{{3}} \d{{2}}|\d{{4}})(?: [\p{{Lu}}][\p{{L}}'’-]*)+$"
            )),
            // ulica Sucharskiego 22, 43-105 Sosnowiec (lower-case street type first)
            re(&format!(
                r"(?-u:\b)(?:{STREET_WORDS})(?: [\p{{L}}'’.-]+)+ \d{{1,4}}[a-zA-Z]?(?:/\d{{1,4}})?,? (?:\d{{5}}|\d{{4}} ?[A-Z]{{2}}|\d{{2}}-\d{{3}}|\d{{3}} \d{{2}}|\d{{4}})(?: [\p{{Lu}}][\p{{L}}'’-]*)+$"
            )),
        ];
        Detector {
            inner: std::sync::Arc::new(Inner { cues, addresses }),
        }
    }

    /// Finds entities in `text`. `key` is the JSON key or header name the text sits under.
    pub(crate) fn scan(&self, text: &str, key: Option<&str>) -> Vec<Span> {
        let mut sc = Scanner::new(self, text);
        sc.run();
        if let Some(class) = key.and_then(classify_key) {
            sc.whole_value(class, 0, text.len(), true);
        }
        resolve_overlaps(std::mem::take(&mut sc.spans))
    }
}

struct Scanner<'a> {
    det: &'a Inner,
    text: &'a str,
    b: &'a [u8],
    /// Context cues found: (start, end, cue).
    cues: Vec<(usize, usize, Cue)>,
    spans: Vec<Span>,
    /// IPv6 runs are looked at once, from their first colon.
    v6_until: usize,
    /// The text's [`Block`]s.
    blocks: Vec<Block>,
}

impl Drop for Scanner<'_> {
    fn drop(&mut self) {
        // Kept for the next text unless a huge one made them big (1 MB of text, 4,096 cues).
        if self.blocks.capacity() <= 1 << 14 {
            BLOCKS.set(std::mem::take(&mut self.blocks));
        }
        if self.cues.capacity() <= 1 << 12 {
            CUES_FOUND.set(std::mem::take(&mut self.cues));
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Values that stand for a secret without being one.
fn placeholder(v: &str) -> bool {
    let t = v.trim_matches(|c| c == '"' || c == '\'');
    let Some(&first) = t.as_bytes().first() else {
        return true;
    };
    // Most values are none of these: the first byte rules nearly all of them out.
    if first.is_ascii_digit() || (first >= 0x80) {
        return false;
    }
    // The words below are three to nine bytes long.
    let word = (3..=9).contains(&t.len());
    t.is_empty()
        || t.bytes()
            .all(|c| matches!(c, b'*' | b'x' | b'X' | b'.' | b'#' | b'-' | b'?'))
        || t.starts_with('[')
        || t.starts_with('<')
        || t.starts_with("${")
        || t.starts_with("{{")
        || t.starts_with('%')
        || word
            && [
                "true",
                "false",
                "null",
                "none",
                "nil",
                "undefined",
                "redacted",
                "required",
                "changeme",
            ]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
}

impl<'a> Scanner<'a> {
    fn new(det: &'a Detector, text: &'a str) -> Self {
        Scanner {
            det: &det.inner,
            text,
            b: text.as_bytes(),
            cues: {
                let mut cues = CUES_FOUND.take();
                cues.clear();
                cues
            },
            spans: Vec::new(),
            v6_until: 0,
            blocks: BLOCKS.take(),
        }
    }

    fn push(&mut self, start: usize, end: usize, entity: Entity) {
        if start < end
            && end <= self.b.len()
            && self.text.is_char_boundary(start)
            && self.text.is_char_boundary(end)
        {
            // A mask we wrote earlier is not a value: redacting twice changes nothing.
            let v = &self.text[start..end];
            // Values are short: a byte loop, not a `memchr` call.
            if v.starts_with('[') && v.ends_with(']')
                || (v.bytes().any(|c| c == b'[') && contains_mask(v))
            {
                return;
            }
            self.spans.push(Span { start, end, entity });
        }
    }

    fn run(&mut self) {
        // One pass over the bytes: their classes, and the trigger automaton's walk.
        let triggers = &self.det.cues;
        let mut walk = triggers.walk();
        let cues = &mut self.cues;
        let mut found = |s, e, pattern: usize| cues.push((s, e, CUES[pattern].1));
        classify_blocks(self.b, &mut self.blocks, |piece| {
            triggers.feed(&mut walk, piece, &mut found);
        });
        if self.b.is_empty() {
            return;
        }
        // Matches come in end order; context look-ups want start order.
        self.cues.sort_unstable_by_key(|c| c.0);
        for i in 0..self.cues.len() {
            let (s, e, cue) = self.cues[i];
            self.on_cue(s, e, cue);
        }
        self.numbers();
        self.addresses();
        self.key_values();
        // A header and one row of three cells or more hold four delimiters of one kind.
        if memchr::memchr(b'\n', self.b).is_some()
            && (self
                .blocks
                .iter()
                .map(|k| k.commas.count_ones())
                .sum::<u32>()
                >= 4
                || [b';', b'|', b'\t']
                    .iter()
                    .any(|&d| memchr::memchr_iter(d, self.b).nth(3).is_some()))
        {
            self.csv();
        }
    }

    /// Whether a cue of kind `cue` ends within `window` bytes before `pos` (on the same line
    /// when `same_line`).
    fn context(&self, pos: usize, window: usize, cue: Cue) -> bool {
        let from = pos.saturating_sub(window);
        self.cues.iter().any(|&(s, e, c)| {
            c == cue
                && e <= pos
                && e >= from
                && s < pos
                && !self.b[e..pos].iter().any(u8::is_ascii_digit)
        })
    }

    #[inline(never)]
    fn on_cue(&mut self, s: usize, e: usize, cue: Cue) {
        let b = self.b;
        let before = if s > 0 { b[s - 1] } else { b' ' };
        match cue {
            Cue::OpenAi => {
                if is_word(before) || before == b'-' {
                    return;
                }
                let end = s
                    + 3
                    + b[s + 3..]
                        .iter()
                        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                        .count();
                let alnum = b[s + 3..end]
                    .iter()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .count();
                if end - s >= 23 && alnum >= 20 && b[s..s + 3] == *b"sk-" {
                    self.push(s, end, Entity::OpenaiKey);
                }
            }
            Cue::Github => {
                if is_word(before) || !b[s..e].iter().all(|c| !c.is_ascii_uppercase()) {
                    return;
                }
                let body = b[e..]
                    .iter()
                    .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_')
                    .count();
                let min = if e - s > 4 { 22 } else { 30 };
                if body >= min {
                    self.push(s, e + body, Entity::GithubToken);
                }
            }
            Cue::Aws => {
                let end = s + 20;
                if !is_word(before)
                    && b.len() >= end
                    && b[s..end]
                        .iter()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                    && b.get(end).is_none_or(|&c| !is_word(c))
                {
                    self.push(s, end, Entity::AwsAccessKey);
                }
            }
            Cue::Jwt => self.jwt(s, before),
            Cue::Slack => {
                if is_word(before) || b.get(s + 4) != Some(&b'-') {
                    return;
                }
                let body = b[s + 5..]
                    .iter()
                    .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-')
                    .count();
                if body >= 10 && b"abposr".contains(&b[s + 3]) {
                    self.push(s, s + 5 + body, Entity::SlackToken);
                }
            }
            Cue::Url => self.url_credentials(s),
            Cue::At => self.email(s, s + 1),
            Cue::Pct40 => self.email(s, s + 3),
            Cue::Hex0x => {
                let n = b[s + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                if n == 40 && !is_word(before) && b.get(s + 42).is_none_or(|&c| !is_word(c)) {
                    self.push(s, s + 42, Entity::CryptoWallet);
                }
            }
            Cue::Bech32 => {
                if is_word(before) {
                    return;
                }
                let n = b[s..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
                if checks::bech32_ok(&b[s..s + n]) {
                    self.push(s, s + n, Entity::CryptoWallet);
                }
            }
            Cue::Person => {
                // A cue that ends in a space or punctuation (`customer `, `hi,`) is followed by
                // the name itself, so only a cue ending in a letter must end a word.
                let ends_in_letter = e > s && is_word(b[e - 1]);
                if is_word(before)
                    || (ends_in_letter && b.get(e).is_some_and(|&c| is_word(c) && c.is_ascii()))
                {
                    // `Dearborn`, `sonority`: not the cue word.
                    if b[s] < 0x80 {
                        return;
                    }
                }
                let mut i = e;
                while i < b.len()
                    && matches!(b[i], b' ' | b'\n' | b'\r' | b',' | b':' | b'\'' | b'"')
                {
                    i += 1;
                }
                if let Some((ns, ne)) = name_at(self.text, i) {
                    self.push(ns, ne, Entity::Person);
                }
            }
            Cue::Birth => {
                if is_word(before) && before.is_ascii_alphabetic() {
                    return;
                }
                let mut i = e;
                // `dob`, `date_of_birth`, `birthDate"`: skip the rest of a key.
                while i < b.len() && (is_word(b[i]) && !b[i].is_ascii_digit()) && i < e + 12 {
                    i += 1;
                }
                let v = skip_to_value(self.text, i);
                if let Some(end) = date_at(self.text, v) {
                    self.push(v, end, Entity::DateOfBirth);
                }
            }
            Cue::Address => {
                let v = skip_to_value(self.text, e);
                if let Some(end) = self.address_value_end(v) {
                    self.push(v, end, Entity::StreetAddress);
                }
            }
            Cue::Password => {
                let v = skip_to_value(self.text, e);
                let end = v + b[v..]
                    .iter()
                    .take_while(|&&c| !c.is_ascii_whitespace() && c != b'"' && c != b'\'')
                    .count();
                let mut end = end;
                while end > v && matches!(b[end - 1], b'.' | b',' | b'!' | b'?' | b')') {
                    end -= 1;
                }
                if end - v >= 4 && !placeholder(&self.text[v..end]) {
                    self.push(v, end, Entity::Password);
                }
            }
            Cue::SqlValues => self.sql_insert(s, e),
            Cue::Bearer => {
                if is_word(before) {
                    return;
                }
                let n = b[e..]
                    .iter()
                    .take_while(|&&c| {
                        c.is_ascii_alphanumeric()
                            || matches!(c, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
                    })
                    .count();
                if n >= 8 {
                    self.push(e, e + n, Entity::Password);
                }
            }
            Cue::Ssn | Cue::Phone | Cue::Version => {}
        }
    }

    /// The end of a free-text address starting at `v`: to the end of the line or sentence;
    /// `None` unless it has a number and a word.
    fn address_value_end(&self, v: usize) -> Option<usize> {
        let b = self.b;
        let mut end = v;
        while end < b.len() && end - v < 160 {
            let c = b[end];
            if matches!(c, b'\n' | b'"' | b'|' | b'\t' | b'(' | b')' | b'<' | b'>') {
                break;
            }
            if c == b'.' && matches!(b.get(end + 1), None | Some(b' ' | b'\n')) {
                // `Apt.` and `St.` go on.
                let w = &self.text[v..end];
                if !(w.ends_with("Apt") || w.ends_with("St") || w.ends_with("Ste")) {
                    break;
                }
            }
            end += 1;
        }
        while end > v && matches!(b[end - 1], b' ' | b',' | b'.' | b';') {
            end -= 1;
        }
        let s = &b[v..end];
        // A house number next to a capitalised word: `12 Main`, `Hauptstraße 5`.
        let numbered = s.windows(3).any(|w| {
            (w[0].is_ascii_digit() && w[1] == b' ' && (w[2].is_ascii_uppercase() || w[2] >= 0x80))
                || ((w[0].is_ascii_alphabetic() || w[0] >= 0x80)
                    && w[1] == b' '
                    && w[2].is_ascii_digit())
        });
        (numbered
            && s.first()
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c >= 0x80)
            && s.iter().any(u8::is_ascii_digit)
            && s.iter().filter(|c| c.is_ascii_alphabetic()).count() >= 3
            && s.len() >= 8)
            .then_some(end)
    }

    fn jwt(&mut self, s: usize, before: u8) {
        let b = self.b;
        if is_word(before) || b[s..s + 3] != *b"eyJ" {
            return;
        }
        let seg = |from: usize| {
            b[from..]
                .iter()
                .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                .count()
        };
        let h = seg(s);
        if h < 10 || b.get(s + h) != Some(&b'.') {
            return;
        }
        let p = seg(s + h + 1);
        let p_end = s + h + 1 + p;
        if p < 2 || b.get(p_end) != Some(&b'.') {
            return;
        }
        let sig = seg(p_end + 1);
        if !checks::jwt_header_ok(&b[s..s + h]) {
            return;
        }
        self.push(s, p_end + 1 + sig, Entity::Jwt);
    }

    fn url_credentials(&mut self, s: usize) {
        let b = self.b;
        let mut start = s;
        while start > 0
            && (b[start - 1].is_ascii_alphanumeric() || matches!(b[start - 1], b'+' | b'.' | b'-'))
        {
            start -= 1;
        }
        if s - start < 2 {
            return;
        }
        let auth = s + 3;
        let mut i = auth;
        let mut colon = None;
        while i < b.len()
            && !matches!(
                b[i],
                b'/' | b'@' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'`'
            )
            && !b[i].is_ascii_whitespace()
        {
            if b[i] == b':' && colon.is_none() {
                colon = Some(i);
            }
            i += 1;
        }
        let Some(colon) = colon else { return };
        if b.get(i) != Some(&b'@') || colon == auth || colon + 1 == i {
            return;
        }
        if placeholder(&self.text[colon + 1..i]) {
            return;
        }
        let mut end = i + 1;
        while end < b.len()
            && !b[end].is_ascii_whitespace()
            && !matches!(
                b[end],
                b'"' | b'\'' | b'<' | b'>' | b'`' | b')' | b']' | b'}' | b',' | b';' | b'|'
            )
        {
            end += 1;
        }
        while end > i + 1 && matches!(b[end - 1], b'.') {
            end -= 1;
        }
        self.push(start, end, Entity::UrlWithCredentials);
    }

    /// An email around the `@` (or `%40`) at `at..after`.
    fn email(&mut self, at: usize, after: usize) {
        let b = self.b;
        // The local part: ASCII local characters and non-CJK letters (`Zoë`), by char.
        let mut s = at;
        while s > 0 {
            // ASCII by byte; anything else by char.
            let (ok, len) = if b[s - 1] < 0x80 {
                let c = b[s - 1];
                (
                    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'),
                    1,
                )
            } else {
                match char_before(self.text, s) {
                    Some(c) => (c.is_alphabetic() && !text::is_cjk(c), c.len_utf8()),
                    None => break,
                }
            };
            if !ok || at - s >= 64 {
                break;
            }
            s -= len;
        }
        while s < at && b[s] == b'.' {
            s += 1;
        }
        if s == at || (s > 0 && matches!(b[s - 1], b'*' | b':')) {
            return;
        }
        let mut e = after;
        while e < b.len() {
            let c = b[e];
            if c < 0x80 {
                if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.') {
                    break;
                }
                e += 1;
            } else {
                match text::char_at(self.text, e) {
                    Some(c) if c.is_alphabetic() && !text::is_cjk(c) => e += c.len_utf8(),
                    _ => break,
                }
            }
        }
        // A top-level domain is letters: `jane@corp.io2024` ends at `io`.
        while e > after {
            let len = if b[e - 1] < 0x80 {
                if b[e - 1].is_ascii_alphabetic() {
                    break;
                }
                1
            } else {
                match char_before(self.text, e) {
                    Some(c) if !c.is_alphabetic() => c.len_utf8(),
                    _ => break,
                }
            };
            e -= len;
        }
        let Some(dot) = self.text[after..e].rfind('.').map(|d| after + d) else {
            return;
        };
        let tld = &self.text[dot + 1..e];
        if tld.chars().count() < 2 || !tld.chars().all(char::is_alphabetic) {
            return;
        }
        let local = &b[s..at];
        // Message-IDs (`<uuid@mail.host>`) and git remotes (`git@github.com:org/repo`).
        if local.len() >= 16 && local.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-') {
            return;
        }
        if b.get(e) == Some(&b':') && b.get(e + 1).is_some_and(|c| c.is_ascii_alphabetic()) {
            return;
        }
        // `a@b.com@c.com` is not an address of its own.
        if b.get(e) == Some(&b'@') || self.text[e..].starts_with("%40") {
            return;
        }
        self.push(s, e, Entity::Email);
        // `Jane Doe <jane@corp.io>`: the name before the bracket.
        if s > 0
            && b[s - 1] == b'<'
            && let Some((ns, ne)) = name_before(self.text, s - 1)
        {
            self.push(ns, ne, Entity::Person);
        }
    }

    /// Groups of digits joined by single separators: phones, cards, SSNs, IPv4, numeric dates.
    #[inline(never)]
    fn numbers(&mut self) {
        // Each candidate is looked at unless an earlier token already covered it.
        let mut next = 0;
        for k in 0..self.blocks.len() {
            let mut candidates = self.blocks[k].cands;
            while candidates != 0 {
                let i = k * 64 + candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if i >= next {
                    next = if plain_capital(self.b, i) {
                        i + 1
                    } else {
                        self.number_at(i)
                    };
                }
            }
        }
    }

    /// The token at candidate `i` (a start byte after a non-word byte), pushed if it is one;
    /// returns where the next token may start.
    fn number_at(&mut self, i: usize) -> usize {
        let b = self.b;
        let c = b[i];
        let starts = c.is_ascii_digit()
            || (c == b'+' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
            || (c == b'(' && b.get(i + 1).is_some_and(u8::is_ascii_digit));
        let prev = if i > 0 { b[i - 1] } else { b' ' };
        if (c.is_ascii_uppercase() || c == b'1' || c == b'3')
            && let Some(end) = self.token_at(i)
        {
            return end;
        }
        // After `/` (a path segment) a plain run of digits is an id, not a phone:
        // `/users/4155550132`.
        let after_slash = prev == b'/';
        if !starts || matches!(prev, b'.' | b'-' | b'#' | b'$' | b'+') {
            return i + 1;
        }
        // A `(` is an area code's when a few digits close right after it: `(415) 555-0132`.
        // Otherwise it may wrap the number (`(4242 4242 4242 4242)`): the number after it
        // comes first, then the compound with the bracket (`(415-555 0132)`).
        if c == b'(' {
            let run = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if run > 5 || b.get(i + 1 + run) != Some(&b')') {
                let found = self.spans.len();
                let next = self.number_at(i + 1);
                if self.spans.len() > found {
                    return next;
                }
            }
        }
        // The compound: groups of digits separated by one of ` -./` or `(`, `)`.
        let mut groups: [(usize, usize); 10] = [(0, 0); 10];
        let mut n = 0;
        let mut j = i;
        if b[j] == b'+' || b[j] == b'(' {
            j += 1;
        }
        loop {
            let gs = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j == gs || n == groups.len() {
                break;
            }
            groups[n] = (gs, j);
            n += 1;
            // Separator: one of ` -./`, or `) `, `)`, ` (`.
            let mut k = j;
            if b.get(k) == Some(&b')') {
                k += 1;
            }
            if matches!(b.get(k), Some(b' ' | b'-' | b'.' | b'/')) {
                k += 1;
            }
            if b.get(k) == Some(&b'(') {
                k += 1;
            }
            if k == j || !b.get(k).is_some_and(u8::is_ascii_digit) {
                break;
            }
            j = k;
        }
        // Try the longest prefix of groups first, then shorter ones. One or two groups of
        // fewer than seven digits in all are nothing `classify_number` knows.
        let mut matched = None;
        for k in (1..=n).rev() {
            if k <= 2 && groups[..k].iter().map(|&(s, e)| e - s).sum::<usize>() < 7 {
                break;
            }
            if let Some(hit) = self.classify_number(i, &groups[..k]) {
                matched = Some(hit);
                break;
            }
        }
        if after_slash && n == 1 {
            matched = matched.map(|(end, e)| (end, e.filter(|&e| e != Entity::Phone)));
        }
        match matched {
            Some((end, Some(entity))) => {
                self.push(i, end, entity);
                end
            }
            Some((end, None)) => end,
            // Skip the whole compound: its tail is not a number of its own.
            None if n > 0 => groups[n - 1].1.max(i + 1),
            None => i + 1,
        }
    }

    /// What the groups starting at `start` are: `Some((end, Some(entity)))` for a hit,
    /// `Some((end, None))` for a known look-alike to skip whole, `None` for nothing.
    #[inline(never)]
    fn classify_number(
        &self,
        start: usize,
        g: &[(usize, usize)],
    ) -> Option<(usize, Option<Entity>)> {
        let b = self.b;
        let end = g.last()?.1;
        // A closing `)` is the number's only if it closes one of the number's own `(`:
        // `(card 4242 4242 4242 4242)` keeps its bracket.
        let end = if b.get(end) == Some(&b')') && {
            let inner = &b[start..end];
            let count = |p: u8| inner.iter().filter(|&&c| c == p).count();
            count(b'(') > count(b')')
        } {
            end + 1
        } else {
            end
        };
        // After the compound: not glued to a word or more digits.
        if b.get(end).is_some_and(|&c| is_word(c)) {
            return None;
        }
        let after = b.get(end).copied().unwrap_or(b' ');
        let plus = b[start] == b'+';
        // A `(` in the number: at its start or between two groups (the rest is digits and a
        // closing `)`).
        let mut paren = b[start] == b'(';
        let mut lens_buf = [0usize; 10];
        let mut seps_buf = [0u8; 10];
        for (k, &(s, e)) in g.iter().enumerate() {
            lens_buf[k] = e - s;
            if k > 0 {
                let mut sep = None;
                for &c in &b[g[k - 1].1..s] {
                    if c == b'(' {
                        paren = true;
                    } else if c != b')' && sep.is_none() {
                        sep = Some(c);
                    }
                }
                seps_buf[k - 1] = sep.unwrap_or(b' ');
            }
        }
        let lens = &lens_buf[..g.len()];
        let seps = &seps_buf[..g.len() - 1];
        let same_sep = seps.windows(2).all(|w| w[0] == w[1]);
        let sep = seps.first().copied();
        let mut digits_buf = [0u8; 64];
        let mut nd = 0;
        for &(s, e) in g {
            for &c in &b[s..e] {
                if nd < digits_buf.len() {
                    digits_buf[nd] = c;
                    nd += 1;
                }
            }
        }
        let digits = &digits_buf[..nd];
        // IPv4 and 4-part versions.
        if !plus && !paren && lens.len() == 4 && sep == Some(b'.') && same_sep {
            if after == b'.' && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            let mut octets = [999u32; 4];
            for (o, &(s, e)) in octets.iter_mut().zip(g) {
                *o = self.text[s..e].parse().unwrap_or(999);
            }
            if lens.iter().all(|&l| l <= 3) && octets.iter().all(|&o| o <= 255) {
                let loopback = octets[0] == 127 || octets.iter().all(|&o| o == 0);
                // Versions: after a version word, `v`, `Chrome/`, or x.y.z.w with one-digit
                // x, y and z (addresses of that shape are rare; releases are not).
                let version = self.context(start, 24, Cue::Version)
                    || (start > 0 && matches!(b[start - 1], b'v' | b'V'))
                    || lens[..3].iter().all(|&l| l == 1);
                if loopback || version {
                    return Some((end, None));
                }
                return Some((end, Some(Entity::Ipv4)));
            }
            return Some((end, None));
        }
        if !plus && !paren && lens.len() == 3 && same_sep && matches!(sep, Some(b'-' | b'/' | b'.'))
        {
            // Numeric dates: a birth date only with a birth cue (handled by the cue).
            let date = (lens[0] == 4 && lens[1] <= 2 && lens[2] <= 2)
                || (lens[0] <= 2 && lens[1] <= 2 && (lens[2] == 4 || lens[2] == 2));
            if date {
                return Some((end, None));
            }
        }
        if !plus
            && !paren
            && lens.len() > 2
            && sep == Some(b'.')
            && same_sep
            && lens.iter().all(|&l| l <= 4)
            && !(lens.iter().all(|&l| l == 2) && nd == 10)
            && lens != [3, 3, 4]
        {
            // Versions and OIDs: 1.2.3, 10.0.19045.3803.
            return Some((end, None));
        }
        // SSN: 3-2-4.
        if !plus && !paren && lens == [3, 2, 4] && same_sep {
            let ctx = self.context(start, 40, Cue::Ssn);
            if sep == Some(b'-') || ctx {
                return Some((end, checks::ssn_ok(digits).then_some(Entity::UsSsn)));
            }
        }
        if !plus
            && !paren
            && lens == [9]
            && self.context(start, 32, Cue::Ssn)
            && checks::ssn_ok(digits)
        {
            return Some((end, Some(Entity::UsSsn)));
        }
        // Cards: 13-19 digits, Luhn and a brand, plain or grouped by one separator.
        if !plus
            && !paren
            && (13..=19).contains(&nd)
            && same_sep
            && matches!(sep, None | Some(b' ' | b'-'))
        {
            let grouped = lens.len() == 1 || lens.iter().all(|&l| (3..=6).contains(&l));
            if grouped
                && checks::luhn(digits)
                && checks::card_brand_ok(digits)
                && !(nd == 13 && lens.len() == 1)
            {
                return Some((end, Some(Entity::CreditCard)));
            }
        }
        // Phones.
        let phone_sep = seps.iter().all(|&c| matches!(c, b' ' | b'-' | b'.'));
        if !phone_sep {
            return None;
        }
        if plus {
            if (8..=15).contains(&nd) && digits[0] != b'0' && (lens.len() > 1 || nd >= 10) {
                return Some((end, Some(Entity::Phone)));
            }
            return None;
        }
        let us = (lens == [3, 3, 4] && (same_sep || paren))
            || (lens == [1, 3, 3, 4] && digits[0] == b'1');
        if us && (paren || same_sep) {
            let area = if lens.len() == 4 {
                digits[1]
            } else {
                digits[0]
            };
            if area >= b'2' {
                return Some((end, Some(Entity::Phone)));
            }
        }
        if digits[0] == b'0'
            && (9..=12).contains(&nd)
            && lens.len() >= 2
            && (lens[0] >= 2 || paren)
            && lens.iter().all(|&l| l >= 2)
        {
            return Some((end, Some(Entity::Phone)));
        }
        if (7..=15).contains(&nd)
            && self.context(start, 40, Cue::Phone)
            && (lens.len() >= 2 || nd >= 10)
        {
            return Some((end, Some(Entity::Phone)));
        }
        None
    }

    /// An IBAN (two capitals, two digits) or a Base58Check Bitcoin address (`1…`, `3…`)
    /// starting at `i`; pushes it and returns its end.
    fn token_at(&mut self, i: usize) -> Option<usize> {
        let b = self.b;
        let n = b.len();
        if i > 0 && (is_word(b[i - 1]) || b[i - 1] >= 0x80) {
            return None;
        }
        let c = b[i];
        if c.is_ascii_uppercase() && i + 3 < n && b[i + 1].is_ascii_lowercase() {
            // A common given name followed by a capitalised word: `Maria Gonzalez`.
            let e = i + b[i..]
                .iter()
                .take(16)
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            if b.get(e) == Some(&b' ')
                && text::is_given_name(&self.text[i..e])
                && let Some((s, end)) = name_at(self.text, i)
            {
                self.push(s, end, Entity::Person);
                return Some(end);
            }
            return None;
        }
        if c.is_ascii_uppercase() {
            if i + 3 < n
                && b[i + 1].is_ascii_uppercase()
                && b[i + 2].is_ascii_digit()
                && b[i + 3].is_ascii_digit()
            {
                let end = self.iban(i)?;
                self.push(i, end, Entity::Iban);
                return Some(end);
            }
            return None;
        }
        // Base58 addresses are 26 to 35 characters: most numbers end long before.
        if !b.get(i + 25).is_some_and(u8::is_ascii_alphanumeric)
            || !b[i + 1..i + 8].iter().all(u8::is_ascii_alphanumeric)
        {
            return None;
        }
        let len = b[i..]
            .iter()
            .take(36)
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        let next_ok = b.get(i + len).is_none_or(|&c| !is_word(c) && c < 0x80);
        if next_ok && (26..=35).contains(&len) && checks::base58check_ok(&b[i..i + len]) {
            self.push(i, i + len, Entity::CryptoWallet);
            return Some(i + len);
        }
        None
    }

    /// An IBAN at `s`, plain or in groups of four; returns its end.
    fn iban(&self, s: usize) -> Option<usize> {
        let b = self.b;
        let mut compact = [0u8; 34];
        let mut n = 0;
        // Candidate ends: after each group, longest first.
        let mut ends: Vec<(usize, usize)> = Vec::new();
        let mut i = s;
        while i < b.len() && n < 34 {
            let c = b[i];
            if c.is_ascii_digit() || c.is_ascii_uppercase() {
                compact[n] = c;
                n += 1;
                i += 1;
                if b.get(i).is_none_or(|&c| !c.is_ascii_alphanumeric()) {
                    ends.push((i, n));
                }
            } else if c == b' '
                && b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            {
                i += 1;
            } else {
                break;
            }
        }
        if b.get(i).is_some_and(|c| c.is_ascii_lowercase()) && ends.len() == 1 {
            return None;
        }
        ends.into_iter()
            .rev()
            .find(|&(_, len)| len >= 15 && checks::iban_ok(&compact[..len]))
            .map(|(e, _)| e)
    }

    /// The run of hex digits and colons around the colon at `i`, if it parses as IPv6.
    fn ipv6_at(&mut self, i: usize) {
        let b = self.b;
        if i < self.v6_until
            || !(i > 0 && (b[i - 1].is_ascii_hexdigit() || b[i - 1] == b':'))
            || !b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_hexdigit() || *c == b':')
        {
            return;
        }
        let ok = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
        let mut s = i;
        while s > 0 && ok(b[s - 1]) {
            s -= 1;
        }
        let mut e = i;
        while e < b.len() && ok(b[e]) {
            e += 1;
        }
        self.v6_until = e;
        if (s > 0 && is_word(b[s - 1])) || b.get(e).is_some_and(|&c| is_word(c)) {
            return;
        }
        while e > s && matches!(b[e - 1], b'.' | b':') && !b[s..e].ends_with(b"::") {
            e -= 1;
        }
        let cand = &self.text[s..e];
        // An address has `::` or seven colons (six before an embedded IPv4): times such as
        // `10:15:30.123` are not parsed at all.
        let colons = cand.bytes().filter(|&c| c == b':').count();
        if colons < 2 || (colons < 6 && !cand.contains("::")) {
            return;
        }
        if let Ok(addr) = cand.parse::<Ipv6Addr>() {
            if !addr.is_loopback() && !addr.is_unspecified() {
                self.push(s, e, Entity::Ipv6);
            }
        } else if let Some(pos) = cand.rfind(':') {
            // `2001:db8::1:8080`-style port suffixes: try without the last group.
            if let Ok(addr) = cand[..pos].parse::<Ipv6Addr>()
                && !addr.is_loopback()
                && !addr.is_unspecified()
                && cand[..pos].contains("::")
            {
                self.push(s, s + pos, Entity::Ipv6);
            }
        }
    }

    /// Street addresses by pattern. Every pattern ends in a postcode (`, TN 84194`,
    /// `, 36807 City`, ` G5 7XL`), so the patterns only run on a window around each postcode.
    #[inline(never)]
    fn addresses(&mut self) {
        let b = self.b;
        let text = self.text;
        let mut last_end = 0;
        let mut from = 0;
        let up = |k: usize| b.get(k).is_some_and(u8::is_ascii_uppercase);
        let dg = |k: usize| b.get(k).is_some_and(u8::is_ascii_digit);
        let digits = |k: usize, n: usize| (k..k + n).all(dg);
        // Every pattern has a `, ` shortly before its postcode and ends at the postcode (US,
        // GB) or one to three city words after it (Europe): the patterns are anchored at that
        // end, so each runs backwards over a short window only.
        while let Some(comma) = next_bit(&self.blocks, from, |k| k.commas) {
            from = comma + 1;
            if b.get(comma + 1) != Some(&b' ') {
                continue;
            }
            from = comma + 2;
            if comma < last_end {
                continue;
            }
            let i = comma + 2;
            // (pattern, end) candidates, most likely first.
            let mut ends: [(usize, usize); 6] = [(0, 0); 6];
            let mut n = 0;
            if up(i) && up(i + 1) && b.get(i + 2) == Some(&b' ') && digits(i + 3, 5) {
                // US: `, TN 84194` or `, TN 84194-1234`.
                let e = if b.get(i + 8) == Some(&b'-') && digits(i + 9, 4) {
                    i + 13
                } else {
                    i + 8
                };
                ends[0] = (0, e);
                n = 1;
            } else if dg(i) && dg(i + 1) {
                // Europe: a postcode, then one to three capitalised words (the city).
                let pc = if digits(i, 5) {
                    Some(i + 5)
                } else if digits(i, 4) && up(i + 4) && up(i + 5) {
                    Some(i + 6)
                } else if digits(i, 4) && b.get(i + 4) == Some(&b' ') && up(i + 5) && up(i + 6) {
                    Some(i + 7)
                } else if (digits(i, 2) && b.get(i + 2) == Some(&b'-') && digits(i + 3, 3))
                    || (digits(i, 3) && b.get(i + 3) == Some(&b' ') && digits(i + 4, 2))
                {
                    // `43-105`, `123 45`
                    Some(i + 6)
                } else if digits(i, 4) {
                    Some(i + 4)
                } else {
                    None
                };
                if let Some(mut p) = pc {
                    let mut words = [0usize; 3];
                    let mut w = 0;
                    while w < 3 && b.get(p) == Some(&b' ') {
                        match text::char_at(text, p + 1) {
                            Some(c) if c.is_uppercase() => {
                                let mut q = p + 1 + c.len_utf8();
                                while let Some(c) = text::char_at(text, q) {
                                    if c.is_alphabetic() || matches!(c, '\'' | '’' | '-') {
                                        q += c.len_utf8();
                                    } else {
                                        break;
                                    }
                                }
                                words[w] = q;
                                w += 1;
                                p = q;
                            }
                            _ => break,
                        }
                    }
                    // Longest city first; each end tried with the three European patterns.
                    for k in (0..w).rev() {
                        for pat in [2, 3, 4] {
                            if n < ends.len() {
                                ends[n] = (pat, words[k]);
                                n += 1;
                            }
                        }
                    }
                }
            } else {
                // GB: `, City Name G5 7XL` within a few words. Its postcode starts one or two
                // bytes before a digit after a capital: only the digits are visited, in order,
                // the earlier start first (the first postcode start wins).
                let lim = (i + 48).min(b.len());
                let gb_start = |k: usize| {
                    (i..lim).contains(&k)
                        && b[k - 1] == b' '
                        && up(k)
                        && (dg(k + 1) || (up(k + 1) && dg(k + 2)))
                };
                let found = b[(i + 1).min(b.len())..(lim + 2).min(b.len())]
                    .iter()
                    .enumerate()
                    .filter(|&(_, c)| c.is_ascii_digit())
                    .map(|(o, _)| i + 1 + o)
                    .filter(|&d| b[d - 1].is_ascii_uppercase())
                    .find_map(|d| [d - 2, d - 1].into_iter().find(|&k| gb_start(k)));
                if let Some(k) = found {
                    let mut q = k + 1;
                    while q < k + 4 && (up(q) || dg(q)) {
                        q += 1;
                    }
                    if b.get(q) == Some(&b' ') && dg(q + 1) && up(q + 2) && up(q + 3) {
                        ends[0] = (1, q + 4);
                        n = 1;
                    }
                }
            }
            // Not back into the previous address.
            let mut ws = comma.saturating_sub(100).max(last_end);
            while !text.is_char_boundary(ws) {
                ws += 1;
            }
            for &(pat, end) in &ends[..n] {
                if end > b.len()
                    || !text.is_char_boundary(end)
                    || b.get(end).is_some_and(|&c| is_word(c))
                {
                    continue;
                }
                if let Some(m) = self.det.addresses[pat].find(&text[ws..end]) {
                    self.spans.push(Span {
                        start: ws + m.start(),
                        end: ws + m.end(),
                        entity: Entity::StreetAddress,
                    });
                    last_end = ws + m.end();
                    break;
                }
            }
        }
    }

    /// `key: value`, `key=value`, `"key": "value"`: the key decides what the value is.
    #[inline(never)]
    fn key_values(&mut self) {
        let b = self.b;
        let mut i = 0;
        while let Some(at) = next_bit(&self.blocks, i, |k| k.seps) {
            i = at;
            let c = b[i];
            if c == b':' {
                self.ipv6_at(i);
            }
            // `::`, `==`, `:=` and `://` are not key separators.
            if b.get(i + 1)
                .is_some_and(|&n| n == b':' || n == b'=' || n == b'/')
                || (i > 0 && matches!(b[i - 1], b':' | b'=' | b'!' | b'<' | b'>'))
            {
                i += 1;
                continue;
            }
            let Some((ks, ke)) = self.key_before(i) else {
                i += 1;
                continue;
            };
            // A label of up to three words: the longest that names something wins.
            let label = &self.text[ks..ke];
            let mut from = 0;
            let class = loop {
                let mut buf = [0u8; 48];
                let class = keys::normalised_key(&label[from..], &mut buf)
                    .and_then(|n| keys::classify_remembered(&buf, n));
                if class.is_some() {
                    break class;
                }
                // Labels are short: a byte loop, not a `memchr` call.
                match label.as_bytes()[from..].iter().position(|&c| c == b' ') {
                    Some(sp) => from += sp + 1,
                    None => break class,
                }
            };
            let Some(class) = class else {
                i += 1;
                continue;
            };
            let (vs, ve) = self.value_after(i + 1, c, class);
            if ve > vs {
                self.whole_value(class, vs, ve, false);
            }
            // A secret's value is skipped whole; other values may hold the next label
            // (`Assigned to: Priya Patel. Reporter: Kenji Tanaka`).
            i = if class == KeyClass::Secret {
                ve.max(i + 1)
            } else {
                i + 1
            };
        }
    }

    /// The key ending just before the separator at `sep`.
    fn key_before(&self, sep: usize) -> Option<(usize, usize)> {
        let b = self.b;
        let mut e = sep;
        while e > 0 && matches!(b[e - 1], b' ' | b'#') && sep - e < 3 {
            e -= 1;
        }
        if e > 0 && matches!(b[e - 1], b'"' | b'\'') {
            let q = b[e - 1];
            let ke = e - 1;
            // The opening quote: within 48 bytes of key and the byte before them, not past a
            // line break.
            let lo = ke.saturating_sub(49);
            let open = b[lo..ke].iter().rposition(|&c| c == q || c == b'\n')?;
            let ks = lo + open + 1;
            return (b[ks - 1] == q && ke > ks).then_some((ks, ke));
        }
        // Back over words, `-`, `.` and spaces, at most 40 bytes, keeping the last three words
        // of a label (`Please confirm your Date of birth`), in one pass.
        let mut s = e;
        let mut spaces = 0;
        // The letter nearest the separator: a key has one.
        let mut letter = None;
        while s > 0 && e - s < 40 {
            match KEY_BYTES[usize::from(b[s - 1])] {
                KEY_SPACE => {
                    spaces += 1;
                    if spaces == 3 {
                        break;
                    }
                }
                KEY_STOP => break,
                KEY_LETTER if letter.is_none() => letter = Some(s - 1),
                _ => {}
            }
            s -= 1;
        }
        if spaces == 3 && b[s] == b' ' {
            // Two spaces in a row at the cut: leading spaces never count as word gaps.
            return self.key_before_slow(e);
        }
        if spaces < 3 {
            while s < e && b[s] == b' ' {
                s += 1;
            }
        }
        (e > s && letter.is_some_and(|l| l >= s)).then_some((s, e))
    }

    /// [`Scanner::key_before`]'s label for an unquoted key ending at `e`, step by step.
    fn key_before_slow(&self, e: usize) -> Option<(usize, usize)> {
        let b = self.b;
        let mut s = e;
        while s > 0 && e - s < 40 && (is_word(b[s - 1]) || matches!(b[s - 1], b'-' | b'.' | b' ')) {
            s -= 1;
        }
        while s < e && b[s] == b' ' {
            s += 1;
        }
        let mut spaces = 0;
        let mut k = e;
        while k > s {
            k -= 1;
            if b[k] == b' ' {
                spaces += 1;
                if spaces == 3 {
                    s = k + 1;
                    break;
                }
            }
        }
        (e > s && b[s..e].iter().any(u8::is_ascii_alphabetic)).then_some((s, e))
    }

    /// The value after a separator, shaped by what the key says it is.
    fn value_after(&self, from: usize, sep: u8, class: KeyClass) -> (usize, usize) {
        let b = self.b;
        let mut s = from;
        while s < b.len() && matches!(b[s], b' ' | b'\t') {
            s += 1;
        }
        if let Some(&q) = b.get(s).filter(|&&q| q == b'"' || q == b'\'') {
            let vs = s + 1;
            let mut e = vs;
            // To the closing quote or the line's end, over escapes, at most 512 bytes.
            loop {
                let lim = b.len().min(vs + 512);
                let Some(off) = b
                    .get(e..lim)
                    .and_then(|w| memchr::memchr3(q, b'\n', b'\\', w))
                else {
                    e = e.max(lim);
                    break;
                };
                e += off;
                if b[e] != b'\\' {
                    break;
                }
                e += 2;
            }
            // The length cap can stop inside a character.
            let mut e = e.min(b.len());
            while !self.text.is_char_boundary(e) {
                e -= 1;
            }
            return (vs, e);
        }
        let mut e = s;
        let free_text = (sep == b':' && !matches!(class, KeyClass::Secret | KeyClass::Email))
            || (sep == b'=' && class == KeyClass::Name);
        while e < b.len() {
            let c = b[e];
            let stop = if free_text {
                matches!(c, b'\n' | b'\r' | b'|' | b'\t' | b'"' | b'<' | b'}' | b']')
            } else {
                c.is_ascii_whitespace()
                    || matches!(
                        c,
                        b'&' | b';' | b',' | b'"' | b'\'' | b'<' | b'>' | b')' | b'}' | b']' | b'|'
                    )
            };
            if stop {
                break;
            }
            e += 1;
        }
        // `Authorization: Bearer …`: the scheme is not the secret.
        if class == KeyClass::Secret && sep == b':' {
            let rest = &self.text[s..];
            for scheme in [
                "Bearer ", "Basic ", "token ", "Token ", "Digest ", "bearer ",
            ] {
                if rest.starts_with(scheme) {
                    let vs = s + scheme.len();
                    let ve = vs
                        + b[vs..]
                            .iter()
                            .take_while(|c| !c.is_ascii_whitespace() && **c != b'"')
                            .count();
                    return (vs, ve);
                }
            }
        }
        while !self.text.is_char_boundary(e) {
            e -= 1;
        }
        (s, e)
    }

    /// A value whose key says what it is. `exact` when the value is a whole field (the
    /// structured path), so it may be taken whole.
    #[inline(never)]
    fn whole_value(&mut self, class: KeyClass, vs: usize, ve: usize, exact: bool) {
        // Every caller ends values on a character boundary; a range that does not is skipped
        // rather than allowed to panic.
        let Some(v) = self.text.get(vs..ve) else {
            return;
        };
        let t = v.trim();
        if t.is_empty() || placeholder(t) {
            return;
        }
        let vs = vs + (v.len() - v.trim_start().len());
        let ve = vs + t.len();
        let b = self.b;
        match class {
            KeyClass::Secret => {
                // `Authorization: Bearer …`: the scheme is not the secret.
                let mut vs = vs;
                for scheme in ["bearer ", "basic ", "token ", "digest ", "apikey "] {
                    if t.get(..scheme.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
                    {
                        vs += scheme.len();
                        while vs < ve && b[vs] == b' ' {
                            vs += 1;
                        }
                        break;
                    }
                }
                if ve > vs && !placeholder(&self.text[vs..ve]) {
                    self.push(vs, ve, Entity::Password);
                }
            }
            KeyClass::Email => {
                if exact && !t.contains('@') && !t.contains("%40") {
                    self.push(vs, ve, Entity::Email);
                }
            }
            KeyClass::Name => {
                if let Some((s, e)) =
                    text::name_at_ctx(self.text, vs, false).filter(|&(_, e)| e <= ve)
                {
                    self.push(s, e, Entity::Person);
                }
            }
            KeyClass::Birth => {
                if let Some(e) = date_at(self.text, vs).filter(|&e| e <= ve) {
                    self.push(vs, e, Entity::DateOfBirth);
                }
            }
            KeyClass::Ssn => {
                let d: Vec<u8> = b[vs..ve]
                    .iter()
                    .copied()
                    .filter(u8::is_ascii_digit)
                    .collect();
                let shape = b[vs..ve]
                    .iter()
                    .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b' '));
                if shape && checks::ssn_ok(&d) {
                    self.push(vs, ve, Entity::UsSsn);
                }
            }
            KeyClass::Phone => {
                let nd = b[vs..ve].iter().filter(|c| c.is_ascii_digit()).count();
                let shape = b[vs..ve].iter().all(|c| {
                    c.is_ascii_digit()
                        || matches!(c, b'-' | b' ' | b'.' | b'(' | b')' | b'+' | b'/')
                });
                if shape && (7..=15).contains(&nd) {
                    self.push(vs, ve, Entity::Phone);
                }
            }
            KeyClass::Address => {
                let s = &b[vs..ve];
                if s.iter().any(u8::is_ascii_digit)
                    && s.iter().filter(|c| c.is_ascii_alphabetic()).count() >= 3
                    && s.len() >= 8
                {
                    let mut e = ve;
                    while e > vs && matches!(b[e - 1], b'.' | b',') {
                        e -= 1;
                    }
                    self.push(vs, e, Entity::StreetAddress);
                }
            }
        }
    }

    /// CSV-like rows under a header line whose column names are keys.
    #[inline(never)]
    fn csv(&mut self) {
        let b = self.b;
        let mut header: Option<(u8, Vec<Option<KeyClass>>)> = None;
        // One buffer for the cells of every line.
        let mut cells: Vec<(usize, usize)> = Vec::new();
        let mut off = 0;
        while off < b.len() {
            let nl = memchr::memchr(b'\n', &b[off..]).map_or(b.len(), |p| off + p);
            let next = nl + 1;
            let mut end = nl;
            while end > off && b[end - 1] == b'\r' {
                end -= 1;
            }
            let line = &self.text[off..end];
            let line_off = off;
            off = next;
            if let Some((delim, cols)) = &header {
                split_cells(line, *delim, &mut cells);
                if cells.len() == cols.len() {
                    for (&(cs, ce), class) in cells.iter().zip(cols) {
                        if let Some(class) = *class {
                            self.whole_value(class, line_off + cs, line_off + ce, true);
                        }
                    }
                    continue;
                }
                header = None;
            }
            // A header is names and delimiters only: most lines fail on their first bytes.
            if line.len() > 400
                || !line.bytes().all(|c| {
                    c.is_ascii_alphanumeric()
                        || matches!(c, b'_' | b' ' | b'-' | b',' | b';' | b'|' | b'\t' | b'"')
                })
            {
                continue;
            }
            for delim in [b',', b';', b'|', b'\t'] {
                // Three cells need two delimiters (quotes only ever merge cells).
                if memchr::memchr_iter(delim, line.as_bytes()).nth(1).is_none() {
                    continue;
                }
                split_cells(line, delim, &mut cells);
                if cells.len() < 3 {
                    continue;
                }
                let names_only = cells.iter().all(|&(s, e)| {
                    let c = &line.as_bytes()[s..e];
                    !c.is_empty()
                        && c.len() <= 40
                        && c[0].is_ascii_alphabetic()
                        && c.iter()
                            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b' ' | b'-'))
                });
                if names_only {
                    let cols: Vec<Option<KeyClass>> = cells
                        .iter()
                        .map(|&(s, e)| classify_key(&line[s..e]))
                        .collect();
                    if cols.iter().any(Option::is_some) {
                        header = Some((delim, cols));
                    }
                    break;
                }
            }
        }
    }

    /// `INSERT INTO t (name, email) VALUES ('Jane Doe', 'jane@corp.io')`.
    fn sql_insert(&mut self, s: usize, e: usize) {
        let b = self.b;
        let mut k = s;
        while k > 0 && b[k - 1] == b' ' {
            k -= 1;
        }
        if k == 0 || b[k - 1] != b')' {
            return;
        }
        let Some(open) = b[..k - 1].iter().rposition(|&c| c == b'(') else {
            return;
        };
        if k - open > 400 {
            return;
        }
        let cols: Vec<Option<KeyClass>> = self.text[open + 1..k - 1]
            .split(',')
            .map(|c| classify_key(c.trim().trim_matches(['"', '`'])))
            .collect();
        if cols.iter().all(Option::is_none) {
            return;
        }
        let mut i = e;
        let mut col = 0;
        while i < b.len() && col < cols.len() {
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            let (vs, ve, next) = if b.get(i) == Some(&b'\'') {
                let vs = i + 1;
                let ve = vs + b[vs..].iter().take_while(|&&c| c != b'\'').count();
                (vs, ve, ve + 1)
            } else {
                let ve = i + b[i..]
                    .iter()
                    .take_while(|&&c| c != b',' && c != b')')
                    .count();
                (i, ve, ve)
            };
            if let Some(class) = cols[col] {
                self.whole_value(class, vs, ve.min(b.len()), true);
            }
            i = next;
            while i < b.len() && b[i] == b' ' {
                i += 1;
            }
            if b.get(i) != Some(&b',') {
                break;
            }
            i += 1;
            col += 1;
        }
    }
}

/// Whether `v` holds one of the guard's own masks (`[EMAIL]`, `[EMAIL:3f2a…]`): a value
/// around a mask is not found again, so redacting twice changes nothing.
fn contains_mask(v: &str) -> bool {
    let b = v.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        c == b'[' && {
            let n = b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_uppercase() || **c == b'_' || c.is_ascii_digit())
                .count();
            n >= 3 && matches!(b.get(i + 1 + n), Some(b']' | b':'))
        }
    })
}

/// Cells of a delimited line, honouring double quotes: byte ranges without the quotes, into
/// `out` (cleared first).
fn split_cells(line: &str, delim: u8, out: &mut Vec<(usize, usize)>) {
    let b = line.as_bytes();
    out.clear();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let s = i + 1;
            let e = s + b[s..].iter().take_while(|&&c| c != b'"').count();
            out.push((s, e.min(b.len())));
            i = e + 1;
            while i < b.len() && b[i] != delim {
                i += 1;
            }
        } else {
            let s = i;
            while i < b.len() && b[i] != delim {
                i += 1;
            }
            out.push((s, i));
        }
        if i >= b.len() {
            break;
        }
        i += 1;
    }
}

/// Sorts spans and resolves overlaps: the higher-ranked entity wins, then the longer span. A
/// loser that starts before the winner keeps its part before it (so nothing next to a secret
/// is left that a second pass would find).
fn resolve_overlaps(mut spans: Vec<Span>) -> Vec<Span> {
    if spans.len() < 2 {
        return spans;
    }
    let key = |s: &Span| (s.entity.rank(), s.end - s.start);
    spans.sort_by(|a, b| a.start.cmp(&b.start).then(b.end.cmp(&a.end)));
    // In place: the spans kept so far are `spans[..w]`, never more than the spans read.
    let mut w = 0;
    for r in 0..spans.len() {
        let s = spans[r];
        while w > 0 {
            let last = &mut spans[w - 1];
            if s.start < last.end && key(&s) > key(last) {
                if last.start < s.start {
                    last.end = s.start;
                    break;
                }
                w -= 1;
                continue;
            }
            // The earlier span wins (`s` is dropped below), or no overlap.
            break;
        }
        if w == 0 || s.start >= spans[w - 1].end {
            spans[w] = s;
            w += 1;
        }
    }
    spans.truncate(w);
    spans
}

#[cfg(test)]
mod tests;
