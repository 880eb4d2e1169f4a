//! The Python that runs moto: a virtual environment this command manages, with moto installed
//! from the project's pin (`moto-requirements.txt`, which `scripts/setup.sh` installs too).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::key::tail;
use super::Error;

/// The moto requirement lines (`pip install` arguments), one copy for the command and the
/// project's `scripts/setup.sh`.
///
/// ```
/// let pins = cognito_session_cli::local::moto_requirements();
/// assert!(pins.iter().any(|p| p.starts_with("moto[")));
/// ```
pub fn moto_requirements() -> Vec<&'static str> {
    include_str!("../../moto-requirements.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Where `cognito-session dev` keeps its virtual environment unless told otherwise:
/// `$XDG_DATA_HOME/cognito-session/venv`, else `~/.local/share/cognito-session/venv`, else
/// `.cognito-session/venv` in the current directory.
///
/// ```
/// let venv = cognito_session_cli::local::default_venv();
/// assert!(venv.ends_with("cognito-session/venv"));
/// ```
pub fn default_venv() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        });
    match data {
        Some(data) => data.join("cognito-session/venv"),
        None => PathBuf::from(".cognito-session/venv"),
    }
}

/// The venv's interpreter.
///
/// ```
/// use std::path::Path;
/// let python = cognito_session_cli::local::venv_python(Path::new(".venv"));
/// assert_eq!(python, Path::new(".venv/bin/python"));
/// ```
pub fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

/// Whether `python` can run moto's server (what the launcher imports).
///
/// ```no_run
/// let ready = cognito_session_cli::local::has_moto(std::path::Path::new(".venv/bin/python"));
/// # let _ = ready;
/// ```
pub fn has_moto(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import moto.server, flask_cors"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The interpreter of `venv`, after creating the venv (with `python3 -m venv`) and installing
/// moto into it when it lacks moto. Idempotent: a ready venv is used as it is.
///
/// ```no_run
/// # fn demo() -> Result<(), cognito_session_cli::local::Error> {
/// use cognito_session_cli::local::{default_venv, install_moto};
/// let python = install_moto(&default_venv())?; // about 15 s the first time, then instant
/// # let _ = python; Ok(()) }
/// ```
pub fn install_moto(venv: &Path) -> Result<PathBuf, Error> {
    let python = venv_python(venv);
    if has_moto(&python) {
        return Ok(python);
    }
    let spec = moto_requirements().join(" ");
    let failed = |step: &'static str, why: String| Error::Install {
        step,
        venv: venv.to_owned(),
        why,
        spec: spec.clone(),
    };
    if !python.exists() {
        let system = PathBuf::from("python3");
        let output = Command::new(&system)
            .args(["-m", "venv"])
            .arg(venv)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::Python {
                python: system,
                source,
            })?;
        if !output.status.success() {
            return Err(failed(
                "python3 -m venv",
                format!("{}: {}", output.status, tail(&output.stderr)),
            ));
        }
    }
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(moto_requirements())
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Python {
            python: python.clone(),
            source,
        })?;
    if !output.status.success() {
        return Err(failed(
            "pip install",
            format!("{}: {}", output.status, tail(&output.stderr)),
        ));
    }
    if !has_moto(&python) {
        return Err(failed(
            "pip install",
            "moto installed but its server does not import".to_owned(),
        ));
    }
    Ok(python)
}
