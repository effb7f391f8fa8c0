//! A menu on the terminal to pick one of several names, as Podman's short
//! name prompt draws it (promptui's select): `? Please select an image:`,
//! the choices below with `▸` at the current one, arrow keys (or j/k) to
//! move, Enter to take it, Ctrl-C to give up.

use std::io::{self, Read, Write};

use nix::sys::termios::{
    tcgetattr, tcsetattr, ControlFlags, InputFlags, LocalFlags, SetArg, SpecialCharacterIndices,
};

/// Shows `label` and `items` on stdout and reads keys from stdin (both a
/// terminal); the index chosen, or an error when the user interrupted
/// (`^C`) or the terminal ended. The terminal's mode is restored in any case.
pub fn select(label: &str, items: &[String]) -> io::Result<usize> {
    let stdin = io::stdin();
    let saved = tcgetattr(&stdin).map_err(io::Error::from)?;
    let mut raw = saved.clone();
    raw.local_flags
        .remove(LocalFlags::ICANON | LocalFlags::ECHO | LocalFlags::ISIG | LocalFlags::IEXTEN);
    raw.input_flags
        .remove(InputFlags::ICRNL | InputFlags::IXON | InputFlags::INLCR);
    raw.control_flags.insert(ControlFlags::CS8);
    raw.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    raw.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    tcsetattr(&stdin, SetArg::TCSANOW, &raw).map_err(io::Error::from)?;
    let mut out = io::stdout().lock();
    let result = run_menu(&mut stdin.lock(), &mut out, label, items);
    // Show the cursor again, then give the terminal back as it was.
    let _ = write!(out, "\x1b[?25h");
    let _ = out.flush();
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    result
}

/// The key presses the menu knows.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    Up,
    Down,
    Enter,
    Interrupt,
    Other,
}

/// Reads one key, decoding the escape sequences of the arrow keys.
fn read_key(input: &mut impl Read) -> io::Result<Key> {
    let mut b = [0u8; 1];
    let next = |input: &mut dyn Read, b: &mut [u8; 1]| -> io::Result<u8> {
        match input.read(b)? {
            0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "EOF")),
            _ => Ok(b[0]),
        }
    };
    Ok(match next(input, &mut b)? {
        b'\r' | b'\n' => Key::Enter,
        3 | 4 => Key::Interrupt,
        b'k' | 16 => Key::Up,
        b'j' | 14 => Key::Down,
        0x1b => match next(input, &mut b)? {
            b'[' | b'O' => match next(input, &mut b)? {
                b'A' => Key::Up,
                b'B' => Key::Down,
                _ => Key::Other,
            },
            _ => Key::Other,
        },
        _ => Key::Other,
    })
}

fn run_menu(
    input: &mut impl Read,
    out: &mut impl Write,
    label: &str,
    items: &[String],
) -> io::Result<usize> {
    let mut at = 0usize;
    let draw = |out: &mut dyn Write, at: usize, first: bool| -> io::Result<()> {
        if !first {
            // Back to the first choice line.
            write!(out, "\x1b[{}A", items.len())?;
        }
        for (i, item) in items.iter().enumerate() {
            if i == at {
                write!(out, "\x1b[2K\r  \x1b[1m▸\x1b[0m \x1b[4m{item}\x1b[0m\r\n")?;
            } else {
                write!(out, "\x1b[2K\r    {item}\r\n")?;
            }
        }
        out.flush()
    };
    write!(out, "\x1b[?25l\x1b[2K\r\x1b[34m?\x1b[0m {label}: \r\n")?;
    draw(out, at, true)?;
    loop {
        match read_key(input)? {
            Key::Up => at = at.checked_sub(1).unwrap_or(items.len() - 1),
            Key::Down => at = (at + 1) % items.len(),
            Key::Enter => break,
            Key::Interrupt => return Err(io::Error::new(io::ErrorKind::Interrupted, "^C")),
            Key::Other => continue,
        }
        draw(out, at, false)?;
    }
    // Replace the menu with the choice, as promptui does.
    for _ in 0..=items.len() {
        write!(out, "\x1b[1A\x1b[2K\r")?;
    }
    write!(out, "\x1b[32m✔\x1b[0m \x1b[2m{}\x1b[0m\r\n", items[at])?;
    out.flush()?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(keys: &[u8], n: usize) -> io::Result<usize> {
        let items: Vec<String> = (0..n).map(|i| format!("r{i}/app:1")).collect();
        let mut out = Vec::new();
        let r = run_menu(&mut &keys[..], &mut out, "Please select an image", &items);
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("Please select an image: "), "{text}");
        r
    }

    #[test]
    fn arrows_and_enter_choose() {
        assert_eq!(pick(b"\r", 3).unwrap(), 0);
        assert_eq!(pick(b"\x1b[B\x1b[B\r", 3).unwrap(), 2);
        assert_eq!(pick(b"\x1b[A\r", 3).unwrap(), 2, "up from the top wraps");
        assert_eq!(pick(b"jjjk\r", 3).unwrap(), 2);
        assert_eq!(pick(b"x\x1bOB\n", 3).unwrap(), 1);
    }

    #[test]
    fn ctrl_c_and_eof_give_up() {
        assert_eq!(
            pick(b"\x1b[B\x03", 2).unwrap_err().kind(),
            io::ErrorKind::Interrupted
        );
        assert_eq!(
            pick(b"\x1b[B", 2).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
