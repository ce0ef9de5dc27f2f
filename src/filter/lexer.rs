//! Tokens of pcap-filter expressions.

use super::FilterError;

/// A token kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    /// A number: decimal, `0x` hexadecimal or `0` octal.
    Num(u32),
    /// A dotted IPv4 address or network prefix: the octets given (1 to 4).
    Ip(Vec<u8>),
    /// An IPv6 address.
    Ip6([u8; 16]),
    /// An Ethernet address `a:b:c:d:e:f`.
    Mac([u8; 6]),
    /// A word: keyword or name (`tcp`, `tcp-syn`, `10-20`, ...).
    Word(String),
    /// Punctuation and operators: `( ) [ ] : + - * / % & | ^ << >> = == != < <= > >= ! && || \`.
    Punct(&'static str),
    /// End of input.
    Eof,
}

/// A token with its byte span in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    pub offset: usize,
    pub len: usize,
}

const PUNCTS: [&str; 24] = [
    "<<", ">>", "==", "!=", "<=", ">=", "&&", "||", "(", ")", "[", "]", ":", "+", "-", "*", "/",
    "%", "&", "|", "^", "=", "<", ">",
];

fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.'
}

fn parse_num(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else if s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_ip(s: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() < 2 || parts.len() > 4 {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                p.parse::<u8>().ok()
            }
        })
        .collect()
}

/// Tries to read an Ethernet address `x:x:x:x:x:x` (1-2 hex digits each) at `i`.
fn mac_at(b: &[u8], i: usize) -> Option<([u8; 6], usize)> {
    let mut out = [0u8; 6];
    let mut j = i;
    for (n, o) in out.iter_mut().enumerate() {
        let start = j;
        while j < b.len() && j - start < 2 && b[j].is_ascii_hexdigit() {
            j += 1;
        }
        if j == start {
            return None;
        }
        *o = u8::from_str_radix(std::str::from_utf8(&b[start..j]).ok()?, 16).ok()?;
        if n < 5 {
            if b.get(j) != Some(&b':') {
                return None;
            }
            j += 1;
        }
    }
    if j < b.len() && (is_word_char(b[j]) || b[j] == b':') {
        return None;
    }
    Some((out, j))
}

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub fn lex(src: &str) -> Result<Vec<Token>, FilterError> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if let Some((mac, end)) = c.is_ascii_hexdigit().then(|| mac_at(b, i)).flatten() {
            out.push(Token {
                tok: Tok::Mac(mac),
                offset: i,
                len: end - i,
            });
            i = end;
            continue;
        }
        if c.is_ascii_hexdigit() || (c == b':' && b.get(i + 1) == Some(&b':')) {
            let mut end = i;
            while end < b.len() && (b[end].is_ascii_hexdigit() || b[end] == b':' || b[end] == b'.')
            {
                end += 1;
            }
            let text = &src[i..end];
            let v6 = (text.contains(':') && (end == b.len() || !is_word_char(b[end])))
                .then(|| text.parse::<std::net::Ipv6Addr>().ok())
                .flatten();
            if let Some(a) = v6 {
                out.push(Token {
                    tok: Tok::Ip6(a.octets()),
                    offset: i,
                    len: end - i,
                });
                i = end;
                continue;
            }
        }
        if c.is_ascii_alphanumeric() {
            let start = i;
            while i < b.len() && is_word_char(b[i]) {
                i += 1;
            }
            // A word ends with an alphanumeric character or a dot.
            while i > start + 1 && (b[i - 1] == b'-' || b[i - 1] == b'_') {
                i -= 1;
            }
            let s = &src[start..i];
            let tok = if let Some(n) = parse_num(s) {
                Tok::Num(n)
            } else if let Some(ip) = parse_ip(s) {
                Tok::Ip(ip)
            } else if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                return Err(FilterError::new(
                    format!("invalid number or address '{s}'"),
                    start,
                    i - start,
                    vec![],
                ));
            } else if s.starts_with(|c: char| c.is_ascii_digit())
                && !s.contains('-')
                && !s.contains('.')
            {
                return Err(FilterError::new(
                    format!("invalid number '{s}'"),
                    start,
                    i - start,
                    vec![],
                ));
            } else {
                Tok::Word(s.to_string())
            };
            out.push(Token {
                tok,
                offset: start,
                len: i - start,
            });
            continue;
        }
        if c == b'\\' {
            out.push(Token {
                tok: Tok::Punct("\\"),
                offset: i,
                len: 1,
            });
            i += 1;
            continue;
        }
        if c == b'!' && b.get(i + 1) != Some(&b'=') {
            out.push(Token {
                tok: Tok::Punct("!"),
                offset: i,
                len: 1,
            });
            i += 1;
            continue;
        }
        match PUNCTS.iter().find(|p| src[i..].starts_with(**p)) {
            Some(p) => {
                out.push(Token {
                    tok: Tok::Punct(p),
                    offset: i,
                    len: p.len(),
                });
                i += p.len();
            }
            None => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(FilterError::new(
                    format!("unexpected character '{ch}'"),
                    i,
                    ch.len_utf8(),
                    vec![],
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        offset: src.len(),
        len: 0,
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_numbers_addresses() {
        assert_eq!(
            toks("tcp[13] & tcp-syn != 0"),
            vec![
                Tok::Word("tcp".into()),
                Tok::Punct("["),
                Tok::Num(13),
                Tok::Punct("]"),
                Tok::Punct("&"),
                Tok::Word("tcp-syn".into()),
                Tok::Punct("!="),
                Tok::Num(0),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("ether[12:2]"),
            vec![
                Tok::Word("ether".into()),
                Tok::Punct("["),
                Tok::Num(12),
                Tok::Punct(":"),
                Tok::Num(2),
                Tok::Punct("]"),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("ether host 0:1:2:a:bb:ff"),
            vec![
                Tok::Word("ether".into()),
                Tok::Word("host".into()),
                Tok::Mac([0, 1, 2, 0xa, 0xbb, 0xff]),
                Tok::Eof
            ]
        );
        assert_eq!(
            toks("net 10.1/16 portrange 10-20 0x1f 010"),
            vec![
                Tok::Word("net".into()),
                Tok::Ip(vec![10, 1]),
                Tok::Punct("/"),
                Tok::Num(16),
                Tok::Word("portrange".into()),
                Tok::Word("10-20".into()),
                Tok::Num(31),
                Tok::Num(8),
                Tok::Eof
            ]
        );
        assert!(lex("host 1.2.3.400").is_err());
        let mut v6 = [0u8; 16];
        v6[0] = 0xfe;
        v6[1] = 0x80;
        v6[15] = 1;
        assert_eq!(toks("fe80::1/64")[0], Tok::Ip6(v6));
        assert_eq!(
            toks("::1")[0],
            Tok::Ip6(std::net::Ipv6Addr::LOCALHOST.octets())
        );
        assert_eq!(lex("ip and $").unwrap_err().offset, 7);
    }
}
