// `node --test gate.test.mjs`: the chromium version gate (gate.mjs), without a browser. Run by
// crates/stackwise/tests/ui_browser.rs (`the_chromium_version_gate`), so `cargo test` runs it.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { chromiumVersion, failureHint, isProtocolError, majorOf, versionGate } from './gate.mjs';

const PKG = '/repo/crates/stackwise/tests/ui/package.json';
const gate = (chromiumText, builtFor = '156.0.8078.4') =>
  versionGate({ playwrightVersion: '1.64.1', builtFor, chromiumText, packageJson: PKG });
// What playwright-core throws for a protocol error, and what ui.mjs's check() throws.
const protocolError = new Error('page.goto: Protocol error (Page.navigate): Cannot navigate to invalid URL');
const failedCheck = new Error('only 3 of 48 charts are drawn with data marks');
const launchError = new Error('browserType.launch: Target page, context or browser has been closed');

test('reads the version chromium prints', () => {
  assert.equal(chromiumVersion('Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)\n'),
    '156.0.8078.114');
  assert.equal(chromiumVersion('Google Chrome 157.0.8100.1 '), '157.0.8100.1');
  assert.equal(chromiumVersion('Chromium 158'), '158');
  assert.equal(chromiumVersion(''), null);
  assert.equal(chromiumVersion(null), null);
  assert.equal(chromiumVersion('error while loading shared libraries: libnss3.so'), null);
  assert.equal(majorOf('156.0.8078.4'), 156);
  assert.equal(majorOf('158'), 158);
  assert.equal(majorOf('x.1'), null);
});

test('same major: no note, no advice, whatever fails', () => {
  const g = gate('Chromium 156.0.8078.114 built on Debian GNU/Linux 12 (bookworm)');
  assert.equal(g.relation, 'same');
  assert.equal(g.chromium, '156.0.8078.114');
  assert.equal(g.note, null);
  assert.equal(failureHint(g, 'launch', launchError), null);
  assert.equal(failureHint(g, 'step', protocolError), null);
});

test('newer chromium: a note, not a failure; the advice only for a failed launch or a protocol error', () => {
  const g = gate('Chromium 157.0.8150.2 built on Debian GNU/Linux 12 (bookworm)');
  assert.equal(g.relation, 'newer');
  assert.match(g.note, /^note: chromium 157\.0\.8150\.2 is newer than chromium 156, which playwright-core 1\.64\.1 was built for; testing with it anyway/);
  assert.doesNotMatch(g.note, /FAIL|pin/);
  const hint = failureHint(g, 'launch', launchError);
  assert.match(hint, /pin the playwright-core whose browsers\.json names chromium 157 in \/repo\/crates\/stackwise\/tests\/ui\/package\.json/);
  assert.equal(failureHint(g, 'step', protocolError), hint);
  assert.equal(failureHint(g, 'step', failedCheck), null, 'a failed UI check never gets the advice');
  assert.equal(failureHint(g, 'check', failedCheck), null);
  assert.equal(failureHint(g, 'check', new Error('the page says "Protocol error (Page.navigate)"')), null,
    'not even one whose message quotes a protocol error');
});

test('older chromium: a note, not a failure; the same advice rules', () => {
  const g = gate('Chromium 148.0.7778.167 built on Debian GNU/Linux 12 (bookworm)');
  assert.equal(g.relation, 'older');
  assert.match(g.note, /^note: chromium 148\.0\.7778\.167 is older than chromium 156/);
  assert.match(failureHint(g, 'launch', launchError), /names chromium 148 in /);
  assert.match(failureHint(g, 'step', protocolError), /names chromium 148 in /);
  assert.equal(failureHint(g, 'step', failedCheck), null);
  assert.equal(failureHint(g, 'check', protocolError), null);
});

test('unreadable version: a note "version unknown", the launch decides, no advice', () => {
  for (const text of ['', null, 'chromium: cannot open display', undefined]) {
    const g = gate(text);
    assert.equal(g.relation, 'unknown', String(text));
    assert.equal(g.chromium, null);
    assert.match(g.note, /^note: version unknown: .*; the launch decides$/);
    assert.equal(failureHint(g, 'launch', launchError), null);
    assert.equal(failureHint(g, 'step', protocolError), null);
  }
  // browsers.json without a chromium entry: also unknown, also only a note.
  const g = gate('Chromium 156.0.8078.114', null);
  assert.equal(g.relation, 'unknown');
  assert.match(g.note, /version unknown: the chromium version playwright-core 1\.64\.1 was built for is unknown/);
});

test('tells a protocol error from a failed check', () => {
  assert.equal(isProtocolError(protocolError), true);
  assert.equal(isProtocolError(new Error('Protocol error: Target.setAutoAttach')), true);
  assert.equal(isProtocolError(failedCheck), false);
  assert.equal(isProtocolError('Protocol error (Runtime.evaluate): x'), true);
  assert.equal(isProtocolError(undefined), false);
  assert.equal(failureHint(null, 'launch', launchError), null);
});
