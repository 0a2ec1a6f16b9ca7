// The chromium version gate of the browser tests (issue 12), as pure functions: no file, process or
// browser is touched here, so gate.test.mjs checks every case with `node --test` and no browser.
//
// playwright-core drives the chromium major version named in its browsers.json; Debian ships one
// chromium (the newest security update) and moves it on its own schedule. A different major version
// is therefore only a note: the test runs, and the browser decides. The advice on which
// playwright-core to pin is given only when that decision goes wrong in a way a version mismatch
// explains: chromium.launch() fails, or a CDP protocol error occurs, while the majors differ. A
// failed UI check is a failure of stackwise, never of the versions, and never gets that advice.

/**
 * The version in `chromium --version`'s output ("Chromium 156.0.8078.114 built on Debian …"): the
 * first four-part version, else the number after "Chromium"/"Chrome"; null when there is none.
 */
export function chromiumVersion(text) {
  const s = String(text ?? '');
  const m = /\b(\d+\.\d+\.\d+\.\d+)\b/.exec(s) || /\bchrom(?:e|ium)\s+(\d+(?:\.\d+)*)/i.exec(s);
  return m ? m[1] : null;
}

/** The major version (a number) of a dotted version string, or null if it has none. */
export function majorOf(version) {
  const m = /^(\d+)(?:\.|$)/.exec(String(version ?? ''));
  return m ? Number(m[1]) : null;
}

/**
 * Compares the machine's chromium with the one playwright-core was built for.
 *
 * - `playwrightVersion`: playwright-core's package.json version, e.g. "1.64.1";
 * - `builtFor`: the chromium `browserVersion` of its browsers.json, e.g. "156.0.8078.4";
 * - `chromiumText`: what `chromium --version` printed ("" or null when it printed nothing usable);
 * - `packageJson`: the path of tests/ui/package.json, named in the advice.
 *
 * Returns `{ relation, chromium, note, hint }`: `relation` is "same", "newer", "older" or
 * "unknown"; `chromium` the version read (or null); `note` a line to print (null when the majors
 * match); `hint` the advice on which playwright-core to pin, for `failureHint` (null unless the
 * majors are known to differ). The gate never fails the test itself.
 */
export function versionGate({ playwrightVersion, builtFor, chromiumText, packageJson }) {
  const chromium = chromiumVersion(chromiumText);
  const have = majorOf(chromium);
  const want = majorOf(builtFor);
  if (have === null || want === null) {
    const what = have === null
      ? `chromium's version unknown (\`--version\` printed ${JSON.stringify(String(chromiumText ?? '').trim())})`
      : `the chromium version playwright-core ${playwrightVersion} was built for is unknown ` +
        `(browsers.json names ${JSON.stringify(builtFor ?? null)})`;
    return {
      relation: 'unknown',
      chromium,
      note: `note: version unknown: ${what}; the launch decides`,
      hint: null,
    };
  }
  if (have === want) return { relation: 'same', chromium, note: null, hint: null };
  const relation = have > want ? 'newer' : 'older';
  return {
    relation,
    chromium,
    note: `note: chromium ${chromium} is ${relation} than chromium ${want}, which playwright-core ` +
      `${playwrightVersion} was built for; testing with it anyway (the launch and the pages decide)`,
    hint: `chromium ${chromium} may not speak the protocol of playwright-core ${playwrightVersion} ` +
      `(built for chromium ${want}): pin the playwright-core whose browsers.json names chromium ` +
      `${have} in ${packageJson} (then \`npm install\` there and commit package-lock.json)`,
  };
}

/** True for an error of the Chrome DevTools Protocol as playwright-core reports it. */
export function isProtocolError(error) {
  const message = error instanceof Error ? error.message : String(error ?? '');
  return /\bProtocol error\b/.test(message);
}

/**
 * The advice to print after a failure, or null. `where` is "launch" for a failed
 * chromium.launch(), "check" for a failed UI check (an assertion of ui.mjs), "step" for any other
 * error thrown inside a test step. The advice is given only when the majors differ, and then only
 * for a failed launch or a protocol error in a step: a failed UI check never gets it, whatever
 * its message quotes.
 */
export function failureHint(gate, where, error) {
  if (!gate || !gate.hint) return null;
  if (where === 'launch') return gate.hint;
  if (where === 'step' && isProtocolError(error)) return gate.hint;
  return null;
}
