// Opens every page of the built book in headless Chromium and fails if one of them shows
// an unresolved include, an empty code listing, a diagram that did not render, a listing
// or a table too wide for its box at desktop width (1280 px), an edit link, or, at phone
// width (420 px), diagram text smaller than 9 px; or if the Performance page lacks its
// benchmark table or one of its charts.
//
//   node book/browser-check.mjs BUILT_HTML_DIR [--screenshots DIR]
//
// Called by book/check.sh, which installs playwright-core into book/node_modules and
// Debian's chromium. Pages are opened as file:// URLs: no server needed.

import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [root, flag, shotDir] = process.argv.slice(2);
if (!root || (flag && flag !== '--screenshots') || (flag && !shotDir)) {
  console.error('usage: node browser-check.mjs BUILT_HTML_DIR [--screenshots DIR]');
  process.exit(2);
}
const htmlDir = resolve(root);

// The book's own pages: every .html file except mdBook's generated extras.
const generated = new Set(['print.html', 'toc.html', '404.html']);
function pages(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return ['css', 'fonts', 'FontAwesome'].includes(entry.name) ? [] : pages(path);
    return entry.name.endsWith('.html') && !generated.has(entry.name) ? [path] : [];
  });
}

// The smallest text a diagram may show on a phone, in CSS pixels.
const MIN_DIAGRAM_TEXT_PX = 9;
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 420, height: 900 };

// What a diagram's text size depends on: the width of its viewBox, and the smallest
// font-size in it (in the SVG's own units, from its CSS or attributes).
function svgText(file) {
  const svg = readFileSync(file, 'utf8');
  const viewBox = svg.match(/viewBox="[-\d.]+ [-\d.]+ ([\d.]+) [\d.]+"/);
  const sizes = [...svg.matchAll(/font-size(?::\s*|=")([\d.]+)/g)].map((m) => Number(m[1]));
  return { width: viewBox ? Number(viewBox[1]) : NaN, smallest: Math.min(...sizes) };
}

// Runs in the page: returns the list of problems found there.
function inspect() {
  const problems = [];
  const main = document.querySelector('main');
  if (!main) return ['no <main> element'];
  // textContent, not innerHTML: highlighting may have split the braces from the hash.
  if (document.body.textContent.includes('{{#')) problems.push('an unresolved {{#…}} include');
  main.querySelectorAll('pre code').forEach((code, i) => {
    if (!code.textContent.trim()) problems.push(`code listing #${i + 1} is empty`);
  });
  main.querySelectorAll('img').forEach((img) => {
    // mdBook 0.5 adds a hidden copy of each image for click-to-zoom, in .img-wrapper.
    const box = img.closest('.img-wrapper') ? { width: 1, height: 1 } : img.getBoundingClientRect();
    if (!img.complete || img.naturalWidth === 0 || box.width === 0 || box.height === 0)
      problems.push(`image ${img.getAttribute('src')} did not render`);
  });
  // A listing or a table that needs a scroll bar hides its end: a signature cut off, a
  // column off screen. (mdBook wraps tables in .table-wrapper, which scrolls.)
  main.querySelectorAll('pre > code').forEach((code, i) => {
    const over = code.scrollWidth - code.clientWidth;
    if (over > 1) {
      const longest = code.textContent.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      problems.push(`code listing #${i + 1} is ${over} px too wide for its box: ${JSON.stringify(longest.slice(0, 60))}…`);
    }
  });
  main.querySelectorAll('.table-wrapper').forEach((wrapper, i) => {
    const over = wrapper.scrollWidth - wrapper.clientWidth;
    if (over > 1) {
      const head = wrapper.querySelector('tr')?.textContent.trim().replace(/\s+/g, ' ') ?? '';
      problems.push(`table #${i + 1} is ${over} px too wide for its box: ${JSON.stringify(head.slice(0, 60))}`);
    }
  });
  if (document.querySelector('a[rel="edit"], a[title="Suggest an edit"]'))
    problems.push('an edit link (the project has no public repository to edit)');
  // Inline diagrams; mdBook's own icons are inline SVGs too, inside .fa-svg.
  main.querySelectorAll('svg').forEach((svg, i) => {
    if (svg.closest('.fa-svg')) return;
    const box = svg.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) problems.push(`inline svg #${i + 1} has no size`);
  });
  return problems;
}

// What a chapter page must have, on top of that. `number` is the chapter's; chapter 0
// (why processes) ports no Python program and has no diagram or exercises.
function inspectChapter(number) {
  const problems = [];
  const main = document.querySelector('main');
  const listings = [...main.querySelectorAll('pre code')].map((c) => c.textContent);
  if (number > 0 && !main.querySelector('code.language-python')) problems.push('no Python listing');
  if (!main.querySelector('code.language-rust')) problems.push('no Rust listing');
  if (number > 0 && !main.querySelector('img[src$=".svg"]')) problems.push('no SVG diagram');
  if (number > 0 && !main.querySelector('a[href^="exercises/ch"]')) problems.push('no link to its exercises');
  if (!main.querySelector('h2[id="recap"]')) problems.push('no recap section');
  // Outputs are terminal sessions (tests/support/mod.rs writes them so), not insta's framing.
  const outputs = [...main.querySelectorAll('code.language-console')].map((c) => c.textContent);
  if (!outputs.some((t) => t.startsWith('$ cargo run -p '))) problems.push('no program output shown as a terminal ($ cargo run -p …)');
  listings.filter((t) => /^(success|exit_code): |----- std(out|err) -----/m.test(t)).forEach((t) =>
    problems.push(`an output shows the snapshot's framing: ${JSON.stringify(t.slice(0, 40))}`));
  // Every Python or Rust listing has a caption, "Listing N-K: FILE", numbered in order.
  let expected = 1;
  main.querySelectorAll('pre > code.language-rust, pre > code.language-python').forEach((code) => {
    const caption = code.parentElement.previousElementSibling;
    const text = caption?.classList.contains('listing') ? caption.textContent : '';
    const match = text.match(/^Listing (\d+)-(\d+): (\S+)/);
    if (!match) {
      problems.push(`a listing without a "Listing ${number}-${expected}: FILE" caption: ${JSON.stringify(code.textContent.slice(0, 40))}`);
    } else if (Number(match[1]) !== number || Number(match[2]) !== expected) {
      problems.push(`"${match[0]}" should be numbered ${number}-${expected}`);
    }
    expected += 1;
  });
  return problems;
}

// What the Performance page must have: the charts and the table that
// `cargo run --release -p bench -- --record book/src/perf` writes.
const PERFORMANCE_CHARTS = ['perf/sweep.svg', 'perf/start-join.svg', 'perf/scaling.svg'];
function inspectPerformance(charts) {
  const problems = [];
  const main = document.querySelector('main');
  const shown = [...main.querySelectorAll('img')].map((img) => img.getAttribute('src'));
  charts.filter((chart) => !shown.includes(chart)).forEach((chart) => problems.push(`no chart ${chart}`));
  const tables = [...main.querySelectorAll('pre code')].map((c) => c.textContent);
  if (!tables.some((t) => /^targets: \d+ of \d+ hold$/m.test(t))) problems.push("no benchmark table (its 'targets: N of M hold' line)");
  return problems;
}

// Runs in the page at phone width: each diagram's rendered width, by its file.
function diagramWidths() {
  return [...document.querySelectorAll('main img[src$=".svg"]')]
    .filter((img) => !img.closest('.img-wrapper'))
    .map((img) => ({ src: img.getAttribute('src'), width: img.getBoundingClientRect().width }));
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  chromiumSandbox: false,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failures = 0;
const ids = new Map(); // page URL -> the ids in it
const fragmentLinks = []; // [page name, link with #fragment]
try {
  const page = await browser.newPage({ viewport: DESKTOP });
  const phone = await browser.newPage({ viewport: PHONE });
  const errors = [];
  page.on('pageerror', (e) => errors.push(`script error: ${e.message}`));
  page.on('requestfailed', (r) => {
    if (r.url().startsWith('file:')) errors.push(`failed to load ${r.url()}`);
  });
  for (const file of pages(htmlDir).sort()) {
    const name = relative(htmlDir, file);
    errors.length = 0;
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const problems = [...errors, ...(await page.evaluate(inspect))];
    const found = await page.evaluate(() => ({
      ids: [...document.querySelectorAll('[id]')].map((e) => e.id),
      links: [...document.querySelectorAll('main a[href*="#"]')]
        .map((a) => a.href).filter((h) => h.startsWith('file:')),
    }));
    ids.set(page.url().split('#')[0], new Set(found.ids));
    found.links.forEach((href) => fragmentLinks.push([name, href]));
    const chapter = /^ch\d\d-/.test(name);
    if (chapter) problems.push(...(await page.evaluate(inspectChapter, Number(name.slice(2, 4)))));
    if (name === 'performance.html') problems.push(...(await page.evaluate(inspectPerformance, PERFORMANCE_CHARTS)));
    await phone.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    for (const { src, width } of await phone.evaluate(diagramWidths)) {
      const svg = svgText(join(dirname(file), src));
      const px = (svg.smallest * width) / svg.width;
      if (!(px >= MIN_DIAGRAM_TEXT_PX))
        problems.push(`at ${PHONE.width} px, ${src}'s smallest text is ${px.toFixed(1)} px (under ${MIN_DIAGRAM_TEXT_PX})`);
    }
    if (problems.length) {
      problems.splice(0, problems.length, ...new Set(problems)); // the zoom copy repeats an image
      failures += 1;
      console.log(`FAIL ${name}`);
      problems.forEach((p) => console.log(`     ${p}`));
    } else {
      console.log(`ok   ${name}`);
    }
    if (shotDir) {
      mkdirSync(shotDir, { recursive: true });
      const base = join(shotDir, name.replace(/\.html$/, '').replaceAll('/', '-'));
      await page.screenshot({ path: `${base}.png`, fullPage: true });
      await phone.screenshot({ path: `${base}-phone.png`, fullPage: true });
      console.log(`     screenshots: ${base}.png, ${base}-phone.png`);
    }
  }
  // mdbook-linkcheck2 checks the pages a link leads to, not the #heading within them.
  for (const [name, href] of fragmentLinks) {
    const [target, fragment] = href.split('#');
    if (ids.has(target) && !ids.get(target).has(decodeURIComponent(fragment))) {
      failures += 1;
      console.log(`FAIL ${name}: link to #${fragment} in ${relative(htmlDir, new URL(target).pathname)}, which has no such id`);
    }
  }
} finally {
  await browser.close();
}
if (failures) {
  console.log(`browser check: ${failures} failure(s)`);
  process.exit(1);
}
console.log('browser check: every page rendered');
