//! Parsing `--change` instructions and applying them to an image config.
