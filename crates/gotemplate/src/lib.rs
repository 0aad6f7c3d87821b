//! Go's `text/template` with Go's exact semantics, plus the Sprig function library, in Rust.
//!
//! # Quick start
//! ```
//! use gotemplate::{Templates, Value};
//! let mut t = Templates::with_sprig("gotpl");
//! t.parse("greet", r#"{{ define "name" }}{{ .name | upper }}{{ end }}hello {{ include "name" . }}"#)
//!     .unwrap_err(); // `include` is Helm's, not Sprig's: register it (see below) before parsing.
//! let mut t = Templates::with_sprig("gotpl");
//! t.parse("greet", r#"hello {{ .name | upper }} x{{ .n }}"#).unwrap();
//! let data = Value::from_json_helm(&serde_json::json!({"name": "world", "n": 1000000}));
//! assert_eq!(t.execute("greet", &data).unwrap(), "hello WORLD x1e+06");
//! ```
//!
//! # Model
//! * [`Value`]: Go-typed values (nil, bool, int, uint, float64, string, []byte, list, map,
//!   objects). [`Value::from_json_helm`] gives Helm's view of YAML/JSON values (every number a
//!   float64); [`Value::from_json`] keeps integers as ints. `Display` is Go's `%v`.
//! * [`Templates`]: a set of associated templates (Go's `*template.Template`): [`Templates::parse`]
//!   adds the named template and its `define`/`block`s; [`Templates::execute`] runs one by name.
//!   Parse once, execute many times; executing does not mutate the set.
//! * Functions: [`Templates::add_func`] registers `Fn(&mut CallCtx, &[Value]) -> Result<Value,
//!   FuncError>`; functions must be registered before parsing templates that use them (Go checks
//!   at parse time). [`CallCtx`] lets a function run another template of the set
//!   ([`CallCtx::include`], Helm's `include`), parse and run new text against a copy of the set
//!   ([`CallCtx::tpl`], Helm's `tpl`), know where it is ([`CallCtx::template_name`]) and keep
//!   per-execution counters ([`CallCtx::counter`], for Helm's include recursion limit).
//! * [`Error`]: Go's exact messages, e.g. `template: x.yaml:3:7: executing "x.yaml" at
//!   <.Values.a.b>: nil pointer evaluating interface {}.b`.
//!
//! # Using it for Helm
//! * Build the set with [`Templates::with_sprig`]`("gotpl")` (Helm's set name, used in "no
//!   template associated with" errors), call `set_missing_key(MissingKey::Zero)` (Helm's
//!   `missingkey=zero`; `MissingKey::Error` for `--strict`), then register Helm's functions with
//!   [`Templates::add_func`] / [`Templates::add_func_arity`] *before* parsing: `include`, `tpl`,
//!   `required`, `toYaml`... (Sprig's `fromJson`/`toJson` are registered; replace them with
//!   Helm's versions where Helm differs, e.g. `fromJson` returning `map[Error:...]`).
//! * Parse each file with its chart path as the name (`mychart/templates/x.yaml`): errors then
//!   read `template: mychart/templates/x.yaml:12:20: executing "mychart/templates/x.yaml" at
//!   <.Values.x.y>: nil pointer evaluating interface {}.y`, as Helm prints them.
//! * Values from YAML: [`Value::from_json_helm`] (every number a float64, as Helm sees them);
//!   `--set` integers: [`Value::from_json`] (int64). `.Files`, `.Capabilities` and other
//!   objects with methods: implement [`Object`] (`field` for fields and niladic methods,
//!   `method` for methods with arguments such as `.Files.Get "x"`).
//! * `include`: `ctx.include(name, &data)`; Helm's per-name recursion limit can be kept with
//!   `*ctx.counter(name) += 1` (decrement after). `tpl`: `ctx.tpl(ctx.template_name(), text,
//!   &data)` (Helm parses the text as the current template's name in a clone of the set).
//!   Errors from them are complete Go errors; return them as `FuncError::Call(e.to_string())`
//!   (`From<Error>` does this) to get Go's `error calling include: template: ...` chain.
//! * [`sprig::parse_duration`], [`sprig::duration_string`], [`sprig::go_format`] and
//!   [`sprig::to_json_string`] give Go's `time.ParseDuration`, `Duration.String`,
//!   `Time.Format` and `json.Marshal` for Helm's own functions.
//!
//! # Known differences from Go
//! Go `int` and `int64` are one type here ([`Value::Int`], printed by `%T`/`typeOf` as `int`),
//! so Sprig results that are `int64` in Go (`add`, `int64`...) are accepted where Go would
//! reject an `int64` for an `int` parameter (`until (add 1 2)`). Error texts for literal
//! constants passed to typed parameters say `wrong type for value` where Go says
//! `expected string; found 3`. Regexp and JSON syntax error texts differ. `values` returns map
//! values in key order (Go: random order). `getHostByName` returns "" (no DNS while rendering).
//! Certificate functions (`genCA`, `genSignedCert`...) build Go's certificate layout, but Go's
//! own parser messages inside their errors (`x509: ...`, `asn1: ...`) are approximated, and
//! ECDSA keys on P-224 or P-521 handed to the `...WithKey` forms are refused (P-256 and P-384
//! work).
//!
//! # Limits (no input can hang or exhaust memory)
//! Nested template calls are limited to [`DEFAULT_MAX_DEPTH`] levels and
//! [`DEFAULT_STACK_BUDGET`] bytes of stack, execution steps to [`DEFAULT_MAX_STEPS`], output to
//! [`DEFAULT_MAX_OUTPUT`] bytes, Sprig-built lists/strings to 16 Mi elements, and template
//! nesting (control structures plus parentheses) to 100 levels; all but the last are
//! adjustable. Executions need a thread with at least 2 MiB of stack.

mod builtins;
mod error;
mod exec;
pub mod fmt;
mod lex;
mod parse;
pub mod sprig;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::{Error, ErrorKind, FuncError};
pub use value::{Map, Object, Value, format_float_g};

use parse::Tree;

/// What a template function returns.
pub type FuncResult = Result<Value, FuncError>;

/// A template function: receives the call context and the evaluated arguments (a piped value is
/// the last argument, as in Go).
pub type Func = Arc<dyn Fn(&mut CallCtx<'_, '_>, &[Value]) -> FuncResult + Send + Sync>;

#[derive(Clone)]
pub(crate) struct FuncEntry {
    pub f: Func,
    pub min: usize,
    pub max: Option<usize>,
    /// Receives Go's invalid value as `Value::Missing` instead of `Value::Nil` (internal: lets
    /// Sprig's map-typed parameters tell a missing key from a stored nil, as Go does).
    pub raw: bool,
}

/// Go's `missingkey` option: what a missing map key evaluates to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// Go's default (`missingkey=default`/`invalid`): the "no value" that prints `<no value>`.
    #[default]
    Invalid,
    /// `missingkey=zero`: the map element type's zero value; for `map[string]interface{}` that
    /// is nil. Helm uses this (so `.Values.a.b` with `a` missing fails with
    /// `nil pointer evaluating interface {}.b`).
    Zero,
    /// `missingkey=error`: execution stops with `map has no entry for key "x"` (Helm `--strict`).
    Error,
}

/// Default limit of nested template invocations (`template`, `include`, `tpl`).
pub const DEFAULT_MAX_DEPTH: usize = 1000;
/// Default limit of execution steps (nodes and commands evaluated) per top-level execution.
pub const DEFAULT_MAX_STEPS: u64 = 50_000_000;
/// Default stack a single execution may use for nested template calls, in bytes. Executions
/// run on threads with at least 2 MiB of stack (Rust's and tokio's default); nesting stops with
/// an "exceeded maximum template depth" error before that is used up.
pub const DEFAULT_STACK_BUDGET: usize = 1024 * 1024;
/// Default limit of output bytes per top-level execution (including nested includes).
pub const DEFAULT_MAX_OUTPUT: usize = 256 * 1024 * 1024;

/// A set of associated templates (Go's `*template.Template` and its namespace).
///
/// Cloning is cheap (trees and functions are shared), which is what Helm's `tpl` needs.
#[derive(Clone)]
pub struct Templates {
    name: Arc<str>,
    trees: HashMap<String, Arc<Tree>>,
    funcs: Arc<HashMap<String, FuncEntry>>,
    missing_key: MissingKey,
    left: Arc<str>,
    right: Arc<str>,
    max_depth: usize,
    max_steps: u64,
    max_output: usize,
    stack_budget: usize,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.trees.keys().collect();
        names.sort();
        f.debug_struct("Templates")
            .field("name", &self.name)
            .field("templates", &names)
            .field("missing_key", &self.missing_key)
            .finish()
    }
}

impl Templates {
    /// An empty set with only Go's builtin functions. `name` is the set's own name, used in
    /// "no template %q associated with template %q" errors (Helm calls its set `gotpl`).
    pub fn new(name: &str) -> Self {
        Templates {
            name: Arc::from(name),
            trees: HashMap::new(),
            funcs: Arc::new(HashMap::new()),
            missing_key: MissingKey::Invalid,
            left: Arc::from("{{"),
            right: Arc::from("}}"),
            max_depth: DEFAULT_MAX_DEPTH,
            max_steps: DEFAULT_MAX_STEPS,
            max_output: DEFAULT_MAX_OUTPUT,
            stack_budget: DEFAULT_STACK_BUDGET,
        }
    }

    /// A set with the Sprig functions Helm exposes (Sprig's `TxtFuncMap` minus `env` and
    /// `expandenv`).
    pub fn with_sprig(name: &str) -> Self {
        let mut t = Templates::new(name);
        sprig::register(&mut t);
        t
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registers (or replaces) a variadic function. User functions shadow builtins, as in Go.
    pub fn add_func<F>(&mut self, name: &str, f: F)
    where
        F: Fn(&mut CallCtx<'_, '_>, &[Value]) -> FuncResult + Send + Sync + 'static,
    {
        self.add_func_arity(name, 0, None, f);
    }

    /// Registers a function taking between `min` and `max` (inclusive; `None` = unbounded)
    /// arguments. The executor checks the count before evaluating arguments and reports Go's
    /// `wrong number of args for NAME: want N got M`.
    pub fn add_func_arity<F>(&mut self, name: &str, min: usize, max: Option<usize>, f: F)
    where
        F: Fn(&mut CallCtx<'_, '_>, &[Value]) -> FuncResult + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.funcs).insert(
            name.to_string(),
            FuncEntry {
                f: Arc::new(f),
                min,
                max,
                raw: false,
            },
        );
    }

    pub(crate) fn add_func_raw<F>(&mut self, name: &str, min: usize, max: Option<usize>, f: F)
    where
        F: Fn(&mut CallCtx<'_, '_>, &[Value]) -> FuncResult + Send + Sync + 'static,
    {
        Arc::make_mut(&mut self.funcs).insert(
            name.to_string(),
            FuncEntry {
                f: Arc::new(f),
                min,
                max,
                raw: true,
            },
        );
    }

    /// Removes a function (e.g. Helm removes Sprig's `env` and `expandenv`).
    pub fn remove_func(&mut self, name: &str) {
        Arc::make_mut(&mut self.funcs).remove(name);
    }

    /// True when `name` is a user function or a builtin.
    pub fn has_func(&self, name: &str) -> bool {
        self.funcs.contains_key(name) || builtins::is_builtin(name)
    }

    /// Go's `Option("missingkey=...")`: accepts `missingkey=default|invalid|zero|error`.
    pub fn option(&mut self, opt: &str) -> Result<(), String> {
        self.missing_key = match opt {
            "missingkey=default" | "missingkey=invalid" => MissingKey::Invalid,
            "missingkey=zero" => MissingKey::Zero,
            "missingkey=error" => MissingKey::Error,
            _ => return Err(format!("unrecognized option: {opt}")),
        };
        Ok(())
    }

    /// Sets the missing-key behaviour.
    pub fn set_missing_key(&mut self, m: MissingKey) {
        self.missing_key = m;
    }

    /// Go's `Delims`: empty strings mean the defaults `{{` and `}}`. Affects later parses.
    pub fn set_delims(&mut self, left: &str, right: &str) {
        self.left = Arc::from(if left.is_empty() { "{{" } else { left });
        self.right = Arc::from(if right.is_empty() { "}}" } else { right });
    }

    /// Limits nested template invocations (`template`, `include`, `tpl`).
    pub fn set_max_depth(&mut self, n: usize) {
        self.max_depth = n;
    }

    /// Limits execution steps per top-level execution.
    pub fn set_max_steps(&mut self, n: u64) {
        self.max_steps = n;
    }

    /// Limits the stack used by nested template calls (see [`DEFAULT_STACK_BUDGET`]); raise it
    /// only when executing on threads with larger stacks.
    pub fn set_stack_budget(&mut self, bytes: usize) {
        self.stack_budget = bytes;
    }

    /// Limits output bytes per top-level execution.
    pub fn set_max_output(&mut self, n: usize) {
        self.max_output = n;
    }

    /// Parses `text` as the template `name` (Go's `t.New(name).Parse(text)`), adding it and every
    /// `define`/`block` in it to the set. A later definition of a name replaces an earlier one,
    /// except that an empty body never replaces a non-empty one (Go's rule). On error the set is
    /// unchanged.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), Error> {
        let funcs = &self.funcs;
        let has = |n: &str| funcs.contains_key(n) || builtins::is_builtin(n);
        let trees = parse::parse(name, text, &self.left, &self.right, &has)?;
        for t in trees {
            if let Some(old) = self.trees.get(&t.name)
                && parse::is_empty_tree(&t.root)
                && !parse::is_empty_tree(&old.root)
            {
                continue;
            }
            self.trees.insert(t.name.clone(), Arc::new(t));
        }
        Ok(())
    }

    /// True when a template of that name is defined (Go's `Lookup(name) != nil`).
    pub fn has(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// Alias of [`Templates::has`], named like Go's `Lookup`.
    pub fn lookup(&self, name: &str) -> bool {
        self.has(name)
    }

    /// The names of all templates in the set, sorted.
    pub fn template_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.trees.keys().cloned().collect();
        v.sort();
        v
    }

    /// Executes template `name` with `data` as dot (Go's `ExecuteTemplate`).
    pub fn execute(&self, name: &str, data: &Value) -> Result<String, Error> {
        let mut shared = exec::Shared::new(self);
        exec::execute_named(self, &mut shared, name, data, 0)
    }
}

/// What a function sees of the running execution.
pub struct CallCtx<'s, 'a> {
    pub(crate) st: &'s mut exec::State<'a>,
}

impl CallCtx<'_, '_> {
    /// The name of the template being executed (Go's `s.tmpl.Name()`), e.g. a Helm file name or
    /// a `define` name.
    pub fn template_name(&self) -> &str {
        &self.st.tree.name
    }

    /// The name of the file (top-level parse) the executing template came from.
    pub fn file_name(&self) -> &str {
        &self.st.tree.parse_name
    }

    /// The template set being executed.
    pub fn templates(&self) -> &Templates {
        self.st.set
    }

    /// Current nesting depth of template invocations (0 at the top-level template).
    pub fn depth(&self) -> usize {
        self.st.depth
    }

    /// A counter scoped to the whole top-level execution (shared by nested includes and tpl),
    /// e.g. for Helm's per-name include recursion limit. Starts at 0.
    pub fn counter(&mut self, key: &str) -> &mut usize {
        self.st.shared.counters.entry(key.to_string()).or_insert(0)
    }

    /// Executes template `name` of the current set with `data` and returns its output (Helm's
    /// `include`). Errors are the inner template's errors.
    pub fn include(&mut self, name: &str, data: &Value) -> Result<String, Error> {
        let set = self.st.set;
        let depth = self.st.depth + 1;
        exec::execute_named(set, self.st.shared, name, data, depth)
    }

    /// Parses `text` as template `name` into a copy of the current set (so it can use the set's
    /// `define`s and add its own) and executes it with `data` (Helm's `tpl`).
    pub fn tpl(&mut self, name: &str, text: &str, data: &Value) -> Result<String, Error> {
        let mut set = self.st.set.clone();
        set.parse(name, text)?;
        let depth = self.st.depth + 1;
        exec::execute_named(&set, self.st.shared, name, data, depth)
    }
}
