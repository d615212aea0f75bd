//! Key names as context: a JSON key, a header name, a CSV column or a `Label:` decides what the
//! value next to it is (`"dob": "1990-01-02"` is a birth date, `password=…` a secret).

/// What a key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// The whole value is a secret.
    Secret,
    /// An email address, even without `@` (`jane%40corp.io` is found anyway).
    Email,
    /// A person's name.
    Name,
    /// A birth date.
    Birth,
    /// A US social security number.
    Ssn,
    /// A phone number.
    Phone,
    /// A street address.
    Address,
}

/// `key` lower-cased with everything but ASCII letters and digits dropped (`X-Api-Key` →
/// `xapikey`), in a stack buffer; `None` when it is too long to be a field name. Non-ASCII
/// letters are kept as a marker byte so that `Geburtsdatum` and `日付` stay distinct.
pub(crate) fn normalised_key(key: &str, buf: &mut [u8; 48]) -> Option<usize> {
    let mut n = 0;
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() {
            *buf.get_mut(n)? = b.to_ascii_lowercase();
            n += 1;
        }
    }
    Some(n)
}

/// Every key that classifies contains one of these: one automaton pass rejects the rest
/// (`timestamp`, `trace_id`, `amount`…) before the rules below run.
static ROOTS: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::builder()
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .prefilter(false)
        .build([
            "mail",
            "pass",
            "pwd",
            "secret",
            "key",
            "token",
            "auth",
            "cred",
            "ssn",
            "social",
            "dob",
            "birth",
            "geburt",
            "naissance",
            "nacimiento",
            "nascit",
            "nascim",
            "urodz",
            "geboort",
            "phone",
            "tel",
            "mobil",
            "cell",
            "fax",
            "msisdn",
            "handy",
            "celular",
            "addr",
            "adress",
            "adres",
            "street",
            "direcc",
            "indiriz",
            "anschrift",
            "residence",
            "endereco",
            "name",
            "nom",
            "customer",
            "patient",
            "client",
            "contact",
            "from",
            "to",
            "cc",
            "author",
            "signed",
            "employee",
            "passenger",
            "guest",
            "first",
            "beneficiary",
            "payee",
            "owner",
            "attendee",
            "applicant",
            "user",
            "requester",
            "reporter",
            "assignee",
            "submitted",
            "created",
            "billing",
            "shipping",
            "legal",
            "person",
            "member",
            "kontakt",
            "recipient",
            "sender",
            "contrase",
            "motdepasse",
            "taxid",
            "holder",
        ])
        .expect("built-in key roots are valid")
});

/// Classifies a key name.
pub(crate) fn classify(key: &str) -> Option<KeyClass> {
    let mut buf = [0u8; 48];
    let n = normalised_key(key, &mut buf)?;
    classify_remembered(&buf, n)
}

/// Keys up to this long (normalised) are remembered.
const MEMO_KEY: usize = 32;
/// Slots of the memo (40 KB a thread): the dev set's 622 distinct keys mostly fit.
const MEMO_SLOTS: usize = 1024;

/// One remembered key: its bytes packed into words (zero past its length), its length, and
/// its class (`0` for none, `1 + class` otherwise).
#[derive(Clone, Copy)]
struct Slot {
    words: [u64; MEMO_KEY / 8],
    len: u8,
    class: u8,
}

const CLASSES: [KeyClass; 7] = [
    KeyClass::Secret,
    KeyClass::Email,
    KeyClass::Name,
    KeyClass::Birth,
    KeyClass::Ssn,
    KeyClass::Phone,
    KeyClass::Address,
];

thread_local! {
    /// Recent answers of [`classify_normalised`], by a hash of the key: logs repeat the same
    /// few dozen keys line after line. A slot is overwritten by the next key that hashes to it.
    static MEMO: [std::cell::Cell<Slot>; MEMO_SLOTS] = const {
        [const {
            std::cell::Cell::new(Slot { words: [0; MEMO_KEY / 8], len: u8::MAX, class: 0 })
        }; MEMO_SLOTS]
    };
}

/// [`classify_normalised`] of `buf[..n]`, remembered per thread for short keys. `buf` is as
/// [`normalised_key`] leaves a zeroed buffer: zero past `n`.
pub(crate) fn classify_remembered(buf: &[u8; 48], n: usize) -> Option<KeyClass> {
    let k = &buf[..n];
    // Every root is two letters or more: a key without two letters in a row (`20260728t18`
    // before the `:` of a time) is none, and is not remembered in place of one that is.
    if !k
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_lowercase())
    {
        return None;
    }
    if n > MEMO_KEY {
        return classify_normalised(k);
    }
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&buf[i * 8..i * 8 + 8]);
        u64::from_le_bytes(w)
    };
    let words = [word(0), word(1), word(2), word(3)];
    let mut h = n as u64;
    for w in words {
        h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    let index = (h >> (64 - MEMO_SLOTS.trailing_zeros())) as usize % MEMO_SLOTS;
    let len = n as u8;
    let hit = MEMO.with(|m| {
        let slot = m[index].get();
        (slot.len == len && slot.words == words).then_some(slot.class)
    });
    if let Some(class) = hit {
        return class.checked_sub(1).map(|c| CLASSES[usize::from(c)]);
    }
    let class = classify_normalised(k);
    let code = class.map_or(0, |c| {
        1 + CLASSES.iter().position(|&x| x == c).unwrap_or(0) as u8
    });
    MEMO.with(|m| {
        m[index].set(Slot {
            words,
            len,
            class: code,
        });
    });
    class
}

/// Classifies an already normalised key.
pub(crate) fn classify_normalised(k: &[u8]) -> Option<KeyClass> {
    if k.is_empty() || !ROOTS.is_match(k) {
        return None;
    }
    // Byte loops rather than slice comparisons: keys are short, and a call to `memcmp` per
    // candidate costs more than the comparison.
    let same = |a: &[u8], b: &[u8]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y);
    let ends = |s: &str| k.len() >= s.len() && same(&k[k.len() - s.len()..], s.as_bytes());
    let has = |s: &str| {
        let s = s.as_bytes();
        k.windows(s.len()).any(|w| w[0] == s[0] && same(w, s))
    };
    let is = |list: &[&str]| list.iter().any(|s| same(k, s.as_bytes()));
    if has("email") || is(&["mail", "emailaddress", "replyto"]) {
        return Some(KeyClass::Email);
    }
    // Secrets: names that end like a credential. `max_tokens`, `password_reset_required` and
    // `idempotency_key` do not.
    if ends("password")
        || ends("passwd")
        || ends("passwort")
        || ends("passphrase")
        || ends("pwd")
        || ends("secret")
        || ends("secretkey")
        || ends("secretaccesskey")
        || ends("privatekey")
        || ends("apikey")
        || ends("accesskey")
        || ends("authorization")
        || ends("credentials")
        || ends("credential")
        || (ends("token") && !ends("maxtoken") && !ends("csrftoken"))
        || is(&["pass", "auth", "secret", "xapikey", "motdepasse"])
        || is(&[
            "contrasena",
            "contrasea",
            "clientsecret",
            "jwtsecret",
            "sessionsecret",
        ])
    {
        return Some(KeyClass::Secret);
    }
    if is(&[
        "ssn",
        "socialsecuritynumber",
        "socialsecurity",
        "ssnnumber",
        "usssn",
        "taxid",
    ]) || ends("ssn")
    {
        return Some(KeyClass::Ssn);
    }
    if k == b"dob"
        || ends("dob")
        || has("birth")
        || has("geburt")
        || has("naissance")
        || has("nacimiento")
        || has("nascita")
        || has("nascimento")
        || has("urodzenia")
        || has("geboorte")
    {
        return Some(KeyClass::Birth);
    }
    if is(&[
        "phone",
        "tel",
        "telephone",
        "telefon",
        "telefono",
        "telephono",
        "mobile",
        "mobil",
        "cell",
        "cellphone",
        "fax",
        "phonenumber",
        "mobilephone",
        "contactnumber",
        "homephone",
        "workphone",
        "msisdn",
        "handy",
        "telefonnummer",
        "telefone",
        "celular",
    ]) || ends("phone")
        || ends("phonenumber")
    {
        return Some(KeyClass::Phone);
    }
    if is(&[
        "address",
        "streetaddress",
        "billingaddress",
        "shippingaddress",
        "homeaddress",
        "mailingaddress",
        "postaladdress",
        "street",
        "addr",
        "adresse",
        "direccion",
        "indirizzo",
        "adres",
        "anschrift",
        "addressline",
        "addressline1",
        "address1",
        "residence",
        "deliveryaddress",
        "endereco",
    ]) {
        return Some(KeyClass::Address);
    }
    if is(&[
        "name",
        "fullname",
        "customername",
        "patientname",
        "contactname",
        "displayname",
        "realname",
        "holdername",
        "cardholder",
        "cardholdername",
        "accountholder",
        "accountholdername",
        "sender",
        "recipient",
        "customer",
        "patient",
        "client",
        "contact",
        "from",
        "to",
        "cc",
        "bcc",
        "replyto",
        "author",
        "signedby",
        "employee",
        "passenger",
        "guest",
        "firstlast",
        "nombre",
        "nom",
        "nome",
        "vollstandigername",
        "username2",
        "beneficiary",
        "payee",
        "owner",
        "attendee",
        "applicant",
        "user",
        "requester",
        "reporter",
        "assignee",
        "submittedby",
        "createdby",
        "customerfullname",
        "billingname",
        "shippingname",
        "legalname",
        "person",
        "member",
        "kontakt",
    ]) || ends("fullname")
    {
        return Some(KeyClass::Name);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_answers_are_the_answers() {
        let check = |key: &str| {
            let mut buf = [0u8; 48];
            let n = normalised_key(key, &mut buf).expect("short key");
            assert_eq!(
                classify_remembered(&buf, n),
                classify_normalised(&buf[..n]),
                "{key}"
            );
        };
        let keys = [
            "password",
            "email",
            "timestamp",
            "name",
            "dob",
            "level",
            "phone",
            "X-Api-Key",
            "address",
            "a",
            "",
            "a very very very long key name that is not remembered",
            "to",
        ];
        for _ in 0..3 {
            keys.iter().for_each(|k| check(k));
        }
        // Every slot overwritten many times over.
        for i in 0..5000u32 {
            check(&format!("key{i}name"));
            check(&format!("user_{i}"));
        }
    }

    #[test]
    fn keys() {
        assert_eq!(classify("DB_PASSWORD"), Some(KeyClass::Secret));
        assert_eq!(classify("aws_secret_access_key"), Some(KeyClass::Secret));
        assert_eq!(classify("X-Api-Key"), Some(KeyClass::Secret));
        assert_eq!(classify("password_reset_required"), None);
        assert_eq!(classify("max_tokens"), None);
        assert_eq!(classify("prompt_tokens"), None);
        assert_eq!(classify("aws_access_key_id"), None);
        assert_eq!(classify("user_email"), Some(KeyClass::Email));
        assert_eq!(classify("email_address"), Some(KeyClass::Email));
        assert_eq!(classify("birthDate"), Some(KeyClass::Birth));
        assert_eq!(classify("Date of birth"), Some(KeyClass::Birth));
        assert_eq!(classify("full_name"), Some(KeyClass::Name));
        assert_eq!(classify("hostname"), None);
        assert_eq!(classify("billing_address"), Some(KeyClass::Address));
        assert_eq!(classify("payout_address"), None);
    }
}
