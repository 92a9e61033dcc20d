// Opens every page of the built book in headless Chromium and fails if one of them shows
// an unresolved include, an empty code listing, or a diagram that did not render.
//
//   node book/browser-check.mjs BUILT_HTML_DIR [--screenshots DIR]
//
// Called by book/check.sh, which installs playwright-core into book/node_modules and
// Debian's chromium. Pages are opened as file:// URLs: no server needed.

import { readdirSync, mkdirSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
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
  // Inline diagrams; mdBook's own icons are inline SVGs too, inside .fa-svg.
  main.querySelectorAll('svg').forEach((svg, i) => {
    if (svg.closest('.fa-svg')) return;
    const box = svg.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) problems.push(`inline svg #${i + 1} has no size`);
  });
  return problems;
}

// What a chapter page must have, on top of that.
function inspectChapter() {
  const problems = [];
  const main = document.querySelector('main');
  const listings = [...main.querySelectorAll('pre code')].map((c) => c.textContent);
  if (!main.querySelector('code.language-python')) problems.push('no Python listing');
  if (!main.querySelector('code.language-rust')) problems.push('no Rust listing');
  if (!main.querySelector('img[src$=".svg"]')) problems.push('no SVG diagram');
  const outputs = listings.filter((t) => t.includes('----- stdout -----'));
  if (outputs.length === 0) problems.push('no program output (snapshot) listing');
  outputs.filter((t) => !t.startsWith('success:')).forEach((t) =>
    problems.push(`a snapshot listing does not start after the YAML header: ${JSON.stringify(t.slice(0, 40))}`));
  if (!main.querySelector('a[href^="exercises/ch"]')) problems.push('no link to its exercises');
  return problems;
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
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
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
    if (chapter) problems.push(...(await page.evaluate(inspectChapter)));
    if (problems.length) {
      problems.splice(0, problems.length, ...new Set(problems)); // the zoom copy repeats an image
      failures += 1;
      console.log(`FAIL ${name}`);
      problems.forEach((p) => console.log(`     ${p}`));
    } else {
      console.log(`ok   ${name}`);
    }
    if (shotDir && chapter) {
      mkdirSync(shotDir, { recursive: true });
      const shot = join(shotDir, name.replace(/\.html$/, '.png'));
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`     screenshot: ${shot}`);
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
