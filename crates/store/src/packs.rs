//! Immutable, content-addressed packs of raw file bytes.
//!
//! SS-MIX2 files are small (1–3 KB) and very alike, so compressing them one by one gains
//! little; compressing them together gains a lot. A pack is a sequence of independent zstd
//! frames, each holding the concatenated bytes of up to ~64 KB of files; one file is read back
//! by decompressing only its frame. A pack is named by the SHA-256 of its bytes, written once
//! (temp file, fsync, rename) and never modified — which is what makes replication, verify and
//! immutable backups simple later on.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use model::Sha256;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::{Result, StoreError};

/// Raw bytes per frame before compression: large enough to compress well, small enough that
/// reading one file decompresses little.
const FRAME_TARGET: usize = 64 * 1024;
const ZSTD_LEVEL: i32 = 3;

/// Where one raw content lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobLocation {
    pub pack: String,
    pub frame_offset: u64,
    pub frame_len: u32,
    /// Offset of the content inside the decompressed frame.
    pub offset: u32,
    pub len: u32,
}

/// A content placed in a frame: its hash, offset and length in the decompressed frame.
type Placed = (Sha256, u32, u32);

/// A finished pack: its name, its bytes, and where each content went.
pub struct Pack {
    pub name: String,
    pub bytes: Vec<u8>,
    pub locations: Vec<(Sha256, BlobLocation)>,
}

/// Collects contents into frames and produces one pack.
#[derive(Default)]
pub struct PackBuilder {
    /// Closed frames: raw bytes and (hash, offset, len) of each content in them.
    frames: Vec<(Vec<u8>, Vec<Placed>)>,
    frame: Vec<u8>,
    pending: Vec<Placed>,
}

impl PackBuilder {
    pub fn new() -> PackBuilder {
        PackBuilder::default()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.frames.is_empty()
    }

    pub fn add(&mut self, sha: Sha256, bytes: &[u8]) -> Result<()> {
        if !self.frame.is_empty() && self.frame.len() + bytes.len() > FRAME_TARGET {
            self.close_frame();
        }
        self.pending
            .push((sha, self.frame.len() as u32, bytes.len() as u32));
        self.frame.extend_from_slice(bytes);
        Ok(())
    }

    fn close_frame(&mut self) {
        if !self.pending.is_empty() {
            self.frames.push((
                std::mem::take(&mut self.frame),
                std::mem::take(&mut self.pending),
            ));
        }
    }

    /// Finish the pack: its bytes, its name and where each content went. Frames are
    /// compressed in parallel: this runs inside the store's single writer, which must not
    /// become the import's bottleneck.
    pub fn finish(mut self) -> Result<Pack> {
        self.close_frame();
        let compressed: Vec<Vec<u8>> = self
            .frames
            .par_iter()
            .map_init(
                || zstd::bulk::Compressor::new(ZSTD_LEVEL),
                |compressor, (raw, _)| match compressor {
                    Ok(c) => c
                        .compress(raw)
                        .map_err(|e| StoreError::Corrupt(format!("zstd compression failed: {e}"))),
                    Err(e) => Err(StoreError::Corrupt(format!(
                        "zstd initialisation failed: {e}"
                    ))),
                },
            )
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(compressed.iter().map(Vec::len).sum());
        let mut placed = Vec::new();
        for ((_, contents), frame) in self.frames.iter().zip(&compressed) {
            let frame_offset = out.len() as u64;
            out.extend_from_slice(frame);
            for &(sha, offset, len) in contents {
                placed.push((sha, frame_offset, frame.len() as u32, offset, len));
            }
        }
        let name = hex(&sha2::Sha256::digest(&out));
        let locations = placed
            .into_iter()
            .map(|(sha, frame_offset, frame_len, offset, len)| {
                (
                    sha,
                    BlobLocation {
                        pack: name.clone(),
                        frame_offset,
                        frame_len,
                        offset,
                        len,
                    },
                )
            })
            .collect();
        Ok(Pack {
            name,
            bytes: out,
            locations,
        })
    }
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Decompress one frame read from a pack (backends that read packs themselves).
pub fn decode_frame(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::stream::decode_all(bytes)
}

pub fn sha256(bytes: &[u8]) -> Sha256 {
    Sha256(sha2::Sha256::digest(bytes).into())
}

/// Packs kept in a local directory: `<root>/<first two hex>/<name>.pack`.
#[derive(Debug, Clone)]
pub struct LocalPacks {
    root: PathBuf,
}

impl LocalPacks {
    pub fn open(root: impl Into<PathBuf>) -> Result<LocalPacks> {
        let root = root.into();
        crate::private::create_private_dir_all(&root).map_err(|e| io_err(&root, e))?;
        Ok(LocalPacks { root })
    }

    pub fn path_of(&self, name: &str) -> PathBuf {
        self.root
            .join(&name[..2.min(name.len())])
            .join(format!("{name}.pack"))
    }

    /// Write a pack durably. Writing a pack that exists is a no-op (same name, same bytes).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path_of(name);
        if path.exists() {
            return Ok(());
        }
        let dir = path.parent().unwrap_or(&self.root).to_path_buf();
        crate::private::create_private_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        let tmp = dir.join(format!(".{name}.tmp"));
        let mut f = crate::private::private_file_options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| io_err(&tmp, e))?;
        f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
        f.sync_all().map_err(|e| io_err(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
        // The rename must survive a power cut before the index points at it.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Write a pack rebuilt from good copies of its contents. A rebuilt pack can have the name
    /// of the damaged one it replaces (the same contents packed the same way give the same
    /// bytes): a file of that name that no longer hashes to its name is replaced, not kept.
    pub fn write_rebuilt(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path_of(name);
        let intact = fs::read(&path)
            .map(|existing| hex(&sha2::Sha256::digest(&existing)) == name)
            .unwrap_or(false);
        if path.exists() && !intact {
            return self.replace(name, bytes);
        }
        self.write(name, bytes)
    }

    /// Put back a pack whose file is missing or damaged, atomically. The damaged file, if
    /// any, is moved to `damaged/` beside the packs rather than deleted: it is evidence.
    pub fn replace(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path_of(name);
        if path.exists() {
            let aside = self.root.join("damaged");
            fs::create_dir_all(&aside).map_err(|e| io_err(&aside, e))?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            let to = aside.join(format!("{name}.pack.{stamp}"));
            fs::rename(&path, &to).map_err(|e| io_err(&to, e))?;
        }
        self.write(name, bytes)
    }

    /// Decompress one frame.
    pub fn read_frame(&self, pack: &str, offset: u64, len: u32) -> Result<Vec<u8>> {
        let path = self.path_of(pack);
        let mut f = fs::File::open(&path).map_err(|e| io_err(&path, e))?;
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io_err(&path, e))?;
        let mut buf = vec![0u8; len as usize];
        f.read_exact(&mut buf).map_err(|e| io_err(&path, e))?;
        zstd::stream::decode_all(&buf[..]).map_err(|e| {
            StoreError::Corrupt(format!("pack {} frame at {offset}: {e}", path.display()))
        })
    }

    /// Cut a content out of its decompressed frame and check its hash.
    pub fn extract(frame: &[u8], loc: &BlobLocation, expected: &Sha256) -> Result<Vec<u8>> {
        let start = loc.offset as usize;
        let end = start + loc.len as usize;
        let bytes = frame
            .get(start..end)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "pack {} frame too short for content {expected}",
                    loc.pack
                ))
            })?
            .to_vec();
        if &sha256(&bytes) != expected {
            return Err(StoreError::Corrupt(format!(
                "content {expected} in pack {} fails its checksum",
                loc.pack
            )));
        }
        Ok(bytes)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Total size of all pack files.
    pub fn total_bytes(&self) -> u64 {
        fn walk(p: &Path) -> u64 {
            let Ok(rd) = fs::read_dir(p) else { return 0 };
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&e.path()),
                    Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.root)
    }
}

fn io_err(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Blob {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pack rebuilt under the damaged pack's own name replaces the damaged file (which is
    /// kept aside as evidence); an intact file of that name is left alone.
    #[test]
    fn a_rebuilt_pack_replaces_a_damaged_file_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let packs = LocalPacks::open(dir.path()).unwrap();
        let mut b = PackBuilder::new();
        b.add(sha256(b"one content"), b"one content").unwrap();
        let pack = b.finish().unwrap();
        packs.write(&pack.name, &pack.bytes).unwrap();
        let path = packs.path_of(&pack.name);
        let mut bad = pack.bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0xff;
        fs::write(&path, &bad).unwrap();
        // Writing "if absent" would keep the damaged file.
        packs.write(&pack.name, &pack.bytes).unwrap();
        assert_eq!(fs::read(&path).unwrap(), bad);
        packs.write_rebuilt(&pack.name, &pack.bytes).unwrap();
        assert_eq!(fs::read(&path).unwrap(), pack.bytes);
        assert!(dir
            .path()
            .join("damaged")
            .read_dir()
            .unwrap()
            .next()
            .is_some());
        // Intact: nothing moves.
        packs.write_rebuilt(&pack.name, &pack.bytes).unwrap();
        assert_eq!(fs::read(&path).unwrap(), pack.bytes);
        assert_eq!(dir.path().join("damaged").read_dir().unwrap().count(), 1);
    }

    #[test]
    fn pack_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let packs = LocalPacks::open(dir.path()).unwrap();
        let mut b = PackBuilder::new();
        let contents: Vec<Vec<u8>> = (0..500)
            .map(|i| format!("MSH|^~\\&|file {i}\r").repeat(20).into_bytes())
            .collect();
        for c in &contents {
            b.add(sha256(c), c).unwrap();
        }
        let Pack {
            name,
            bytes,
            locations: locs,
        } = b.finish().unwrap();
        assert!(
            bytes.len() < contents.iter().map(|c| c.len()).sum::<usize>() / 5,
            "compresses well"
        );
        packs.write(&name, &bytes).unwrap();
        packs.write(&name, &bytes).unwrap();
        for ((sha, loc), c) in locs.iter().zip(&contents) {
            let frame = packs
                .read_frame(&loc.pack, loc.frame_offset, loc.frame_len)
                .unwrap();
            assert_eq!(&LocalPacks::extract(&frame, loc, sha).unwrap(), c);
        }
        // A flipped byte is detected.
        let (sha, loc) = &locs[0];
        let mut frame = packs
            .read_frame(&loc.pack, loc.frame_offset, loc.frame_len)
            .unwrap();
        frame[loc.offset as usize] ^= 1;
        assert!(LocalPacks::extract(&frame, loc, sha).is_err());
    }
}
