//! The GitHub sinks beyond filing an issue: the issue-number cache, sticky PR comments,
//! Discussions over GraphQL and GitHub App authentication, all against the local stand-in.

use crate::github::{TOKEN, api, stored, t0};
use chrono::TimeDelta;
use std::sync::{Arc, Mutex};
use tokpulse_act::fake_github::{CATEGORIES, FakeGithub};
use tokpulse_act::{
    AppTokens, GithubApi, GithubAuth, GithubDiscussions, GithubIssues, GithubPrComments,
    GithubTarget, Sink, address_pull_request, plan_for_change, plan_for_recurrence,
    plan_for_resolution,
};
use tokpulse_core::FindingStatus;
use tokpulse_store::{ActionRow, ActionStatus, FindingChange, NewAction};

fn row(id: i64, a: &NewAction) -> ActionRow {
    a.queued_as(id)
}

fn delivered(id: i64, a: &NewAction, external_ref: &str) -> ActionRow {
    let mut r = a.queued_as(id);
    r.status = ActionStatus::Delivered;
    r.external_ref = Some(external_ref.into());
    r
}

#[tokio::test]
async fn a_known_issue_is_read_with_one_call_and_found_by_marker_without_the_cache() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let s = GithubIssues::new(api(&gh, TOKEN, "acme/shop"));
    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let open = plan_for_change(FindingChange::New { id: 1 }, &f, &["github"], t0()).remove(0);
    let filed = s.deliver(&row(1, &open)).await.unwrap();
    let before = gh.requests().len();
    let resolved = stored("POST /checkout", FindingStatus::Resolved, 1);
    let resolve = plan_for_resolution(&resolved, &["github"], t0()).remove(0);
    s.deliver(&row(2, &resolve)).await.unwrap();
    let calls = gh.requests()[before..].to_vec();
    assert_eq!(calls[0], "GET /repos/acme/shop/issues/1", "{calls:?}");
    assert!(
        !calls.contains(&"GET /repos/acme/shop/issues".to_string()),
        "no search: {calls:?}"
    );

    // After a restart the cache is seeded from the store's delivered actions.
    let s2 = GithubIssues::new(api(&gh, TOKEN, "acme/shop"));
    s2.seed(&[delivered(1, &open, &filed.external_ref)]);
    assert_eq!(s2.cached(f.finding.fingerprint.as_str()), Some(1));
    // After a lost database there is no cache: the marker search finds the issue.
    let s3 = GithubIssues::new(api(&gh, TOKEN, "acme/shop"));
    let before = gh.requests().len();
    s3.deliver(&row(9, &open)).await.unwrap();
    assert!(gh.requests()[before..].contains(&"GET /repos/acme/shop/issues".to_string()));
    assert_eq!(gh.issues().len(), 1);
    assert_eq!(gh.issues()[0].state, "open", "reopened by the open");
}

fn pr_actions(kind: &str, pr: u64) -> Vec<NewAction> {
    let f = stored("GET /search", FindingStatus::Open, 1);
    let mut a = match kind {
        "open" => plan_for_change(FindingChange::New { id: 1 }, &f, &["github_pr"], t0()),
        "update" => {
            let mut later = f.clone();
            later.occurrences = 4;
            plan_for_recurrence(
                &later,
                &["github_pr"],
                t0() + TimeDelta::hours(2),
                TimeDelta::hours(1),
            )
        }
        _ => plan_for_resolution(
            &stored("GET /search", FindingStatus::Resolved, 4),
            &["github_pr"],
            t0() + TimeDelta::hours(3),
        ),
    };
    address_pull_request(&mut a, pr);
    a
}

#[tokio::test]
async fn one_sticky_comment_per_pull_request_edited_in_place_even_after_a_lost_database() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let pr = gh.open_pull_request("Faster search");
    let s = GithubPrComments::new(api(&gh, TOKEN, "acme/shop"));
    let open = pr_actions("open", pr);
    assert!(open[0].idempotency_key.ends_with(&format!(":pr{pr}")));
    let first = s.deliver(&row(1, &open[0])).await.unwrap();
    assert!(first.external_ref.contains("#issuecomment-"), "{first:?}");
    let comment = gh.pull_requests()[0].comments[0].clone();
    assert!(comment.contains("kind=error_spike") && comment.contains("🔴 Open"));

    // An update edits the same comment with one PATCH.
    let before = gh.requests().len();
    let update = pr_actions("update", pr);
    s.deliver(&row(2, &update[0])).await.unwrap();
    let calls = gh.requests()[before..].to_vec();
    let id = gh.pull_requests()[0].comment_ids[0];
    assert_eq!(
        calls,
        [format!("PATCH /repos/acme/shop/issues/comments/{id}")]
    );
    // The same update again (a retry after a crash) changes nothing and sends nothing.
    s.deliver(&row(2, &update[0])).await.unwrap();
    assert_eq!(gh.requests().len(), before + 1);

    // A fresh sink (lost database) finds the comment by its marker and edits it.
    let s2 = GithubPrComments::new(api(&gh, TOKEN, "acme/shop"));
    s2.deliver(&row(3, &pr_actions("resolve", pr)[0]))
        .await
        .unwrap();
    let prs = gh.pull_requests();
    assert_eq!(prs[0].comments.len(), 1, "{:?}", prs[0].comments);
    assert!(prs[0].comments[0].contains("✅ Resolved"));
    assert!(!prs[0].comments[0].contains("🟠 Still happening"));

    // Seeded from the store after a restart: the id comes from the delivered action's URL.
    let s3 = GithubPrComments::new(api(&gh, TOKEN, "acme/shop"));
    s3.seed(&[delivered(1, &open[0], &first.external_ref)]);
    assert_eq!(s3.cached(pr, "error_spike"), Some(id));

    // Another pull request gets its own comment; an action about no pull request is a no-op.
    let pr2 = gh.open_pull_request("Other");
    s.deliver(&row(4, &pr_actions("open", pr2)[0]))
        .await
        .unwrap();
    let plain = plan_for_change(
        FindingChange::New { id: 1 },
        &stored("GET /", FindingStatus::Open, 1),
        &["github_pr"],
        t0(),
    );
    s.deliver(&row(5, &plain[0])).await.unwrap();
    let prs = gh.pull_requests();
    assert_eq!(
        prs.iter().map(|p| p.comments.len()).collect::<Vec<_>>(),
        [1, 1]
    );
    assert!(gh.issues().is_empty());
}

#[tokio::test]
async fn discussions_open_once_in_their_category_with_follow_ups_as_comments() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let s = GithubDiscussions::new(api(&gh, TOKEN, "acme/shop"), "Budget");
    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let open = plan_for_change(
        FindingChange::New { id: 1 },
        &f,
        &["github_discussions"],
        t0(),
    )
    .remove(0);
    let d = s.deliver(&row(1, &open)).await.unwrap();
    assert!(d.external_ref.ends_with("/discussions/1"), "{d:?}");
    s.deliver(&row(1, &open)).await.unwrap();
    let ds = gh.discussions();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].category_id, CATEGORIES[2].0);
    assert_eq!(ds[0].title, f.finding.title);

    let resolved = stored("POST /checkout", FindingStatus::Resolved, 1);
    let resolve = plan_for_resolution(&resolved, &["github_discussions"], t0()).remove(0);
    s.deliver(&row(2, &resolve)).await.unwrap();
    s.deliver(&row(2, &resolve)).await.unwrap();
    assert_eq!(gh.discussions()[0].comments.len(), 1);
    assert!(gh.discussions()[0].comments[0].contains("**Resolved**"));

    // After a restart: found again by its marker, no second discussion, no second comment.
    let s2 = GithubDiscussions::new(api(&gh, TOKEN, "acme/shop"), "budget");
    s2.deliver(&row(7, &open)).await.unwrap();
    s2.deliver(&row(8, &resolve)).await.unwrap();
    assert_eq!(gh.discussions().len(), 1);
    assert_eq!(gh.discussions()[0].comments.len(), 1);

    // After a restart with the store: the number comes from the delivered action, and one
    // query reads the discussion (no search through the category).
    let s3 = GithubDiscussions::new(api(&gh, TOKEN, "acme/shop"), "Budget");
    s3.seed(&[delivered(1, &open, &d.external_ref)]);
    assert_eq!(s3.cached_number(f.finding.fingerprint.as_str()), Some(1));
    let mut again = stored("POST /checkout", FindingStatus::Open, 5);
    again.occurrences = 5;
    let update = plan_for_recurrence(
        &again,
        &["github_discussions"],
        t0() + TimeDelta::hours(7),
        TimeDelta::hours(6),
    );
    let before = gh.requests().len();
    s3.deliver(&row(10, &update[0])).await.unwrap();
    // By number, the latest comments, the new comment: three queries, no category search.
    assert_eq!(
        gh.requests().len() - before,
        3,
        "{:?}",
        &gh.requests()[before..]
    );
    assert_eq!(gh.discussions().len(), 1);
    assert_eq!(gh.discussions()[0].comments.len(), 2);

    // A category that does not exist is a permanent failure naming the ones that do.
    let bad = GithubDiscussions::new(api(&gh, TOKEN, "acme/shop"), "Ideas");
    let e = bad.deliver(&row(9, &open)).await.unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("General"),
        "{e}"
    );
}

const APP_ID: &str = "123456";

fn app_api(
    gh: &FakeGithub,
    key: &[u8],
    offset: &Arc<Mutex<TimeDelta>>,
) -> (Arc<AppTokens>, Arc<GithubApi>) {
    let tokens = Arc::new(AppTokens::new(APP_ID, key, None).unwrap());
    let offset = offset.clone();
    let api = GithubApi::new(
        &gh.url,
        GithubAuth::App(tokens.clone()),
        GithubTarget::parse("acme/shop").unwrap(),
    )
    .unwrap()
    .with_clock(Arc::new(move || {
        chrono::Utc::now() + *offset.lock().unwrap()
    }));
    (tokens, Arc::new(api))
}

#[tokio::test]
async fn a_github_app_mints_installation_tokens_and_refreshes_them_before_they_expire() {
    let gh = FakeGithub::start("acme", "shop", "no-static-token").await;
    let public = std::fs::read("tests/fixtures/github-app-test-key.pub.pem").unwrap();
    let private = std::fs::read("tests/fixtures/github-app-test-key.pem").unwrap();
    gh.with_app(APP_ID, &public, 77, TimeDelta::hours(1));
    let offset = Arc::new(Mutex::new(TimeDelta::zero()));
    let (tokens, api) = app_api(&gh, &private, &offset);
    let s = GithubIssues::new(api.clone());

    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let open = plan_for_change(FindingChange::New { id: 1 }, &f, &["github"], t0()).remove(0);
    s.deliver(&row(1, &open)).await.unwrap();
    assert_eq!((tokens.minted(), gh.tokens_minted()), (1, 1));
    let log = gh.requests();
    assert_eq!(log[0], "GET /repos/acme/shop/installation");
    assert_eq!(log[1], "POST /app/installations/77/access_tokens");

    // Within the hour the token is reused.
    let move_by = |d: TimeDelta| {
        *offset.lock().unwrap() += d;
        gh.advance(d);
    };
    move_by(TimeDelta::minutes(50));
    s.deliver(&row(1, &open)).await.unwrap();
    assert_eq!(tokens.minted(), 1);
    // Five minutes before it expires a new one is minted (the installation id is cached).
    move_by(TimeDelta::minutes(6));
    let before = gh.requests().len();
    s.deliver(&row(1, &open)).await.unwrap();
    assert_eq!(tokens.minted(), 2);
    assert_eq!(
        gh.requests()[before],
        "POST /app/installations/77/access_tokens"
    );
    // Past the first token's expiry, work goes on with the second.
    move_by(TimeDelta::minutes(10));
    let resolved = stored("POST /checkout", FindingStatus::Resolved, 1);
    s.deliver(&row(
        2,
        &plan_for_resolution(&resolved, &["github"], t0())[0],
    ))
    .await
    .unwrap();
    assert_eq!(tokens.minted(), 2);
    assert_eq!(gh.issues()[0].state, "closed");

    // A revoked token is refused: the delivery is retried, with a new token.
    gh.revoke_tokens();
    let e = s.deliver(&row(1, &open)).await.unwrap_err();
    assert!(e.is_retryable(), "{e}");
    s.deliver(&row(1, &open)).await.unwrap();
    assert_eq!(tokens.minted(), 3);

    // The app reinstalled (a new installation id): looked up again, then minted on.
    gh.with_app(APP_ID, &public, 88, TimeDelta::hours(1));
    gh.revoke_tokens();
    assert!(s.deliver(&row(1, &open)).await.unwrap_err().is_retryable());
    assert!(s.deliver(&row(1, &open)).await.unwrap_err().is_retryable());
    s.deliver(&row(1, &open)).await.unwrap();
    assert!(
        gh.requests()
            .contains(&"POST /app/installations/88/access_tokens".to_string())
    );

    // A JWT signed with another key is refused, for good.
    let other = include_bytes!("../fixtures/github-app-other-key.pem");
    let (_, wrong) = app_api(&gh, other, &offset);
    let e = GithubIssues::new(wrong)
        .deliver(&row(1, &open))
        .await
        .unwrap_err();
    assert!(!e.is_retryable() && e.to_string().contains("401"), "{e}");
}

#[tokio::test]
async fn the_test_message_files_and_closes_a_marked_issue() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let s = GithubIssues::new(api(&gh, TOKEN, "acme/shop"));
    let d = tokpulse_act::send_test(&s, None, t0()).await.unwrap();
    assert_eq!(d.len(), 2);
    let issues = gh.issues();
    assert_eq!(issues.len(), 1);
    assert!(issues[0].title.starts_with(tokpulse_act::TEST_TITLE));
    assert_eq!(issues[0].state, "closed");
}

/// Every REST request the GitHub sinks make is one GitHub's own description admits
/// (`../shared/datasets/github/rest-subset.json`): method, path, query and body.
#[tokio::test]
async fn every_request_the_sinks_make_is_in_githubs_rest_description() {
    let gh = FakeGithub::start("acme", "shop", "no-static-token").await;
    assert!(
        gh.checks_contract(),
        "{} is missing",
        tokpulse_act::rest_contract::DEFAULT_PATH
    );
    let public = std::fs::read("tests/fixtures/github-app-test-key.pub.pem").unwrap();
    let private = std::fs::read("tests/fixtures/github-app-test-key.pem").unwrap();
    gh.with_app(APP_ID, &public, 77, TimeDelta::hours(1));
    let (_, api) = app_api(&gh, &private, &Arc::new(Mutex::new(TimeDelta::zero())));
    let issues = GithubIssues::new(api.clone());
    let prs = GithubPrComments::new(api.clone());

    let f = stored("POST /checkout", FindingStatus::Open, 1);
    let open = plan_for_change(FindingChange::New { id: 1 }, &f, &["github"], t0()).remove(0);
    issues.deliver(&row(1, &open)).await.unwrap();
    let mut later = f.clone();
    later.occurrences = 3;
    let update = plan_for_recurrence(
        &later,
        &["github"],
        t0() + TimeDelta::hours(7),
        TimeDelta::hours(6),
    );
    issues.deliver(&row(2, &update[0])).await.unwrap();
    let resolved = stored("POST /checkout", FindingStatus::Resolved, 3);
    issues
        .deliver(&row(
            3,
            &plan_for_resolution(&resolved, &["github"], t0())[0],
        ))
        .await
        .unwrap();
    let back = stored("POST /checkout", FindingStatus::Open, 4);
    let reopen = plan_for_change(
        FindingChange::Reopened {
            id: 1,
            occurrences: 4,
        },
        &back,
        &["github"],
        t0(),
    );
    // A fresh sink: the marker search (list with query parameters) is exercised too.
    GithubIssues::new(api.clone())
        .deliver(&row(4, &reopen[0]))
        .await
        .unwrap();
    let pr = gh.open_pull_request("Faster search");
    prs.deliver(&row(5, &pr_actions("open", pr)[0]))
        .await
        .unwrap();
    prs.deliver(&row(6, &pr_actions("update", pr)[0]))
        .await
        .unwrap();
    let fresh = GithubPrComments::new(api.clone());
    fresh.seed(&[delivered(
        5,
        &pr_actions("open", pr)[0],
        &format!("x#issuecomment-{}", gh.pull_requests()[0].comment_ids[0]),
    )]);
    fresh
        .deliver(&row(7, &pr_actions("resolve", pr)[0]))
        .await
        .unwrap();

    assert!(gh.violations().is_empty(), "{:?}", gh.violations());
    let contract = tokpulse_act::rest_contract::RestContract::bundled().unwrap();
    let mut used: Vec<String> = gh
        .calls()
        .iter()
        .map(|c| {
            contract
                .check(&c.method, &c.path, &c.query, c.body.as_ref())
                .unwrap_or_else(|e| panic!("{c:?}: {e:?}"))
        })
        .collect();
    used.sort();
    used.dedup();
    assert_eq!(
        used,
        [
            "apps/create-installation-access-token",
            "apps/get-repo-installation",
            "issues/create",
            "issues/create-comment",
            "issues/get",
            "issues/get-comment",
            "issues/list-comments",
            "issues/list-for-repo",
            "issues/update",
            "issues/update-comment",
        ]
    );
}

/// Every field, argument, type and enum value our GraphQL operations name is in GitHub's
/// schema excerpt for Discussions (`../shared/datasets/github/graphql-discussions.graphql`).
#[test]
fn our_graphql_operations_only_name_what_githubs_schema_has() {
    use tokpulse_act::sinks::discussions::{
        BY_NUMBER_QUERY, COMMENT_MUTATION, COMMENTS_QUERY, CREATE_MUTATION, FIND_QUERY, REPO_QUERY,
    };
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/datasets/github/graphql-discussions.graphql"
    );
    let sdl = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let words: std::collections::HashSet<&str> = sdl
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    for op in [
        REPO_QUERY,
        FIND_QUERY,
        BY_NUMBER_QUERY,
        COMMENTS_QUERY,
        CREATE_MUTATION,
        COMMENT_MUTATION,
    ] {
        let mut prev = ' ';
        let mut word = String::new();
        let mut names = Vec::new();
        for c in op.chars().chain([' ']) {
            if c.is_ascii_alphanumeric() || c == '_' {
                if word.is_empty() {
                    word.push(prev);
                }
                word.push(c);
            } else {
                if !word.is_empty() {
                    names.push(std::mem::take(&mut word));
                }
                prev = c;
            }
        }
        for w in names {
            let (sigil, name) = w.split_at(1);
            // Variables ($x), the operation's own name and GraphQL keywords are ours.
            if sigil == "$"
                || name.chars().all(|c| c.is_ascii_digit())
                || ["query", "mutation", "on", "true", "false"].contains(&name)
            {
                continue;
            }
            let own_name = op.split_whitespace().nth(1).unwrap_or_default();
            if own_name.starts_with(name) {
                continue;
            }
            assert!(
                words.contains(name),
                "{name:?} (in {op}) is not in the schema"
            );
        }
    }
}

#[tokio::test]
async fn the_marker_search_reads_past_the_first_page() {
    let gh = FakeGithub::start("acme", "shop", TOKEN).await;
    let s = GithubIssues::new(api(&gh, TOKEN, "acme/shop"));
    let opens: Vec<NewAction> = (0..120)
        .map(|i| {
            let f = stored(&format!("GET /r{i}"), FindingStatus::Open, 1);
            plan_for_change(FindingChange::New { id: i }, &f, &["github"], t0()).remove(0)
        })
        .collect();
    for (i, a) in opens.iter().enumerate() {
        s.deliver(&row(i as i64 + 1, a)).await.unwrap();
    }
    // The oldest issue is on the second page (newest first); a fresh sink still finds it.
    let fresh = GithubIssues::new(api(&gh, TOKEN, "acme/shop"));
    let before = gh.calls().len();
    let d = fresh.deliver(&row(500, &opens[0])).await.unwrap();
    assert!(d.external_ref.ends_with("/issues/1"), "{d:?}");
    assert_eq!(gh.issues().len(), 120);
    let pages: Vec<String> = gh.calls()[before..]
        .iter()
        .filter(|c| c.method == "GET" && c.path == "/repos/acme/shop/issues")
        .map(|c| format!("{:?}", c.query))
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[1].contains("\"page\", \"2\""), "{pages:?}");
}
