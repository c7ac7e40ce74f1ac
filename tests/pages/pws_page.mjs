// Drives Debian's headless Chromium (puppeteer-core) through the gateway's
// pages as two people would: a district office user and a puskesmas user log
// in at /masuk and open the PWS page. Prints what the pages show as one JSON
// document on stdout; tests/pages/pws_page_browser_test.cc compares it with
// $evaluate-measure. Usage: node pws_page.mjs ARGS.json
//   ARGS: { url, server_cert, chromium, screenshot, month,
//           district: {user, password, organization}, puskesmas: {user, password, organization, other} }
import { readFileSync } from 'node:fs';
import { launchChromium } from './chromium.mjs';

const args = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await launchChromium(args.chromium, args.server_cert);

async function login(page, user, password) {
  const first = await page.goto(`${args.url}/pws`, { waitUntil: 'load' });
  const atLogin = new URL(page.url()).pathname === '/masuk';
  await page.type('#username', user);
  await page.type('#password', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
  return { redirectedToLogin: atLogin, firstStatus: first.status(), afterLogin: new URL(page.url()).pathname };
}

// What one PWS page shows: the cells' data attributes and visible count, the
// desa rows, the puskesmas choices, the drawn charts.
async function readPws(page) {
  return page.evaluate(() => ({
    lang: document.documentElement.lang,
    title: document.querySelector('h1')?.textContent ?? '',
    organizations: [...document.querySelectorAll('#puskesmas option')].map((o) => o.value),
    tables: [...document.querySelectorAll('table.pws')].map((t) => t.dataset.organization),
    desa: [...document.querySelectorAll('table.pws tbody tr')].map((r) => r.dataset.desa),
    rowHeaders: [...document.querySelectorAll('table.pws th[scope=row]')].length,
    columnHeaders: [...document.querySelectorAll('table.pws th[scope=col][data-measure]')].map((h) => h.dataset.measure),
    charts: Number(document.body.dataset.charts ?? '0'),
    chartTypes: [...document.querySelectorAll('canvas[data-measure]')].map((c) =>
      (typeof Chart !== 'undefined' && Chart.getChart(c)) ? Chart.getChart(c).config.type : ''),
    // The trend's figures, as its accessible table carries them.
    trend: [...document.querySelectorAll('table.trend')].flatMap((t) =>
      [...t.querySelectorAll('tbody tr')].flatMap((r) =>
        [...r.querySelectorAll('td[data-month]')].map((td) => ({
          measure: t.dataset.measure,
          organization: r.dataset.organization,
          desa: r.dataset.desa,
          month: td.dataset.month,
          count: Number(td.dataset.count),
          shown: Number(td.textContent),
        })))),
    trendHeaders: document.querySelectorAll('table.trend th[scope=col][data-month]').length,
    canvases: document.querySelectorAll('canvas[data-measure]').length,
    cells: [...document.querySelectorAll('td.cell')].map((td) => ({
      organization: td.closest('table').dataset.organization,
      measure: td.dataset.measure,
      desa: td.dataset.desa,
      count: Number(td.dataset.count),
      shown: Number(td.querySelector('.n').textContent),
      ytd: Number(td.dataset.ytd),
      coverage: td.dataset.coverage === '' ? null : Number(td.dataset.coverage),
      status: td.dataset.status,
      statusText: td.querySelector('.status').textContent,
    })),
  }));
}

const out = {};
try {
  const district = await browser.newPage();
  out.districtLogin = await login(district, args.district.user, args.district.password);
  const opened = await district.goto(
    `${args.url}/pws?puskesmas=${args.district.organization}&bulan=${args.month}`, { waitUntil: 'load' });
  await district.waitForSelector('body[data-charts]');
  out.district = { status: opened.status(), ...(await readPws(district)) };
  await district.screenshot({ path: args.screenshot, fullPage: true });
  const csv = await district.evaluate(async (href) => {
    const r = await fetch(href);
    return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
  }, `/pws.csv?puskesmas=${args.district.organization}&bulan=${args.month}`);
  out.csv = csv;
  await district.emulateMediaType('print');
  out.printHidesControls = await district.evaluate(() =>
    getComputedStyle(document.querySelector('form.filters')).display === 'none');
  await district.emulateMediaType('screen');
  // English on request, remembered.
  await district.goto(`${args.url}/pws?lang=en`, { waitUntil: 'load' });
  await district.goto(`${args.url}/pws`, { waitUntil: 'load' });
  out.englishTitle = await district.evaluate(() => document.querySelector('h1').textContent);
  out.englishLang = await district.evaluate(() => document.documentElement.lang);

  const context = await browser.createBrowserContext();  // another person, other cookies
  const puskesmas = await context.newPage();
  out.puskesmasLogin = await login(puskesmas, args.puskesmas.user, args.puskesmas.password);
  const own = await puskesmas.goto(`${args.url}/pws?bulan=${args.month}`, { waitUntil: 'load' });
  await puskesmas.waitForSelector('body[data-charts]');
  out.puskesmas = { status: own.status(), ...(await readPws(puskesmas)) };
  const other = await puskesmas.goto(
    `${args.url}/pws?puskesmas=${args.puskesmas.other}&bulan=${args.month}`, { waitUntil: 'load' });
  out.puskesmasOther = { status: other.status(), text: await puskesmas.evaluate(() => document.body.innerText) };
  // Logging out ends the session: the page sends to the login again.
  await puskesmas.goto(`${args.url}/pws?bulan=${args.month}`, { waitUntil: 'load' });
  await Promise.all([puskesmas.waitForNavigation({ waitUntil: 'load' }), puskesmas.click('.bar form button')]);
  await puskesmas.goto(`${args.url}/pws`, { waitUntil: 'load' });
  out.afterLogout = new URL(puskesmas.url()).pathname;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
