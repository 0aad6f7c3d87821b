//! The lexer: Go's `text/template/parse` lexer, as a simple loop producing a token vector.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Error,
    Bool,
    Char, // printable ASCII character; grab bag for comma etc.
    CharConstant,
    Comment,
    Complex,
    Assign,
    Declare,
    Eof,
    Field,
    Identifier,
    LeftDelim,
    LeftParen,
    Number,
    Pipe,
    RawString,
    RightDelim,
    RightParen,
    Space,
    String,
    Text,
    Variable,
    // Keywords.
    Block,
    Break,
    Continue,
    Dot,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Tok {
    fn keyword(word: &str) -> Option<Tok> {
        Some(match word {
            "." => Tok::Dot,
            "block" => Tok::Block,
            "break" => Tok::Break,
            "continue" => Tok::Continue,
            "define" => Tok::Define,
            "else" => Tok::Else,
            "end" => Tok::End,
            "if" => Tok::If,
            "range" => Tok::Range,
            "nil" => Tok::Nil,
            "template" => Tok::Template,
            "with" => Tok::With,
            _ => return None,
        })
    }
    pub(crate) fn is_keyword(self) -> bool {
        matches!(
            self,
            Tok::Block
                | Tok::Break
                | Tok::Continue
                | Tok::Dot
                | Tok::Define
                | Tok::Else
                | Tok::End
                | Tok::If
                | Tok::Nil
                | Tok::Range
                | Tok::Template
                | Tok::With
        )
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub typ: Tok,
    pub pos: usize,
    pub val: String,
    pub line: usize,
}

impl std::fmt::Display for Item {
    /// Go's `item.String()`, used in "unexpected X in Y" messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.typ {
            Tok::Eof => f.write_str("EOF"),
            Tok::Error => f.write_str(&self.val),
            t if t.is_keyword() => write!(f, "<{}>", self.val),
            _ => {
                if self.val.chars().count() > 10 {
                    let short: String = self.val.chars().take(10).collect();
                    write!(f, "{}...", crate::fmt::quote_go(&short))
                } else {
                    f.write_str(&crate::fmt::quote_go(&self.val))
                }
            }
        }
    }
}

const TRIM_MARKER: u8 = b'-';
const LEFT_COMMENT: &str = "/*";
const RIGHT_COMMENT: &str = "*/";

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    left: &'a str,
    right: &'a str,
    pos: usize,
    start: usize,
    line: usize,
    start_line: usize,
    paren_depth: usize,
    items: Vec<Item>,
    emit_comment: bool,
}

/// Lexes `input` completely. Lexing stops at the first error item.
pub(crate) fn lex(input: &str, left: &str, right: &str, emit_comment: bool) -> Vec<Item> {
    let mut l = Lexer {
        input,
        left: if left.is_empty() { "{{" } else { left },
        right: if right.is_empty() { "}}" } else { right },
        pos: 0,
        start: 0,
        line: 1,
        start_line: 1,
        paren_depth: 0,
        items: Vec::new(),
        emit_comment,
    };
    l.run();
    l.items
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }
    fn backup(&mut self, c: char) {
        self.pos -= c.len_utf8();
        if c == '\n' {
            self.line -= 1;
        }
    }
    fn emit(&mut self, typ: Tok) {
        let val = self.input[self.start..self.pos].to_string();
        self.items.push(Item {
            typ,
            pos: self.start,
            val,
            line: self.start_line,
        });
        self.start = self.pos;
        self.start_line = self.line;
    }
    fn ignore(&mut self) {
        self.line += self.input[self.start..self.pos].matches('\n').count();
        self.start = self.pos;
        self.start_line = self.line;
    }
    fn accept(&mut self, valid: &str) -> bool {
        if let Some(c) = self.peek()
            && valid.contains(c)
        {
            self.next();
            return true;
        }
        false
    }
    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }
    fn error(&mut self, msg: String) {
        self.items.push(Item {
            typ: Tok::Error,
            pos: self.start,
            val: msg,
            line: self.start_line,
        });
    }

    /// Runs the state machine; returns when EOF or an error item has been emitted.
    fn run(&mut self) {
        loop {
            // lexText
            match self.rest().find(self.left) {
                Some(x) => {
                    let delim_pos = self.pos + x;
                    let mut trim = 0;
                    let after = &self.input[delim_pos + self.left.len()..];
                    if has_left_trim_marker(after) {
                        trim = self.input[self.pos..delim_pos].len()
                            - self.input[self.pos..delim_pos]
                                .trim_end_matches([' ', '\t', '\r', '\n'])
                                .len();
                    }
                    self.pos = delim_pos;
                    let text_end = delim_pos - trim;
                    if text_end > self.start {
                        let val = self.input[self.start..text_end].to_string();
                        self.line += self.input[self.start..delim_pos].matches('\n').count();
                        self.items.push(Item {
                            typ: Tok::Text,
                            pos: self.start,
                            val,
                            line: self.start_line,
                        });
                    } else {
                        self.line += self.input[self.start..delim_pos].matches('\n').count();
                    }
                    self.start = self.pos;
                    self.start_line = self.line;
                    if !self.lex_left_delim() {
                        return;
                    }
                }
                None => {
                    self.pos = self.input.len();
                    if self.pos > self.start {
                        let val = self.input[self.start..].to_string();
                        self.items.push(Item {
                            typ: Tok::Text,
                            pos: self.start,
                            val,
                            line: self.start_line,
                        });
                        self.line += self.input[self.start..].matches('\n').count();
                        self.start = self.pos;
                        self.start_line = self.line;
                    }
                    self.emit(Tok::Eof);
                    return;
                }
            }
        }
    }

    /// Returns false when lexing must stop (error).
    fn lex_left_delim(&mut self) -> bool {
        self.pos += self.left.len();
        let trim_space = has_left_trim_marker(self.rest());
        let after_marker = if trim_space { 2 } else { 0 };
        if self.rest()[after_marker..].starts_with(LEFT_COMMENT) {
            self.pos += after_marker;
            self.ignore();
            return self.lex_comment();
        }
        self.emit(Tok::LeftDelim);
        self.pos += after_marker;
        self.ignore();
        self.paren_depth = 0;
        self.lex_inside_action()
    }

    fn lex_comment(&mut self) -> bool {
        self.pos += LEFT_COMMENT.len();
        let Some(x) = self.rest().find(RIGHT_COMMENT) else {
            self.error("unclosed comment".into());
            return false;
        };
        self.pos += x + RIGHT_COMMENT.len();
        let (delim, trim_space) = self.at_right_delim();
        if !delim {
            self.error("comment ends before closing delimiter".into());
            return false;
        }
        if self.emit_comment {
            self.emit(Tok::Comment);
        }
        if trim_space {
            self.pos += 2;
        }
        self.pos += self.right.len();
        if trim_space {
            self.skip_leading_space();
        }
        self.ignore();
        true
    }

    fn at_right_delim(&self) -> (bool, bool) {
        let r = self.rest();
        if has_right_trim_marker(r) && r[2..].starts_with(self.right) {
            return (true, true);
        }
        if r.starts_with(self.right) {
            return (true, false);
        }
        (false, false)
    }

    fn skip_leading_space(&mut self) {
        let r = self.rest();
        let trimmed = r.trim_start_matches([' ', '\t', '\r', '\n']);
        self.pos += r.len() - trimmed.len();
    }

    fn lex_right_delim(&mut self, trim_space: bool) {
        if trim_space {
            self.pos += 2;
            self.ignore();
        }
        self.pos += self.right.len();
        self.emit(Tok::RightDelim);
        if trim_space {
            self.skip_leading_space();
            self.ignore();
        }
    }

    fn lex_inside_action(&mut self) -> bool {
        loop {
            let (delim, trim_space) = self.at_right_delim();
            if delim {
                if self.paren_depth == 0 {
                    self.lex_right_delim(trim_space);
                    return true;
                }
                self.error("unclosed left paren".into());
                return false;
            }
            let Some(c) = self.next() else {
                self.error("unclosed action".into());
                return false;
            };
            match c {
                c if c.is_ascii() && is_space(c as u8) => {
                    self.backup(c);
                    self.lex_space();
                }
                '=' => self.emit(Tok::Assign),
                ':' => {
                    if self.next() != Some('=') {
                        self.error("expected :=".into());
                        return false;
                    }
                    self.emit(Tok::Declare);
                }
                '|' => self.emit(Tok::Pipe),
                '"' => {
                    if !self.lex_quote() {
                        return false;
                    }
                }
                '`' => {
                    if !self.lex_raw_quote() {
                        return false;
                    }
                }
                '$' => {
                    if !self.lex_field_or_variable(Tok::Variable) {
                        return false;
                    }
                }
                '\'' => {
                    if !self.lex_char() {
                        return false;
                    }
                }
                '.' => {
                    // Special look-ahead for ".field" so we don't break l.backup().
                    if let Some(d) = self.peek()
                        && d.is_ascii_digit()
                    {
                        self.backup('.');
                        if !self.lex_number() {
                            return false;
                        }
                        continue;
                    }
                    if !self.lex_field_or_variable(Tok::Field) {
                        return false;
                    }
                }
                '+' | '-' | '0'..='9' => {
                    self.backup(c);
                    if !self.lex_number() {
                        return false;
                    }
                }
                c if is_alnum(c) => {
                    self.backup(c);
                    if !self.lex_identifier() {
                        return false;
                    }
                }
                '(' => {
                    self.emit(Tok::LeftParen);
                    self.paren_depth += 1;
                }
                ')' => {
                    if self.paren_depth == 0 {
                        self.error("unexpected right paren".into());
                        return false;
                    }
                    self.paren_depth -= 1;
                    self.emit(Tok::RightParen);
                }
                c if c.is_ascii() && !c.is_ascii_control() => self.emit(Tok::Char),
                c => {
                    self.error(format!(
                        "unrecognized character in action: {}",
                        go_rune_u(c)
                    ));
                    return false;
                }
            }
        }
    }

    fn lex_space(&mut self) {
        let mut num_spaces = 0;
        loop {
            match self.peek() {
                Some(c) if c.is_ascii() && is_space(c as u8) => {
                    self.next();
                    num_spaces += 1;
                }
                _ => break,
            }
        }
        // Be careful about a trim-marked closing delimiter, which has a minus after a space.
        // We know there is a space, so check for the '-' that might follow.
        let _ = num_spaces;
        if has_right_trim_marker(&self.input[self.pos - 1..])
            && self.input[self.pos - 1 + 2..].starts_with(self.right)
        {
            self.backup(' ');
            if self.pos == self.start {
                // All we have is the space; let the right-delim handling consume it.
                return;
            }
        }
        self.emit(Tok::Space);
    }

    fn lex_identifier(&mut self) -> bool {
        while let Some(c) = self.peek() {
            if is_alnum(c) {
                self.next();
            } else {
                break;
            }
        }
        let word = &self.input[self.start..self.pos];
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            self.error(format!("bad character {}", go_rune_u(c)));
            return false;
        }
        let typ = if let Some(k) = Tok::keyword(word)
            && k != Tok::Dot
        {
            k
        } else if word.starts_with('.') {
            Tok::Field
        } else if word == "true" || word == "false" {
            Tok::Bool
        } else {
            Tok::Identifier
        };
        self.emit(typ);
        true
    }

    fn lex_field_or_variable(&mut self, typ: Tok) -> bool {
        if self.at_terminator() {
            if typ == Tok::Variable {
                self.emit(Tok::Variable);
            } else {
                self.emit(Tok::Dot);
            }
            return true;
        }
        while let Some(c) = self.peek() {
            if is_alnum(c) {
                self.next();
            } else {
                break;
            }
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            self.error(format!("bad character {}", go_rune_u(c)));
            return false;
        }
        self.emit(typ);
        true
    }

    fn at_terminator(&self) -> bool {
        let Some(c) = self.peek() else {
            return true;
        };
        if c.is_ascii() && is_space(c as u8) {
            return true;
        }
        match c {
            '.' | ',' | '|' | ':' | ')' | '(' => return true,
            _ => {}
        }
        self.rest().starts_with(self.right)
    }

    fn lex_char(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(c) = self.next()
                        && c != '\n'
                    {
                        continue;
                    }
                    self.error("unterminated character constant".into());
                    return false;
                }
                None | Some('\n') => {
                    self.error("unterminated character constant".into());
                    return false;
                }
                Some('\'') => break,
                _ => {}
            }
        }
        self.emit(Tok::CharConstant);
        true
    }

    fn lex_number(&mut self) -> bool {
        if !self.scan_number() {
            let s = self.input[self.start..self.pos].to_string();
            self.error(format!("bad number syntax: {}", crate::fmt::quote_go(&s)));
            return false;
        }
        if let Some(c) = self.peek()
            && (c == '+' || c == '-')
        {
            // Complex: 1+2i. No spaces, must end in 'i'.
            if !self.scan_number() || self.input.as_bytes()[self.pos - 1] != b'i' {
                let s = self.input[self.start..self.pos].to_string();
                self.error(format!("bad number syntax: {}", crate::fmt::quote_go(&s)));
                return false;
            }
            self.emit(Tok::Complex);
        } else {
            self.emit(Tok::Number);
        }
        true
    }

    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 10 + 1 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 16 + 6 + 1 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if let Some(c) = self.peek()
            && is_alnum(c)
        {
            self.next();
            return false;
        }
        true
    }

    fn lex_quote(&mut self) -> bool {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(c) = self.next()
                        && c != '\n'
                    {
                        continue;
                    }
                    self.error("unterminated quoted string".into());
                    return false;
                }
                None | Some('\n') => {
                    self.error("unterminated quoted string".into());
                    return false;
                }
                Some('"') => break,
                _ => {}
            }
        }
        self.emit(Tok::String);
        true
    }

    fn lex_raw_quote(&mut self) -> bool {
        loop {
            match self.next() {
                None => {
                    self.error("unterminated raw quoted string".into());
                    return false;
                }
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(Tok::RawString);
        true
    }
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == TRIM_MARKER && is_space(b[1])
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0]) && b[1] == TRIM_MARKER
}

/// Go's `%#U` of a rune: `U+0023 '#'`.
pub(crate) fn go_rune_u(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", c as u32)
    } else {
        format!("U+{:04X} '{}'", c as u32, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Tok, String)> {
        lex(s, "", "", false)
            .into_iter()
            .map(|i| (i.typ, i.val))
            .collect()
    }

    #[test]
    fn trims_and_tokens() {
        let k = kinds("a  {{- .x | f 1 -}}  b");
        assert_eq!(k[0], (Tok::Text, "a".into()));
        assert_eq!(k[1].0, Tok::LeftDelim);
        assert_eq!(k[2], (Tok::Field, ".x".into()));
        assert!(k.contains(&(Tok::Number, "1".into())));
        assert!(k.contains(&(Tok::Text, "b".into())));
    }

    #[test]
    fn comments_are_dropped() {
        let k = kinds("x{{/* c */}}y");
        assert_eq!(k[0], (Tok::Text, "x".into()));
        assert_eq!(k[1], (Tok::Text, "y".into()));
    }
}
