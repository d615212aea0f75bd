use super::*;

fn found(text: &str) -> Vec<(Entity, &str)> {
    Detector::new()
        .scan(text, None)
        .into_iter()
        .map(|s| (s.entity, &text[s.start..s.end]))
        .collect()
}

fn one(text: &str, entity: Entity, value: &str) {
    let f = found(text);
    assert!(
        f.contains(&(entity, value)),
        "{text:?}: expected {entity} {value:?}, got {f:?}"
    );
}

fn none_of(text: &str, entity: Entity) {
    let f = found(text);
    assert!(
        !f.iter().any(|(e, _)| *e == entity),
        "{text:?}: unexpected {entity} in {f:?}"
    );
}

#[test]
fn secrets() {
    let gh = format!("ghp_{}", "a1B2".repeat(9));
    one(&format!("token={gh}"), Entity::GithubToken, &gh);
    let pat = format!("github_pat_{}", "x".repeat(60));
    one(&pat, Entity::GithubToken, &pat);
    one(
        "AWS AKIAIOSFODNN7EXAMPLE used",
        Entity::AwsAccessKey,
        "AKIAIOSFODNN7EXAMPLE",
    );
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    one(jwt, Entity::Jwt, jwt);
    one(&format!("Authorization: Bearer {jwt}"), Entity::Jwt, jwt);
    one("db password=hunter22 ok", Entity::Password, "hunter22");
    one(
        "auth Bearer abcdefghijklmnop now",
        Entity::Password,
        "abcdefghijklmnop",
    );
    one(r#"{"api_key": "zzzzzzzz"}"#, Entity::Password, "zzzzzzzz");
    one(
        "JWT_SECRET=5h4rbFOQC3FlASW6",
        Entity::Password,
        "5h4rbFOQC3FlASW6",
    );
    one(
        "lol my password is literally horse-rocket",
        Entity::Password,
        "horse-rocket",
    );
    one(
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
        Entity::OpenaiKey,
        "sk-proj-abcdefghijklmnopqrstuvwxyz012345",
    );
    one(
        "DATABASE_URL=postgres://app:s3cr3t@db.internal:5432/app",
        Entity::UrlWithCredentials,
        "postgres://app:s3cr3t@db.internal:5432/app",
    );
}

#[test]
fn personal_data() {
    one(
        "to: Zoë.Ünal@exämple.de.",
        Entity::Email,
        "Zoë.Ünal@exämple.de",
    );
    one(
        "GET /reset?email=jane%40corp.io&x=1",
        Entity::Email,
        "jane%40corp.io",
    );
    one(
        "call me at (415) 555-0132 today",
        Entity::Phone,
        "(415) 555-0132",
    );
    one("Tel +44 20 7946 0958", Entity::Phone, "+44 20 7946 0958");
    one(
        "rufen Sie mich unter 0151 87771199 an",
        Entity::Phone,
        "0151 87771199",
    );
    one(
        "card 4111 1111 1111 1111 exp 12/27",
        Entity::CreditCard,
        "4111 1111 1111 1111",
    );
    one(
        "amex 3782-822463-10005",
        Entity::CreditCard,
        "3782-822463-10005",
    );
    one("ssn 123-45-6789", Entity::UsSsn, "123-45-6789");
    one("SSN 243 53 6479", Entity::UsSsn, "243 53 6479");
    one("client 10.1.2.3 said", Entity::Ipv4, "10.1.2.3");
    one(
        "from 2001:db8::8a2e:370:7334 ok",
        Entity::Ipv6,
        "2001:db8::8a2e:370:7334",
    );
    one(
        "mapped ::ffff:203.0.113.5",
        Entity::Ipv6,
        "::ffff:203.0.113.5",
    );
    one(
        "IBAN DE89 3704 0044 0532 0130 00 please",
        Entity::Iban,
        "DE89 3704 0044 0532 0130 00",
    );
    one(
        "iban GB82WEST12345698765432",
        Entity::Iban,
        "GB82WEST12345698765432",
    );
    one(
        "btc 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        Entity::CryptoWallet,
        "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    );
    one(
        "pay bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        Entity::CryptoWallet,
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    );
    one(
        "eth 0x6a4fa9aa0fba88df32c94573296f39d1678886b4",
        Entity::CryptoWallet,
        "0x6a4fa9aa0fba88df32c94573296f39d1678886b4",
    );
    one(
        "Date of birth: Apr 24, 1963",
        Entity::DateOfBirth,
        "Apr 24, 1963",
    );
    one(
        r#"{"dob": "1960-11-30"}"#,
        Entity::DateOfBirth,
        "1960-11-30",
    );
    one(
        "Ich heiße Edgar Hermighausen, geboren am 06.10.1976.",
        Entity::DateOfBirth,
        "06.10.1976",
    );
    one(
        "Ich heiße Edgar Hermighausen, geboren",
        Entity::Person,
        "Edgar Hermighausen",
    );
    one(
        r#"{"name": "Guiomar Sureda"}"#,
        Entity::Person,
        "Guiomar Sureda",
    );
    one(
        "From: Давыд Тихонова <jj@t-online.de>",
        Entity::Person,
        "Давыд Тихонова",
    );
    one("你好，我是王秀英。", Entity::Person, "王秀英");
    one(
        "Address: 309 Patel Club Apt. 603, Evansburgh, OK 18124\nPhone",
        Entity::StreetAddress,
        "309 Patel Club Apt. 603, Evansburgh, OK 18124",
    );
    one(
        "send it to our office at Reichmannring 7/7, 36807 Grevesmühlen.",
        Entity::StreetAddress,
        "Reichmannring 7/7, 36807 Grevesmühlen",
    );
    one(
        "id,name,email,dob\n1,Jane Roe,j@x.io,1990-01-02\n",
        Entity::DateOfBirth,
        "1990-01-02",
    );
    one(
        "id,name,email,dob\n1,Jane Roe,j@x.io,1990-01-02\n",
        Entity::Person,
        "Jane Roe",
    );
    one(
        "INSERT INTO users (name, ssn) VALUES ('Jane Roe', '123456789')",
        Entity::UsSsn,
        "123456789",
    );
}

#[test]
fn leaves_look_alikes() {
    assert!(found("GET /v1/users/42 took 120ms").is_empty());
    assert!(found("version 1.2.3 build@2024").is_empty());
    assert!(found("max_tokens=512 completion_tokens: 12").is_empty());
    assert!(found("ghp_short and sk- prefixes, AKIA too").is_empty());
    assert!(found("task-sk-1").is_empty());
    assert!(found("listening on 127.0.0.1:8080 and 0.0.0.0 and ::1").is_empty());
    assert!(found("upgrade to 10.0.19045.3803 or version 6.3.5.79").is_empty());
    assert!(
        found("request 3558f863-266c-49eb-8dba-16bdd9c0022a at 2025-01-14T02:32:27.082Z")
            .is_empty()
    );
    assert!(found("ref 4111111111111112, id 123456789, ssn-like 666-45-6789").is_empty());
    assert!(found("mac 00:1a:2b:3c:4d:5e tx 0x6a4fa9aa0fba88df32c94573296f39d1678886b46a4fa9aa0fba88df32c94573").is_empty());
    assert!(found("card **** 4242, XXX-XX-1234, j***@gmail.com, password=********").is_empty());
    assert!(found("git@github.com:org/repo.git lodash@4.17.21").is_empty());
    assert!(found("password_reset_required=true").is_empty());
    assert!(found("Created: 2025-01-14 visit 2026-07-12").is_empty());
    none_of(
        "Message-ID: <3558f863266c49eb8dba16bdd9c0022a@mail.host>",
        Entity::Email,
    );
}

#[test]
fn key_context_decides() {
    let d = Detector::new();
    assert_eq!(d.scan("hunter2", Some("password")).len(), 1);
    assert_eq!(d.scan("hunter2", Some("X-Api-Key")).len(), 1);
    assert_eq!(d.scan("42", Some("prompt_tokens")).len(), 0);
    assert_eq!(d.scan("jane", Some("user_email")).len(), 1);
    assert_eq!(d.scan("[PASSWORD]", Some("password")).len(), 0);
    assert_eq!(
        d.scan("1990-01-02", Some("birthDate"))[0].entity,
        Entity::DateOfBirth
    );
    assert_eq!(
        d.scan("Jane Roe", Some("full_name"))[0].entity,
        Entity::Person
    );
    assert_eq!(d.scan("123456789", Some("ssn"))[0].entity, Entity::UsSsn);
}

#[test]
fn never_panics_on_odd_text() {
    let d = Detector::new();
    for t in [
        "",
        "@",
        "@@@.",
        "é@é.éé",
        "\u{0}\u{ffff}",
        "sk-",
        "bearer ",
        "password=",
        "eyJ",
        "eyJ.eyJ.",
        "::",
        ":",
        "=",
        "(",
        "+",
        "0x",
        "bc1",
        "a,b,c\n",
        "values (",
        ") values (",
        "dob",
        "1",
        "DE89",
        "名前：",
        "name: ",
        "'",
        "\"",
        "Mr.",
        "Address: 1",
    ] {
        let _ = d.scan(t, None);
        let _ = d.scan(t, Some("password"));
        let _ = d.scan(t, Some("name"));
    }
}

#[test]
fn regressions_from_the_dev_set() {
    one(
        "你好，我是刘敏。我的邮箱是 matthew1997@163.com",
        Entity::Email,
        "matthew1997@163.com",
    );
    one("DOB: 03-Oct-1959\n", Entity::DateOfBirth, "03-Oct-1959");
    one("Their phone 773.720.5043.", Entity::Phone, "773.720.5043");
    one(
        "Reply to the customer below. Customer: Alain Barbier",
        Entity::Person,
        "Alain Barbier",
    );
    one("\"name\":\"April Lopez\"", Entity::Person, "April Lopez");
    one(
        "From: Justin I. Salinas <j@x.io>",
        Entity::Person,
        "Justin I. Salinas",
    );
    none_of("Our invoice number 4140 4554 8857", Entity::Phone);
    none_of(
        "GET /x?phone=612-805-3471 HTTP/1.0\" 401 13527",
        Entity::Ipv4,
    );
    assert_eq!(
        found("GET /x?phone=612-805-3471 HTTP/1.0\" 401 13527").len(),
        1
    );
}

#[test]
fn names_without_a_label() {
    one(
        "please refund Maria Gonzalez today",
        Entity::Person,
        "Maria Gonzalez",
    );
    one(
        "Spoke with Sarah O'Connor yesterday",
        Entity::Person,
        "Sarah O'Connor",
    );
    one(
        "patient=Jean Dupont dob=1979-04-23",
        Entity::Person,
        "Jean Dupont",
    );
    one(
        "Assigned to: Priya Patel. Reporter: Kenji Tanaka",
        Entity::Person,
        "Kenji Tanaka",
    );
    one(
        "mysql --password hunter2x -h db",
        Entity::Password,
        "hunter2x",
    );
    none_of("Maria said hello", Entity::Person);
    one(
        "Shipping to: 12 Rue de Rivoli, 75001 Paris, France",
        Entity::StreetAddress,
        "12 Rue de Rivoli, 75001 Paris, France",
    );
}

/// A cue ending in a space (`customer `, `user `) is followed by the name at once; the check
/// that a cue word ends a word (`Dearborn` is not `dear`) must not apply to it.
#[test]
fn names_right_after_a_cue_that_ends_in_a_space() {
    one(
        "payment declined, customer Jane Doe",
        Entity::Person,
        "Jane Doe",
    );
    one("user Jane Doe logged in", Entity::Person, "Jane Doe");
    one("Customer Jane Doe called", Entity::Person, "Jane Doe");
    none_of("Dearborn Station opened", Entity::Person);
    none_of("the customer Support team", Entity::Person);
}

#[test]
fn byte_classes_in_bulk_match_byte_by_byte() {
    let start = |c: u8| c.is_ascii_digit() || c.is_ascii_uppercase() || c == b'+' || c == b'(';
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    // Every byte value at every position.
    for shift in 0..=255u8 {
        let chunk: [u8; 64] = std::array::from_fn(|k| (k as u8).wrapping_add(shift));
        let [starts, words, seps, commas] = classes64(&chunk, |_| {});
        for (k, &c) in chunk.iter().enumerate() {
            assert_eq!(starts >> k & 1 == 1, start(c), "start {c:#x} at {k}");
            assert_eq!(words >> k & 1 == 1, word(c), "word {c:#x} at {k}");
            assert_eq!(
                seps >> k & 1 == 1,
                c == b':' || c == b'=',
                "sep {c:#x} at {k}"
            );
            assert_eq!(commas >> k & 1 == 1, c == b',', "comma {c:#x} at {k}");
        }
    }
}

#[test]
fn numbers_inside_brackets_keep_the_brackets() {
    // A closing bracket belongs to the number only if the number opened it.
    for (text, entity, value) in [
        (
            "(card 4242 4242 4242 4242)",
            Entity::CreditCard,
            "4242 4242 4242 4242",
        ),
        ("(ssn 123-45-6789)", Entity::UsSsn, "123-45-6789"),
        ("(tel 020 7946 0958)", Entity::Phone, "020 7946 0958"),
        ("(+44 20 7946 0958)", Entity::Phone, "+44 20 7946 0958"),
        ("call (415) 555-0132)", Entity::Phone, "(415) 555-0132"),
        // A `(` that wraps the number is not an area code's.
        (
            "(4242 4242 4242 4242)",
            Entity::CreditCard,
            "4242 4242 4242 4242",
        ),
        ("(4242424242424242)", Entity::CreditCard, "4242424242424242"),
        ("(123-45-6789)", Entity::UsSsn, "123-45-6789"),
        ("(415 555 0132)", Entity::Phone, "415 555 0132"),
        ("(192.168.1.20)", Entity::Ipv4, "192.168.1.20"),
        (
            "(DE89 3704 0044 0532 0130 00)",
            Entity::Iban,
            "DE89 3704 0044 0532 0130 00",
        ),
        ("[123-45-6789]", Entity::UsSsn, "123-45-6789"),
        (
            "\"4242 4242 4242 4242\"",
            Entity::CreditCard,
            "4242 4242 4242 4242",
        ),
        // Area codes keep theirs.
        ("(415) 555-0132", Entity::Phone, "(415) 555-0132"),
        ("+1 (415) 555-0132", Entity::Phone, "+1 (415) 555-0132"),
        ("((415) 555-0132)", Entity::Phone, "(415) 555-0132"),
    ] {
        let f = found(text);
        assert_eq!(f, vec![(entity, value)], "{text:?}");
    }
    let guard = crate::Guard::new(&crate::GuardConfig::default());
    let out = guard
        .redact_text("(card 4242 4242 4242 4242)", "message")
        .expect("not blocked");
    assert_eq!(out.as_str(), "(card [CREDIT_CARD])");
}

#[test]
fn byte_classes_of_every_byte() {
    // Every byte value at every one of the 64 positions.
    for pos in 0..64 {
        for c in 0..=255u8 {
            let mut chunk = [b' '; 64];
            chunk[pos] = c;
            let [starts, words, seps, commas] = classes64(&chunk, |_| {});
            let start = c.is_ascii_digit() || c.is_ascii_uppercase() || c == b'+' || c == b'(';
            assert_eq!(starts, u64::from(start) << pos, "start {c:#x} at {pos}");
            assert_eq!(words, u64::from(is_word(c)) << pos, "word {c:#x} at {pos}");
            let sep = c == b':' || c == b'=';
            assert_eq!(seps, u64::from(sep) << pos, "sep {c:#x} at {pos}");
            assert_eq!(commas, u64::from(c == b',') << pos, "comma {c:#x} at {pos}");
        }
    }
    let all: [u8; 64] = std::array::from_fn(|k| b"a1Z_+(-x"[k % 8]);
    let [starts, words, ..] = classes64(&all, |_| {});
    assert_eq!(starts, 0x3636_3636_3636_3636);
    assert_eq!(words, 0x8f8f_8f8f_8f8f_8f8f);
}

#[test]
fn next_bit_finds_each_position_in_order() {
    let text: Vec<u8> = (0..300)
        .map(|k| {
            if k % 7 == 3 || k == 64 || k == 299 {
                b':'
            } else {
                b'a'
            }
        })
        .collect();
    let mut blocks = Vec::new();
    classify_blocks(&text, &mut blocks, |_| {});
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = next_bit(&blocks, from, |k| k.seps) {
        found.push(at);
        from = at + 1;
    }
    let want: Vec<usize> = (0..300).filter(|&k| text[k] == b':').collect();
    assert_eq!(found, want);
    assert_eq!(next_bit(&blocks, 300, |k| k.seps), None);
    assert_eq!(next_bit(&blocks, 1000, |k| k.seps), None);
}
