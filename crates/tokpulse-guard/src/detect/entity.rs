//! [`Entity`]: the kinds of personal data and secrets the guard finds, and [`Span`].

use serde::{Deserialize, Serialize};
use std::fmt;

/// A kind of personal data or secret. The names (`EMAIL`, `US_SSN`…) are the dataset's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Entity {
    /// An email address (also URL-encoded, `jane%40corp.io`).
    Email,
    /// A phone number, US or international.
    Phone,
    /// A Luhn-valid payment card number.
    CreditCard,
    /// A US social security number with a valid area, group and serial.
    UsSsn,
    /// An IPv4 address other than loopback and `0.0.0.0`.
    Ipv4,
    /// An IPv6 address other than `::1` and `::`.
    Ipv6,
    /// A mod-97-valid IBAN.
    Iban,
    /// A person's full name.
    Person,
    /// A street address.
    StreetAddress,
    /// A date of birth (a date whose context says birth).
    DateOfBirth,
    /// A URL carrying `user:password@`.
    UrlWithCredentials,
    /// An OpenAI API key (`sk-…`, `sk-proj-…`, `sk-svcacct-…`).
    OpenaiKey,
    /// A GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken,
    /// An AWS access key id (`AKIA…`, `ASIA…`).
    AwsAccessKey,
    /// A JSON Web Token.
    Jwt,
    /// A password or other secret in `key=value`, JSON or header context.
    Password,
    /// A cryptocurrency wallet address (Bitcoin Base58Check or bech32, Ethereum).
    CryptoWallet,
    /// A Slack token (`xoxb-`…).
    SlackToken,
}

impl Entity {
    /// Every entity type.
    pub const ALL: [Entity; 18] = [
        Entity::Email,
        Entity::Phone,
        Entity::CreditCard,
        Entity::UsSsn,
        Entity::Ipv4,
        Entity::Ipv6,
        Entity::Iban,
        Entity::Person,
        Entity::StreetAddress,
        Entity::DateOfBirth,
        Entity::UrlWithCredentials,
        Entity::OpenaiKey,
        Entity::GithubToken,
        Entity::AwsAccessKey,
        Entity::Jwt,
        Entity::Password,
        Entity::CryptoWallet,
        Entity::SlackToken,
    ];

    /// The mask that replaces a redacted value.
    pub fn mask(self) -> &'static str {
        match self {
            Entity::Email => "[EMAIL]",
            Entity::Phone => "[PHONE]",
            Entity::CreditCard => "[CREDIT_CARD]",
            Entity::UsSsn => "[US_SSN]",
            Entity::Ipv4 => "[IPV4]",
            Entity::Ipv6 => "[IPV6]",
            Entity::Iban => "[IBAN]",
            Entity::Person => "[PERSON]",
            Entity::StreetAddress => "[STREET_ADDRESS]",
            Entity::DateOfBirth => "[DATE_OF_BIRTH]",
            Entity::UrlWithCredentials => "[URL_WITH_CREDENTIALS]",
            Entity::OpenaiKey => "[OPENAI_KEY]",
            Entity::GithubToken => "[GITHUB_TOKEN]",
            Entity::AwsAccessKey => "[AWS_ACCESS_KEY]",
            Entity::Jwt => "[JWT]",
            Entity::Password => "[PASSWORD]",
            Entity::CryptoWallet => "[CRYPTO_WALLET]",
            Entity::SlackToken => "[SLACK_TOKEN]",
        }
    }

    /// The upper-case name (`EMAIL`).
    pub fn as_str(self) -> &'static str {
        let m = self.mask();
        &m[1..m.len() - 1]
    }

    /// Parses an upper- or lower-case name (`EMAIL`, `us_ssn`).
    pub fn parse(name: &str) -> Option<Entity> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether this is a secret (credentials rather than personal data).
    pub fn is_secret(self) -> bool {
        matches!(
            self,
            Entity::OpenaiKey
                | Entity::GithubToken
                | Entity::AwsAccessKey
                | Entity::Jwt
                | Entity::Password
                | Entity::SlackToken
                | Entity::UrlWithCredentials
        )
    }

    /// Which of two overlapping findings wins: the higher rank, then the longer span.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Entity::UrlWithCredentials => 10,
            Entity::OpenaiKey
            | Entity::GithubToken
            | Entity::AwsAccessKey
            | Entity::Jwt
            | Entity::SlackToken => 9,
            Entity::CryptoWallet | Entity::Iban => 8,
            Entity::Email | Entity::CreditCard | Entity::UsSsn | Entity::Ipv6 => 7,
            Entity::Ipv4 => 6,
            Entity::StreetAddress => 5,
            Entity::DateOfBirth | Entity::Phone => 4,
            Entity::Person => 3,
            Entity::Password => 2,
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an entity was found: byte offsets into the text, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// What it is.
    #[serde(rename = "type")]
    pub entity: Entity,
}
