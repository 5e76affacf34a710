//! HL7 v2.5 ER7 ("pipe and hat") parsing for SS-MIX2 messages. No I/O.
//!
//! Two steps, in this order:
//! 1. [`decode`] turns the file's bytes into UTF-8 text. SS-MIX2 files are ISO-2022-JP, and JIS
//!    kanji bytes can equal the delimiters (入 is 0x46 0x7E, i.e. `F~`), so the whole file must be
//!    decoded *before* anything is split.
//! 2. [`Message::parse`] splits the text into segments and gives lazy, zero-copy access to
//!    fields, repetitions, components and sub-components. Values are unescaped on request.
//!
//! Field numbering follows the HL7 standard: `MSH-1` is the field separator itself, `MSH-2` the
//! encoding characters; for every other segment field 1 is the first field after the name.
//! Repetitions, components and sub-components are numbered from 1 as well.

mod decode;
mod escape;
mod jis;
mod message;

pub use decode::{decode, encode_iso2022jp, DecodeError, Decoded, EncodeError, TextEncoding};
pub use escape::{escape, unescape};
pub use message::{Component, Delimiters, Field, Message, ParseError, Repetition, Segment};
