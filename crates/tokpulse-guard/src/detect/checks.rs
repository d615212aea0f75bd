//! Checksums and validity rules that tell real values from look-alikes.

use sha2::{Digest, Sha256};

/// Luhn check over ASCII digits (anything else is skipped).
pub(crate) fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    let mut n = 0;
    for &b in digits.iter().rev() {
        if !b.is_ascii_digit() {
            continue;
        }
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
        n += 1;
    }
    n > 0 && sum.is_multiple_of(10)
}

/// Whether 13–19 digits start like a card of a known brand (Visa, Mastercard incl. 2-series,
/// Amex, Discover, JCB, Diners, UnionPay, Maestro) with a length that brand issues.
pub(crate) fn card_brand_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p = |k: usize| -> u32 {
        d.iter()
            .take(k)
            .fold(0u32, |a, &b| a * 10 + u32::from(b.wrapping_sub(b'0')))
    };
    match d.first() {
        Some(b'4') => matches!(n, 13 | 16 | 19),
        Some(b'5') => {
            let two = p(2);
            (51..=55).contains(&two) && n == 16
                || matches!(two, 50 | 56..=59) && (12..=19).contains(&n)
        }
        Some(b'2') => (2221..=2720).contains(&p(4)) && n == 16,
        Some(b'3') => {
            let two = p(2);
            (matches!(two, 34 | 37) && n == 15)
                || ((3528..=3589).contains(&p(4)) && (16..=19).contains(&n))
                || (matches!(two, 36 | 38 | 39) && (14..=19).contains(&n))
                || ((300..=305).contains(&p(3)) && (14..=19).contains(&n))
        }
        Some(b'6') => (16..=19).contains(&n) || (12..=19).contains(&n) && p(2) == 67,
        _ => false,
    }
}

/// US SSN rules: area not 000, 666 or 9xx; group not 00; serial not 0000.
pub(crate) fn ssn_ok(d: &[u8]) -> bool {
    if d.len() != 9 || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let area = &d[0..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &d[3..5] != b"00" && &d[5..9] != b"0000"
}

/// IBAN mod-97 over the value without spaces (`DE89370400440532013000`).
pub(crate) fn iban_ok(s: &[u8]) -> bool {
    if !(15..=34).contains(&s.len())
        || !s[..2].iter().all(u8::is_ascii_uppercase)
        || !s[2..4].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let mut rem = 0u32;
    for &b in s[4..].iter().chain(&s[..4]) {
        match b {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

const B58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/// A Base58Check-valid Bitcoin P2PKH or P2SH address (25 bytes, version 0 or 5).
pub(crate) fn base58check_ok(s: &[u8]) -> bool {
    if !(25..=35).contains(&s.len()) {
        return false;
    }
    let mut bytes = [0u8; 32];
    for &c in s {
        let Some(v) = B58.iter().position(|&x| x == c) else {
            return false;
        };
        let mut carry = v as u32;
        for b in bytes.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        if carry != 0 {
            return false;
        }
    }
    let lead = s.iter().take_while(|&&c| c == b'1').count();
    // The decoded number is right-aligned in `bytes`; a P2PKH/P2SH payload is 25 bytes.
    let first_nonzero = bytes.iter().position(|&b| b != 0).unwrap_or(32);
    if 32 - first_nonzero + lead != 25 {
        return false;
    }
    let payload = &bytes[7..];
    if !matches!(payload[0], 0 | 5) {
        return false;
    }
    let h = Sha256::digest(Sha256::digest(&payload[..21]));
    h[..4] == payload[21..25]
}

/// A bech32 or bech32m string with a valid checksum (`bc1q…`, `tb1…`).
pub(crate) fn bech32_ok(s: &[u8]) -> bool {
    const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    if s.len() < 14 || s.len() > 90 {
        return false;
    }
    let lower: Vec<u8> = s.iter().map(u8::to_ascii_lowercase).collect();
    let Some(sep) = lower.iter().rposition(|&c| c == b'1') else {
        return false;
    };
    if sep == 0 || lower.len() - sep < 7 {
        return false;
    }
    let (hrp, data) = (&lower[..sep], &lower[sep + 1..]);
    let mut values = Vec::with_capacity(data.len());
    for &c in data {
        match CHARSET.iter().position(|&x| x == c) {
            Some(v) => values.push(v as u32),
            None => return false,
        }
    }
    let mut chk = 1u32;
    let mut step = |v: u32| {
        const GEN: [u32; 5] = [
            0x3b6a_57b2,
            0x2650_8e6d,
            0x1ea1_19fa,
            0x3d42_33dd,
            0x2a14_62b3,
        ];
        let b = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ v;
        for (i, g) in GEN.iter().enumerate() {
            if (b >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    };
    for &c in hrp {
        step(u32::from(c) >> 5);
    }
    step(0);
    for &c in hrp {
        step(u32::from(c) & 31);
    }
    for v in values {
        step(v);
    }
    chk == 1 || chk == 0x2bc8_30a3
}

/// Decodes unpadded base64url; `None` on a bad character.
pub(crate) fn base64url_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Whether a JWT's first segment decodes to a JSON object naming an algorithm or a type.
pub(crate) fn jwt_header_ok(header: &[u8]) -> bool {
    match base64url_decode(header) {
        Some(h) => {
            h.first() == Some(&b'{')
                && (h.windows(5).any(|w| w == b"\"alg\"") || h.windows(5).any(|w| w == b"\"typ\""))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
        assert!(card_brand_ok(b"4111111111111111"));
        assert!(card_brand_ok(b"378282246310005"));
        assert!(card_brand_ok(b"30569309025904"));
        assert!(!card_brand_ok(b"1111111111111117"));
        assert!(iban_ok(b"DE89370400440532013000"));
        assert!(iban_ok(b"GB82WEST12345698765432"));
        assert!(!iban_ok(b"DE89370400440532013001"));
        assert!(ssn_ok(b"123456789"));
        assert!(!ssn_ok(b"666456789"));
        assert!(!ssn_ok(b"923456789"));
        assert!(!ssn_ok(b"123006789"));
        assert!(base58check_ok(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert!(base58check_ok(b"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!base58check_ok(b"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(bech32_ok(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"));
        assert!(!bech32_ok(b"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"));
        assert!(jwt_header_ok(b"eyJhbGciOiJIUzI1NiJ9"));
        assert!(!jwt_header_ok(b"eyJub3RoaW5nIjoxfQ"));
    }
}
