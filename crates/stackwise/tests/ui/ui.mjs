// Browser tests of `stackwise serve` and the HTML report (issue 8, "Show"): playwright-core drives
// Debian's chromium headless through the UI a user would click. Started by
// crates/stackwise/tests/ui_browser.rs, which seeds a store with real runs, starts the real server
// and passes everything in the environment:
//
//   STACKWISE_UI_URL        the server, e.g. http://127.0.0.1:40123
//   STACKWISE_UI_REPORT     an HTML report written by `stackwise report --html` (opened as a file)
//   STACKWISE_UI_RUNS       {"full": ID, "quiet": ID, "busy": ID}: the seeded runs
//   STACKWISE_UI_PROFILE    {"team.python": "5", …}: the questionnaire's answers
//   STACKWISE_UI_EXPECT     the recommendation `stackwise advise` gives for that profile
//   STACKWISE_UI_HOSTILE    a target name full of markup, in run `hostile`
//   STACKWISE_CHROMIUM      the browser (default /usr/bin/chromium)
//   STACKWISE_SCREENSHOTS   a directory to write the screenshots to (none when unset)
//
// A chromium whose major version differs from the one this playwright-core was built for is a note,
// not a failure (gate.mjs, tested by gate.test.mjs): the advice on which playwright-core to pin is
// printed only if the launch fails or a CDP protocol error occurs while the majors differ.
//
// Never hangs: every wait has a timeout and a watchdog ends the script after 130 s. Exits 0 when
// every check passed, 1 on a failed check, 2 when the browser is missing or does not start.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { failureHint, versionGate } from './gate.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WATCHDOG_MS = 130_000;
const watchdog = setTimeout(() => {
  console.error(`ui: FAILED: still running after ${WATCHDOG_MS / 1000} s (watchdog); giving up`);
  process.exit(1);
}, WATCHDOG_MS);

function fail(code, msg) {
  console.error(`ui: FAILED: ${msg}`);
  process.exit(code);
}

function env(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback;
    fail(1, `${name} is not set (this script is run by crates/stackwise/tests/ui_browser.rs)`);
  }
  return v;
}

// A failed UI check: a failure of stackwise's pages, never of the browser's version.
class CheckFailed extends Error {}

function check(cond, msg) {
  if (!cond) throw new CheckFailed(msg);
}

// ---- Versions: logged; a different chromium major is a note (gate.mjs), the launch decides. ----
const pwDir = path.join(here, 'node_modules', 'playwright-core');
if (!fs.existsSync(path.join(pwDir, 'package.json'))) {
  fail(2, `playwright-core is not installed in ${here}: run \`npm ci\` there`);
}
const pwVersion = JSON.parse(fs.readFileSync(path.join(pwDir, 'package.json'), 'utf8')).version;
let builtFor = null;
try {
  builtFor = JSON.parse(fs.readFileSync(path.join(pwDir, 'browsers.json'), 'utf8'))
    .browsers.find((b) => b.name === 'chromium')?.browserVersion ?? null;
} catch (e) {
  console.log(`ui: note: cannot read playwright-core's browsers.json: ${e.message}`);
}
const executablePath = env('STACKWISE_CHROMIUM', '/usr/bin/chromium');
if (!fs.existsSync(executablePath)) {
  fail(2, `no chromium at ${executablePath}: install it (Debian: \`apt-get install -y chromium\`), ` +
    'or set STACKWISE_CHROMIUM to a chromium binary');
}
const probe = spawnSync(executablePath, ['--version'], { encoding: 'utf8', timeout: 20_000 });
const chromiumText = probe.error ? '' : `${probe.stdout || ''}`.trim();
const gate = versionGate({
  playwrightVersion: pwVersion, builtFor, chromiumText, packageJson: path.join(here, 'package.json'),
});
console.log(`ui: playwright-core ${pwVersion} (built for chromium ${builtFor ?? 'unknown'}); ` +
  `browser: ${chromiumText || '(no version)'} at ${executablePath}`);
if (probe.error) console.log(`ui: \`${executablePath} --version\`: ${probe.error.message}`);
if (gate.note) console.log(`ui: ${gate.note}`);

const { chromium } = await import(pathToFileURL(path.join(pwDir, 'index.mjs')).href);

const base = env('STACKWISE_UI_URL');
const reportFile = env('STACKWISE_UI_REPORT');
const runs = JSON.parse(env('STACKWISE_UI_RUNS'));
const profile = JSON.parse(env('STACKWISE_UI_PROFILE'));
const expected = env('STACKWISE_UI_EXPECT');
const hostile = env('STACKWISE_UI_HOSTILE');
const shots = process.env.STACKWISE_SCREENSHOTS || '';
if (shots) fs.mkdirSync(shots, { recursive: true });

// The flags keep chromium from reaching out: on a closed network it otherwise waits on those calls.
const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage', '--disable-default-apps', '--disable-extensions',
];
// playwright-core's launch() gives chromium a fresh --user-data-dir of its own (a temporary
// directory it deletes on close) and refuses one in `args`; HOME is fresh too.
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'stackwise-ui-home-'));
process.on('exit', () => fs.rmSync(home, { recursive: true, force: true }));
let browser;
try {
  browser = await chromium.launch({
    executablePath, headless: true, args, timeout: 30_000,
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: home, XDG_CACHE_HOME: home },
  });
} catch (e) {
  const hint = failureHint(gate, 'launch', e);
  fail(2, `chromium did not start (launch timeout 30 s): ${e.message.split('\n').slice(0, 6).join(' / ')}` +
    (hint ? `\nui: ${hint}` : ''));
}
console.log(`ui: chromium ${browser.version()} launched`);

async function newPage(opts = {}) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 }, colorScheme: 'light', ...opts,
  });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`ui: page error: ${e.message}`));
  return page;
}

async function shoot(target, name, opts = {}) {
  if (!shots) return;
  const file = path.join(shots, name);
  await target.screenshot({ path: file, ...opts });
  console.log(`ui: screenshot ${file} (${fs.statSync(file).size} bytes)`);
}

// Scrolls to the first charts after the heading `id` (for a screenshot of charts, not tables).
async function toCharts(page, id) {
  await page.evaluate((id) => {
    let el = document.getElementById(id);
    while (el && !el.matches('.charts, .pair')) el = el.nextElementSibling;
    (el || document.getElementById(id)).scrollIntoView();
  }, id);
}

async function goto(page, url) {
  const resp = await page.goto(url, { waitUntil: 'load' });
  check(resp && resp.ok(), `${url}: HTTP ${resp ? resp.status() : 'no response'}`);
  return resp;
}

// Charts drawn: SVG charts in `scope` that are laid out (non-zero box) and hold data marks that are
// laid out too. Returns { charts, drawn, marks }.
async function drawnCharts(scope) {
  const charts = scope.locator('svg.chart');
  const n = await charts.count();
  let drawn = 0;
  let marks = 0;
  for (let i = 0; i < n; i++) {
    const svg = charts.nth(i);
    const box = await svg.boundingBox();
    if (!box || box.width < 50 || box.height < 30) continue;
    const m = svg.locator('.mark');
    const k = await m.count();
    let visible = 0;
    for (let j = 0; j < Math.min(k, 3); j++) {
      const b = await m.nth(j).boundingBox();
      if (b && (b.width > 0 || b.height > 0)) visible++;
    }
    if (visible > 0) {
      drawn++;
      marks += k;
    }
  }
  return { charts: n, drawn, marks };
}

const results = [];
async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([name, 'ok']);
    console.log(`ui: ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([name, 'FAILED']);
    console.error(`ui: FAIL ${name}: ${e.message.split('\n')[0]}`);
    // Only a protocol error while the majors differ gets the advice; a failed check never does.
    const hint = failureHint(gate, e instanceof CheckFailed ? 'check' : 'step', e);
    if (hint) console.error(`ui: ${hint}`);
  }
}

await step('the run list links every run and offers a comparison', async () => {
  const page = await newPage();
  await goto(page, `${base}/`);
  for (const id of Object.values(runs)) {
    check(await page.locator(`a[href="/runs/${id}"]`).count() === 1, `no link to run #${id}`);
  }
  check(await page.locator('form[action="/compare"] select[name="baseline"]').count() === 1,
    'no comparison form');
  check(await page.getByRole('link', { name: 'All runs' }).count() === 0, 'the list of runs links to itself');
  await shoot(page, 'ui-runs.png');
  await page.context().close();
});

await step('answer the questionnaire and see the recommendation', async () => {
  const page = await newPage();
  await goto(page, `${base}/advise`);
  const form = page.locator('form[action="/advise"]').filter({ has: page.locator('select, input:not([type=hidden])') }).first();
  const fields = form.locator('select, input:not([type=hidden])');
  const n = await fields.count();
  check(n >= 15, `the questionnaire has ${n} fields`);
  const given = new Set();
  for (let i = 0; i < n; i++) {
    const f = fields.nth(i);
    const name = await f.getAttribute('name');
    const value = profile[name] ?? '';
    if (value !== '') given.add(name);
    if (await f.evaluate((el) => el.tagName) === 'SELECT') await f.selectOption(value);
    else await f.fill(value);
  }
  for (const k of Object.keys(profile)) check(given.has(k), `the form has no field ${k}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shoot(page, 'ui-questionnaire.png');
  await Promise.all([
    page.waitForURL(`${base}/advise`, { waitUntil: 'load' }),
    form.getByRole('button', { name: 'Advise' }).click(),
  ]);
  const text = await page.locator('body').innerText();
  const want = `Recommendation for the profile given in the form: ${expected}`;
  check(text.includes(want), `the page does not say ${JSON.stringify(want)}; it says: ` +
    JSON.stringify(text.slice(0, 400)));
  check(text.includes(`Cost from the measured capacity of run #${runs.full}`),
    `the cost is not from the latest run #${runs.full}`);
  check(await page.locator('h2#advice').count() === 1, 'no advice section');
  await shoot(page, 'ui-advice.png');
  await page.context().close();
});

await step('a wrong answer is refused with the reason and the answers kept', async () => {
  const page = await newPage();
  await goto(page, `${base}/advise`);
  const form = page.locator('form[action="/advise"]').filter({ has: page.locator('select') }).first();
  await form.locator('[name="team.python"]').fill('7');
  await form.locator('[name="load.peak_rps"]').fill('lots');
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/advise` && r.request().method() === 'POST'),
    form.getByRole('button', { name: 'Advise' }).click(),
  ]);
  check(resp.status() === 422, `HTTP ${resp.status()} for a wrong answer`);
  await page.waitForLoadState('load');
  const box = await page.locator('.box').first().innerText();
  check(box.includes('not accepted') && box.includes('peak_rps'),
    `the error does not name the field: ${JSON.stringify(box)}`);
  check(await page.locator('[name="load.peak_rps"]').inputValue() === 'lots', 'the wrong answer is not kept');
  check(await page.locator('[name="team.python"]').inputValue() === '7', 'the other answers are not kept');
  await page.context().close();
});

await step('start a lab run from the page and read its output and end (server-sent events)', async () => {
  // A target that does not exist: `stackwise lab` refuses it at once (exit 2) and stores nothing,
  // so the step costs no CPU; its output and end still travel the page and the event stream.
  const page = await newPage();
  await goto(page, `${base}/lab`);
  const form = page.locator('form[action="/lab/start"]');
  await form.locator('[name="quick"]').check();
  await form.locator('[name="targets"]').fill('no-such-target');
  await form.locator('[name="repeats"]').fill('1');
  await Promise.all([
    page.waitForURL(`${base}/lab`, { waitUntil: 'load' }),
    form.getByRole('button', { name: 'Start the lab' }).click(),
  ]);
  // Running when the page was drawn: the page's script follows the stream; else reload.
  const deadline = Date.now() + 10_000;
  let status = await page.locator('#status').innerText();
  while (!status.startsWith('Ended') && Date.now() < deadline) {
    await page.waitForTimeout(200);
    if (!(await page.locator('#status').innerText()).startsWith('Ended')) await page.reload({ waitUntil: 'load' });
    status = await page.locator('#status').innerText();
  }
  check(status === 'Ended: exit code 2.', `the lab run's status: ${JSON.stringify(status)}`);
  const log = await page.locator('#log').innerText();
  check(log.includes("no target named 'no-such-target'"), `the log: ${JSON.stringify(log)}`);
  check(await page.locator('code').filter({ hasText: '--targets no-such-target' }).count() > 0,
    'the command is not shown');
  // The event stream, as the page's script reads it: every line, then the end.
  const events = await page.evaluate(() => new Promise((resolve, reject) => {
    const got = [];
    const es = new EventSource('/lab/events?from=0');
    const t = setTimeout(() => { es.close(); reject(new Error(`no end event in 5 s: ${JSON.stringify(got)}`)); }, 5000);
    es.addEventListener('line', (e) => got.push(['line', e.data]));
    es.addEventListener('end', (e) => { got.push(['end', e.data]); clearTimeout(t); es.close(); resolve(got); });
  }));
  check(events.length >= 2 && events.at(-1)[0] === 'end' && events.at(-1)[1] === 'exit code 2',
    `events: ${JSON.stringify(events)}`);
  check(events.some(([k, d]) => k === 'line' && d.includes('no-such-target')), `events: ${JSON.stringify(events)}`);
  await goto(page, `${base}/`);
  const listed = await page.locator('a[href^="/runs/"]').count();
  check(listed === Object.keys(runs).length, `the refused lab run changed the stored runs: ${listed} listed`);
  await page.context().close();
});

await step('open a run from the list and find its charts drawn', async () => {
  const page = await newPage();
  await goto(page, `${base}/`);
  await Promise.all([
    page.waitForURL(`${base}/runs/${runs.full}`, { waitUntil: 'load' }),
    page.locator(`a[href="/runs/${runs.full}"]`).click(),
  ]);
  check(await page.getByRole('link', { name: '← All runs' }).getAttribute('href') === '/', 'no link back to the runs');
  const { charts, drawn, marks } = await drawnCharts(page);
  console.log(`ui:      run #${runs.full}: ${drawn} of ${charts} charts drawn, ${marks} data marks`);
  check(drawn >= 40, `only ${drawn} of ${charts} charts are drawn with data marks`);
  check(marks >= 400, `only ${marks} data marks`);
  // Per workload section: its charts, and the data marks laid out in them.
  const sections = await page.evaluate(() => {
    const out = {};
    for (const h of document.querySelectorAll('h2[id^="w-"]')) {
      const s = { bars: 0, lines: 0, marks: 0, tip: '' };
      for (let el = h.nextElementSibling; el && el.tagName !== 'H2'; el = el.nextElementSibling) {
        for (const svg of el.querySelectorAll('svg.chart')) {
          const marks = [...svg.querySelectorAll('.mark')].filter((m) => {
            const r = m.getBoundingClientRect();
            return r.width > 0 || r.height > 0;
          });
          if (!marks.length) continue;
          s[svg.classList.contains('lines') ? 'lines' : 'bars']++;
          s.marks += marks.length;
          const t = marks[0].querySelector('title');
          if (!s.tip && t) s.tip = t.textContent;
        }
      }
      out[h.id] = s;
    }
    return out;
  });
  const names = Object.keys(sections);
  check(names.length === 10, `${names.length} workload sections: ${names.join(' ')}`);
  for (const [id, s] of Object.entries(sections)) {
    check(s.bars > 0 && s.marks > 0, `${id}: no chart drawn (${JSON.stringify(s)})`);
    // A mark carries its exact figure as a tooltip.
    check(/\d/.test(s.tip), `${id}: a mark's tooltip has no figure: ${JSON.stringify(s.tip)}`);
  }
  for (const id of ['w-json-slo', 'w-io-slo', 'w-cpu-slo', 'w-hash-slo']) {
    check(sections[id].lines > 0, `${id}: no latency-vs-rate ladder drawn`);
  }
  // At 1280 px every table fits the page: no notes column pushed out of sight.
  const wide = await page.evaluate(() => [...document.querySelectorAll('.scroll > table')]
    .filter((t) => t.getBoundingClientRect().width > t.parentElement.clientWidth + 1)
    .map((t) => (t.parentElement.previousElementSibling?.textContent || '?').slice(0, 60)));
  check(wide.length === 0, `${wide.length} tables are wider than the page: ${wide.join(' | ')}`);
  await toCharts(page, 'w-io-slo');
  await shoot(page, 'ui-run-charts.png');
  await page.context().close();
});

await step('compare two runs', async () => {
  const page = await newPage();
  await goto(page, `${base}/`);
  const form = page.locator('form[action="/compare"]');
  await form.locator('select[name="run"]').selectOption(String(runs.quiet));
  await form.locator('select[name="baseline"]').selectOption(String(runs.busy));
  await Promise.all([
    page.waitForURL(/\/compare\?/, { waitUntil: 'load' }),
    form.getByRole('button', { name: 'Compare' }).click(),
  ]);
  const url = new URL(page.url());
  check(url.searchParams.get('run') === String(runs.quiet) &&
    url.searchParams.get('baseline') === String(runs.busy), `compared the wrong runs: ${page.url()}`);
  const text = await page.locator('body').innerText();
  check(text.includes(`run #${runs.quiet} against baseline run #${runs.busy}`),
    'the page does not name the two runs');
  check(text.includes('the medians differ by more than 5%'), 'the comparison rule is not shown');
  const marked = await page.locator('.m-better, .m-worse').count();
  check(marked > 0, 'no difference is marked between a quiet and a busy run');
  const { charts, drawn } = await drawnCharts(page);
  console.log(`ui:      compare: ${drawn} of ${charts} charts drawn, ${marked} differences marked`);
  check(drawn >= 10, `only ${drawn} of ${charts} charts drawn`);
  await toCharts(page, 'w-json');
  await shoot(page, 'ui-compare.png');
  await page.context().close();
});

await step('a target name full of markup is shown as text, never run', async () => {
  const page = await newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  for (const url of [`${base}/runs/${runs.hostile}`,
    `${base}/compare?run=${runs.hostile}&baseline=${runs.quiet}`]) {
    await goto(page, url);
    const text = await page.locator('body').innerText();
    check(text.includes(hostile), `${url}: the name is not shown as text`);
    check(await page.locator('#pwned, img[src="x"]').count() === 0, `${url}: the name made an element`);
    check(await page.locator('script').count() === 0, `${url}: the page holds a script`);
    check(!(await page.title()).includes('pwned'), `${url}: the name ran a script`);
    const tips = await page.locator('svg.chart title').allTextContents();
    check(tips.some((t) => t.includes(hostile)), `${url}: no chart names the target`);
  }
  check(dialogs.length === 0, `a dialog opened: ${dialogs.join(' | ')}`);
  await page.context().close();
});

await step('a run page leads with the findings, whose links land on their sections', async () => {
  for (const [which, shot] of [['quiet', 'report-findings-quiet.png'], ['busy', 'report-findings-noisy.png']]) {
    const page = await newPage();
    await goto(page, `${base}/runs/${runs[which]}`);
    const box = await page.locator('#findings').boundingBox();
    check(box && box.y < 860, `${which}: the findings are not on the first screen (${box && box.y})`);
    const trust = await page.locator('#findings .trust').innerText();
    check(/^Trust: (quiet|noisy|incomplete): /.test(trust), `${which}: trust line ${trust}`);
    const hrefs = await page.locator('#findings a[href^="#"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    check(hrefs.length >= 3, `${which}: ${hrefs.length} links in the findings`);
    await shoot(page, shot);
    for (const href of [...new Set(hrefs)]) {
      await page.locator(`#findings a[href="${href}"]`).first().click();
      const id = href.slice(1);
      const inView = await page.evaluate((id) => {
        const el = document.getElementById(id);
        if (!el) return null;
        const r = el.getBoundingClientRect();
        return r.top >= -2 && r.top < window.innerHeight;
      }, id);
      check(inView === true, `${which}: link ${href} ${inView === null ? 'lands nowhere' : 'does not scroll to its section'}`);
      await page.evaluate(() => window.scrollTo(0, 0));
    }
    if (which === 'busy') {
      const groups = await page.locator('#warnings details.wgroup').count();
      check(groups >= 1, `busy: ${groups} warning groups`);
    }
    await page.context().close();
  }
});

await step('with JavaScript disabled the run page and the HTML report still show their charts', async () => {
  const page = await newPage({ javaScriptEnabled: false });
  await goto(page, `${base}/runs/${runs.full}`);
  const served = await drawnCharts(page);
  check(served.drawn >= 40, `served page without JavaScript: ${served.drawn} charts drawn`);
  await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });
  const file = await drawnCharts(page);
  console.log(`ui:      without JavaScript: served ${served.drawn}, file ${file.drawn} of ${file.charts} charts drawn`);
  check(file.drawn >= 40, `report file without JavaScript: ${file.drawn} charts drawn`);
  check(await page.locator('script').count() === 0, 'the report file holds a script');
  await shoot(page, 'report.png');
  await toCharts(page, 'w-json');
  await shoot(page, 'report-charts.png');
  await page.context().close();
});

await step('the HTML report in dark mode', async () => {
  const page = await newPage({ colorScheme: 'dark', javaScriptEnabled: false });
  await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });
  const bg = await page.locator('body').evaluate((b) => getComputedStyle(b).backgroundColor);
  const fg = await page.locator('body').evaluate((b) => getComputedStyle(b).color);
  const lum = (c) => { const [r, g, b] = c.match(/\d+/g).map(Number); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  console.log(`ui:      dark mode: background ${bg}, text ${fg}`);
  check(lum(bg) < lum(fg), `dark mode: the background (${bg}) is not darker than the text (${fg})`);
  await toCharts(page, 'w-json');
  await shoot(page, 'report-charts-dark.png');
  await page.context().close();
});

await step('the HTML report prints: no contents list, charts kept, black on white even in dark mode', async () => {
  const page = await newPage({ colorScheme: 'dark', javaScriptEnabled: false });
  await page.goto(pathToFileURL(reportFile).href, { waitUntil: 'load' });
  await page.emulateMedia({ media: 'print' });
  check(!(await page.locator('nav').first().isVisible()), 'the contents list is printed');
  const { drawn } = await drawnCharts(page);
  check(drawn >= 40, `printed: only ${drawn} charts drawn`);
  const colours = await page.locator('body').evaluate((b) => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]);
  check(colours[0] === 'rgb(0, 0, 0)' && colours[1] === 'rgb(255, 255, 255)', `printed colours: ${colours.join(' on ')}`);
  const pdf = await page.pdf({ format: 'A4', timeout: 20_000 });
  console.log(`ui:      printed to PDF: ${pdf.length} bytes`);
  check(pdf.length > 10_000 && pdf.subarray(0, 5).toString() === '%PDF-', 'no PDF');
  await page.context().close();
});

await step('stop a real lab run from the page: finished cells kept, the run resumable', async () => {
  // The real suite on the Rust baseline (installed by scripts/test.sh), long enough to be stopped while a
  // target server runs. ui_browser.rs checks afterwards that no server or upstream is left.
  const page = await newPage();
  await goto(page, `${base}/`);
  const before = await page.locator('a[href^="/runs/"]').count();
  await goto(page, `${base}/lab`);
  const form = page.locator('form[action="/lab/start"]');
  await form.locator('[name="quick"]').check();
  await form.locator('[name="targets"]').fill('rust-axum');
  await form.locator('[name="workloads"]').fill('json,plaintext,hash,cpu,io');
  await form.locator('[name="repeats"]').fill('2');
  await Promise.all([
    page.waitForURL(`${base}/lab`, { waitUntil: 'load' }),
    form.getByRole('button', { name: 'Start the lab' }).click(),
  ]);
  // Stop once the first cell is measured (its result line, rendered from the lab's event stream,
  // is in the log; thousands are grouped: 12,345 req/s): the next cell runs.
  const deadline = Date.now() + 40_000;
  let log = '';
  while (!/json\s+[\d,]+ req\/s/.test(log) && Date.now() < deadline) {
    await page.waitForTimeout(250);
    log = await page.locator('#log').innerText();
  }
  check(/json\s+[\d,]+ req\/s/.test(log), `no measured json cell in the log within 40 s: ${JSON.stringify(log)}`);
  await Promise.all([
    page.waitForURL(`${base}/lab`, { waitUntil: 'load' }),
    page.getByRole('button', { name: 'Stop the run' }).click(),
  ]);
  const end = Date.now() + 20_000;
  let status = await page.locator('#status').innerText();
  while (!status.startsWith('Ended') && Date.now() < end) {
    await page.waitForTimeout(250);
    status = await page.locator('#status').innerText();
  }
  check(status === 'Ended: exit code 130.', `the stopped run's status: ${JSON.stringify(status)}`);
  log = await page.locator('#log').innerText();
  check(log.includes('keeps every finished cell') && log.includes('--resume'),
    `the log does not say how to resume: ${JSON.stringify(log.slice(-400))}`);
  await goto(page, `${base}/`);
  const after = await page.locator('a[href^="/runs/"]').count();
  check(after === before + 1, `runs listed: ${before} before, ${after} after the stopped run`);
  await page.context().close();
});

await browser.close();
clearTimeout(watchdog);
const failed = results.filter(([, r]) => r !== 'ok').length;
console.log(`ui: ${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
