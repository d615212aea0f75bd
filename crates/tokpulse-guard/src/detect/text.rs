//! Small text helpers shared by the detectors: names, dates, values after a key.

/// The char starting at byte `i` (`None` past the end or inside a char).
pub(crate) fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

/// The char ending at byte `i`.
pub(crate) fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

#[inline]
pub(crate) fn is_cjk(c: char) -> bool {
    // Every range below starts at U+3005 or later: most chars are ruled out by one compare.
    (c as u32) >= 0x3005
        && matches!(c as u32,
            0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF // Han
            | 0x30A0..=0x30FF // Katakana
            | 0xAC00..=0xD7AF // Hangul syllables
            | 0x3005 // 々
            | 0x3040..=0x309F // Hiragana
        )
}

/// Scripts without letter case whose names are words of letters (Arabic, Devanagari, Hebrew,
/// Thai…): anything alphabetic that is neither cased nor CJK.
fn is_uncased_letter(c: char) -> bool {
    // ASCII first: it rules out most chars without the Unicode tables.
    !c.is_ascii() && c.is_alphabetic() && !c.is_lowercase() && !c.is_uppercase() && !is_cjk(c)
}

/// Words that look like capitalised names but start sentences or labels.
/// Sorted by bytes (a test checks), for [`in_sorted`].
const NOT_NAMES: &[&str] = &[
    "Accept",
    "Account",
    "Address",
    "Admin",
    "Agent",
    "And",
    "Api",
    "April",
    "Apt",
    "Are",
    "Attached",
    "August",
    "Avenue",
    "Basic",
    "Bcc",
    "Bearer",
    "Best",
    "Billing",
    "Bonjour",
    "Buenos",
    "Build",
    "Buongiorno",
    "But",
    "Calle",
    "Can",
    "Card",
    "Cc",
    "Channel",
    "Chinese",
    "Ciao",
    "Client",
    "Connection",
    "Content",
    "Contract",
    "Could",
    "Created",
    "Customer",
    "Danke",
    "Date",
    "Dear",
    "December",
    "Delete",
    "Device",
    "Director",
    "Dr",
    "Draft",
    "Email",
    "Engineer",
    "English",
    "Error",
    "Eu",
    "Extract",
    "February",
    "French",
    "Friday",
    "From",
    "Fwd",
    "German",
    "Get",
    "Gracias",
    "Grazie",
    "Guten",
    "Hallo",
    "Hello",
    "Here",
    "Hi",
    "Hola",
    "Host",
    "How",
    "I",
    "Ich",
    "If",
    "Info",
    "Insurance",
    "Internal",
    "Invoice",
    "Io",
    "Is",
    "It",
    "Italian",
    "January",
    "Japanese",
    "Je",
    "July",
    "June",
    "Key",
    "Madam",
    "Manager",
    "March",
    "May",
    "Member",
    "Merci",
    "Monday",
    "Mr",
    "Mrs",
    "Ms",
    "My",
    "Name",
    "New",
    "No",
    "Not",
    "November",
    "Obrigado",
    "October",
    "Office",
    "Old",
    "Olá",
    "Or",
    "Order",
    "Our",
    "Password",
    "Patient",
    "Payment",
    "Phone",
    "Please",
    "Post",
    "Priority",
    "Put",
    "Re",
    "Refund",
    "Regards",
    "Reply",
    "Request",
    "Response",
    "Road",
    "Rue",
    "Russian",
    "Sales",
    "Saturday",
    "Secret",
    "Sent",
    "September",
    "Server",
    "Set",
    "Should",
    "Sir",
    "Spanish",
    "Status",
    "Steps",
    "Street",
    "Subject",
    "Suite",
    "Summarize",
    "Sunday",
    "Support",
    "Team",
    "Thank",
    "Thanks",
    "That",
    "The",
    "There",
    "This",
    "Thursday",
    "Ticket",
    "To",
    "Token",
    "Translate",
    "Tuesday",
    "Type",
    "User",
    "Via",
    "Visit",
    "Warning",
    "We",
    "Wednesday",
    "What",
    "When",
    "Where",
    "Who",
    "Why",
    "Will",
    "Would",
    "Write",
    "Yes",
    "Yo",
    "Your",
];

/// Words that end a name rather than continue it.
/// Sorted by bytes (a test checks), for [`in_sorted`].
const NOT_LAST_NAMES: &[&str] = &[
    "Address", "Avenue", "Corp", "Customer", "DOB", "Date", "Dear", "Email", "From", "GmbH",
    "Hello", "Hi", "Inc", "LLC", "Ltd", "Order", "Patient", "Phone", "Please", "Regards", "Road",
    "SSN", "Street", "Subject", "Support", "Team", "Thanks", "The", "Ticket", "To",
];

/// Common given names (several languages, ASCII spellings): a capitalised word after one of
/// these is taken as a full name even without a context word. Short on purpose: names that
/// are also common words (`Will`, `Grace`, `Mark`) are left out.
const GIVEN_NAMES: &[&str] = &[
    "Aaron",
    "Adam",
    "Ahmed",
    "Aisha",
    "Alejandro",
    "Alexander",
    "Alexandra",
    "Ali",
    "Alice",
    "Amanda",
    "Amelia",
    "Amy",
    "Ana",
    "Andrea",
    "Andreas",
    "Andrew",
    "Angela",
    "Anna",
    "Anne",
    "Anthony",
    "Antonio",
    "Ashley",
    "Barbara",
    "Benjamin",
    "Brian",
    "Camille",
    "Carlos",
    "Carmen",
    "Caroline",
    "Catherine",
    "Charles",
    "Charlotte",
    "Chen",
    "Chloe",
    "Christian",
    "Christina",
    "Christine",
    "Christopher",
    "Claire",
    "Claudia",
    "Daniel",
    "Daniela",
    "David",
    "Deborah",
    "Diana",
    "Diego",
    "Dmitri",
    "Donald",
    "Elena",
    "Elizabeth",
    "Emily",
    "Emma",
    "Eric",
    "Fatima",
    "Felix",
    "Fernando",
    "Francesca",
    "Francesco",
    "Francisco",
    "Frank",
    "Gabriel",
    "George",
    "Giovanni",
    "Giulia",
    "Hannah",
    "Hans",
    "Heather",
    "Helen",
    "Ivan",
    "Jacob",
    "James",
    "Jan",
    "Jana",
    "Jason",
    "Javier",
    "Jennifer",
    "Jessica",
    "Joanna",
    "Johan",
    "John",
    "Jonathan",
    "Jorge",
    "Jose",
    "Joseph",
    "Joshua",
    "Juan",
    "Julia",
    "Julian",
    "Karen",
    "Katarzyna",
    "Kenji",
    "Kevin",
    "Laura",
    "Lauren",
    "Linda",
    "Lisa",
    "Lucas",
    "Lucia",
    "Luis",
    "Lukas",
    "Manuel",
    "Marco",
    "Margaret",
    "Maria",
    "Marie",
    "Martin",
    "Mary",
    "Matthew",
    "Maximilian",
    "Mehmet",
    "Melissa",
    "Michael",
    "Michelle",
    "Miguel",
    "Mohammed",
    "Nancy",
    "Natalia",
    "Nicholas",
    "Nicole",
    "Olga",
    "Olivia",
    "Pablo",
    "Patricia",
    "Paul",
    "Pedro",
    "Peter",
    "Pierre",
    "Piotr",
    "Priya",
    "Rachel",
    "Rahul",
    "Rebecca",
    "Richard",
    "Robert",
    "Sandra",
    "Sarah",
    "Sebastian",
    "Sergei",
    "Sofia",
    "Sophie",
    "Stephanie",
    "Steven",
    "Susan",
    "Thomas",
    "Timothy",
    "Tomasz",
    "Valentina",
    "Victoria",
    "Wei",
    "William",
    "Yuki",
];

/// Whether `w` is one of [`GIVEN_NAMES`].
pub(crate) fn is_given_name(w: &str) -> bool {
    // First a bit per (first letter, length) that some name has: most capitalised words
    // are ruled out without a search.
    let b = w.as_bytes();
    let plausible = match b.first() {
        Some(&c @ b'A'..=b'Z') => {
            b.len() < 32 && GIVEN_SHAPES[usize::from(c - b'A')] & (1 << b.len()) != 0
        }
        _ => false,
    };
    plausible && in_sorted(GIVEN_NAMES, w)
}

/// For each capital `A`..`Z`, bit `n` is set when a name of [`GIVEN_NAMES`] of `n` bytes
/// starts with it.
static GIVEN_SHAPES: [u32; 26] = {
    let mut t = [0u32; 26];
    let mut i = 0;
    while i < GIVEN_NAMES.len() {
        let n = GIVEN_NAMES[i].as_bytes();
        if n[0].is_ascii_uppercase() && n.len() < 32 {
            t[(n[0] - b'A') as usize] |= 1 << n.len();
        }
        i += 1;
    }
    t
};

/// Whether `w` is in `list` (sorted by bytes): the entries with `w`'s first byte are found by
/// a binary search on that byte alone, then compared by length first. No call per entry.
fn in_sorted(list: &[&str], w: &str) -> bool {
    let w = w.as_bytes();
    let Some(&first) = w.first() else {
        return false;
    };
    let from = list.partition_point(|e| e.as_bytes()[0] < first);
    list[from..]
        .iter()
        .map(|e| e.as_bytes())
        .take_while(|e| e[0] == first)
        .any(|e| e.len() == w.len() && e.iter().zip(w).all(|(a, b)| a == b))
}

/// Particles that may sit between name words (`Ludwig van Beethoven`, `María de la Cruz`).
const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "del", "della", "di", "da", "dos", "das", "du", "la", "le",
    "bin", "ibn", "al", "y", "zu", "ter", "ten",
];

/// A name word at `i`: an upper-case letter followed by letters, `'`, `-` or `.` (for `J.`).
/// Returns its end.
fn cased_word(text: &str, i: usize) -> Option<usize> {
    let mut it = text.get(i..)?.char_indices();
    let (_, first) = it.next()?;
    if !first.is_uppercase() {
        return None;
    }
    let mut end = i + first.len_utf8();
    let mut letters = 1;
    // The chars of the word so far, and whether one is lower-case.
    let mut chars = 1;
    let mut lower = first.is_lowercase();
    for (off, c) in it {
        if c.is_ascii_alphabetic() {
            // The common case, without the Unicode tables.
            letters += 1;
            end = i + off + 1;
            chars += 1;
            lower |= c.is_ascii_lowercase();
        } else if c.is_alphabetic() && !is_cjk(c) {
            letters += 1;
            end = i + off + c.len_utf8();
            chars += 1;
            lower |= c.is_lowercase();
        } else if (c == '\'' || c == '-' || c == '’') && letters > 0 {
            // Only inside a word: `O'Brien`, `Jean-Luc`.
            match char_at(text, i + off + c.len_utf8()) {
                Some(n) if n.is_alphabetic() => {
                    end = i + off + c.len_utf8();
                    chars += 1;
                }
                _ => break,
            }
        } else {
            break;
        }
    }
    // All-caps words longer than 3 letters are acronyms or shouting, not names.
    if chars > 3 && !lower {
        return None;
    }
    Some(end)
}

fn uncased_word(text: &str, i: usize) -> Option<usize> {
    let mut end = i;
    for (off, c) in text.get(i..)?.char_indices() {
        if is_uncased_letter(c)
            || (c.is_alphabetic() && end > i && !c.is_ascii() && !is_cjk(c))
            || matches!(c as u32, 0x0300..=0x036F | 0x0900..=0x097F | 0x0600..=0x06FF)
        {
            end = i + off + c.len_utf8();
        } else {
            break;
        }
    }
    (end > i).then_some(end)
}

/// The full name starting at byte `i` (after optional spaces), as `(start, end)`: two to four
/// capitalised words, two or three words of an uncased script, or a CJK run (`王秀英`,
/// `山田 太郎`). `None` for a single word.
pub(crate) fn name_at(text: &str, i: usize) -> Option<(usize, usize)> {
    name_at_ctx(text, i, true)
}

/// [`name_at`]; `strict` is false where a key already says the value is a name, so a
/// first word such as `April` or `Key` is taken too.
pub(crate) fn name_at_ctx(text: &str, i: usize, strict: bool) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut s = i;
    while s < b.len() && matches!(b[s], b' ' | b'\t' | b'"' | b'\'') {
        s += 1;
    }
    let c = char_at(text, s)?;
    if is_cjk(c) {
        return cjk_name(text, s);
    }
    if is_uncased_letter(c) {
        let mut end = uncased_word(text, s)?;
        let mut words = 1;
        while words < 3 && b.get(end) == Some(&b' ') {
            match char_at(text, end + 1) {
                Some(n) if is_uncased_letter(n) => {
                    end = uncased_word(text, end + 1)?;
                    words += 1;
                }
                _ => break,
            }
        }
        return (words >= 2).then_some((s, end));
    }
    let first_end = cased_word(text, s)?;
    if strict && in_sorted(NOT_NAMES, &text[s..first_end]) {
        return None;
    }
    let mut end = first_end;
    let mut words = 1;
    let mut pos = end;
    while words < 4 && b.get(pos) == Some(&b' ') {
        let w = pos + 1;
        // A middle initial: `Justin I. Salinas`.
        let bw = text.as_bytes();
        if bw.get(w).is_some_and(u8::is_ascii_uppercase)
            && bw.get(w + 1) == Some(&b'.')
            && bw.get(w + 2) == Some(&b' ')
            && cased_word(text, w + 3).is_some()
        {
            pos = w + 2;
            continue;
        }
        if let Some(e) = cased_word(text, w) {
            if in_sorted(NOT_LAST_NAMES, &text[w..e]) {
                break;
            }
            end = e;
            pos = e;
            words += 1;
            continue;
        }
        // A particle must be followed by another capitalised word.
        let pe = text[w..]
            .find(|c: char| !c.is_ascii_lowercase())
            .map_or(text.len(), |o| w + o);
        if PARTICLES.contains(&&text[w..pe]) && b.get(pe) == Some(&b' ') {
            pos = pe;
            continue;
        }
        break;
    }
    (words >= 2).then_some((s, end))
}

fn cjk_name(text: &str, s: usize) -> Option<(usize, usize)> {
    let run = |from: usize| {
        let mut end = from;
        let mut n = 0;
        for (off, c) in text[from..].char_indices() {
            if is_cjk(c) && n < 5 {
                end = from + off + c.len_utf8();
                n += 1;
            } else {
                break;
            }
        }
        (end, n)
    };
    let (mut end, n) = run(s);
    if n == 0 {
        return None;
    }
    // `山田 太郎`: a family name, one space, a given name.
    if n <= 3 && text.as_bytes().get(end) == Some(&b' ') {
        let (e2, n2) = run(end + 1);
        if (1..=5).contains(&n2) {
            end = e2;
        }
    }
    // Korean sentence endings and honorifics glued to the name.
    let mut name = &text[s..end];
    for suffix in ["입니다", "이에요", "예요", "이고", "님", "씨", "です"] {
        if let Some(stripped) = name.strip_suffix(suffix) {
            name = stripped;
        }
    }
    let count = name.chars().filter(|c| *c != ' ').count();
    (2..=6).contains(&count).then_some((s, s + name.len()))
}

/// The name that ends at byte `end` (before ` <email>`), when the text from the previous
/// delimiter to `end` is exactly a name.
pub(crate) fn name_before(text: &str, end: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut e = end;
    while e > 0 && matches!(b[e - 1], b' ' | b'"') {
        e -= 1;
    }
    let mut s = e;
    let mut n = 0;
    while s > 0 && n < 80 {
        let c = b[s - 1];
        if matches!(
            c,
            b'\n' | b':' | b',' | b';' | b'(' | b')' | b'"' | b'<' | b'>' | b'|' | b'\t' | b'='
        ) {
            break;
        }
        s -= 1;
        n += 1;
    }
    while !text.is_char_boundary(s) {
        s += 1;
    }
    let (ns, ne) = name_at(text, s)?;
    (ne == e).then_some((ns, ne))
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "januar",
    "februar",
    "märz",
    "maerz",
    "mai",
    "juni",
    "juli",
    "oktober",
    "dezember",
    "janvier",
    "février",
    "mars",
    "avril",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "gennaio",
    "febbraio",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "settembre",
    "ottobre",
    "dicembre",
    "janeiro",
    "fevereiro",
    "março",
    "maio",
    "junho",
    "julho",
    "setembro",
    "outubro",
    "dezembro",
];

fn digits_at(b: &[u8], i: usize, min: usize, max: usize) -> Option<usize> {
    let n = b
        .get(i..)?
        .iter()
        .take(max + 1)
        .take_while(|c| c.is_ascii_digit())
        .count();
    (min..=max).contains(&n).then_some(i + n)
}

fn month_at(text: &str, i: usize) -> Option<usize> {
    let rest = text.get(i..)?;
    let wend = rest
        .char_indices()
        .find(|(_, c)| !c.is_alphabetic())
        .map_or(rest.len(), |(o, _)| o);
    let w = rest[..wend].to_lowercase();
    if MONTHS.contains(&w.as_str()) {
        let mut e = i + wend;
        if text.as_bytes().get(e) == Some(&b'.') {
            e += 1;
        }
        Some(e)
    } else {
        None
    }
}

/// A date starting exactly at byte `i`; returns its end. Numeric (`1990-02-15`, `6/21/1984`,
/// `02.10.1978`), with a month name (`29 April 1983`, `Apr 24, 1963`, `16. März 1980`) or CJK
/// (`1983年4月5日`).
pub(crate) fn date_at(text: &str, i: usize) -> Option<usize> {
    let b = text.as_bytes();
    if let Some(e) = digits_at(b, i, 4, 4) {
        // 1990-02-15, 1990/02/15, 1990.02.15, 1990年2月15日
        let sep = *b.get(e)?;
        if matches!(sep, b'-' | b'/' | b'.') {
            let m = digits_at(b, e + 1, 1, 2)?;
            if b.get(m) == Some(&sep) {
                return digits_at(b, m + 1, 1, 2);
            }
        }
        if text[e..].starts_with('年') {
            let m = digits_at(b, e + 3, 1, 2)?;
            if text[m..].starts_with('月') {
                let d = digits_at(b, m + 3, 1, 2)?;
                return Some(if text[d..].starts_with('日') {
                    d + 3
                } else {
                    d
                });
            }
        }
        return None;
    }
    if let Some(e) = digits_at(b, i, 1, 2) {
        let sep = *b.get(e)?;
        if matches!(sep, b'-' | b'/' | b'.')
            && let Some(m) = digits_at(b, e + 1, 1, 2)
            && b.get(m) == Some(&sep)
        {
            return digits_at(b, m + 1, 4, 4).or_else(|| digits_at(b, m + 1, 2, 2));
        }
        // 03-Oct-1959, 03 Oct 1959
        if matches!(sep, b'-' | b'/' | b' ')
            && let Some(m) = month_at(text, e + 1)
            && b.get(m) == Some(&sep)
            && let Some(y) = digits_at(b, m + 1, 4, 4)
        {
            return Some(y);
        }
        // 29 April 1983, 16. März 1980, 5 de mayo de 1990
        let mut p = e;
        if b.get(p) == Some(&b'.') {
            p += 1;
        }
        while b.get(p) == Some(&b' ') {
            p += 1;
        }
        if text[p..].starts_with("de ") {
            p += 3;
        }
        let m = month_at(text, p)?;
        let mut q = m;
        if b.get(q) == Some(&b',') {
            q += 1;
        }
        while b.get(q) == Some(&b' ') {
            q += 1;
        }
        if text[q..].starts_with("de ") {
            q += 3;
        }
        return digits_at(b, q, 4, 4);
    }
    // Apr 24, 1963; December 16 2004
    let m = month_at(text, i)?;
    let mut p = m;
    while b.get(p) == Some(&b' ') {
        p += 1;
    }
    let d = digits_at(b, p, 1, 2)?;
    let mut q = d;
    if text[q..].starts_with("st")
        || text[q..].starts_with("nd")
        || text[q..].starts_with("rd")
        || text[q..].starts_with("th")
    {
        q += 2;
    }
    if b.get(q) == Some(&b',') {
        q += 1;
    }
    while b.get(q) == Some(&b' ') {
        q += 1;
    }
    digits_at(b, q, 4, 4)
}

/// Skips what sits between a context word and its value: spaces, `:`, `=`, quotes, `#`, and
/// a few short words (`is`, `on`, `am`, `le`…). Returns the value's start.
pub(crate) fn skip_to_value(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    for _ in 0..6 {
        while i < b.len()
            && matches!(
                b[i],
                b' ' | b':' | b'=' | b'"' | b'\'' | b'#' | b'\t' | b'-'
            )
        {
            i += 1;
        }
        let rest = &text[i..];
        let mut skipped = false;
        for w in [
            "is ",
            "was ",
            "on ",
            "am ",
            "le ",
            "el ",
            "il ",
            "em ",
            "of ",
            "literally ",
            "just ",
            "ist ",
            "est ",
            "es ",
            "è ",
            "é ",
            "now ",
            "(",
            "number ",
            "no. ",
            "nr. ",
            "date ",
        ] {
            if rest
                .get(..w.len())
                .is_some_and(|x| x.eq_ignore_ascii_case(w))
            {
                i += w.len();
                skipped = true;
                break;
            }
        }
        if !skipped {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(t: &str) -> Option<&str> {
        name_at(t, 0).map(|(s, e)| &t[s..e])
    }

    #[test]
    fn names() {
        assert_eq!(name("Jane Doe, thanks"), Some("Jane Doe"));
        assert_eq!(name("Давыд Тихонова <x>"), Some("Давыд Тихонова"));
        assert_eq!(name("王秀英，谢谢"), Some("王秀英"));
        assert_eq!(name("山田 太郎です"), Some("山田 太郎"));
        assert_eq!(name("Ludwig van Beethoven"), Some("Ludwig van Beethoven"));
        assert_eq!(name("Jane"), None);
        assert_eq!(name("checkout-service"), None);
        assert_eq!(name("Customer Support"), None);
        assert_eq!(name("आरव शर्मा here"), Some("आरव शर्मा"));
    }

    #[test]
    fn word_lists_are_sorted_for_lookup() {
        for list in [GIVEN_NAMES, NOT_NAMES, NOT_LAST_NAMES] {
            assert!(
                list.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()),
                "{list:?}"
            );
            assert!(list.iter().all(|w| in_sorted(list, w)));
        }
        assert!(is_given_name("Maria") && !is_given_name("Mari") && !is_given_name("Marias"));
        assert!(!in_sorted(NOT_NAMES, "") && !in_sorted(NOT_NAMES, "Zed"));
    }

    #[test]
    fn dates() {
        for d in [
            "1990-02-15",
            "6/21/1984",
            "02.10.1978",
            "29 April 1983",
            "Apr 24, 1963",
            "December 16, 2004",
            "16. März 1980",
            "1983年4月5日",
        ] {
            assert_eq!(date_at(d, 0), Some(d.len()), "{d}");
        }
        assert_eq!(date_at("12:30", 0), None);
    }
}
