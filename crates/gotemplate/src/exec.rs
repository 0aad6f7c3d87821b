//! The executor: walks parsed trees with Go's `text/template` evaluation rules.
//!
//! Over 600 lines: one evaluator over Go's node kinds; splitting the recursive walk would scatter one algorithm.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;

use crate::builtins;
use crate::error::{Error, FuncError};
use crate::parse::{Arg, Branch, Command, Node, Number, Pipe, Tree};
use crate::value::{Value, write_v};
use crate::{CallCtx, MissingKey, Templates};

/// State shared by a top-level execution and everything it invokes (includes, tpl).
pub(crate) struct Shared {
    pub counters: HashMap<String, usize>,
    /// Address of a local in the top-level execution frame: nested executions compare against
    /// it to stay within `stack_budget` bytes of stack whatever the thread's stack size.
    stack_base: usize,
    stack_budget: usize,
    steps: u64,
    max_steps: u64,
    output: usize,
    max_output: usize,
}

/// The address of a local variable of the calling frame (the stack pointer, roughly).
#[inline(never)]
fn stack_addr() -> usize {
    let x = 0u8;
    std::hint::black_box(&x) as *const u8 as usize
}

impl Shared {
    fn stack_exhausted(&self) -> bool {
        self.stack_base != 0 && self.stack_base.abs_diff(stack_addr()) > self.stack_budget
    }

    pub(crate) fn new(set: &Templates) -> Shared {
        Shared {
            counters: HashMap::new(),
            stack_base: 0,
            stack_budget: set.stack_budget,
            steps: 0,
            max_steps: set.max_steps,
            output: 0,
            max_output: set.max_output,
        }
    }
}

pub(crate) struct State<'a> {
    pub set: &'a Templates,
    pub shared: &'a mut Shared,
    pub tree: Arc<Tree>,
    pub vars: Vec<(String, Value)>,
    pub depth: usize,
    pub out: String,
}

#[derive(PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

type R<T> = Result<T, Error>;

/// Executes the named template of `set` with `data`, returning its output.
pub(crate) fn execute_named(
    set: &Templates,
    shared: &mut Shared,
    name: &str,
    data: &Value,
    depth: usize,
) -> Result<String, Error> {
    let Some(tree) = set.trees.get(name).cloned() else {
        return Err(Error::no_template(name, &set.name));
    };
    if shared.stack_base == 0 {
        shared.stack_base = stack_addr();
    }
    if depth > set.max_depth || shared.stack_exhausted() {
        return Err(Error::exec_plain(
            name,
            format!("exceeded maximum template depth ({})", set.max_depth),
        ));
    }
    // Go: reflect.ValueOf(nil) is the invalid value.
    let data = match data {
        Value::Nil => Value::Missing,
        v => v.clone(),
    };
    let mut st = State {
        set,
        shared,
        tree: tree.clone(),
        vars: vec![("$".to_string(), data.clone())],
        depth,
        out: String::new(),
    };
    st.walk(&data, &tree.root)?;
    Ok(st.out)
}

impl<'a> State<'a> {
    fn err(&self, pos: usize, ctx: &dyn Display, msg: String) -> Error {
        let (line, col) = self.tree.location(pos);
        Error::exec(
            &self.tree.parse_name,
            line,
            col,
            &self.tree.name,
            &ctx.to_string(),
            msg,
        )
    }

    fn step(&mut self, pos: usize, ctx: &dyn Display) -> R<()> {
        self.shared.steps += 1;
        if self.shared.steps > self.shared.max_steps {
            return Err(self.err(
                pos,
                ctx,
                format!(
                    "execution exceeded the limit of {} steps",
                    self.shared.max_steps
                ),
            ));
        }
        Ok(())
    }

    fn write(&mut self, s: &str, pos: usize, ctx: &dyn Display) -> R<()> {
        self.shared.output += s.len();
        if self.shared.output > self.shared.max_output {
            return Err(self.err(
                pos,
                ctx,
                format!(
                    "output exceeds the limit of {} bytes",
                    self.shared.max_output
                ),
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> R<Flow> {
        for node in nodes {
            match node {
                Node::Text(t) => {
                    self.shared.steps += 1;
                    self.write(t, 0, &"")?;
                }
                Node::Action(pipe) => {
                    self.step(pipe.pos, pipe)?;
                    let v = self.eval_pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.print_value(pipe, &v)?;
                    }
                }
                Node::If(b) => {
                    let f = self.walk_if_with(dot, b, false)?;
                    if f != Flow::Normal {
                        return Ok(f);
                    }
                }
                Node::With(b) => {
                    let f = self.walk_if_with(dot, b, true)?;
                    if f != Flow::Normal {
                        return Ok(f);
                    }
                }
                Node::Range(b) => self.walk_range(dot, b)?,
                Node::Template { pos, name, pipe } => self.walk_template(dot, *pos, name, pipe)?,
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
                Node::Comment => {}
            }
        }
        Ok(Flow::Normal)
    }

    fn print_value(&mut self, pipe: &Pipe, v: &Value) -> R<()> {
        match v {
            Value::Missing | Value::Nil => self.write("<no value>", pipe.pos, pipe),
            Value::String(s) => self.write(s, pipe.pos, pipe),
            Value::Object(o) if o.kind() == "func" => Err(self.err(
                pipe.pos,
                pipe,
                format!("can't print {pipe} of type {}", o.type_name()),
            )),
            v => {
                let mut s = String::new();
                write_v(&mut s, v, 0);
                if s.len() > crate::value::MAX_PRINT_BYTES {
                    return Err(self.err(
                        pipe.pos,
                        pipe,
                        format!(
                            "value is too large to print (over {} bytes; does it contain itself?)",
                            crate::value::MAX_PRINT_BYTES
                        ),
                    ));
                }
                self.write(&s, pipe.pos, pipe)
            }
        }
    }

    fn walk_if_with(&mut self, dot: &Value, b: &Branch, with: bool) -> R<Flow> {
        self.step(b.pos, &b.pipe)?;
        let mark = self.vars.len();
        let r = (|| {
            let val = self.eval_pipeline(dot, &b.pipe)?;
            if val.truthy() {
                if with {
                    self.walk(&val, &b.list)
                } else {
                    self.walk(dot, &b.list)
                }
            } else if let Some(e) = &b.else_list {
                self.walk(dot, e)
            } else {
                Ok(Flow::Normal)
            }
        })();
        self.vars.truncate(mark);
        r
    }

    fn walk_range(&mut self, dot: &Value, b: &Branch) -> R<()> {
        self.step(b.pos, &b.pipe)?;
        let outer = self.vars.len();
        let r = self.walk_range_inner(dot, b);
        self.vars.truncate(outer);
        r
    }

    fn range_iteration(&mut self, b: &Branch, mark: usize, index: Value, elem: Value) -> R<Flow> {
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(b, &decl[0], index.clone())?;
                } else {
                    self.set_var(b, &decl[0], elem.clone())?;
                }
            } else {
                let n = self.vars.len();
                self.vars[n - 1].1 = elem.clone();
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(b, &decl[1], elem.clone())?;
            } else {
                let n = self.vars.len();
                self.vars[n - 2].1 = index;
            }
        }
        let r = self.walk(&elem, &b.list);
        self.vars.truncate(mark);
        r
    }

    fn walk_range_inner(&mut self, dot: &Value, b: &Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let val = val.reflected().into_owned();
        let mark = self.vars.len();
        match &val {
            Value::List(l) if !l.is_empty() => {
                for (i, e) in l.iter().enumerate() {
                    self.step(b.pos, &b.pipe)?;
                    if self.range_iteration(b, mark, Value::from(i), e.clone())? == Flow::Break {
                        break;
                    }
                }
                return Ok(());
            }
            Value::Bytes(bs) if !bs.is_empty() => {
                for (i, e) in bs.iter().enumerate() {
                    self.step(b.pos, &b.pipe)?;
                    let e = Value::Int(i64::from(*e));
                    if self.range_iteration(b, mark, Value::from(i), e)? == Flow::Break {
                        break;
                    }
                }
                return Ok(());
            }
            Value::Map(m) if !m.is_empty() => {
                // Snapshot: the body may modify the map (Sprig `set`).
                let entries: Vec<(String, Value)> = m
                    .read()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                for (k, v) in entries {
                    self.step(b.pos, &b.pipe)?;
                    if self.range_iteration(b, mark, Value::str(&k), v)? == Flow::Break {
                        break;
                    }
                }
                return Ok(());
            }
            Value::Int(_) | Value::Uint(_) => {
                if b.pipe.decl.len() > 1 {
                    return Err(self.err(
                        b.pos,
                        &b.pipe,
                        format!("can't use {val} to iterate over more than one variable"),
                    ));
                }
                let n = match val {
                    Value::Int(i) => i,
                    Value::Uint(u) => i64::try_from(u).unwrap_or(i64::MAX),
                    _ => 0,
                };
                if n > 0 {
                    for i in 0..n {
                        self.step(b.pos, &b.pipe)?;
                        let v = Value::Int(i);
                        if self.range_iteration(b, mark, v.clone(), v)? == Flow::Break {
                            break;
                        }
                    }
                    return Ok(());
                }
            }
            Value::List(_) | Value::Map(_) | Value::Bytes(_) | Value::Missing | Value::Nil => {}
            Value::Object(o) if !o.truthy() => {}
            v => {
                return Err(self.err(b.pos, &b.pipe, format!("range can't iterate over {v}")));
            }
        }
        if let Some(e) = &b.else_list {
            self.walk(dot, e)?;
        }
        Ok(())
    }

    fn walk_template(&mut self, dot: &Value, pos: usize, name: &str, pipe: &Option<Pipe>) -> R<()> {
        let ctx = TemplateCtx(name, pipe);
        self.step(pos, &ctx)?;
        let Some(tree) = self.set.trees.get(name).cloned() else {
            return Err(self.err(
                pos,
                &ctx,
                format!("template {} not defined", crate::fmt::quote_go(name)),
            ));
        };
        if self.depth >= self.set.max_depth || self.shared.stack_exhausted() {
            return Err(self.err(
                pos,
                &ctx,
                format!("exceeded maximum template depth ({})", self.set.max_depth),
            ));
        }
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Missing,
        };
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
        let saved_tree = std::mem::replace(&mut self.tree, tree.clone());
        self.depth += 1;
        let r = self.walk(&new_dot, &tree.root);
        self.depth -= 1;
        self.tree = saved_tree;
        self.vars = saved_vars;
        r.map(|_| ())
    }

    fn set_var(&mut self, b: &Branch, name: &str, v: Value) -> R<()> {
        self.set_var_at(b.pos, &b.pipe, name, v)
    }

    fn set_var_at(&mut self, pos: usize, ctx: &dyn Display, name: &str, v: Value) -> R<()> {
        for var in self.vars.iter_mut().rev() {
            if var.0 == name {
                var.1 = v;
                return Ok(());
            }
        }
        Err(self.err(pos, ctx, format!("undefined variable: {name}")))
    }

    fn var_value(&self, pos: usize, ctx: &dyn Display, name: &str) -> R<Value> {
        for var in self.vars.iter().rev() {
            if var.0 == name {
                return Ok(var.1.clone());
            }
        }
        Err(self.err(pos, ctx, format!("undefined variable: {name}")))
    }

    pub(crate) fn eval_pipeline(&mut self, dot: &Value, pipe: &Pipe) -> R<Value> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // Go unwraps interface values: a nil interface becomes the invalid value.
            value = Some(match v {
                Value::Nil => Value::Missing,
                v => v,
            });
        }
        let value = value.unwrap_or(Value::Missing);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var_at(pipe.pos, pipe, name, value.clone())?;
            } else {
                self.vars.push((name.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Command, final_: &Option<Value>) -> R<()> {
        if cmd.args.len() > 1 || final_.is_some() {
            return Err(self.err(
                cmd.args[0].pos(),
                &cmd.args[0],
                format!("can't give argument to non-function {}", cmd.args[0]),
            ));
        }
        Ok(())
    }

    fn eval_command(&mut self, dot: &Value, cmd: &Command, final_: Option<Value>) -> R<Value> {
        let first = &cmd.args[0];
        let rest = &cmd.args[1..];
        match first {
            Arg::Field { idents, .. } => {
                return self.eval_field_chain(dot, dot.clone(), first, idents, rest, final_);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, rest, final_),
            Arg::Identifier { name, pos } => {
                return self.eval_function(dot, name, *pos, cmd, rest, final_);
            }
            Arg::Pipe(p) => {
                if cmd.args.len() > 1 || final_.is_some() {
                    return Err(self.err(
                        cmd.pos,
                        cmd,
                        format!("can't give argument to non-function {}", cmd.args[0]),
                    ));
                }
                return self.eval_pipeline(dot, p);
            }
            Arg::Variable { idents, pos } => {
                return self.eval_variable(dot, *pos, first, idents, rest, final_);
            }
            _ => {}
        }
        self.not_a_function(cmd, &final_)?;
        match first {
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Nil(pos) => Err(self.err(*pos, first, "nil is not a command".into())),
            Arg::Number { pos, value, .. } => self.ideal_constant(*pos, first, value),
            Arg::String { value, .. } => Ok(Value::String(value.clone())),
            _ => Err(self.err(
                first.pos(),
                first,
                format!(
                    "can't evaluate command {}",
                    crate::fmt::quote_go(&first.to_string())
                ),
            )),
        }
    }

    fn ideal_constant(&self, pos: usize, node: &Arg, n: &Number) -> R<Value> {
        match n {
            Number::Int(i) => Ok(Value::Int(*i)),
            Number::Float(f) => Ok(Value::Float(*f)),
            Number::Complex(r, i) => Ok(Value::Complex(*r, *i)),
            Number::Bad(msg) => Err(self.err(pos, node, msg.clone())),
        }
    }

    fn eval_variable(
        &mut self,
        dot: &Value,
        pos: usize,
        node: &Arg,
        idents: &[String],
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        let value = self.var_value(pos, node, &idents[0])?;
        if idents.len() == 1 {
            if !args.is_empty() || final_.is_some() {
                return Err(self.err(
                    pos,
                    node,
                    format!("can't give argument to non-function {node}"),
                ));
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, node, &idents[1..], args, final_)
    }

    fn eval_chain(
        &mut self,
        dot: &Value,
        chain: &Arg,
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        let Arg::Chain { pos, node, fields } = chain else {
            return Ok(Value::Missing);
        };
        if let Arg::Nil(_) = **node {
            return Err(self.err(
                *pos,
                chain,
                format!("indirection through explicit nil in {chain}"),
            ));
        }
        let recv = self.eval_arg(dot, node)?;
        self.eval_field_chain(dot, recv, chain, fields, args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value,
        receiver: Value,
        node: &Arg,
        idents: &[String],
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        let n = idents.len();
        let mut recv = receiver;
        let mut iface = false;
        for ident in &idents[..n - 1] {
            // A value looked up in a map is an `interface{}` to Go.
            let from_map = matches!(recv, Value::Map(_));
            recv = self.eval_field(dot, ident, node, &[], None, recv, iface)?;
            iface = from_map;
        }
        self.eval_field(dot, &idents[n - 1], node, args, final_, recv, iface)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_field(
        &mut self,
        dot: &Value,
        name: &str,
        node: &Arg,
        args: &[Arg],
        final_: Option<Value>,
        receiver: Value,
        iface: bool,
    ) -> R<Value> {
        let pos = node.pos();
        let has_args = !args.is_empty() || final_.is_some();
        match receiver {
            Value::Missing => {
                if self.set.missing_key == MissingKey::Error {
                    return Err(self.err(
                        pos,
                        node,
                        format!("nil data; no entry for key {}", crate::fmt::quote_go(name)),
                    ));
                }
                Ok(Value::Missing)
            }
            Value::Nil => Err(self.err(
                pos,
                node,
                format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            Value::Map(m) => {
                if has_args {
                    return Err(self.err(
                        pos,
                        node,
                        format!("{name} is not a method but has arguments"),
                    ));
                }
                match m.get(name) {
                    Some(v) => Ok(v),
                    None => match self.set.missing_key {
                        MissingKey::Invalid => Ok(Value::Missing),
                        MissingKey::Zero => Ok(Value::Nil),
                        MissingKey::Error => Err(self.err(
                            pos,
                            node,
                            format!("map has no entry for key {}", crate::fmt::quote_go(name)),
                        )),
                    },
                }
            }
            Value::Object(o) => {
                let mut argv = Vec::with_capacity(args.len() + 1);
                for a in args {
                    argv.push(self.eval_arg(dot, a)?.or_nil());
                }
                if let Some(f) = final_ {
                    argv.push(f.or_nil());
                }
                if let Some(r) = o.method(name, &argv) {
                    return r
                        .map_err(|e| self.err(pos, node, format!("error calling {name}: {e}")));
                }
                match o.field(name) {
                    Some(_) if has_args => Err(self.err(
                        pos,
                        node,
                        format!("{name} has arguments but cannot be invoked as function"),
                    )),
                    Some(v) => Ok(v),
                    None => Err(self.err(
                        pos,
                        node,
                        format!(
                            "can't evaluate field {name} in type {}",
                            if iface {
                                "interface {}".to_string()
                            } else {
                                o.type_name()
                            }
                        ),
                    )),
                }
            }
            v => Err(self.err(
                pos,
                node,
                format!(
                    "can't evaluate field {name} in type {}",
                    if iface {
                        "interface {}".to_string()
                    } else {
                        v.type_name()
                    }
                ),
            )),
        }
    }

    /// Evaluates an argument for an `interface{}` parameter (Go's `evalEmptyInterface`).
    fn eval_arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        self.step(arg.pos(), arg)?;
        match arg {
            Arg::Bool(_, b) => Ok(Value::Bool(*b)),
            Arg::Dot(_) => Ok(dot.clone()),
            Arg::Field { idents, .. } => {
                self.eval_field_chain(dot, dot.clone(), arg, idents, &[], None)
            }
            Arg::Identifier { name, pos } => {
                let cmd = Command {
                    pos: *pos,
                    args: Vec::new(),
                };
                self.eval_function_named(dot, name, *pos, &cmd, arg, &[], None)
            }
            // An untyped nil: Go gives the parameter type's zero value (nil for interface{} and
            // map parameters alike), which is what the invalid value becomes.
            Arg::Nil(_) => Ok(Value::Missing),
            Arg::Number { pos, value, .. } => self.ideal_constant(*pos, arg, value),
            Arg::String { value, .. } => Ok(Value::String(value.clone())),
            Arg::Variable { idents, pos } => self.eval_variable(dot, *pos, arg, idents, &[], None),
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Chain { .. } => self.eval_chain(dot, arg, &[], None),
        }
    }

    fn eval_function(
        &mut self,
        dot: &Value,
        name: &str,
        pos: usize,
        cmd: &Command,
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        self.eval_function_named(dot, name, pos, cmd, cmd, args, final_)
    }

    #[allow(clippy::too_many_arguments)]
    fn eval_function_named(
        &mut self,
        dot: &Value,
        name: &str,
        pos: usize,
        cmd: &Command,
        ctx: &dyn Display,
        args: &[Arg],
        final_: Option<Value>,
    ) -> R<Value> {
        let ident_ctx = name;
        let user = self.set.funcs.get(name).cloned();
        let (min, max) = match &user {
            Some(e) => (e.min, e.max),
            None => match builtins::arity(name) {
                Some(a) => a,
                None => {
                    return Err(self.err(
                        pos,
                        &ident_ctx,
                        format!("{} is not a defined function", crate::fmt::quote_go(name)),
                    ));
                }
            },
        };
        let num_in = args.len() + usize::from(final_.is_some());
        if num_in < min || max.is_some_and(|m| num_in > m) {
            let msg = match max {
                Some(m) if m == min => {
                    format!("wrong number of args for {name}: want {m} got {num_in}")
                }
                _ if num_in < min => {
                    format!("wrong number of args for {name}: want at least {min} got {num_in}")
                }
                Some(m) => {
                    format!("wrong number of args for {name}: want at most {m} got {num_in}")
                }
                None => format!("wrong number of args for {name}: got {num_in}"),
            };
            return Err(self.err(pos, &ident_ctx, msg));
        }
        let cmd_pos = if cmd.args.is_empty() { pos } else { cmd.pos };
        if user.is_none() && (name == "and" || name == "or") {
            let is_or = name == "or";
            let mut v = Value::Missing;
            for a in args {
                v = self.eval_arg(dot, a)?;
                if v.truthy() == is_or {
                    return Ok(v);
                }
            }
            if let Some(f) = final_ {
                v = f;
            }
            return Ok(v);
        }
        let raw = user.as_ref().is_some_and(|e| e.raw);
        let mut argv = Vec::with_capacity(num_in);
        for a in args {
            let v = self.eval_arg(dot, a)?;
            argv.push(if raw { v } else { v.or_nil() });
        }
        if let Some(f) = final_ {
            argv.push(if raw { f } else { f.or_nil() });
        }
        let r = match user {
            Some(e) => {
                let mut cc = CallCtx { st: self };
                (e.f)(&mut cc, &argv)
            }
            None => builtins::call(name, &argv),
        };
        match r {
            Ok(v) => Ok(v),
            Err(FuncError::Call(m)) => {
                Err(self.err(cmd_pos, ctx, format!("error calling {name}: {m}")))
            }
            Err(FuncError::Exec(m)) => Err(self.err(cmd_pos, ctx, m)),
            Err(FuncError::Arg(i, m)) => match args.get(i) {
                Some(a) => Err(self.err(a.pos(), a, m)),
                None => Err(self.err(cmd_pos, ctx, m)),
            },
        }
    }
}

struct TemplateCtx<'a>(&'a str, &'a Option<Pipe>);

impl Display for TemplateCtx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Some(p) => write!(f, "{{{{template {} {p}}}}}", crate::fmt::quote_go(self.0)),
            None => write!(f, "{{{{template {}}}}}", crate::fmt::quote_go(self.0)),
        }
    }
}
