//! How a connection ends: the outcome JS reports in `closed`, and what each
//! read failure means for the Close we send.

use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Error;

use crate::failure::{Failure, CONNECTION_LOST};
use crate::inflating_stream::ExtensionViolation;

/// RFC 6455 §7.1.5 codes for a close without a code.
pub const NO_STATUS_RECEIVED: u16 = 1005;
pub const ABNORMAL_CLOSURE: u16 = 1006;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseOutcome {
    pub code: u16,
    pub reason: String,
    /// The closing handshake completed.
    pub clean: bool,
    /// Why the close was unclean, for the WebSocketError (boxed: it is rare,
    /// and the outcome travels in every poll's Result).
    pub failure: Option<Box<Failure>>,
}

impl CloseOutcome {
    /// An unclean close: no usable Close frame arrived (1006).
    pub fn failed(failure: Failure) -> Self {
        CloseOutcome {
            code: ABNORMAL_CLOSURE,
            reason: String::new(),
            clean: false,
            failure: Some(Box::new(failure)),
        }
    }

    /// The closing handshake completed with the server's Close frame.
    pub fn clean(received: Option<&CloseFrame>) -> Self {
        let (code, reason) = match received {
            Some(frame) => (u16::from(frame.code), frame.reason.to_string()),
            None => (NO_STATUS_RECEIVED, String::new()),
        };
        CloseOutcome {
            code,
            reason,
            clean: true,
            failure: None,
        }
    }
}

/// What a failed read means.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadFailure {
    /// The transport ended or broke: nothing can be sent any more.
    Abrupt(Failure),
    /// The server broke the protocol: we send a Close with this code, then drop TCP.
    Violation { close_code: u16, message: String },
}

impl ReadFailure {
    /// The failure to report when no Close of ours is sent for it.
    pub fn into_failure(self) -> Failure {
        match self {
            ReadFailure::Abrupt(failure) => failure,
            ReadFailure::Violation {
                close_code,
                message,
            } => Failure::violation(close_code, message),
        }
    }
}

pub fn classify_read_error(error: Error) -> ReadFailure {
    match error {
        Error::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            ReadFailure::Abrupt(Failure::new(
                CONNECTION_LOST,
                "the server closed the connection without a closing handshake",
            ))
        }
        Error::Io(io) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<ExtensionViolation>())
        {
            Some(violation) => ReadFailure::Violation {
                close_code: violation.close_code,
                message: violation.message.clone(),
            },
            None => ReadFailure::Abrupt(Failure::io(&io, format!("the connection failed: {io}"))),
        },
        Error::Utf8(_) => ReadFailure::Violation {
            close_code: 1007,
            message: "the server sent text that is not valid UTF-8".to_string(),
        },
        Error::Capacity(capacity) => ReadFailure::Violation {
            close_code: 1009,
            message: format!("the server sent a message over the size limit: {capacity}"),
        },
        Error::Protocol(protocol) => ReadFailure::Violation {
            close_code: 1002,
            message: format!("the server violated the WebSocket protocol: {protocol}"),
        },
        other => ReadFailure::Abrupt(Failure::new(
            CONNECTION_LOST,
            format!("the connection failed: {other}"),
        )),
    }
}

/// tungstenite answers a Close carrying a code no endpoint may send with 1002
/// itself, then hands us a Close {1002, "Protocol violation"} as if the server
/// had sent that. Such a close is the server's protocol violation.
pub fn is_substituted_violation(frame: &CloseFrame) -> bool {
    frame.code == CloseCode::Protocol && frame.reason.as_str() == "Protocol violation"
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::error::CapacityError;

    #[test]
    fn empty_close_reports_1005_and_a_coded_one_its_code_and_reason() {
        assert_eq!(CloseOutcome::clean(None).code, 1005);
        let frame = CloseFrame {
            code: CloseCode::from(4000),
            reason: "bye".into(),
        };
        let outcome = CloseOutcome::clean(Some(&frame));
        assert_eq!(
            (outcome.code, outcome.reason.as_str(), outcome.clean),
            (4000, "bye", true)
        );
    }

    #[test]
    fn read_errors_map_to_the_close_code_we_send() {
        let utf8 = classify_read_error(Error::Utf8("bad".into()));
        assert!(matches!(
            utf8,
            ReadFailure::Violation {
                close_code: 1007,
                ..
            }
        ));
        let capacity = classify_read_error(Error::Capacity(CapacityError::MessageTooLong {
            size: 2,
            max_size: 1,
        }));
        assert!(matches!(
            capacity,
            ReadFailure::Violation {
                close_code: 1009,
                ..
            }
        ));
        let masked = classify_read_error(Error::Protocol(ProtocolError::MaskedFrameFromServer));
        assert!(matches!(
            masked,
            ReadFailure::Violation {
                close_code: 1002,
                ..
            }
        ));
        let reset =
            classify_read_error(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake));
        assert!(matches!(reset, ReadFailure::Abrupt(_)));
    }
}
