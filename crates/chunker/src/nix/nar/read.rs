//! The streaming NAR reader.

use std::io::{self, BufRead, BufReader, Read};

use super::{padding, MAGIC, MAX_DEPTH, MAX_NAME_LEN, MAX_TARGET_LEN};

/// Longest keyword token (`"executable"`, `"directory"`) plus slack.
const MAX_TOKEN: usize = 16;

/// A short string read in place: bytes and length, or `None` when too long for a token.
type Token = Option<([u8; MAX_TOKEN], usize)>;

/// An invalid or unreadable NAR. Every variant names the byte offset in the NAR where
/// the offending item starts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NarError {
    /// The reader failed.
    #[error("reading NAR at byte {offset}")]
    Io {
        /// Bytes consumed before the failure.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// The input ended inside the NAR.
    #[error("NAR truncated at byte {offset}")]
    Truncated {
        /// Bytes consumed when the input ended.
        offset: u64,
    },
    /// A keyword other than the grammar allows here (or not a NAR at all, at offset 0).
    #[error("invalid NAR at byte {offset}: expected {expected}, found {}", found_text(.found))]
    UnexpectedToken {
        /// Where the string starts.
        offset: u64,
        /// What the grammar allows here.
        expected: &'static str,
        /// The string found, or `None` when its length alone rules it out.
        found: Option<Vec<u8>>,
    },
    /// A string longer than its limit (checked before allocating).
    #[error("invalid NAR at byte {offset}: {what} of {length} bytes exceeds the limit of {limit}")]
    TooLong {
        /// Where the string starts.
        offset: u64,
        /// What the string is (`"entry name"`, `"symlink target"`).
        what: &'static str,
        /// Its declared length.
        length: u64,
        /// The limit.
        limit: u64,
    },
    /// Padding after a string or file contents is not zero.
    #[error("invalid NAR at byte {offset}: non-zero padding")]
    NonZeroPadding {
        /// Where the padding starts.
        offset: u64,
    },
    /// An entry name that is empty, `.`, `..`, or contains `/` or NUL.
    #[error("invalid NAR at byte {offset}: invalid entry name {:?}", String::from_utf8_lossy(.name))]
    InvalidName {
        /// Where the name string starts.
        offset: u64,
        /// The name.
        name: Vec<u8>,
    },
    /// An entry name not strictly greater (bytewise) than the previous one.
    #[error("invalid NAR at byte {offset}: entry {:?} is not after {:?} (names must be sorted and unique)", String::from_utf8_lossy(.name), String::from_utf8_lossy(.previous))]
    Unsorted {
        /// Where the name string starts.
        offset: u64,
        /// The name.
        name: Vec<u8>,
        /// The previous name in the same directory.
        previous: Vec<u8>,
    },
    /// Directories nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    #[error("invalid NAR at byte {offset}: nesting deeper than {limit} levels")]
    TooDeep {
        /// Where the offending entry starts.
        offset: u64,
        /// The limit.
        limit: usize,
    },
    /// A symlink target that is empty or contains NUL.
    #[error("invalid NAR at byte {offset}: invalid symlink target")]
    InvalidTarget {
        /// Where the target string starts.
        offset: u64,
    },
}

fn found_text(found: &Option<Vec<u8>>) -> String {
    match found {
        Some(f) => format!("{:?}", String::from_utf8_lossy(f)),
        None => "a longer string".into(),
    }
}

impl NarError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            NarError::Io { offset, .. }
            | NarError::Truncated { offset }
            | NarError::UnexpectedToken { offset, .. }
            | NarError::TooLong { offset, .. }
            | NarError::NonZeroPadding { offset }
            | NarError::InvalidName { offset, .. }
            | NarError::Unsorted { offset, .. }
            | NarError::TooDeep { offset, .. }
            | NarError::InvalidTarget { offset } => *offset,
        }
    }

    fn into_io(self) -> io::Error {
        let kind = match &self {
            NarError::Io { source, .. } => source.kind(),
            NarError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// What a NAR entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind<'a> {
    /// A directory; its entries follow.
    Directory,
    /// A regular file of `size` bytes; read them with [`NarReader::contents`].
    Regular {
        /// The owner-execute bit.
        executable: bool,
        /// Length of the contents.
        size: u64,
    },
    /// A symbolic link.
    Symlink {
        /// The link target, as stored.
        target: &'a [u8],
    },
}

/// One node of a NAR, in document order (a directory before its entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// Path below the root, components joined with `/`; empty for the root node.
    pub path: &'a [u8],
    /// Path components below the root (0 for the root).
    pub depth: usize,
    /// What the node is.
    pub kind: EntryKind<'a>,
    /// Byte offset of the node's `"("` in the NAR.
    pub offset: u64,
}

impl Entry<'_> {
    /// The path as text, `/`-rooted (`/` for the root), invalid UTF-8 replaced.
    pub fn path_lossy(&self) -> String {
        format!("/{}", String::from_utf8_lossy(self.path))
    }
}

#[derive(Debug)]
struct Frame {
    /// Length of the directory's own path in `path`.
    dir_len: usize,
    /// The previous entry name, for the ordering check.
    prev: Vec<u8>,
    has_prev: bool,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Start,
    /// Inside a regular file's contents.
    Contents {
        remaining: u64,
        size: u64,
    },
    /// A node just ended.
    AfterNode,
    /// Inside a directory, before `"entry"` or `")"`.
    DirNext,
    Done,
    Failed,
}

/// A validating streaming NAR parser.
///
/// [`next_entry`](NarReader::next_entry) yields the nodes in order; after a regular file,
/// [`contents`](NarReader::contents) reads its bytes (skipped if not read). Checks what
/// Nix checks: the magic, zero padding, names sorted strictly increasing, no empty /
/// `.` / `..` / `/` / NUL names, names ≤ 255 bytes, symlink targets ≤ 4096 bytes,
/// depth ≤ [`MAX_DEPTH`] (1024). Every length is bounded before anything is allocated; file contents are
/// streamed. The reader stops after the root node and never reads past the NAR.
///
/// ```
/// use std::io::Read;
/// use chunker::nix::{pack, EntryKind, NarReader};
///
/// let file = std::env::temp_dir().join(format!("chunker-reader-doc-{}", std::process::id()));
/// std::fs::write(&file, b"hello")?;
/// let mut nar = Vec::new();
/// pack(&file, &mut nar)?;
///
/// let mut reader = NarReader::new(&nar[..]);
/// let entry = reader.next_entry()?.expect("root");
/// assert_eq!(entry.kind, EntryKind::Regular { executable: false, size: 5 });
/// let mut body = String::new();
/// reader.contents().read_to_string(&mut body)?;
/// assert_eq!(body, "hello");
/// assert!(reader.next_entry()?.is_none());
/// # std::fs::remove_file(&file)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NarReader<R> {
    inner: BufReader<R>,
    pos: u64,
    state: State,
    stack: Vec<Frame>,
    path: Vec<u8>,
    target: Vec<u8>,
    name_buf: Vec<u8>,
    last_exec: bool,
    last_offset: u64,
}

impl<R: Read> NarReader<R> {
    /// A reader over `reader` (buffered internally).
    pub fn new(reader: R) -> Self {
        NarReader {
            inner: BufReader::with_capacity(64 << 10, reader),
            pos: 0,
            state: State::Start,
            stack: Vec::new(),
            path: Vec::new(),
            target: Vec::new(),
            name_buf: Vec::new(),
            last_exec: false,
            last_offset: 0,
        }
    }

    /// NAR bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Give back the underlying reader. Bytes it buffered past the current position are
    /// lost.
    pub fn into_inner(self) -> R {
        self.inner.into_inner()
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), NarError> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.pos += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(NarError::Truncated { offset: self.pos })
            }
            Err(source) => Err(NarError::Io {
                offset: self.pos,
                source,
            }),
        }
    }

    fn read_u64(&mut self) -> Result<u64, NarError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn read_padding(&mut self, len: u64) -> Result<(), NarError> {
        let pad = padding(len);
        if pad > 0 {
            let offset = self.pos;
            let mut b = [0u8; 8];
            self.read_exact(&mut b[..pad])?;
            if b[..pad].iter().any(|&x| x != 0) {
                return Err(NarError::NonZeroPadding { offset });
            }
        }
        Ok(())
    }

    /// Read a short keyword string; `None` if longer than [`MAX_TOKEN`] (not consumed
    /// beyond its length field).
    fn read_token(&mut self) -> Result<(u64, Token), NarError> {
        let offset = self.pos;
        let len = self.read_u64()?;
        if len > MAX_TOKEN as u64 {
            return Ok((offset, None));
        }
        let mut b = [0u8; MAX_TOKEN];
        let n = len as usize;
        self.read_exact(&mut b[..n])?;
        self.read_padding(len)?;
        Ok((offset, Some((b, n))))
    }

    fn expect(&mut self, token: &'static [u8], expected: &'static str) -> Result<(), NarError> {
        let (offset, t) = self.read_token()?;
        match t {
            Some((b, n)) if &b[..n] == token => Ok(()),
            other => Err(NarError::UnexpectedToken {
                offset,
                expected,
                found: other.map(|(b, n)| b[..n].to_vec()),
            }),
        }
    }

    /// Read a string of at most `limit` bytes into `out` (replacing its contents).
    fn read_bounded(
        &mut self,
        out: &mut Vec<u8>,
        limit: usize,
        what: &'static str,
    ) -> Result<u64, NarError> {
        let offset = self.pos;
        let len = self.read_u64()?;
        if len > limit as u64 {
            return Err(NarError::TooLong {
                offset,
                what,
                length: len,
                limit: limit as u64,
            });
        }
        out.clear();
        out.resize(len as usize, 0);
        self.read_exact(out)?;
        self.read_padding(len)?;
        Ok(offset)
    }

    /// The next node, or `None` after the last one. Unread file contents are skipped
    /// (and still validated). After an error the reader yields `None`.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'_>>, NarError> {
        match self.advance() {
            Ok(true) => Ok(Some(self.current_entry())),
            Ok(false) => Ok(None),
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn current_entry(&self) -> Entry<'_> {
        let kind = match self.state {
            State::Contents { size, .. } => EntryKind::Regular {
                executable: self.last_exec,
                size,
            },
            State::DirNext => EntryKind::Directory,
            _ => EntryKind::Symlink {
                target: &self.target,
            },
        };
        Entry {
            path: &self.path,
            depth: self.stack.len() - usize::from(matches!(self.state, State::DirNext)),
            kind,
            offset: self.last_offset,
        }
    }

    /// Move to the next node; `true` when one was parsed.
    fn advance(&mut self) -> Result<bool, NarError> {
        loop {
            match self.state {
                State::Done | State::Failed => return Ok(false),
                State::Start => {
                    self.expect(MAGIC, "\"nix-archive-1\" (not a NAR)")?;
                    self.parse_node()?;
                    return Ok(true);
                }
                State::Contents { remaining, size } => {
                    self.skip(remaining)?;
                    self.read_padding(size)?;
                    self.expect(b")", "\")\"")?;
                    self.state = State::AfterNode;
                }
                State::AfterNode => {
                    if self.stack.is_empty() {
                        self.state = State::Done;
                        return Ok(false);
                    }
                    self.expect(b")", "\")\" (end of entry)")?;
                    self.state = State::DirNext;
                }
                State::DirNext => {
                    let (offset, t) = self.read_token()?;
                    match t {
                        Some((b, 5)) if &b[..5] == b"entry" => {
                            self.parse_entry(offset)?;
                            return Ok(true);
                        }
                        Some((b, 1)) if b[0] == b')' => {
                            let frame = self.stack.pop().expect("DirNext inside a directory");
                            self.path.truncate(frame.dir_len);
                            self.state = State::AfterNode;
                        }
                        other => {
                            return Err(NarError::UnexpectedToken {
                                offset,
                                expected: "\"entry\" or \")\"",
                                found: other.map(|(b, n)| b[..n].to_vec()),
                            })
                        }
                    }
                }
            }
        }
    }

    fn parse_entry(&mut self, offset: u64) -> Result<(), NarError> {
        if self.stack.len() > MAX_DEPTH {
            return Err(NarError::TooDeep {
                offset,
                limit: MAX_DEPTH,
            });
        }
        self.expect(b"(", "\"(\"")?;
        self.expect(b"name", "\"name\"")?;
        let mut name = std::mem::take(&mut self.name_buf);
        let result = self.read_bounded(&mut name, MAX_NAME_LEN, "entry name");
        let name_offset = match result {
            Ok(o) => o,
            Err(e) => {
                self.name_buf = name;
                return Err(e);
            }
        };
        let invalid = name.is_empty()
            || name == b"."
            || name == b".."
            || name.iter().any(|&c| c == b'/' || c == 0);
        if invalid {
            return Err(NarError::InvalidName {
                offset: name_offset,
                name,
            });
        }
        let frame = self.stack.last_mut().expect("entry inside a directory");
        if frame.has_prev && name.as_slice() <= frame.prev.as_slice() {
            return Err(NarError::Unsorted {
                offset: name_offset,
                name,
                previous: frame.prev.clone(),
            });
        }
        frame.has_prev = true;
        frame.prev.clear();
        frame.prev.extend_from_slice(&name);
        let dir_len = frame.dir_len;
        self.path.truncate(dir_len);
        if dir_len > 0 {
            self.path.push(b'/');
        }
        self.path.extend_from_slice(&name);
        self.name_buf = name;
        self.expect(b"node", "\"node\"")?;
        self.parse_node()
    }

    /// Parse a node header; sets the state for what follows.
    fn parse_node(&mut self) -> Result<(), NarError> {
        self.last_offset = self.pos;
        self.expect(b"(", "\"(\"")?;
        self.expect(b"type", "\"type\"")?;
        let (offset, t) = self.read_token()?;
        match t {
            Some((b, n)) if &b[..n] == b"regular" => {
                let (offset, t) = self.read_token()?;
                let executable = match t {
                    Some((b, n)) if &b[..n] == b"executable" => {
                        self.expect(b"", "\"\" (after \"executable\")")?;
                        self.expect(b"contents", "\"contents\"")?;
                        true
                    }
                    Some((b, n)) if &b[..n] == b"contents" => false,
                    other => {
                        return Err(NarError::UnexpectedToken {
                            offset,
                            expected: "\"executable\" or \"contents\"",
                            found: other.map(|(b, n)| b[..n].to_vec()),
                        })
                    }
                };
                let size = self.read_u64()?;
                self.last_exec = executable;
                self.state = State::Contents {
                    remaining: size,
                    size,
                };
            }
            Some((b, n)) if &b[..n] == b"symlink" => {
                self.expect(b"target", "\"target\"")?;
                let mut target = std::mem::take(&mut self.target);
                let result = self.read_bounded(&mut target, MAX_TARGET_LEN, "symlink target");
                let bad = target.is_empty() || target.contains(&0);
                self.target = target;
                let offset = result?;
                if bad {
                    return Err(NarError::InvalidTarget { offset });
                }
                self.expect(b")", "\")\"")?;
                self.state = State::AfterNode;
            }
            Some((b, n)) if &b[..n] == b"directory" => {
                self.stack.push(Frame {
                    dir_len: self.path.len(),
                    prev: Vec::new(),
                    has_prev: false,
                });
                self.state = State::DirNext;
            }
            other => {
                return Err(NarError::UnexpectedToken {
                    offset,
                    expected: "\"regular\", \"symlink\" or \"directory\"",
                    found: other.map(|(b, n)| b[..n].to_vec()),
                })
            }
        }
        Ok(())
    }

    /// Discard `n` content bytes.
    fn skip(&mut self, n: u64) -> Result<(), NarError> {
        let mut left = n;
        while left > 0 {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(NarError::Io {
                        offset: self.pos,
                        source,
                    })
                }
            };
            if buf.is_empty() {
                return Err(NarError::Truncated { offset: self.pos });
            }
            let k = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.inner.consume(k);
            self.pos += k as u64;
            left -= k as u64;
        }
        if let State::Contents { size, .. } = self.state {
            self.state = State::Contents { remaining: 0, size };
        }
        Ok(())
    }

    /// The contents of the regular file just returned by [`next_entry`](Self::next_entry)
    /// (NarReader::next_entry), as a reader bounded to its size. Reads nothing at any
    /// other time. A NAR that ends early is an [`io::Error`] wrapping
    /// [`NarError::Truncated`].
    pub fn contents(&mut self) -> Contents<'_, R> {
        Contents { reader: self }
    }
}

/// The contents of one regular file in a NAR: see [`NarReader::contents`].
#[derive(Debug)]
pub struct Contents<'a, R> {
    reader: &'a mut NarReader<R>,
}

impl<R> Contents<'_, R> {
    /// Bytes of this file not yet read.
    pub fn remaining(&self) -> u64 {
        match self.reader.state {
            State::Contents { remaining, .. } => remaining,
            _ => 0,
        }
    }
}

impl<R: Read> Read for Contents<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let State::Contents { remaining, size } = self.reader.state else {
            return Ok(0);
        };
        if remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let r = &mut *self.reader;
        match r.inner.read(&mut buf[..want]) {
            Ok(0) => {
                r.state = State::Failed;
                Err(NarError::Truncated { offset: r.pos }.into_io())
            }
            Ok(k) => {
                r.pos += k as u64;
                r.state = State::Contents {
                    remaining: remaining - k as u64,
                    size,
                };
                Ok(k)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(source) => {
                r.state = State::Failed;
                Err(NarError::Io {
                    offset: r.pos,
                    source,
                }
                .into_io())
            }
        }
    }
}
