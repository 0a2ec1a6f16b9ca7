//! The questionnaire on the terminal: asks the adviser's questions ([`adviser::questionnaire`],
//! data) for every profile key not already given by `--profile` or flags (dialoguer, on the
//! terminal's stderr). Without a terminal it refuses and says to use `--profile`.

use std::io::IsTerminal;

use dialoguer::{theme::ColorfulTheme, Confirm, Input, Select};

use adviser::profile::{key_at, KeyKind, PartialProfile, Profile};
use adviser::questionnaire::{check_answer, to_ask, QUESTIONS};

/// The message when there is no terminal to ask on.
pub const NO_TERMINAL: &str = "the questionnaire needs a terminal; without one, use --profile FILE (see docs/profile.md and examples/) or give the values as flags";

/// Whether the questionnaire can run (stdin and stderr are terminals).
pub fn available() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks for every key `start` does not give, and returns the complete profile.
pub fn ask(start: &PartialProfile) -> Result<Profile, String> {
    if !available() {
        return Err(NO_TERMINAL.to_string());
    }
    let theme = ColorfulTheme::default();
    let mut p = start.clone();
    eprintln!("stackwise advise: the articles' questions (Ctrl-C to stop). Each answer can also be given as a flag.\n");
    for qn in QUESTIONS {
        if !to_ask(qn, &p) {
            continue;
        }
        let key = key_at(qn.key).expect("every question has a key");
        eprintln!("  {} ({}, flag {})", qn.help, qn.key, key.flag);
        let err = |e: dialoguer::Error| format!("questionnaire: {e}");
        let answer = match key.kind {
            KeyKind::Bool => Confirm::with_theme(&theme)
                .with_prompt(qn.ask)
                .default(false)
                .interact()
                .map_err(err)?
                .to_string(),
            KeyKind::Choice(names) => {
                let i = Select::with_theme(&theme)
                    .with_prompt(qn.ask)
                    .items(names)
                    .default(0)
                    .interact()
                    .map_err(err)?;
                names[i].to_string()
            }
            KeyKind::Count | KeyKind::Number => {
                let path = qn.key;
                Input::<String>::with_theme(&theme)
                    .with_prompt(qn.ask)
                    .allow_empty(key.optional)
                    .validate_with(move |s: &String| -> Result<(), String> {
                        check_answer(path, s).map_err(|e| e.to_string())
                    })
                    .interact_text()
                    .map_err(err)?
            }
        };
        // An empty answer leaves an optional key unset (its default).
        if !answer.trim().is_empty() {
            p.set(qn.key, &answer).map_err(|e| e.to_string())?;
        }
    }
    p.complete().map_err(|e| e.to_string())
}
