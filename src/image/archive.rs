//! Writing a directory tree as a tar stream.
