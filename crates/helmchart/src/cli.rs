//! `helm template` as a command: its flags, its output (stdout) and its error text (stderr,
//! `Error: …`, exit status 1). `sextant template` runs this; the conformance and differential
//! tests run that binary, so what makes them pass is the command users get.

use std::path::{Path, PathBuf};

use crate::{Chart, HelmFlavor, RenderError, RenderOptions, render};

/// What the command printed and its exit status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Output {
    fn fail(stdout: String, msg: &str) -> Output {
        Output {
            stdout,
            stderr: format!("Error: {msg}\n"),
            code: 1,
        }
    }
}

const USAGE: &str = "Usage:  helm template [NAME] [CHART] [flags]";

/// Flags that take a value (long name, short name).
const VALUE_FLAGS: &[(&str, &str)] = &[
    ("--values", "-f"),
    ("--set", ""),
    ("--set-string", ""),
    ("--set-file", ""),
    ("--set-json", ""),
    ("--set-literal", ""),
    ("--namespace", "-n"),
    ("--kube-version", ""),
    ("--api-versions", "-a"),
    ("--show-only", "-s"),
    ("--name-template", ""),
    ("--output-dir", ""),
    ("--post-renderer", ""),
    ("--post-renderer-args", ""),
    ("--version", ""),
    ("--description", ""),
    ("--timeout", ""),
];

/// Boolean flags.
const BOOL_FLAGS: &[(&str, &str)] = &[
    ("--include-crds", ""),
    ("--skip-crds", ""),
    ("--skip-tests", ""),
    ("--release-name", ""),
    ("--is-upgrade", ""),
    ("--no-hooks", ""),
    ("--debug", ""),
    ("--generate-name", "-g"),
    ("--skip-schema-validation", ""),
    ("--devel", ""),
    ("--dependency-update", ""),
    ("--disable-openapi-validation", ""),
    ("--hide-notes", ""),
    ("--render-subchart-notes", ""),
    ("--create-namespace", ""),
    ("--validate", ""),
];

fn long_name(flag: &str, table: &[(&str, &'static str)]) -> Option<String> {
    table
        .iter()
        .find(|(l, s)| *l == flag || (!s.is_empty() && *s == flag))
        .map(|(l, _)| l.to_string())
}

/// Splits a pflag string-slice value (`a,b`) into its items.
fn slice(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',').filter(|s| !s.is_empty()).map(str::to_string)
}

/// Runs `helm template ARGS` (without `template`); relative paths are taken from `cwd`.
/// `default_kube_version` stands in for helm's own default when `--kube-version` is absent.
pub fn template(args: &[String], cwd: &Path, flavor: HelmFlavor) -> Output {
    let mut opts = RenderOptions {
        flavor,
        ..RenderOptions::default()
    };
    let (mut positionals, mut show_only) = (Vec::new(), Vec::new());
    let (mut debug, mut release_name_dir, mut no_hooks) = (false, false, false);
    let (mut name_template, mut output_dir): (Option<String>, Option<PathBuf>) = (None, None);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if !a.starts_with('-') || a == "-" {
            positionals.push(a.clone());
            continue;
        }
        if a == "--" {
            positionals.extend(args[i..].iter().cloned());
            break;
        }
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None if !a.starts_with("--") && a.len() > 2 => {
                (a[..2].to_string(), Some(a[2..].to_string()))
            }
            None => (a.clone(), None),
        };
        if let Some(name) = long_name(&flag, BOOL_FLAGS) {
            let on = inline.as_deref().is_none_or(|v| v == "true");
            match name.as_str() {
                "--include-crds" => opts.include_crds = on,
                "--skip-tests" => opts.skip_tests = on,
                "--release-name" => release_name_dir = on,
                "--is-upgrade" => opts.is_upgrade = on,
                "--no-hooks" => no_hooks = on,
                "--debug" => debug = on,
                "--skip-schema-validation" => opts.skip_schema_validation = on,
                "--generate-name" if on => {
                    opts.release_name = format!("chart-{}", std::process::id());
                }
                _ => {}
            }
            continue;
        }
        let Some(name) = long_name(&flag, VALUE_FLAGS) else {
            return Output::fail(String::new(), &format!("unknown flag: {flag}"));
        };
        let value = match inline {
            Some(v) => v,
            None if i < args.len() => {
                i += 1;
                args[i - 1].clone()
            }
            None => {
                return Output::fail(
                    String::new(),
                    &format!("flag needs an argument: {}", a.trim_start_matches('-')),
                );
            }
        };
        match name.as_str() {
            "--values" => {
                for p in slice(&value) {
                    match std::fs::read(cwd.join(&p)) {
                        Ok(d) => opts.value_files.push((p, d)),
                        Err(e) => {
                            return Output::fail(
                                String::new(),
                                &format!("open {p}: {}", go_io_error(&e)),
                            );
                        }
                    }
                }
            }
            "--set" => opts.set.push(value),
            "--set-string" => opts.set_string.push(value),
            "--set-json" => opts.set_json.push(value),
            "--set-literal" => opts.set_literal.push(value),
            "--set-file" => opts.set_file.push(resolve_set_file(&value, cwd)),
            "--namespace" => opts.namespace = value,
            "--kube-version" => opts.kube_version = Some(value),
            "--api-versions" => opts.api_versions.extend(slice(&value)),
            "--show-only" => show_only.extend(slice(&value)),
            "--name-template" => name_template = Some(value),
            "--output-dir" => output_dir = Some(PathBuf::from(value)),
            "--post-renderer" => {
                return Output::fail(
                    String::new(),
                    &format!(
                        "invalid argument {value:?} for \"--post-renderer\" flag: post-renderers \
                         are not supported by this native renderer (run the helm binary, or \
                         pipe the output through the post-renderer yourself)"
                    ),
                );
            }
            _ => {}
        }
    }
    if positionals.is_empty() {
        return Output::fail(
            String::new(),
            &format!("\"helm template\" requires at least 1 argument\n\n{USAGE}"),
        );
    }
    if positionals.len() > 2 {
        return Output::fail(
            String::new(),
            &format!(
                "expected at most two arguments, unexpected arguments: {}",
                positionals[2..].join(", ")
            ),
        );
    }
    let chart_path = positionals[positionals.len() - 1].clone();
    if positionals.len() == 2 {
        opts.release_name = positionals[0].clone();
    }
    if let Some(t) = name_template {
        let mut set = crate::funcs::new_template_set(flavor);
        match set
            .parse("name-template", &t)
            .and_then(|_| set.execute("name-template", &gotemplate::Value::Nil))
        {
            Ok(n) => opts.release_name = n,
            Err(e) => return Output::fail(String::new(), &e.to_string()),
        }
    }
    if !valid_release_name(&opts.release_name) {
        return Output::fail(
            String::new(),
            &format!(
                "release name {:?}: invalid release name, must match regex \
                 ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the \
                 length must not be longer than 53",
                opts.release_name
            ),
        );
    }
    let chart = match Chart::load_dir(&cwd.join(&chart_path)) {
        Ok(c) => c,
        Err(e) => return Output::fail(String::new(), &e.to_string()),
    };
    let rendered = match render(&chart, &opts) {
        Ok(r) => r,
        Err(e) => return render_failure(e, debug),
    };
    let mut rendered = rendered;
    if no_hooks {
        rendered.docs.retain(|d| !d.hook);
    }
    if let Some(dir) = output_dir {
        let dir = if release_name_dir {
            dir.join(&opts.release_name)
        } else {
            dir
        };
        let out = write_output_dir(&rendered, &dir, cwd);
        // helm then applies --show-only to the (now empty) stdout text, and fails.
        return match show_only.first() {
            Some(f) if out.code == 0 => Output::fail(
                out.stdout.trim_end_matches('\n').to_string() + "\n",
                &format!("could not find template {f} in chart"),
            ),
            _ => out,
        };
    }
    let full = rendered.to_helm_output();
    if show_only.is_empty() {
        return Output {
            stdout: full,
            ..Output::default()
        };
    }
    show_only_docs(&full, &show_only)
}

/// `--set-file key=path`: the path is relative to where the command runs.
fn resolve_set_file(arg: &str, cwd: &Path) -> String {
    arg.split(',')
        .map(|kv| match kv.split_once('=') {
            Some((k, p)) => format!("{k}={}", cwd.join(p).display()),
            None => kv.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn render_failure(e: RenderError, debug: bool) -> Output {
    let hint = "\n\nUse --debug flag to render out invalid YAML";
    match e {
        RenderError::Manifest {
            file,
            message,
            debug_output,
        } => {
            let msg =
                format!("YAML parse error on {file}: error converting YAML to JSON: {message}");
            if debug {
                // helm prints the failed release's manifest, then the error.
                return Output::fail(format!("{}\n", debug_output.trim()), &msg);
            }
            Output::fail(String::new(), &format!("{msg}{hint}"))
        }
        e @ (RenderError::Exec(_) | RenderError::Parse(_)) if !debug => {
            Output::fail(String::new(), &format!("{e}{hint}"))
        }
        e => Output::fail(String::new(), &e.to_string()),
    }
}

/// `--output-dir`: each document appended to `<dir>/<source path>`, one `wrote` line each.
fn write_output_dir(r: &crate::Rendered, dir: &Path, cwd: &Path) -> Output {
    let mut stdout = String::new();
    let mut written: Vec<String> = Vec::new();
    let docs = r
        .docs
        .iter()
        .filter(|d| !d.hook)
        .chain(r.docs.iter().filter(|d| d.hook));
    for d in docs {
        // Printed as given (relative to the working directory), written under `cwd`.
        let path = dir.join(&d.source);
        let file = cwd.join(&path);
        let append = written.contains(&d.source);
        let res = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .write(true)
                    .append(append)
                    .truncate(!append)
                    .open(&file)?;
                write!(f, "---\n# Source: {}\n{}\n", d.source, d.content)
            });
        if let Err(e) = res {
            return Output::fail(stdout, &format!("{}: {e}", path.display()));
        }
        if !append {
            written.push(d.source.clone());
        }
        stdout.push_str(&format!("wrote {}\n", path.display()));
    }
    stdout.push('\n');
    Output {
        stdout,
        ..Output::default()
    }
}

/// `-s/--show-only`: the documents from the named templates (glob patterns), in order.
fn show_only_docs(full: &str, show_only: &[String]) -> Output {
    let docs = crate::render::split_manifests(full);
    let mut out = String::new();
    for f in show_only {
        let mut missing = true;
        for d in &docs {
            let Some(rest) = d.find("# Source: ").map(|p| &d[p + "# Source: ".len()..]) else {
                continue;
            };
            let line = rest.lines().next().unwrap_or("");
            let Some((_, path)) = line.split_once('/') else {
                continue;
            };
            if crate::glob::go_path_match(f, path).unwrap_or(false) {
                out.push_str(&format!("---\n{d}\n"));
                missing = false;
            }
        }
        if missing {
            return Output::fail(
                String::new(),
                &format!("could not find template {f} in chart"),
            );
        }
    }
    Output {
        stdout: out,
        ..Output::default()
    }
}

/// Helm's release name rule: DNS-1123 subdomain labels, at most 53 characters.
fn valid_release_name(name: &str) -> bool {
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && b.first().is_some_and(edge)
            && b.last().is_some_and(edge)
            && b.iter().all(|c| edge(c) || *c == b'-')
    };
    name.len() <= 53 && name.split('.').all(label_ok)
}

/// An I/O error worded as Go's `os` package words it.
fn go_io_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}
