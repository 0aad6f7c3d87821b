//! The parser: Go's `text/template/parse`, producing the trees the executor walks.

use std::fmt;
use std::sync::Arc;

use crate::error::Error;
use crate::lex::{Item, Tok, lex};

/// A parsed template body (Go's `parse.Tree`).
#[derive(Debug)]
pub(crate) struct Tree {
    /// The template's name (`define` name, or the name given to `parse`).
    pub name: String,
    /// The name of the top-level template being parsed (the file), used in error locations.
    pub parse_name: Arc<str>,
    /// The full source text the positions refer to.
    pub text: Arc<str>,
    pub root: Vec<Node>,
}

impl Tree {
    /// `NAME:LINE:COL` of byte offset `pos`, exactly as Go's `ErrorContext` computes it.
    pub(crate) fn location(&self, pos: usize) -> (usize, usize) {
        let pos = pos.min(self.text.len());
        let before = &self.text.as_bytes()[..pos];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let col = match before.iter().rposition(|&b| b == b'\n') {
            Some(nl) => pos - (nl + 1),
            None => pos,
        };
        (line, col)
    }
}

#[derive(Debug)]
pub(crate) enum Node {
    Text(Box<str>),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
    Comment,
}

#[derive(Debug)]
pub(crate) struct Branch {
    pub pos: usize,
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// A parsed number constant with Go's "ideal constant" interpretation precomputed.
#[derive(Debug, Clone)]
pub(crate) enum Number {
    Int(i64),
    Float(f64),
    Complex(f64, f64),
    /// Complex constants and ints overflowing int64: an error when used.
    Bad(String),
}

#[derive(Debug)]
pub(crate) enum Arg {
    Field {
        pos: usize,
        idents: Vec<String>,
    },
    Variable {
        pos: usize,
        idents: Vec<String>,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Vec<String>,
    },
    Identifier {
        pos: usize,
        name: String,
    },
    Dot(usize),
    Nil(usize),
    Bool(usize, bool),
    Number {
        pos: usize,
        text: String,
        value: Number,
    },
    String {
        pos: usize,
        quoted: String,
        value: Arc<str>,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub(crate) fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Identifier { pos, .. }
            | Arg::Dot(pos)
            | Arg::Nil(pos)
            | Arg::Bool(pos, _)
            | Arg::Number { pos, .. }
            | Arg::String { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Variable { idents, .. } => f.write_str(&idents.join(".")),
            Arg::Chain { node, fields, .. } => {
                if matches!(**node, Arg::Pipe(_)) {
                    write!(f, "({node})")?;
                } else {
                    write!(f, "{node}")?;
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Identifier { name, .. } => f.write_str(name),
            Arg::Dot(_) => f.write_str("."),
            Arg::Nil(_) => f.write_str("nil"),
            Arg::Bool(_, b) => write!(f, "{b}"),
            Arg::Number { text, .. } => f.write_str(text),
            Arg::String { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(_) = a {
                write!(f, "({a})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// Parses `text` as template `name`. `has_func` tells which function names exist (Go checks
/// them at parse time). Returns the trees in definition order.
pub(crate) fn parse(
    name: &str,
    text: &str,
    left: &str,
    right: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Tree>, Error> {
    let items = lex(text, left, right, false);
    let mut p = Parser {
        items,
        idx: 0,
        parse_name: Arc::from(name),
        text: Arc::from(text),
        vars: vec!["$".to_string()],
        range_depth: 0,
        nesting: 0,
        has_func,
        trees: Vec::new(),
    };
    let root = p.parse_top()?;
    let mut trees = std::mem::take(&mut p.trees);
    add_tree(
        &mut trees,
        Tree {
            name: name.to_string(),
            parse_name: p.parse_name.clone(),
            text: p.text.clone(),
            root,
        },
        &p,
    )?;
    Ok(trees)
}

fn add_tree(trees: &mut Vec<Tree>, t: Tree, p: &Parser) -> Result<(), Error> {
    if let Some(i) = trees.iter().position(|x| x.name == t.name) {
        if is_empty_tree(&trees[i].root) {
            trees[i] = t;
            return Ok(());
        }
        if !is_empty_tree(&t.root) {
            return Err(p.error_at_line(
                1,
                format!("template: multiple definition of template {:?}", t.name),
            ));
        }
        return Ok(());
    }
    trees.push(t);
    Ok(())
}

/// Go's `parse.IsEmptyTree`: only whitespace text and comments.
pub(crate) fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim_matches([' ', '\t', '\r', '\n']).is_empty(),
        Node::Comment => true,
        _ => false,
    })
}

/// Deepest nesting of `if`/`range`/`with`/`block`/parentheses accepted (Go has no limit; real
/// templates stay far below it, and it keeps the recursive parser and executor off the end of
/// the stack).
const MAX_NESTING: usize = 100;

struct Parser<'f> {
    items: Vec<Item>,
    idx: usize,
    parse_name: Arc<str>,
    text: Arc<str>,
    vars: Vec<String>,
    range_depth: usize,
    /// Current nesting of parentheses and control structures (bounded to protect the stack).
    nesting: usize,
    has_func: &'f dyn Fn(&str) -> bool,
    trees: Vec<Tree>,
}

/// Result of parsing an item list: the list and the node that ended it.
enum End {
    End,
    Else,
}

type PResult<T> = Result<T, Error>;

impl Parser<'_> {
    fn eof_item(&self) -> Item {
        Item {
            typ: Tok::Eof,
            pos: self.text.len(),
            val: String::new(),
            line: self.items.last().map_or(1, |i| i.line),
        }
    }
    fn next(&mut self) -> Item {
        let it = self
            .items
            .get(self.idx)
            .cloned()
            .unwrap_or_else(|| self.eof_item());
        if self.idx < self.items.len() {
            self.idx += 1;
        }
        it
    }
    fn backup(&mut self) {
        self.idx = self.idx.saturating_sub(1);
    }
    fn peek(&self) -> Item {
        self.items
            .get(self.idx)
            .cloned()
            .unwrap_or_else(|| self.eof_item())
    }
    fn next_non_space(&mut self) -> Item {
        loop {
            let it = self.next();
            if it.typ != Tok::Space {
                return it;
            }
        }
    }
    fn peek_non_space(&mut self) -> Item {
        let it = self.next_non_space();
        self.backup();
        it
    }

    fn error_at_line(&self, line: usize, msg: String) -> Error {
        Error::parse(&self.parse_name, line, msg)
    }

    /// The line of the most recently consumed token (Go's `t.token[0].line`).
    fn cur_line(&self) -> usize {
        if self.idx == 0 {
            return self.peek().line;
        }
        self.items
            .get(self.idx - 1)
            .map_or_else(|| self.eof_item().line, |i| i.line)
    }

    fn errorf(&self, msg: String) -> Error {
        self.error_at_line(self.cur_line(), msg)
    }

    fn unexpected(&self, it: &Item, context: &str) -> Error {
        if it.typ == Tok::Error {
            return self.error_at_line(it.line, it.val.clone());
        }
        self.error_at_line(it.line, format!("unexpected {it} in {context}"))
    }

    fn expect(&mut self, typ: Tok, context: &str) -> PResult<Item> {
        let it = self.next_non_space();
        if it.typ != typ {
            return Err(self.unexpected(&it, context));
        }
        Ok(it)
    }

    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().typ != Tok::Eof {
            if self.peek().typ == Tok::LeftDelim {
                let save = self.idx;
                self.next();
                if self.next_non_space().typ == Tok::Define {
                    self.parse_definition()?;
                    continue;
                }
                self.idx = save;
            }
            match self.text_or_action()? {
                Item2::Node(n) => root.push(n),
                Item2::End => {
                    return Err(self.errorf("unexpected {{end}}".into()));
                }
                Item2::Else => return Err(self.errorf("unexpected {{else}}".into())),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let name_item = self.next_non_space();
        let name = match name_item.typ {
            Tok::String | Tok::RawString => {
                unquote(&name_item.val).map_err(|e| self.error_at_line(name_item.line, e))?
            }
            _ => return Err(self.unexpected(&name_item, context)),
        };
        self.expect(Tok::RightDelim, context)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        if let End::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {context}")));
        }
        let tree = Tree {
            name,
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root: list,
        };
        let mut trees = std::mem::take(&mut self.trees);
        let r = add_tree(&mut trees, tree, self);
        self.trees = trees;
        r
    }

    fn item_list(&mut self) -> PResult<(Vec<Node>, End)> {
        let mut list = Vec::new();
        while self.peek_non_space().typ != Tok::Eof {
            match self.text_or_action()? {
                Item2::Node(n) => list.push(n),
                Item2::End => return Ok((list, End::End)),
                Item2::Else => return Ok((list, End::Else)),
            }
        }
        Err(self.errorf("unexpected EOF".into()))
    }

    fn text_or_action(&mut self) -> PResult<Item2> {
        let tok = self.next_non_space();
        match tok.typ {
            Tok::Text => Ok(Item2::Node(Node::Text(tok.val.into_boxed_str()))),
            Tok::LeftDelim => self.action(),
            Tok::Comment => Ok(Item2::Node(Node::Comment)),
            _ => Err(self.unexpected(&tok, "input")),
        }
    }

    fn action(&mut self) -> PResult<Item2> {
        let tok = self.next_non_space();
        match tok.typ {
            Tok::Block => return self.block_control().map(Item2::Node),
            Tok::Break => return self.break_control(true).map(Item2::Node),
            Tok::Continue => return self.break_control(false).map(Item2::Node),
            Tok::Else => return self.else_control(),
            Tok::End => {
                self.expect(Tok::RightDelim, "end")?;
                return Ok(Item2::End);
            }
            Tok::If => return self.if_control().map(Item2::Node),
            Tok::Range => {
                let b = self.parse_control("range")?;
                return Ok(Item2::Node(Node::Range(b)));
            }
            Tok::Template => return self.template_control().map(Item2::Node),
            Tok::With => {
                let b = self.parse_control("with")?;
                return Ok(Item2::Node(Node::With(b)));
            }
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", Tok::RightDelim)?;
        Ok(Item2::Node(Node::Action(pipe)))
    }

    fn break_control(&mut self, is_break: bool) -> PResult<Node> {
        let word = if is_break { "break" } else { "continue" };
        let tok = self.next_non_space();
        if tok.typ != Tok::RightDelim {
            return Err(self.unexpected(&tok, &format!("{{{{{word}}}}}")));
        }
        if self.range_depth == 0 {
            return Err(self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}")));
        }
        Ok(if is_break {
            Node::Break
        } else {
            Node::Continue
        })
    }

    fn else_control(&mut self) -> PResult<Item2> {
        let peek = self.peek_non_space();
        if peek.typ == Tok::If || peek.typ == Tok::With {
            // "{{else if ...}}" is rewritten to "{{else}}{{if ...}}...{{end}}{{end}}".
            return Ok(Item2::Else);
        }
        self.expect(Tok::RightDelim, "else")?;
        Ok(Item2::Else)
    }

    fn if_control(&mut self) -> PResult<Node> {
        Ok(Node::If(self.parse_control("if")?))
    }

    fn enter(&mut self) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self.errorf(format!(
                "template nests more than {MAX_NESTING} levels of control structures and parentheses"
            )));
        }
        Ok(())
    }

    fn parse_control(&mut self, context: &str) -> PResult<Branch> {
        self.enter()?;
        let nvars = self.vars.len();
        let r = self.parse_control_inner(context);
        self.vars.truncate(nvars);
        self.nesting -= 1;
        r
    }

    fn parse_control_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, end) = r?;
        let mut else_list = None;
        if let End::Else = end {
            let peek = self.peek();
            if (context == "if" && peek.typ == Tok::If)
                || (context == "with" && peek.typ == Tok::With)
            {
                self.next();
                let inner = self.parse_control(context)?;
                let node = if context == "if" {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                };
                else_list = Some(vec![node]);
            } else {
                let (l, end2) = self.item_list()?;
                if let End::Else = end2 {
                    return Err(self.errorf("expected end; found {{else}}".into()));
                }
                else_list = Some(l);
            }
        }
        Ok(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        })
    }

    fn parse_template_name(&mut self, tok: &Item, context: &str) -> PResult<String> {
        match tok.typ {
            Tok::String | Tok::RawString => {
                unquote(&tok.val).map_err(|e| self.error_at_line(tok.line, e))
            }
            _ => Err(self.unexpected(tok, context)),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        let context = "template clause";
        let tok = self.next_non_space();
        let name = self.parse_template_name(&tok, context)?;
        let mut pipe = None;
        if self.next_non_space().typ != Tok::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(context, Tok::RightDelim)?);
        }
        Ok(Node::Template {
            pos: tok.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self) -> PResult<Node> {
        self.enter()?;
        let r = self.block_control_inner();
        self.nesting -= 1;
        r
    }

    fn block_control_inner(&mut self) -> PResult<Node> {
        let context = "block clause";
        let tok = self.next_non_space();
        let name = self.parse_template_name(&tok, context)?;
        let pipe = self.pipeline(context, Tok::RightDelim)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let r = self.item_list();
        self.vars = saved_vars;
        self.range_depth = saved_range;
        let (list, end) = r?;
        if let End::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {context}")));
        }
        let tree = Tree {
            name: name.clone(),
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root: list,
        };
        let mut trees = std::mem::take(&mut self.trees);
        let r = add_tree(&mut trees, tree, self);
        self.trees = trees;
        r?;
        Ok(Node::Template {
            pos: tok.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Tok) -> PResult<Pipe> {
        let tok = self.peek_non_space();
        let mut pipe = Pipe {
            pos: tok.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations or assignments?
        loop {
            let v = self.peek_non_space();
            if v.typ != Tok::Variable {
                break;
            }
            let save = self.idx;
            self.next_non_space();
            let next = self.peek_non_space();
            if next.typ == Tok::Assign || next.typ == Tok::Declare {
                pipe.is_assign = next.typ == Tok::Assign;
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val.clone());
                break;
            } else if next.typ == Tok::Char && next.val == "," {
                self.next_non_space();
                pipe.decl.push(v.val.clone());
                self.vars.push(v.val.clone());
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        Tok::Variable | Tok::RightDelim | Tok::RightParen => continue,
                        _ => {
                            return Err(self.errorf("range can only initialize variables".into()));
                        }
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else {
                self.idx = save;
                break;
            }
        }
        loop {
            let tok = self.next_non_space();
            match tok.typ {
                t if t == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                Tok::Bool
                | Tok::CharConstant
                | Tok::Complex
                | Tok::Dot
                | Tok::Field
                | Tok::Identifier
                | Tok::Number
                | Tok::Nil
                | Tok::RawString
                | Tok::String
                | Tok::Variable
                | Tok::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(&tok, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool(..)
                        | Arg::Dot(_)
                        | Arg::Nil(_)
                        | Arg::Number { .. }
                        | Arg::String { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let tok = self.next();
            match tok.typ {
                Tok::Space => continue,
                Tok::RightDelim | Tok::RightParen => self.backup(),
                Tok::Pipe => {}
                _ => return Err(self.unexpected(&tok, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ == Tok::Field {
            // Go positions a chained field/variable at its first chained field token.
            let pos = self.peek().pos;
            let mut fields = Vec::new();
            while self.peek().typ == Tok::Field {
                let f = self.next();
                fields.push(f.val[1..].to_string());
            }
            return Ok(Some(match node {
                Arg::Field { mut idents, .. } => {
                    idents.extend(fields);
                    Arg::Field { pos, idents }
                }
                Arg::Variable { mut idents, .. } => {
                    idents.extend(fields);
                    Arg::Variable { pos, idents }
                }
                Arg::Bool(..)
                | Arg::String { .. }
                | Arg::Number { .. }
                | Arg::Nil(_)
                | Arg::Dot(_) => {
                    return Err(self.errorf(format!(
                        "unexpected . after term {}",
                        crate::fmt::quote_go(&node.to_string())
                    )));
                }
                node => Arg::Chain {
                    pos,
                    node: Box::new(node),
                    fields,
                },
            }));
        }
        Ok(Some(node))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let tok = self.next_non_space();
        Ok(Some(match tok.typ {
            Tok::Identifier => {
                if !(self.has_func)(&tok.val) {
                    return Err(self.errorf(format!(
                        "function {} not defined",
                        crate::fmt::quote_go(&tok.val)
                    )));
                }
                Arg::Identifier {
                    pos: tok.pos,
                    name: tok.val,
                }
            }
            Tok::Dot => Arg::Dot(tok.pos),
            Tok::Nil => Arg::Nil(tok.pos),
            Tok::Variable => {
                if !self.vars.contains(&tok.val) {
                    return Err(self.errorf(format!(
                        "undefined variable {}",
                        crate::fmt::quote_go(&tok.val)
                    )));
                }
                Arg::Variable {
                    pos: tok.pos,
                    idents: vec![tok.val],
                }
            }
            Tok::Field => Arg::Field {
                pos: tok.pos,
                idents: vec![tok.val[1..].to_string()],
            },
            Tok::Bool => Arg::Bool(tok.pos, tok.val == "true"),
            Tok::CharConstant | Tok::Complex | Tok::Number => {
                new_number(tok.pos, &tok.val, tok.typ).map_err(|e| self.errorf(e))?
            }
            Tok::LeftParen => {
                self.enter()?;
                let p = self.pipeline("parenthesized pipeline", Tok::RightParen);
                self.nesting -= 1;
                Arg::Pipe(Box::new(p?))
            }
            Tok::String | Tok::RawString => {
                let s = unquote(&tok.val).map_err(|e| self.errorf(e))?;
                Arg::String {
                    pos: tok.pos,
                    quoted: tok.val,
                    value: Arc::from(s),
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

enum Item2 {
    Node(Node),
    End,
    Else,
}

/// Go's `strconv.Unquote` for "..." and `...` strings.
pub(crate) fn unquote(s: &str) -> Result<String, String> {
    let invalid = || "invalid syntax".to_string();
    if s.len() < 2 {
        return Err(invalid());
    }
    let q = s.as_bytes()[0];
    if q != s.as_bytes()[s.len() - 1] {
        return Err(invalid());
    }
    let body = &s[1..s.len() - 1];
    if q == b'`' {
        if body.contains('`') {
            return Err(invalid());
        }
        return Ok(body.replace('\r', ""));
    }
    if q != b'"' && q != b'\'' {
        return Err(invalid());
    }
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == q as char {
            return Err(invalid());
        }
        if c == '\n' {
            return Err(invalid());
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or_else(invalid)?;
        match e {
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'v' => out.push('\x0b'),
            '\\' => out.push('\\'),
            '\'' if q == b'\'' => out.push('\''),
            '"' if q == b'"' => out.push('"'),
            'x' | 'u' | 'U' => {
                let n = match e {
                    'x' => 2,
                    'u' => 4,
                    _ => 8,
                };
                let mut v: u32 = 0;
                for _ in 0..n {
                    let d = chars
                        .next()
                        .and_then(|c| c.to_digit(16))
                        .ok_or_else(invalid)?;
                    v = v * 16 + d;
                }
                if e == 'x' {
                    // A byte; non-ASCII bytes cannot be represented in a Rust string, so they
                    // become the Unicode replacement character.
                    out.push(if v < 0x80 {
                        char::from_u32(v).unwrap_or('\u{fffd}')
                    } else {
                        '\u{fffd}'
                    });
                } else {
                    out.push(char::from_u32(v).ok_or_else(invalid)?);
                }
            }
            '0'..='7' => {
                let mut v = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = chars
                        .next()
                        .and_then(|c| c.to_digit(8))
                        .ok_or_else(invalid)?;
                    v = v * 8 + d;
                }
                if v > 255 {
                    return Err(invalid());
                }
                out.push(if v < 0x80 {
                    char::from_u32(v).unwrap_or('\u{fffd}')
                } else {
                    '\u{fffd}'
                });
            }
            _ => return Err(invalid()),
        }
    }
    Ok(out)
}

/// Builds a number node with Go's `parse.NumberNode` rules and `idealConstant` interpretation.
fn new_number(pos: usize, text: &str, typ: Tok) -> Result<Arg, String> {
    let mk = |value: Number, _int: Option<i64>, _float: Option<f64>| Arg::Number {
        pos,
        text: text.to_string(),
        value,
    };
    if typ == Tok::CharConstant {
        let s = unquote(text).map_err(|e| e.to_string())?;
        let mut it = s.chars();
        let c = it.next().ok_or("malformed character constant")?;
        if it.next().is_some() {
            return Err(format!("malformed character constant: {text}"));
        }
        let i = i64::from(c as u32);
        return Ok(mk(Number::Int(i), Some(i), Some(i as f64)));
    }
    if typ == Tok::Complex || text.ends_with('i') {
        let (re, im) = parse_complex(text)
            .ok_or_else(|| format!("illegal number syntax: {}", crate::fmt::quote_go(text)))?;
        let (int, float) = if im == 0.0 {
            let i = (re.fract() == 0.0 && re.abs() < 9.2e18).then_some(re as i64);
            (i, Some(re))
        } else {
            (None, None)
        };
        return Ok(mk(Number::Complex(re, im), int, float));
    }
    let int = parse_go_int(text);
    let uint_ok = int.is_none() && parse_go_uint(text).is_some();
    let mut float = parse_go_float(text);
    if int.is_none() && !uint_ok && float.is_none() {
        return Err(format!(
            "illegal number syntax: {}",
            crate::fmt::quote_go(text)
        ));
    }
    if let Some(i) = int {
        float = Some(i as f64);
    }
    let mut int_val = int;
    if int_val.is_none()
        && let Some(f) = float
        && f.fract() == 0.0
        && f.abs() < 9.2e18
    {
        int_val = Some(f as i64);
    }
    // Go's isHexInt: an unsigned hex literal without a binary exponent.
    let is_hex = text.len() > 2 && matches!(&text[..2], "0x" | "0X") && !text.contains(['p', 'P']);
    let value = if float.is_some() && !is_hex && text.contains(['.', 'e', 'E', 'p', 'P']) {
        Number::Float(float.unwrap_or(0.0))
    } else if let Some(i) = int {
        Number::Int(i)
    } else if let Some(i) = int_val {
        Number::Int(i)
    } else {
        Number::Bad(format!("{text} overflows int"))
    };
    if float.is_some()
        && int.is_none()
        && !text.contains(['.', 'e', 'E', 'p', 'P'])
        && !text.trim_start_matches(['+', '-']).starts_with("0x")
        && !text.trim_start_matches(['+', '-']).starts_with("0X")
    {
        // Integer literal too big for int64 (e.g. 1<<64): Go reports it overflows int.
        return Ok(mk(
            Number::Bad(format!("{text} overflows int")),
            None,
            float,
        ));
    }
    Ok(mk(value, int_val, float))
}

/// Parses `1+2i`, `1.5i`, `-2e3-4i` into (real, imaginary).
fn parse_complex(text: &str) -> Option<(f64, f64)> {
    let body = text.strip_suffix('i')?;
    // The split point is the last sign that is not the start or an exponent sign.
    let b = body.as_bytes();
    let mut split = None;
    for k in (1..b.len()).rev() {
        if (b[k] == b'+' || b[k] == b'-') && !matches!(b[k - 1], b'e' | b'E' | b'p' | b'P') {
            split = Some(k);
            break;
        }
    }
    match split {
        Some(k) => Some((parse_go_float(&body[..k])?, parse_go_float(&body[k..])?)),
        None => Some((0.0, parse_go_float(body)?)),
    }
}

fn strip_underscores(s: &str) -> Option<String> {
    // Go accepts underscores only between digits (or after the base prefix).
    if s.starts_with('_') || s.ends_with('_') || s.contains("__") {
        return None;
    }
    Some(s.replace('_', ""))
}

fn split_sign(text: &str) -> (bool, &str) {
    if let Some(r) = text.strip_prefix('-') {
        (true, r)
    } else if let Some(r) = text.strip_prefix('+') {
        (false, r)
    } else {
        (false, text)
    }
}

fn parse_go_uint(text: &str) -> Option<u64> {
    let (neg, body) = split_sign(text);
    if neg || text.starts_with('+') {
        return None;
    }
    parse_unsigned(body)
}

fn parse_unsigned(body: &str) -> Option<u64> {
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(r) = lower.strip_prefix("0x") {
        (16, r.to_string())
    } else if let Some(r) = lower.strip_prefix("0b") {
        (2, r.to_string())
    } else if let Some(r) = lower.strip_prefix("0o") {
        (8, r.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    let digits = if digits.starts_with('_') && radix != 10 {
        digits[1..].to_string()
    } else {
        digits
    };
    let digits = strip_underscores(&digits)?;
    if digits.is_empty() {
        return None;
    }
    u64::from_str_radix(&digits, radix).ok()
}

pub(crate) fn parse_go_int(text: &str) -> Option<i64> {
    let (neg, body) = split_sign(text);
    let u = parse_unsigned(body)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let (neg, body) = split_sign(text);
    let lower = body.to_ascii_lowercase();
    let v = if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(&hex.replace('_', ""))?
    } else {
        let s = strip_underscores(&lower)?;
        if s.is_empty() || s.contains(['x', 'p', 'b', 'o']) || s == "." {
            return None;
        }
        // Go's ParseFloat accepts "1.", ".5", "1e5"; Rust's parser does too. Reject "inf"/"nan".
        if !s.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        s.parse::<f64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.split_once('p') {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (ip, fp) = mant.split_once('.').unwrap_or((mant, ""));
    if ip.is_empty() && fp.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in ip.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in fp.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<Tree>, Error> {
        parse("t", s, "", "", &|n| n == "printf")
    }

    #[test]
    fn parses_basic() {
        assert!(p("a{{.x}}b{{if .y}}c{{else}}d{{end}}").is_ok());
        assert!(p("{{define \"x\"}}hi{{end}}{{template \"x\" .}}").is_ok());
        assert!(p("{{end}}").is_err());
        assert!(p("{{nosuch}}").is_err());
        assert!(p("{{$x}}").is_err());
        assert!(p("{{range $i, $v := .}}{{$i}}{{end}}").is_ok());
    }

    #[test]
    fn parse_error_format() {
        let e = p("x\n{{end}}").err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("template: t:2: unexpected {{end}}"));
    }

    #[test]
    fn numbers() {
        assert!(matches!(
            new_number(0, "0x1F", Tok::Number),
            Ok(Arg::Number {
                value: Number::Int(31),
                ..
            })
        ));
        assert!(matches!(
            new_number(0, "1e3", Tok::Number),
            Ok(Arg::Number { value: Number::Float(f), .. }) if f == 1000.0
        ));
        assert!(matches!(
            new_number(0, "'a'", Tok::CharConstant),
            Ok(Arg::Number {
                value: Number::Int(97),
                ..
            })
        ));
        assert!(matches!(
            new_number(0, "1_000", Tok::Number),
            Ok(Arg::Number {
                value: Number::Int(1000),
                ..
            })
        ));
    }
}
