//! An example of a Sortie plugin built outside Sortie's workspace: the `sftp` provider,
//! exporting a directory tree from an SFTP server (OpenSSH's, or any other) through
//! libssh2.
//!
//! It makes the same items as the built-in `file` provider does for the same tree (files,
//! directories, symbolic links with their targets, modes and modification times), so that
//! both exports of one tree hold the same payload; SFTP (version 3) gives times to the
//! second only. The server's host key must be in known_hosts, as with
//! `StrictHostKeyChecking yes`. Built as a `cdylib`, it is loaded with
//! `sortie --plugin libsortie_plugin_sftp.so`; built as an `rlib`, its tests use it
//! directly.
#![deny(missing_docs)]

mod client;
mod error;
mod lister;
mod provider;
mod reader;
mod settings;
mod source;

pub use provider::SftpProvider;
pub use source::SftpFactory;

sortie_sdk::export_plugin!(SftpFactory);
