//! permessage-deflate (RFC 7692): the offer we make, and the checks on the
//! server's answer. Compression itself is in message_compressor.rs (sending)
//! and inflating_stream.rs (receiving).

/// What Chrome, ws and undici offer: the extension, letting the server choose
/// our window size (RFC 7692 §7.1.2.2).
pub const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// The four bytes a sync flush ends with: the sender leaves them off the
/// wire, the receiver appends them before inflating (RFC 7692 §7.2.1, §7.2.2).
pub const SYNC_FLUSH_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The user's settings for what we send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateSettings {
    /// Messages with fewer bytes than this go out uncompressed.
    pub threshold: usize,
    /// zlib's compression level, 0 to 9.
    pub level: u32,
}

/// What the server's answer agreed to (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    /// The server starts each message with an empty window.
    pub server_no_context_takeover: bool,
    /// We must start each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window our messages may use, 8 to 15 (15 when not said).
    pub client_max_window_bits: u8,
}

const NAME: &str = "permessage-deflate";

/// Checks the server's Sec-WebSocket-Extensions answer (`answer`, empty when
/// it sent none) against what we offered, as Chrome and ws do. None: no
/// extension is in use.
pub fn accept_answer(answer: &str, offered: bool) -> Result<Option<Agreed>, String> {
    if answer.trim().is_empty() {
        return Ok(None);
    }
    let not_offered = || format!("the server selected an extension that was not offered: {answer}");
    if !offered {
        return Err(not_offered());
    }
    let mut elements = answer.split(',');
    let element = elements.next().unwrap_or_default();
    if elements.next().is_some() {
        return Err(format!(
            "the server selected more than one extension, but only {NAME} was offered: {answer}"
        ));
    }
    let mut parts = element.split(';').map(str::trim);
    if parts.next() != Some(NAME) {
        return Err(not_offered());
    }
    let mut agreed = Agreed {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        client_max_window_bits: 15,
    };
    let mut seen: Vec<&str> = Vec::new();
    for parameter in parts {
        let (name, value) = match parameter.split_once('=') {
            Some((name, value)) => (name.trim(), Some(unquote(value.trim()))),
            None => (parameter, None),
        };
        if seen.contains(&name) {
            return Err(format!("the server's {NAME} answer repeats {name}"));
        }
        seen.push(name);
        match (name, value) {
            ("server_no_context_takeover", None) => agreed.server_no_context_takeover = true,
            ("client_no_context_takeover", None) => agreed.client_no_context_takeover = true,
            ("server_no_context_takeover" | "client_no_context_takeover", Some(value)) => {
                return Err(format!(
                    "the server's {NAME} answer gives {name} a value ({value}), which it must not have"
                ));
            }
            ("server_max_window_bits", value) => {
                // Our inflater accepts any window up to 15 bits: the value is
                // checked, not used.
                window_bits(name, value)?;
            }
            ("client_max_window_bits", value) => {
                agreed.client_max_window_bits = window_bits(name, value)?;
            }
            _ => {
                return Err(format!(
                    "the server's {NAME} answer has a parameter that does not exist: {name}"
                ))
            }
        }
    }
    Ok(Some(agreed))
}

/// A window size parameter's value: 8 to 15, as digits.
fn window_bits(name: &str, value: Option<&str>) -> Result<u8, String> {
    let Some(value) = value else {
        return Err(format!(
            "the server's {NAME} answer has {name} without a value"
        ));
    };
    match value.parse::<u8>() {
        // Digits without a leading zero (RFC 7692 §7.1.2.1).
        Ok(bits @ 8..=15)
            if value.bytes().all(|byte| byte.is_ascii_digit()) && !value.starts_with('0') =>
        {
            Ok(bits)
        }
        _ => Err(format!(
            "the server's {NAME} answer sets {name} to {value:?}, not a window size from 8 to 15"
        )),
    }
}

/// A parameter value may be a quoted string (RFC 7692 §5.2).
fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreed(answer: &str) -> Agreed {
        accept_answer(answer, true)
            .expect("a valid answer")
            .expect("an extension")
    }

    fn refusal(answer: &str) -> String {
        accept_answer(answer, true).expect_err("a refused answer")
    }

    #[test]
    fn no_answer_means_no_extension() {
        assert_eq!(accept_answer("", true), Ok(None));
        assert_eq!(accept_answer("", false), Ok(None));
    }

    #[test]
    fn the_parameters_are_read_with_quoted_values_allowed() {
        assert_eq!(
            agreed("permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=\"9\"; server_max_window_bits=10"),
            Agreed {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                client_max_window_bits: 9,
            }
        );
        assert_eq!(agreed("permessage-deflate").client_max_window_bits, 15);
    }

    #[test]
    fn each_bad_answer_names_its_parameter() {
        let cases = [
            (
                "permessage-deflate; server_max_window_bits=7",
                "server_max_window_bits",
            ),
            (
                "permessage-deflate; client_max_window_bits=16",
                "client_max_window_bits",
            ),
            (
                "permessage-deflate; client_max_window_bits",
                "client_max_window_bits",
            ),
            (
                "permessage-deflate; server_max_window_bits=+9",
                "server_max_window_bits",
            ),
            (
                "permessage-deflate; server_no_context_takeover=1",
                "server_no_context_takeover",
            ),
            (
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
                "client_no_context_takeover",
            ),
            ("permessage-deflate; foo", "foo"),
        ];
        for (answer, parameter) in cases {
            assert!(
                refusal(answer).contains(parameter),
                "{answer}: {}",
                refusal(answer)
            );
        }
    }

    #[test]
    fn other_extensions_and_repeated_elements_are_refused() {
        assert!(refusal("x-webkit-deflate-frame").contains("not offered"));
        assert!(refusal("permessage-deflate, permessage-deflate").contains("more than one"));
        assert!(accept_answer("permessage-deflate", false)
            .unwrap_err()
            .contains("not offered"));
    }
}
