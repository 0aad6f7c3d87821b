//! Promotion: copy chosen values from one environment's values file to another's, as one commit.
//!
//! The target file is edited in place with `yaml-edit`, so comments, key order, quoting and
//! blank lines survive; a copied value keeps the source's own formatting. The commit's author
//! comes from git config and its message names the keys and the source environment; it is
//! pushed when asked and the branch has a remote. Promotion refuses to run over uncommitted
//! edits of either file, or on a branch behind its remote.
//!
//! Key paths are dot-separated (`image.tag`); a key containing a dot is written with `\.`
//! (`config.agents.new-agent\.agent\.yaml`). A key selects every difference at or under it.

use std::collections::BTreeMap;
use std::str::FromStr;

use serde_json::Value;
use yaml_edit::Document;
use yaml_edit::path::YamlPath;

use crate::app::{App, SourceKind};
use crate::config::Config;
use crate::render::helm_cli::resolve_in_repo;
use crate::render::yaml;
use crate::source::{self, Commit, GitError, Repo};

/// How one key differs between the source and the target values file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// In the source, not in the target.
    Added,
    /// In both, with different values.
    Changed,
    /// In the target, not in the source.
    Removed,
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ChangeKind::Added => "added",
            ChangeKind::Changed => "changed",
            ChangeKind::Removed => "removed",
        })
    }
}

/// One difference, by key path. Values are kept for previews; callers must mask anything
/// secret-looking before printing (values files should hold no secrets, but may).
#[derive(Debug, Clone, PartialEq)]
pub struct ValueChange {
    /// Path segments (`["image", "tag"]`).
    pub path: Vec<String>,
    pub kind: ChangeKind,
    pub source: Option<Value>,
    pub target: Option<Value>,
}

impl ValueChange {
    /// The path as written on the command line (`image.tag`, dots in keys escaped).
    pub fn key(&self) -> String {
        format_path(&self.path)
    }
}

/// What a promotion is between: two envs, their Apps and values files.
#[derive(Debug, Clone)]
pub struct PromotionPlan {
    pub source_env: String,
    pub target_env: String,
    /// Repo-relative values files.
    pub source_file: String,
    pub target_file: String,
    /// The commit both files were read from (the checked-out branch).
    pub base: Commit,
    pub branch: String,
    pub changes: Vec<ValueChange>,
}

/// A promotion that was committed.
#[derive(Debug, Clone)]
pub struct Promoted {
    pub commit: Commit,
    pub applied: Vec<ValueChange>,
    pub pushed: bool,
    pub target_file: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("no App has environment `{env}`; environments: {known}")]
    UnknownEnv { env: String, known: String },
    #[error(
        "environment `{env}` has several Apps ({apps}); promotion needs one values file per environment"
    )]
    AmbiguousEnv { env: String, apps: String },
    #[error(
        "environment `{env}` (app `{app}`) has no Helm values file to promote\n  fix: give the App a per-environment file in helm.valueFiles"
    )]
    NoValuesFile { env: String, app: String },
    #[error(
        "`{source_env}` and `{target_env}` use the same values file {file}: nothing to promote"
    )]
    SameFile {
        source_env: String,
        target_env: String,
        file: String,
    },
    #[error(
        "refusing to promote: {file} has uncommitted changes\n  fix: commit or stash them first (git status {file})"
    )]
    Uncommitted { file: String },
    #[error(
        "refusing to promote: branch {branch} is {behind} commit(s) behind {upstream}\n  fix: pull first (git pull --rebase)"
    )]
    Behind {
        branch: String,
        upstream: String,
        behind: usize,
    },
    #[error(
        "refusing to promote: HEAD is detached\n  fix: check out the branch to commit on (git switch main)"
    )]
    Detached,
    #[error("{file}: {message}")]
    Values { file: String, message: String },
    #[error(
        "key `{key}` differs in nothing between {source_env} and {target_env}; differing keys: {known}"
    )]
    UnknownKey {
        key: String,
        source_env: String,
        target_env: String,
        known: String,
    },
    #[error("nothing to promote: {source_file} and {target_file} agree on every key")]
    NothingToPromote {
        source_file: String,
        target_file: String,
    },
    #[error("cannot edit {file} at key `{key}`: {message}")]
    Edit {
        file: String,
        key: String,
        message: String,
    },
}

/// Split a key path on unescaped dots (`a.b\.c` → `["a", "b.c"]`).
pub fn parse_path(key: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next()
                    && let Some(last) = out.last_mut()
                {
                    last.push(n);
                }
            }
            '.' => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Join segments, escaping dots and backslashes (the inverse of [`parse_path`]).
pub fn format_path(path: &[String]) -> String {
    path.iter()
        .map(|s| s.replace('\\', "\\\\").replace('.', "\\."))
        .collect::<Vec<_>>()
        .join(".")
}

/// The path in yaml-edit's syntax: like ours, plus `[` escaped and all-digit segments escaped
/// so they name keys, not sequence indices.
fn yaml_edit_path(path: &[String]) -> String {
    path.iter()
        .map(|s| {
            let mut e = s
                .replace('\\', "\\\\")
                .replace('.', "\\.")
                .replace('[', "\\[");
            if e.starts_with(|c: char| c.is_ascii_digit()) {
                e.insert(0, '\\');
            }
            e
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Leaves of a values tree: non-empty maps are descended, everything else is a leaf.
fn leaves(v: &Value, prefix: &mut Vec<String>, out: &mut BTreeMap<Vec<String>, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                prefix.push(k.clone());
                leaves(child, prefix, out);
                prefix.pop();
            }
        }
        other if !prefix.is_empty() => {
            out.insert(prefix.clone(), other.clone());
        }
        _ => {}
    }
}

/// Differences between two values documents, in key order of the source then the target.
pub fn diff_values(source: &Value, target: &Value) -> Vec<ValueChange> {
    let (mut s, mut t) = (BTreeMap::new(), BTreeMap::new());
    leaves(source, &mut Vec::new(), &mut s);
    leaves(target, &mut Vec::new(), &mut t);
    let mut out = Vec::new();
    for (path, sv) in &s {
        match t.get(path) {
            None => out.push(ValueChange {
                path: path.clone(),
                kind: ChangeKind::Added,
                source: Some(sv.clone()),
                target: None,
            }),
            Some(tv) if tv != sv => out.push(ValueChange {
                path: path.clone(),
                kind: ChangeKind::Changed,
                source: Some(sv.clone()),
                target: Some(tv.clone()),
            }),
            Some(_) => {}
        }
    }
    for (path, tv) in &t {
        if !s.contains_key(path) {
            out.push(ValueChange {
                path: path.clone(),
                kind: ChangeKind::Removed,
                source: None,
                target: Some(tv.clone()),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// The changes `keys` select: each key selects the differences at or under it. With no keys,
/// every added and changed key (removals are only applied when named: a key present only in
/// the target is usually that environment's own setting).
pub fn select(
    changes: &[ValueChange],
    keys: &[String],
    source_env: &str,
    target_env: &str,
) -> Result<Vec<ValueChange>, PromoteError> {
    if keys.is_empty() {
        return Ok(changes
            .iter()
            .filter(|c| c.kind != ChangeKind::Removed)
            .cloned()
            .collect());
    }
    let mut out: Vec<ValueChange> = Vec::new();
    for key in keys {
        let want = parse_path(key);
        let picked: Vec<&ValueChange> = changes
            .iter()
            .filter(|c| c.path.starts_with(&want) || want.starts_with(&c.path))
            .collect();
        if picked.is_empty() {
            return Err(PromoteError::UnknownKey {
                key: key.clone(),
                source_env: source_env.to_string(),
                target_env: target_env.to_string(),
                known: if changes.is_empty() {
                    "(none)".into()
                } else {
                    changes
                        .iter()
                        .map(ValueChange::key)
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            });
        }
        for c in picked {
            if !out.iter().any(|o| o.path == c.path) {
                out.push(c.clone());
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// Apply `changes` to the target file's text, copying each value's node from the source text.
/// Everything not touched keeps its bytes.
pub fn apply(
    source_text: &str,
    target_text: &str,
    changes: &[ValueChange],
    target_file: &str,
) -> Result<String, PromoteError> {
    let edit_err = |key: String, message: String| PromoteError::Edit {
        file: target_file.to_string(),
        key,
        message,
    };
    let src = Document::from_str(source_text).map_err(|e| PromoteError::Values {
        file: "source values".into(),
        message: e.to_string(),
    })?;
    let dst = Document::from_str(target_text).map_err(|e| PromoteError::Values {
        file: target_file.to_string(),
        message: e.to_string(),
    })?;
    // Whole new top-level blocks are copied as text, with the comment lines above them, so a
    // promoted block arrives documented and set off like the file's other blocks.
    let (blocks, rest) = whole_new_blocks(source_text, target_text, changes);
    for c in &rest {
        let path = yaml_edit_path(&c.path);
        match c.kind {
            ChangeKind::Added | ChangeKind::Changed => {
                let node = src
                    .try_get_path(&path)
                    .map_err(|e| edit_err(c.key(), format!("not found in the source: {e}")))?;
                dst.try_set_path(&path, node)
                    .map_err(|e| edit_err(c.key(), e.to_string()))?;
            }
            ChangeKind::Removed => {
                dst.try_remove_path(&path)
                    .map_err(|e| edit_err(c.key(), e.to_string()))?;
            }
        }
    }
    let mut out = dst.to_string();
    if !blocks.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        // Separated by a blank line when the file separates its blocks so.
        let spaced = out.contains("\n\n");
        for block in &blocks {
            if spaced && !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            out.push_str(block);
        }
    }
    // Never commit something that no longer parses, or that does not say what we meant.
    let check = yaml::parse_one(&out, target_file).map_err(|e| {
        edit_err(
            changes.first().map(ValueChange::key).unwrap_or_default(),
            format!("the edited file would not parse ({e}); nothing was written"),
        )
    })?;
    let want = yaml::parse_one(source_text, "source").unwrap_or(Value::Null);
    let mut got_leaves = BTreeMap::new();
    leaves(&check, &mut Vec::new(), &mut got_leaves);
    let mut want_leaves = BTreeMap::new();
    leaves(&want, &mut Vec::new(), &mut want_leaves);
    for c in changes {
        let ok = match c.kind {
            ChangeKind::Removed => !got_leaves.contains_key(&c.path),
            _ => got_leaves.get(&c.path) == want_leaves.get(&c.path),
        };
        if !ok {
            return Err(edit_err(
                c.key(),
                "the edit did not produce the source's value; nothing was written".into(),
            ));
        }
    }
    Ok(out)
}

/// Split off the changes that add a whole top-level key the target lacks (every leaf under it
/// selected, all of them additions), returning those keys' blocks as source text — the block's
/// lines plus the comment lines directly above it — and the changes left for yaml-edit. A block
/// that cannot be cut out of the text safely (quoted or flow-style key, several documents) stays
/// with yaml-edit.
fn whole_new_blocks(
    source_text: &str,
    target_text: &str,
    changes: &[ValueChange],
) -> (Vec<String>, Vec<ValueChange>) {
    let (Ok(source), Ok(target)) = (
        yaml::parse_one(source_text, "source"),
        yaml::parse_one(target_text, "target"),
    ) else {
        return (Vec::new(), changes.to_vec());
    };
    let mut blocks = Vec::new();
    let mut rest = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for c in changes {
        let Some(top) = c.path.first() else {
            rest.push(c.clone());
            continue;
        };
        if done.contains(&top.as_str()) {
            continue;
        }
        let whole = c.kind == ChangeKind::Added
            && target.get(top).is_none()
            && source.get(top).is_some_and(|sv| {
                let mut under = BTreeMap::new();
                leaves(sv, &mut vec![top.clone()], &mut under);
                !under.is_empty()
                    && under.keys().all(|p| {
                        changes
                            .iter()
                            .any(|o| &o.path == p && o.kind == ChangeKind::Added)
                    })
            });
        match whole.then(|| top_level_block(source_text, top)).flatten() {
            Some(block) => {
                blocks.push(block);
                done.push(top);
            }
            None => rest.push(c.clone()),
        }
    }
    // Changes under a key copied as a block are done by it.
    rest.retain(|c| c.path.first().is_none_or(|t| !done.contains(&t.as_str())));
    (blocks, rest)
}

/// The text of top-level key `key` in a single-document YAML text: the comment lines directly
/// above it, its line and every following line that belongs to it (indented, `- ` items at
/// column 0, blank lines and comments inside), without trailing blank or column-0 comment lines
/// (those belong to the next key). `None` when the key is not written plainly at column 0.
fn top_level_block(text: &str, key: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines
        .iter()
        .any(|l| l.starts_with("---") || l.starts_with("..."))
    {
        return None;
    }
    let start = lines.iter().position(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .is_some_and(|r| r.is_empty() || r.starts_with(' ') || r.starts_with('\t'))
    })?;
    let belongs = |l: &str| {
        l.trim().is_empty()
            || l.starts_with(' ')
            || l.starts_with('\t')
            || l.starts_with('-')
            || l.starts_with('#')
    };
    let mut end = start + 1;
    while end < lines.len() && belongs(lines[end]) {
        end += 1;
    }
    while end > start + 1 && (lines[end - 1].trim().is_empty() || lines[end - 1].starts_with('#')) {
        end -= 1;
    }
    let mut first = start;
    while first > 0 && lines[first - 1].starts_with('#') {
        first -= 1;
    }
    let mut out = lines[first..end].join("\n");
    out.push('\n');
    Some(out)
}

/// The App of `env` and its environment values file (the last of `helm.valueFiles`).
fn env_values_file<'a>(apps: &'a [App], env: &str) -> Result<(&'a App, String), PromoteError> {
    let matching: Vec<&App> = apps.iter().filter(|a| a.env == env).collect();
    let app = match matching.as_slice() {
        [one] => *one,
        [] => {
            let mut envs: Vec<&str> = apps.iter().map(|a| a.env.as_str()).collect();
            envs.dedup();
            return Err(PromoteError::UnknownEnv {
                env: env.to_string(),
                known: envs.join(", "),
            });
        }
        many => {
            return Err(PromoteError::AmbiguousEnv {
                env: env.to_string(),
                apps: many
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    let no_file = || PromoteError::NoValuesFile {
        env: env.to_string(),
        app: app.name.clone(),
    };
    let SourceKind::Helm(h) = &app.source.kind else {
        return Err(no_file());
    };
    let last = h.value_files.last().ok_or_else(no_file)?;
    let file = resolve_in_repo(&app.source.path, last).ok_or_else(no_file)?;
    Ok((app, file))
}

fn read_text(repo: &Repo, commit: &Commit, file: &str) -> Result<String, PromoteError> {
    let bytes = repo
        .read_file(commit, file)?
        .ok_or_else(|| PromoteError::Values {
            file: file.to_string(),
            message: format!("not found at commit {}", commit.short()),
        })?;
    String::from_utf8(bytes).map_err(|_| PromoteError::Values {
        file: file.to_string(),
        message: "not UTF-8 text".into(),
    })
}

/// Work out what promoting `source_env` → `target_env` would change, reading both values files
/// from the checked-out branch's commit. Refuses over uncommitted edits or a stale branch.
pub fn plan(
    repo: &Repo,
    config: &Config,
    source_env: &str,
    target_env: &str,
) -> Result<PromotionPlan, PromoteError> {
    let (base, branch) = repo.local_head()?;
    let branch = branch.ok_or(PromoteError::Detached)?;
    if let Some(st) = repo.branch_status()?
        && st.behind > 0
    {
        return Err(PromoteError::Behind {
            branch: branch.clone(),
            upstream: st.upstream.unwrap_or_else(|| "its remote".into()),
            behind: st.behind,
        });
    }
    let loaded = source::load_apps(repo, &base, config)?;
    let (_, source_file) = env_values_file(&loaded.apps, source_env)?;
    let (_, target_file) = env_values_file(&loaded.apps, target_env)?;
    if source_file == target_file {
        return Err(PromoteError::SameFile {
            source_env: source_env.to_string(),
            target_env: target_env.to_string(),
            file: source_file,
        });
    }
    for f in [&source_file, &target_file] {
        if !repo.uncommitted_changes(f)?.is_empty() {
            return Err(PromoteError::Uncommitted { file: f.clone() });
        }
    }
    let parse = |file: &str| -> Result<Value, PromoteError> {
        let text = read_text(repo, &base, file)?;
        yaml::parse_one(&text, file).map_err(|e| PromoteError::Values {
            file: file.to_string(),
            message: e.to_string(),
        })
    };
    let changes = diff_values(&parse(&source_file)?, &parse(&target_file)?);
    Ok(PromotionPlan {
        source_env: source_env.to_string(),
        target_env: target_env.to_string(),
        source_file,
        target_file,
        base,
        branch,
        changes,
    })
}

/// The commit message: subject naming the keys and the source env; body listing each change
/// (never the values, which may be sensitive).
pub fn commit_message(
    plan: &PromotionPlan,
    applied: &[ValueChange],
    custom: Option<&str>,
) -> String {
    let keys: Vec<String> = applied.iter().map(ValueChange::key).collect();
    let mut subject = format!(
        "promote {} → {}: {}",
        plan.source_env,
        plan.target_env,
        keys.join(", ")
    );
    if subject.chars().count() > 72 && keys.len() > 1 {
        subject = format!(
            "promote {} → {}: {} and {} more key(s)",
            plan.source_env,
            plan.target_env,
            keys[0],
            keys.len() - 1
        );
    }
    let mut msg = match custom {
        Some(m) if !m.trim().is_empty() => format!("{}\n\n{subject}\n", m.trim()),
        _ => format!("{subject}\n"),
    };
    msg.push_str(&format!(
        "\nFrom {} ({}) into {} ({}):\n",
        plan.source_file, plan.source_env, plan.target_file, plan.target_env
    ));
    for c in applied {
        msg.push_str(&format!("  {} {}\n", c.kind, c.key()));
    }
    msg
}

/// Promote: select `keys` (empty: every added or changed key), edit the target values file,
/// commit on the checked-out branch and push when `push` and a remote exists. The commit is the
/// target App's next revision once the engine polls.
pub fn promote(
    repo: &Repo,
    config: &Config,
    source_env: &str,
    target_env: &str,
    keys: &[String],
    message: Option<&str>,
    push: bool,
) -> Result<Promoted, PromoteError> {
    let plan = plan(repo, config, source_env, target_env)?;
    let applied = select(&plan.changes, keys, source_env, target_env)?;
    if applied.is_empty() {
        return Err(PromoteError::NothingToPromote {
            source_file: plan.source_file,
            target_file: plan.target_file,
        });
    }
    let source_text = read_text(repo, &plan.base, &plan.source_file)?;
    let target_text = read_text(repo, &plan.base, &plan.target_file)?;
    let edited = apply(&source_text, &target_text, &applied, &plan.target_file)?;
    let msg = commit_message(&plan, &applied, message);
    let commit = repo.commit_file(&plan.target_file, edited.as_bytes(), &msg)?;
    let pushed = if push && repo.remote_url().is_some() {
        repo.push_head()?;
        true
    } else {
        false
    };
    Ok(Promoted {
        commit,
        applied,
        pushed,
        target_file: plan.target_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEV: &str = "\
# Development values.
replicaCount: 1

image:
  # Newest build.
  tag: \"1.5.0\"   # bumped by CI
  pullPolicy: IfNotPresent

config:
  agents:
    new-agent.agent.yaml: |
      kind: Agent
      name: new-agent
resources: {}
";

    const STAGING: &str = "\
# Staging values: mirror prod at a smaller scale.
replicaCount: 2   # two for rollout tests

image:
  # Pinned after QA sign-off.
  tag: \"1.4.2\"
  pullPolicy: IfNotPresent

ingress:
  enabled: true
  host: staging.example.com
";

    fn v(text: &str) -> Value {
        yaml::parse_one(text, "t.yaml").unwrap()
    }

    #[test]
    fn paths_round_trip_with_escaped_dots() {
        let p = parse_path("config.agents.new-agent\\.agent\\.yaml");
        assert_eq!(p, ["config", "agents", "new-agent.agent.yaml"]);
        assert_eq!(format_path(&p), "config.agents.new-agent\\.agent\\.yaml");
        assert_eq!(yaml_edit_path(&["ports".into(), "80".into()]), "ports.\\80");
    }

    #[test]
    fn diff_lists_added_changed_removed_by_key_path() {
        let d = diff_values(&v(DEV), &v(STAGING));
        let got: Vec<(String, ChangeKind)> = d.iter().map(|c| (c.key(), c.kind)).collect();
        assert_eq!(
            got,
            vec![
                (
                    "config.agents.new-agent\\.agent\\.yaml".into(),
                    ChangeKind::Added
                ),
                ("image.tag".into(), ChangeKind::Changed),
                ("ingress.enabled".into(), ChangeKind::Removed),
                ("ingress.host".into(), ChangeKind::Removed),
                ("replicaCount".into(), ChangeKind::Changed),
                ("resources".into(), ChangeKind::Added),
            ]
        );
        assert_eq!(d[1].source, Some(json!("1.5.0")));
        assert_eq!(d[1].target, Some(json!("1.4.2")));
    }

    #[test]
    fn golden_changed_key_keeps_comments_order_and_quoting() {
        let changes = select(
            &diff_values(&v(DEV), &v(STAGING)),
            &["image.tag".into()],
            "dev",
            "staging",
        )
        .unwrap();
        let out = apply(DEV, STAGING, &changes, "values-staging.yaml").unwrap();
        let expected = STAGING.replace("tag: \"1.4.2\"", "tag: \"1.5.0\"");
        assert_eq!(out, expected);
    }

    #[test]
    fn golden_added_nested_key_and_block_scalar() {
        let changes = select(
            &diff_values(&v(DEV), &v(STAGING)),
            &["config".into()],
            "dev",
            "staging",
        )
        .unwrap();
        assert_eq!(changes.len(), 1);
        let out = apply(DEV, STAGING, &changes, "values-staging.yaml").unwrap();
        // Everything before is byte-identical; the new subtree is appended at the end.
        assert!(out.starts_with(STAGING.trim_end()), "{out}");
        let parsed = v(&out);
        assert_eq!(
            parsed["config"]["agents"]["new-agent.agent.yaml"],
            "kind: Agent\nname: new-agent\n"
        );
        assert_eq!(parsed["replicaCount"], 2);
    }

    #[test]
    fn golden_removed_key_only_when_named() {
        let all = diff_values(&v(DEV), &v(STAGING));
        let default = select(&all, &[], "dev", "staging").unwrap();
        assert!(default.iter().all(|c| c.kind != ChangeKind::Removed));
        let removal = select(&all, &["ingress.host".into()], "dev", "staging").unwrap();
        let out = apply(DEV, STAGING, &removal, "values-staging.yaml").unwrap();
        assert!(!out.contains("staging.example.com"), "{out}");
        assert!(out.contains("# Staging values: mirror prod at a smaller scale.\n"));
        assert!(out.contains("replicaCount: 2   # two for rollout tests\n"));
        assert!(out.contains("  enabled: true"));
    }

    /// The seed scenario's promotion on the demo chart's own staging file: a new agent block (a
    /// sequence, promoted whole) from dev. The staging text stays byte for byte (comments,
    /// blank lines, quoting), the block is appended with the source's formatting.
    #[test]
    fn golden_agent_block_into_the_demo_staging_values() {
        let staging = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/assets/demo/deploy/helm/astromesh/values-staging.yaml"
        ));
        let dev = format!(
            "{}\n{}",
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/assets/demo/deploy/helm/astromesh/values-dev.yaml"
            )),
            AGENTS
        );
        let all = diff_values(&v(&dev), &v(staging));
        let changes = select(&all, &["agents".into()], "dev", "staging").unwrap();
        assert_eq!(
            changes.iter().map(ValueChange::key).collect::<Vec<_>>(),
            ["agents"]
        );
        let out = apply(&dev, staging, &changes, "values-staging.yaml").unwrap();
        assert_eq!(out, format!("{staging}\n{AGENTS}"));
    }

    const AGENTS: &str = "\
# Agents under evaluation: dev first, then promoted.
agents:
  - name: support-assistant
    model: llama3.1:8b
    tools: [search, tickets]
  - name: incident-triage
    model: \"llama3.1:8b\"   # small is enough for triage
    tools: [search, pager]
";

    #[test]
    fn top_level_blocks_are_cut_with_their_comments_only() {
        let text = "\
a: 1
# About b.
# More about b.
b:
- x   # item
# inside b, at column 0
- y

# About c.
c:
  d: 2
\"e\": 3
";
        assert_eq!(
            top_level_block(text, "b").as_deref(),
            Some("# About b.\n# More about b.\nb:\n- x   # item\n# inside b, at column 0\n- y\n")
        );
        assert_eq!(
            top_level_block(text, "c").as_deref(),
            Some("# About c.\nc:\n  d: 2\n")
        );
        assert_eq!(top_level_block(text, "a").as_deref(), Some("a: 1\n"));
        assert_eq!(
            top_level_block(text, "e"),
            None,
            "quoted keys stay with yaml-edit"
        );
        assert_eq!(top_level_block(text, "d"), None, "not top-level");
        assert_eq!(top_level_block("---\na: 1\n", "a"), None);
    }

    #[test]
    fn a_partly_selected_new_block_stays_with_yaml_edit() {
        let source = "# S\nnew:\n  a: 1\n  b: 2\n";
        let target = "old: 1\n";
        let all = diff_values(&v(source), &v(target));
        let only_a = select(&all, &["new.a".into()], "dev", "staging").unwrap();
        let out = apply(source, target, &only_a, "t.yaml").unwrap();
        assert_eq!(v(&out), json!({"old": 1, "new": {"a": 1}}), "{out}");
        let both = select(&all, &["new".into()], "dev", "staging").unwrap();
        let out = apply(source, target, &both, "t.yaml").unwrap();
        assert_eq!(out, "old: 1\n# S\nnew:\n  a: 1\n  b: 2\n");
    }

    #[test]
    fn unknown_keys_list_the_differing_ones() {
        let all = diff_values(&v(DEV), &v(STAGING));
        let err = select(&all, &["nope".into()], "dev", "staging")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`nope`") && err.contains("image.tag"), "{err}");
    }

    #[test]
    fn commit_message_names_keys_and_source_env_without_values() {
        let all = diff_values(&v(DEV), &v(STAGING));
        let applied = select(
            &all,
            &["image.tag".into(), "replicaCount".into()],
            "dev",
            "staging",
        )
        .unwrap();
        let plan = PromotionPlan {
            source_env: "dev".into(),
            target_env: "staging".into(),
            source_file: "chart/values-dev.yaml".into(),
            target_file: "chart/values-staging.yaml".into(),
            base: Commit {
                sha: "0".repeat(40),
                summary: String::new(),
                author: String::new(),
                time: 0,
            },
            branch: "main".into(),
            changes: all,
        };
        let msg = commit_message(&plan, &applied, None);
        assert!(
            msg.starts_with("promote dev → staging: image.tag, replicaCount\n"),
            "{msg}"
        );
        assert!(msg.contains("changed image.tag"));
        assert!(
            !msg.contains("1.5.0"),
            "values never go into messages: {msg}"
        );
    }

    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A clone with a file:// remote holding a two-env ApplicationSet.
    fn fixture() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let seed = tmp.path().join("seed");
        std::fs::create_dir_all(seed.join("chart")).unwrap();
        std::fs::create_dir_all(seed.join("deploy/gitops")).unwrap();
        std::fs::write(
            seed.join("chart/Chart.yaml"),
            "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        )
        .unwrap();
        std::fs::write(seed.join("chart/values-dev.yaml"), DEV).unwrap();
        std::fs::write(seed.join("chart/values-staging.yaml"), STAGING).unwrap();
        std::fs::write(
            seed.join("deploy/gitops/appset.yaml"),
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: web}\nspec:\n  generators:\n    - list:\n        elements: [{env: dev}, {env: staging}]\n  template:\n    metadata: {name: 'web-{{env}}'}\n    spec:\n      source: {repoURL: x, path: chart, helm: {valueFiles: ['values-{{env}}.yaml']}}\n      destination: {server: https://kubernetes.default.svc, namespace: '{{env}}'}\n",
        )
        .unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        git(&seed, &["config", "user.name", "Promo Tester"]);
        git(&seed, &["config", "user.email", "promo@example.com"]);
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "init"]);
        let bare = tmp.path().join("remote.git");
        git(
            tmp.path(),
            &[
                "clone",
                "-q",
                "--bare",
                seed.to_str().unwrap(),
                "remote.git",
            ],
        );
        let work = tmp.path().join("work");
        git(tmp.path(), &["clone", "-q", bare.to_str().unwrap(), "work"]);
        git(&work, &["config", "user.name", "Promo Tester"]);
        git(&work, &["config", "user.email", "promo@example.com"]);
        (tmp, work, bare)
    }

    #[test]
    fn promote_commits_with_git_config_author_and_pushes() {
        let (_tmp, work, bare) = fixture();
        let repo = Repo::open(&work).unwrap();
        let cfg = Config::with_defaults();
        let plan = plan(&repo, &cfg, "dev", "staging").unwrap();
        assert_eq!(plan.target_file, "chart/values-staging.yaml");
        assert_eq!(plan.changes.len(), 6);
        let done = promote(
            &repo,
            &cfg,
            "dev",
            "staging",
            &["image.tag".into()],
            None,
            true,
        )
        .unwrap();
        assert!(done.pushed);
        assert_eq!(done.applied.len(), 1);
        // The working tree, the commit and the remote all hold the edit; nothing else changed.
        let on_disk = std::fs::read_to_string(work.join("chart/values-staging.yaml")).unwrap();
        assert_eq!(on_disk, STAGING.replace("tag: \"1.4.2\"", "tag: \"1.5.0\""));
        assert_eq!(git(&work, &["status", "--porcelain"]), "");
        assert_eq!(
            git(&work, &["log", "-1", "--format=%an <%ae>"]),
            "Promo Tester <promo@example.com>"
        );
        assert_eq!(
            git(&work, &["log", "-1", "--format=%s"]),
            "promote dev → staging: image.tag"
        );
        assert_eq!(git(&bare, &["rev-parse", "main"]), done.commit.sha);
        // The new commit is what HEAD (the remote's default branch) resolves to now.
        assert_eq!(repo.resolve("HEAD").unwrap().sha, done.commit.sha);
        // Promoting the same key again: nothing differs any more.
        let err = promote(
            &repo,
            &cfg,
            "dev",
            "staging",
            &["image.tag".into()],
            None,
            false,
        )
        .unwrap_err();
        assert!(matches!(err, PromoteError::UnknownKey { .. }), "{err}");
    }

    #[test]
    fn promote_refuses_uncommitted_values_and_stale_branches() {
        let (_tmp, work, bare) = fixture();
        let repo = Repo::open(&work).unwrap();
        let cfg = Config::with_defaults();
        std::fs::write(
            work.join("chart/values-staging.yaml"),
            format!("{STAGING}extra: 1\n"),
        )
        .unwrap();
        let err = promote(&repo, &cfg, "dev", "staging", &[], None, false).unwrap_err();
        assert!(matches!(err, PromoteError::Uncommitted { .. }), "{err}");
        assert!(
            err.to_string().contains("chart/values-staging.yaml"),
            "{err}"
        );
        git(&work, &["checkout", "--", "chart/values-staging.yaml"]);
        let err = plan(&repo, &cfg, "dev", "qa").unwrap_err().to_string();
        assert!(
            err.contains("`qa`") && err.contains("dev, staging"),
            "{err}"
        );

        // Someone else pushed: the local branch is behind after a fetch.
        let other = work.parent().unwrap().join("other");
        git(
            work.parent().unwrap(),
            &["clone", "-q", bare.to_str().unwrap(), "other"],
        );
        std::fs::write(other.join("README.md"), "x\n").unwrap();
        git(&other, &["add", "-A"]);
        git(
            &other,
            &[
                "-c",
                "user.name=O",
                "-c",
                "user.email=o@e",
                "commit",
                "-q",
                "-m",
                "other",
            ],
        );
        git(&other, &["push", "-q", "origin", "main"]);
        repo.fetch().unwrap();
        let err = promote(&repo, &cfg, "dev", "staging", &[], None, true).unwrap_err();
        assert!(
            matches!(err, PromoteError::Behind { behind: 1, .. }),
            "{err}"
        );
    }
}
