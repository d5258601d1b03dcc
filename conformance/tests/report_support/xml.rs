//! A small, strict XML 1.0 reader for checking the JUnit writer: it accepts the subset the writer
//! may produce (declaration, elements, attributes, character data, the five predefined entities
//! and character references) and rejects anything malformed in it: unescaped `<` or `&`, a
//! `]]>` in text, characters XML cannot carry, mismatched or unclosed tags, duplicate attributes,
//! unquoted values, or content after the root element.

#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    /// The concatenated character data directly inside this element.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

pub fn parse(input: &str) -> Result<Element, String> {
    let mut reader = Reader { s: input, pos: 0 };
    if let Some(c) = input.chars().find(|c| !is_xml_char(*c)) {
        return Err(format!(
            "character U+{:04X} is not allowed in XML",
            c as u32
        ));
    }
    if reader.rest().starts_with("<?xml") {
        let end = reader
            .rest()
            .find("?>")
            .ok_or("unterminated XML declaration")?;
        reader.pos += end + 2;
    }
    reader.skip_whitespace();
    let root = reader.element()?;
    reader.skip_whitespace();
    if reader.pos != input.len() {
        return Err(format!(
            "content after the root element at byte {}",
            reader.pos
        ));
    }
    Ok(root)
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

struct Reader<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            Ok(())
        } else {
            Err(format!("expected `{token}` at byte {}", self.pos))
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
            .unwrap_or(rest.len());
        if len == 0 || rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
            return Err(format!("expected a name at byte {}", self.pos));
        }
        self.pos += len;
        Ok(rest[..len].to_owned())
    }

    fn element(&mut self) -> Result<Element, String> {
        self.expect("<")?;
        let name = self.name()?;
        let mut attributes: Vec<(String, String)> = Vec::new();
        loop {
            let before = self.pos;
            self.skip_whitespace();
            if self.rest().starts_with("/>") {
                self.pos += 2;
                return Ok(Element {
                    name,
                    attributes,
                    children: Vec::new(),
                });
            }
            if self.rest().starts_with('>') {
                self.pos += 1;
                break;
            }
            if self.pos == before {
                return Err(format!(
                    "expected whitespace before an attribute at byte {}",
                    self.pos
                ));
            }
            let key = self.name()?;
            self.expect("=")?;
            let quote = self
                .rest()
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
                .ok_or(format!("unquoted value of `{key}`"))?;
            self.pos += 1;
            let end = self
                .rest()
                .find(quote)
                .ok_or(format!("unterminated value of `{key}`"))?;
            let raw = &self.rest()[..end];
            if raw.contains('<') {
                return Err(format!("`<` in the value of `{key}`"));
            }
            let value = decode(raw)?;
            self.pos += end + 1;
            if attributes.iter().any(|(k, _)| *k == key) {
                return Err(format!("duplicate attribute `{key}` on <{name}>"));
            }
            attributes.push((key, value));
        }

        let mut children = Vec::new();
        loop {
            let rest = self.rest();
            if rest.starts_with("</") {
                self.pos += 2;
                let closing = self.name()?;
                if closing != name {
                    return Err(format!("</{closing}> closes <{name}>"));
                }
                self.skip_whitespace();
                self.expect(">")?;
                return Ok(Element {
                    name,
                    attributes,
                    children,
                });
            }
            if rest.starts_with('<') {
                children.push(Node::Element(self.element()?));
                continue;
            }
            let end = rest.find('<').ok_or(format!("<{name}> is never closed"))?;
            let raw = &rest[..end];
            if raw.contains("]]>") {
                return Err("`]]>` in character data".to_owned());
            }
            children.push(Node::Text(decode(raw)?));
            self.pos += end;
        }
    }
}

fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let semi = rest[amp..]
            .find(';')
            .ok_or(format!("unterminated reference in `{raw}`"))?;
        let entity = &rest[amp + 1..amp + semi];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16)
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse()
                } else {
                    return Err(format!("unknown entity `&{entity};`"));
                };
                code.ok()
                    .and_then(char::from_u32)
                    .filter(|c| is_xml_char(*c))
                    .ok_or(format!("bad character reference `&{entity};`"))?
            }
        };
        out.push(c);
        rest = &rest[amp + semi + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
